"""Citizens' ratings: POST /api/feedback stores good input exactly and refuses bad input."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from servicecenter.console.app import create_app
from servicecenter.db import get_engine, session_scope
from servicecenter.rasa_tables import RASA_EVENTS, create_events_table
from servicecenter.reports.feedback import MAX_PER_CONVERSATION, dtmf_feedback
from servicecenter.reports.models import Feedback
from servicecenter.settings import Settings


@pytest.fixture()
def db(session_db):
    create_events_table(get_engine(session_db))
    return session_db


@pytest.fixture()
def client(db):
    return TestClient(create_app(Settings(database_url=db)))


def conversation(url: str, channel: str = "socketio") -> str:
    """A conversation the tracker store knows (one user event)."""
    sender = uuid.uuid4().hex
    with get_engine(url).begin() as conn:
        conn.execute(insert(RASA_EVENTS).values(
            sender_id=sender, type_name="user", timestamp=1_790_000_000.0, intent_name="greet",
            data=json.dumps({"event": "user", "text": "Hallo", "input_channel": channel}),
        ))
    return sender


def stored(url: str, conversation_id: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as session:
        return list(session.execute(select(Feedback).where(Feedback.conversation_id == conversation_id)).scalars())


def test_rating_with_comment_is_stored_exactly_as_written(client, db):
    sender = conversation(db)
    comment = "  Sehr hilfreich – danke!\nNur die Öffnungszeiten fehlten. "
    response = client.post("/api/feedback", json={"conversation_id": sender, "rating": "up", "comment": comment})
    assert response.status_code == 201
    assert response.json()["message"] == "Vielen Dank für Ihre Rückmeldung!"
    [row] = stored(db, sender)
    assert (row.rating, row.comment, row.channel) == ("up", comment, "chat")
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset().total_seconds() == 0
    assert uuid.UUID(row.id)


def test_thumbs_down_without_comment_stores_no_comment(client, db):
    sender = conversation(db)
    assert client.post("/api/feedback", json={"conversation_id": sender, "rating": "down", "comment": "   "}).status_code == 201
    [row] = stored(db, sender)
    assert (row.rating, row.comment) == ("down", None)


@pytest.mark.parametrize(
    ("payload", "message_part"),
    [
        ({"conversation_id": "../etc/passwd", "rating": "up"}, "keinem gültigen Gespräch"),
        ({"conversation_id": "kurz", "rating": "up"}, "keinem gültigen Gespräch"),
        ({"conversation_id": None, "rating": "up"}, "keinem gültigen Gespräch"),
        ({"rating": "up"}, "keinem gültigen Gespräch"),
        ({"conversation_id": "SENDER", "rating": "great"}, "„hilfreich“ oder „nicht hilfreich“"),
        ({"conversation_id": "SENDER", "rating": "up", "comment": "x" * 501}, "höchstens 500 Zeichen"),
        ({"conversation_id": "SENDER", "rating": "up", "comment": 5}, "muss ein Text sein"),
        ({"conversation_id": "SENDER", "rating": "up", "comment": "a\x00b"}, "Zeichen, die nicht gespeichert"),
        ({"conversation_id": "SENDER", "rating": "up", "channel": "fax"}, "Unbekannter Kanal"),
        ({"conversation_id": "f" * 32, "rating": "up"}, "kein Gespräch gefunden"),
    ],
)
def test_bad_input_is_refused_in_german_and_nothing_is_stored(client, db, payload, message_part):
    sender = conversation(db)
    payload = {k: (sender if v == "SENDER" else v) for k, v in payload.items()}
    response = client.post("/api/feedback", json=payload)
    assert response.status_code == 400
    assert message_part in response.json()["message"]
    assert stored(db, sender) == [] and stored(db, "f" * 32) == []


def test_a_500_character_comment_is_accepted(client, db):
    sender = conversation(db)
    assert client.post("/api/feedback", json={"conversation_id": sender, "rating": "up", "comment": "ä" * 500}).status_code == 201
    assert stored(db, sender)[0].comment == "ä" * 500


@pytest.mark.parametrize("body,content_type", [("rating=up", "application/x-www-form-urlencoded"),
                                               ("{not json", "application/json"),
                                               ("[1, 2]", "application/json")])
def test_non_json_bodies_are_refused(client, body, content_type):
    response = client.post("/api/feedback", content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert "Bitte laden Sie die Seite neu" in response.json()["message"]


def test_a_conversation_cannot_flood_the_table(client, db):
    sender = conversation(db)
    for _ in range(MAX_PER_CONVERSATION):
        assert client.post("/api/feedback", json={"conversation_id": sender, "rating": "up"}).status_code == 201
    response = client.post("/api/feedback", json={"conversation_id": sender, "rating": "down"})
    assert response.status_code == 429
    assert len(stored(db, sender)) == MAX_PER_CONVERSATION


def test_phone_key_one_rates_helpful_and_other_keys_store_nothing(db):
    sender = conversation(db, channel="voice")
    assert dtmf_feedback(sender, "5", url=db) is None
    assert dtmf_feedback(sender, "1", url=db).rating == "up"
    assert [(r.rating, r.channel) for r in stored(db, sender)] == [("up", "voice")]
