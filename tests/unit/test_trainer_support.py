"""Shared set-up for the trainer workbench tests (this module defines no tests itself): a scratch
database with Rasa's events table, console clients per role, and tracker events as Rasa's
SQLTrackerStore writes them."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

from fastapi.testclient import TestClient

from servicecenter import PROJECT_ROOT

PASSWORD = "richtig-langes-Passwort-1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
_clock = itertools.count()


def scratch_db(folder: Path) -> str:
    """A migrated SQLite database with the knowledge base and Rasa's (empty) events table: a copy
    of one built once per test process (migrating and importing take seconds)."""
    target = folder / "trainer.db"
    shutil.copyfile(_scratch_template(), target)
    return f"sqlite:///{target}"


_template: Optional[Path] = None


def _scratch_template() -> Path:
    global _template
    if _template is None:
        import atexit
        import sqlite3
        import tempfile

        from servicecenter.db import get_engine, session_scope
        from servicecenter.knowledge.loader import load_knowledge
        from servicecenter.knowledge.store import import_knowledge
        from servicecenter.rasa_tables import create_events_table
        from servicecenter.training import upgrade_database

        folder = Path(tempfile.mkdtemp(prefix="scratch-db-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        url = f"sqlite:///{path}"
        upgrade_database(url)
        with session_scope(url) as session:
            import_knowledge(session, load_knowledge(PROJECT_ROOT / "knowledge" / "geldern"))
        create_events_table(get_engine(url))
        get_engine(url).dispose()
        # One self-contained file to copy: the write-ahead log folded in and switched off.
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        _template = path
    return _template


def knowledge_copy(folder: Path) -> Path:
    target = folder / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge" / "geldern", target)
    return target


def settings_for(url: str, folder: Path, knowledge_dir: Optional[Path] = None):  # type: ignore[no-untyped-def]
    from servicecenter.settings import Settings

    return Settings(database_url=url, knowledge_dir=knowledge_dir or PROJECT_ROOT / "knowledge" / "geldern",
                    models_dir=folder / "models", var_dir=folder / "var")


def client_for(settings, role: str, department: Optional[str] = None) -> TestClient:  # type: ignore[no-untyped-def]
    from servicecenter import accounts
    from servicecenter.console.app import create_app

    username = f"{role}-{uuid.uuid4().hex[:8]}"
    accounts.add_user(username, PASSWORD, role, department, url=settings.db_url)
    client = TestClient(create_app(settings))
    token = CSRF_RE.search(client.get("/console/login").text).group(1)  # type: ignore[union-attr]
    response = client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    client.username = username  # type: ignore[attr-defined]
    return client


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text[:300]
    return CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]


def user_event(sender: str, text: str, intent: str, confidence: float, channel: str = "rest",
               service: Optional[str] = None, ranking: Optional[List[Dict[str, Any]]] = None,
               timestamp: Optional[float] = None) -> Dict[str, Any]:
    entities = []
    if service:
        word = service.split("-")[0]
        position = text.lower().find(word)
        if position >= 0:
            entities.append({"entity": "service", "start": position, "end": position + len(word),
                             "value": service, "extractor": "RegexEntityExtractor"})
    ts = timestamp if timestamp is not None else time.time() + next(_clock) * 0.001
    data = {
        "event": "user", "timestamp": ts, "text": text, "input_channel": channel,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities,
            "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        },
    }
    return {"sender_id": sender, "type_name": "user", "timestamp": ts, "intent_name": intent,
            "action_name": None, "data": json.dumps(data)}


def action_event(sender: str, name: str) -> Dict[str, Any]:
    ts = time.time() + next(_clock) * 0.001
    return {"sender_id": sender, "type_name": "action", "timestamp": ts, "intent_name": None,
            "action_name": name, "data": json.dumps({"event": "action", "name": name, "timestamp": ts})}


def bot_event(sender: str, text: str) -> Dict[str, Any]:
    ts = time.time() + next(_clock) * 0.001
    return {"sender_id": sender, "type_name": "bot", "timestamp": ts, "intent_name": None,
            "action_name": None, "data": json.dumps({"event": "bot", "text": text, "timestamp": ts})}


def slot_event(sender: str, name: str, value: Any) -> Dict[str, Any]:
    ts = time.time() + next(_clock) * 0.001
    return {"sender_id": sender, "type_name": "slot", "timestamp": ts, "intent_name": None,
            "action_name": name, "data": json.dumps({"event": "slot", "name": name, "value": value, "timestamp": ts})}


def insert_events(url: str, rows: List[Dict[str, Any]]) -> None:
    from servicecenter.db import get_engine
    from servicecenter.rasa_tables import RASA_EVENTS

    with get_engine(url).begin() as conn:
        conn.execute(RASA_EVENTS.insert(), rows)


def conversation(url: str, text: str, intent: str, confidence: float, *, channel: str = "rest",
                 service: Optional[str] = None, action: str = "action_answer_service",
                 outcome: Optional[str] = None, reply: str = "Dazu kann ich Ihnen Folgendes sagen.") -> str:
    """One citizen message with the bot's reaction, as Rasa stores it; the conversation id."""
    sender = uuid.uuid4().hex
    rows = [user_event(sender, text, intent, confidence, channel, service), action_event(sender, action),
            bot_event(sender, reply)]
    if outcome:
        rows.append(slot_event(sender, "outcome", outcome))
    rows.append(action_event(sender, "action_listen"))
    insert_events(url, rows)
    return sender
