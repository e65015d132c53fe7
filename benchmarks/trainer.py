"""Benchmark the trainer workbench.

- NLU inbox page load with 100,000 stored messages (target p95 under 500 ms): a scratch
  database holds the messages (varied intents, channels, confidences, near-duplicate groups);
  a signed-in trainer loads the inbox with and without filters through the real app.
- Redaction and import throughput: tracker events per second through ``sync``.
- Model swap (with a running stack from ``benchmarks/run.py``): from the authenticated
  ``PUT /model`` to the first answer of the new model.

Run alone with ``python -m benchmarks.trainer`` (``--messages`` to change the size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from servicecenter.evaluation.dataset import heldout_texts

MESSAGES = 100_000
REQUESTS_PER_VIEW = 20
TARGET_P95_MS = 500.0
SYNC_EVENTS = 1_000
PASSWORD = "richtig-langes-Passwort-1"
VIEWS = [
    "/console/trainer",
    "/console/trainer?low=1",
    "/console/trainer?channel=voice&fallback=1",
    "/console/trainer?intent=svc_reisepass",
    "/console/trainer?seite=20",
    "/console/trainer?negative=1",
]


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[index]


def fill(url: str, count: int, seed: int = 7) -> None:
    """``count`` inbox messages (already redacted, as sync stores them) in bulk."""
    from servicecenter.db import get_engine
    from servicecenter.trainer.inbox import group_key, priority
    from servicecenter.trainer.models import TrainerMessage

    rng = random.Random(seed)
    texts = heldout_texts()
    intents = [f"svc_{s}" for s in ("reisepass", "personalausweis", "hundesteuer", "sperrmuell", "wohngeld")]
    intents += ["ask_fee", "nlu_fallback", "greet", "human"]
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90)
    rows = []
    table = TrainerMessage.__table__
    engine = get_engine(url)
    with engine.begin() as conn:
        for i in range(count):
            # Half the messages repeat an earlier wording (near-duplicates), half are new.
            base = rng.choice(texts)
            text = base if rng.random() < 0.5 else f"{base} ({i})"
            intent = rng.choice(intents)
            confidence = round(rng.random(), 4)
            fallback = intent == "nlu_fallback"
            handoff = intent == "human"
            rows.append({
                "event_id": 10_000_000 + i, "conversation_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "sent_at": start + dt.timedelta(seconds=i * 77), "channel": rng.choice(["rest", "socketio", "voice"]),
                "text": text, "redactions": {}, "group_key": group_key(text), "intent": intent,
                "confidence": confidence, "ranking": [{"name": intent, "confidence": confidence}],
                "service": intent[4:].replace("_", "-") if intent.startswith("svc_") else None,
                "service_start": None, "service_end": None, "bot_action": "action_answer_service",
                "fallback": fallback, "handoff": handoff, "priority": priority(confidence, fallback, handoff, intent),
                "status": "open" if rng.random() < 0.9 else "discarded",
                "imported_at": dt.datetime.now(dt.timezone.utc),
            })
            if len(rows) == 5_000:
                conn.execute(table.insert(), rows)
                rows = []
        if rows:
            conn.execute(table.insert(), rows)


def _client(settings: Any) -> Any:
    from fastapi.testclient import TestClient

    from servicecenter import accounts
    from servicecenter.console.app import create_app

    username = f"bench-{uuid.uuid4().hex[:6]}"
    accounts.add_user(username, PASSWORD, "trainer", None, url=settings.db_url)
    client = TestClient(create_app(settings))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)  # type: ignore[union-attr]
    client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return client


def measure_sync(url: str, events: int = SYNC_EVENTS) -> Dict[str, Any]:
    """Tracker events through redaction into the inbox: events per second."""
    from servicecenter.db import get_engine
    from servicecenter.rasa_tables import RASA_EVENTS, create_events_table
    from servicecenter.trainer.inbox import sync

    create_events_table(get_engine(url))
    texts = heldout_texts()
    rows = []
    now = time.time()
    for i in range(events):
        sender = f"bench-{i // 2}"
        data = {"event": "user", "text": texts[i % len(texts)] + " Mein Name ist Anna Schmitz, Tel. 0151 23456789",
                "input_channel": "rest", "parse_data": {"intent": {"name": "svc_reisepass", "confidence": 0.4},
                                                        "entities": [], "intent_ranking": []}}
        rows.append({"sender_id": sender, "type_name": "user", "timestamp": now + i, "intent_name": "svc_reisepass",
                     "action_name": None, "data": json.dumps(data)})
    with get_engine(url).begin() as conn:
        conn.execute(RASA_EVENTS.insert(), rows)
    sync(url, limit=10)  # loads the spaCy pipeline once, outside the timing
    started = time.perf_counter()
    imported = 0
    while True:
        result = sync(url)
        imported += result.new_messages
        if not result.read_events:
            break
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": round(seconds, 2), "events_per_s": round(imported / seconds, 1)}


def measure(messages: int = MESSAGES, url: Optional[str] = None) -> Dict[str, Any]:
    """Fill a scratch database and time the inbox views; figures as a dict."""
    from servicecenter.settings import Settings
    from servicecenter.training import upgrade_database

    with tempfile.TemporaryDirectory(prefix="bench-trainer-") as tmp:
        work = Path(tmp)
        url = url or f"sqlite:///{work / 'trainer.db'}"
        upgrade_database(url)
        started = time.perf_counter()
        fill(url, messages)
        fill_s = time.perf_counter() - started
        settings = Settings(database_url=url, models_dir=work / "models", var_dir=work / "var")
        sync_figures = measure_sync(url)
        client = _client(settings)
        for view in VIEWS:  # warm-up: first query plans, templates
            client.get(view)
        per_view: Dict[str, List[float]] = {}
        everything: List[float] = []
        for _ in range(REQUESTS_PER_VIEW):
            for view in VIEWS:
                t0 = time.perf_counter()
                response = client.get(view)
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{view}: HTTP {response.status_code}")
                per_view.setdefault(view, []).append(elapsed)
                everything.append(elapsed)
    return {
        "messages": messages + sync_figures["events"],
        "fill_s": round(fill_s, 1),
        "requests": len(everything),
        "p50_ms": round(_percentile(everything, 50), 1),
        "p95_ms": round(_percentile(everything, 95), 1),
        "max_ms": round(max(everything), 1),
        "per_view_p95_ms": {view: round(_percentile(v, 95), 1) for view, v in per_view.items()},
        "target_p95_ms": TARGET_P95_MS,
        "met": _percentile(everything, 95) <= TARGET_P95_MS,
        "sync": sync_figures,
    }


def measure_activation(rasa_url: str, settings: Any, model: Optional[Path] = None) -> Dict[str, Any]:
    """From ``PUT /model`` to the first answer of the (re)loaded model, on a running Rasa."""
    import requests

    from servicecenter.secrets import rasa_api_token
    from servicecenter.stack import latest_model
    from servicecenter.trainer.activation import rasa_load_model

    model = model or latest_model(settings)
    started = time.perf_counter()
    rasa_load_model(rasa_url, rasa_api_token(settings), model)
    loaded = time.perf_counter()
    response = requests.post(f"{rasa_url}/webhooks/rest/webhook",
                             json={"sender": f"bench-swap-{uuid.uuid4().hex[:8]}", "message": "Was kostet ein Reisepass?"},
                             timeout=60)
    answered = time.perf_counter()
    return {
        "put_model_s": round(loaded - started, 2),
        "activate_to_first_answer_s": round(answered - started, 2),
        "answered": response.status_code == 200 and bool(response.json()),
    }


def format_figures(figures: Dict[str, Any]) -> List[str]:
    status = "met" if figures["met"] else "MISSED"
    lines = [
        "",
        f"Trainer inbox with {figures['messages']:,} stored messages ({figures['requests']} page loads, "
        f"{len(figures['per_view_p95_ms'])} views):",
        f"  page load p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms "
        f"(target <= {figures['target_p95_ms']:.0f} ms: {status}), max {figures['max_ms']:.1f} ms",
    ]
    for view, p95 in figures["per_view_p95_ms"].items():
        lines.append(f"    {view:<45} p95 {p95:.1f} ms")
    sync = figures["sync"]
    lines.append(f"  redaction + import of tracker events: {sync['events_per_s']:.0f} events/s "
                 f"({sync['events']} events in {sync['seconds']:.1f} s)")
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trainer", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--url", help="database URL (default: a scratch SQLite file)")
    args = parser.parse_args(argv)
    figures = measure(args.messages, args.url)
    print("\n".join(format_figures(figures)))
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
