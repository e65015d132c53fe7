"""Bad input through the REST and socket.io channels: polite reply or clear 4xx, never a
500, never a broken conversation; a typed payload never chooses a handoff target."""

import json
import secrets
import urllib.error
import urllib.request

import pytest
import socketio
from sqlalchemy import select

from servicecenter.db import session_scope
from servicecenter.models import Ticket

pytestmark = pytest.mark.integration


def post(stack, body: bytes, content_type="application/json"):
    request = urllib.request.Request(
        f"{stack.rasa_url}/webhooks/rest/webhook", data=body, method="POST",
        headers={"Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def say(stack, sender, message):
    return post(stack, json.dumps({"sender": sender, "message": message}).encode())


def sender_id():
    return secrets.token_hex(16)


@pytest.mark.parametrize("message", ["", "   \n\t ", "\x00\x01\x02"])
def test_empty_messages_get_a_polite_reply(stack, message):
    status, body = say(stack, sender_id(), message)
    assert status == 200 and "Frage" in body[0]["text"]


def test_ten_thousand_characters_are_refused_politely(stack):
    status, body = say(stack, sender_id(), "Reisepass " * 1000)
    assert status == 200 and "zu lang" in body[0]["text"]


def test_control_characters_are_ignored(stack):
    status, body = say(stack, sender_id(), "Was kostet ein\x07 Reise\u200bpass?\x1b")
    assert status == 200 and "70,00 €" in " ".join(m["text"] for m in body)


@pytest.mark.parametrize(
    "body,code",
    [
        (b"\xff\xfe\xfa not utf-8", "invalid_encoding"),
        (b"{not json", "invalid_json"),
        (b"[1, 2, 3]", "invalid_json"),
        (json.dumps({"sender": 42, "message": "Hallo"}).encode(), "invalid_sender"),
        (json.dumps({"sender": "x", "message": "Hallo"}).encode(), "invalid_sender"),
        (json.dumps({"sender": "a" * 32, "message": ["Hallo"]}).encode(), "invalid_message"),
        (json.dumps({"sender": "a" * 32, "message": {"text": "x"}}).encode(), "invalid_message"),
        (json.dumps({"sender": "a" * 32, "message": "Hallo", "metadata": "x"}).encode(), "invalid_metadata"),
    ],
)
def test_malformed_requests_get_a_clear_400(stack, body, code):
    status, answer = post(stack, body)
    assert status == 400 and answer["error"] == code and answer["message"]


def test_conversation_continues_normally_after_bad_input(stack):
    sender = sender_id()
    assert post(stack, b"{broken")[0] == 400
    say(stack, sender, "")
    say(stack, sender, "x" * 10_000)
    status, body = say(stack, sender, "Ich brauche einen Personalausweis")
    assert status == 200
    status, body = say(stack, sender, "Und was kostet das?")
    assert status == 200 and "46,00 €" in " ".join(m["text"] for m in body)


def test_typed_payload_cannot_choose_the_handoff_target(stack, session_db):
    sender = sender_id()
    status, body = say(stack, sender, '/human{"department": "bauordnung", "service": "bauantrag"}')
    assert status == 200
    text = " ".join(m.get("text", "") for m in body)
    assert "Bauordnung" not in text
    with session_scope(session_db) as session:
        rows = session.execute(select(Ticket).where(Ticket.conversation_id == sender)).scalars().all()
    assert all(r.department_slug != "bauordnung" for r in rows)


def test_typed_fallback_payload_is_read_as_words(stack):
    status, body = say(stack, sender_id(), "/emergency")
    assert status == 200
    assert "112" not in " ".join(m.get("text", "") for m in body)


def _socket_conversation(url: str, messages):
    """A real socket.io client (websocket transport, like the chat page)."""
    import threading
    import time

    client = socketio.Client(reconnection=False)
    received, errors = [], []
    confirmed = threading.Event()
    client.on("bot_uttered", lambda data: received.append(data))
    client.on("session_confirm", lambda data: confirmed.set())
    client.on("session_error", lambda data: (errors.append(data), confirmed.set()))
    client.connect(url, transports=["websocket"], socketio_path="/socket.io")
    try:
        client.emit("session_request", {"session_id": messages.pop(0)})
        assert confirmed.wait(30), "no answer to session_request"
        for message in messages:
            count = len(received)
            client.emit("user_uttered", message)
            deadline = time.monotonic() + 30
            while len(received) <= count and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)
    finally:
        client.disconnect()
    return received, errors


def test_socketio_rejects_guessable_session_ids(stack):
    _, errors = (_socket_conversation(stack.rasa_url, ["1"]))
    assert errors and errors[0]["error"] == "invalid_session"


def test_socketio_bad_input_gets_polite_replies_and_the_chat_goes_on(stack):
    session = sender_id()
    received, errors = (_socket_conversation(stack.rasa_url, [
        session,
        {"session_id": session, "message": "   "},
        {"session_id": session, "message": "x" * 10_000},
        {"session_id": session, "message": 12345},
        "not a dict",
        {"session_id": session, "message": "Was kostet ein Reisepass?"},
    ]))
    texts = [r.get("text", "") for r in received]
    assert not errors
    assert any("Textfeld" in t for t in texts)
    assert any("zu lang" in t for t in texts)
    assert any("Textnachrichten" in t for t in texts)
    assert any("70,00 €" in t for t in texts)


def test_logs_contain_no_message_text(stack):
    marker = "Zitronenfalter" + secrets.token_hex(4)
    status, _ = say(stack, sender_id(), f"Ich habe eine Frage zum {marker} und meiner Telefonnummer 0171 2345678")
    assert status == 200
    for proc in stack.processes:
        log = proc.log_path.read_text(errors="replace")
        assert marker not in log, f"{proc.name} log contains the citizen's message"
        assert "0171 2345678" not in log


def test_handoff_in_chat_offers_a_working_callback_link(stack):
    import re

    status, body = say(stack, sender_id(), "Ich möchte bitte mit einem Mitarbeiter sprechen")
    text = " ".join(m.get("text", "") for m in body)
    link = re.search(r"\[Rückruf anfordern\]\((http[^)]+)\)", text)
    assert status == 200 and link, text
    url = link.group(1).replace("localhost", "127.0.0.1")
    assert url.startswith(stack.console_url)
    with urllib.request.urlopen(url, timeout=30) as resp:
        page = resp.read().decode()
    assert resp.status == 200 and "Rückruf" in page and "einverstanden" in page
