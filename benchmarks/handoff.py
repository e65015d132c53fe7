"""Handoff latency: from the citizen's request for a person to the ticket in the agent inbox.

Each sample sends "Ich möchte bitte mit einem Menschen sprechen" as a new conversation to
Rasa's REST channel, takes the ticket reference from the answer and polls the console's
inbox API (as a signed-in agent, like the inbox page does) until that ticket is listed.
Part of ``make bench`` (benchmarks/run.py), against an already started stack.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Dict, List, Optional

import httpx

REQUEST = "Ich möchte bitte mit einem Menschen sprechen"
SAMPLES = 40
POLL_S = 0.01
TIMEOUT_S = 30.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _agent(console_url: str, db_url: str) -> httpx.Client:
    from servicecenter import accounts

    username = f"bench-{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    accounts.add_user(username, password, "agent", None, url=db_url)
    client = httpx.Client(base_url=console_url, timeout=30)
    token = _CSRF.search(client.get("/console/login").text).group(1)  # type: ignore[union-attr]
    client.post("/console/login", data={"username": username, "password": password, "csrf_token": token})
    client.get("/console/api/inbox").raise_for_status()
    return client


def _reference(messages: List[Dict[str, Any]]) -> Optional[str]:
    for message in messages:
        data = (message.get("custom") or {}).get("data") or {}
        if data.get("type") == "handoff_status" and data.get("reference"):
            return str(data["reference"])
    return None


def measure(rasa_url: str, console_url: str, db_url: str, samples: int = SAMPLES) -> Dict[str, Any]:
    from benchmarks.run import latency_figures

    agent = _agent(console_url, db_url)
    rasa = httpx.Client(base_url=rasa_url, timeout=60)
    seconds: List[float] = []
    failures = 0
    try:
        for _ in range(samples):
            started = time.perf_counter()
            answer = rasa.post("/webhooks/rest/webhook", json={"sender": uuid.uuid4().hex, "message": REQUEST})
            reference = _reference(answer.json()) if answer.status_code == 200 else None
            listed = False
            while reference and time.perf_counter() - started < TIMEOUT_S:
                items = agent.get("/console/api/inbox").json()["items"]
                if any(item["reference"] == reference for item in items):
                    listed = True
                    break
                time.sleep(POLL_S)
            if listed:
                seconds.append(time.perf_counter() - started)
            else:
                failures += 1
    finally:
        agent.close()
        rasa.close()
    return latency_figures(seconds, failures)
