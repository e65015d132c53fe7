"""The whole handoff path through the real processes: a citizen on socket.io (like the chat
page), Rasa, the action server, the console (agent over HTTP), the SMTP outbox and the
telephony hook. Core hours are switched by rewriting routing.yml in the stack's knowledge copy.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any, Dict, List

import httpx
import pytest
import socketio
from sqlalchemy import select

from bot.actions import messages
from servicecenter import accounts
from servicecenter.console.calls import telephony_token
from servicecenter.db import session_scope
from servicecenter.models import Notification, Ticket
from tests.conftest import core_hours

pytestmark = pytest.mark.integration

PASSWORD = "richtig-langes-Passwort-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Citizen:
    """A chat client on Rasa's socket.io channel that keeps every message it receives."""

    def __init__(self, rasa_url: str) -> None:
        self.session_id = uuid.uuid4().hex
        self.received: List[Dict[str, Any]] = []
        self.client = socketio.Client(reconnection=False)
        confirmed = threading.Event()
        self.client.on("bot_uttered", self.received.append)
        self.client.on("session_confirm", lambda data: confirmed.set())
        self.client.connect(rasa_url, transports=["websocket"], socketio_path="/socket.io")
        self.client.emit("session_request", {"session_id": self.session_id})
        assert confirmed.wait(30), "no session_confirm from Rasa"

    def say(self, text: str, expect_reply: bool = True, until=None) -> List[Dict[str, Any]]:  # type: ignore[no-untyped-def]
        """Send ``text``; the messages that arrive until one satisfies ``until`` (default: any
        message), plus the rest of a multi-message answer."""
        before = len(self.received)
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})
        if not expect_reply:
            time.sleep(2.0)
            return self.received[before:]
        self.wait_for(until or (lambda m: True), start=before)
        time.sleep(0.8)  # the rest of a multi-message answer
        return self.received[before:]

    def wait_for(self, predicate, start: int = 0, timeout: float = 30.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.received[start:]:
                if predicate(message):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"expected message did not arrive; got {self.received[start:]}")

    def close(self) -> None:
        self.client.disconnect()


def is_handoff_status(message: Dict[str, Any]) -> bool:
    return message.get("type") == "handoff_status"


def texts(messages: List[Dict[str, Any]]) -> str:
    return " ".join(m.get("text") or "" for m in messages)


class Agent:
    """An agent signed in to the console over HTTP, with the form's CSRF token."""

    def __init__(self, console_url: str, db_url: str, role: str = "agent", department: str | None = None) -> None:
        self.username = f"{role}-{uuid.uuid4().hex[:8]}"
        accounts.add_user(self.username, PASSWORD, role, department, url=db_url)
        self.http = httpx.Client(base_url=console_url, timeout=30, follow_redirects=False)
        page = self.http.get("/console/login")
        token = _CSRF.search(page.text).group(1)
        response = self.http.post("/console/login", data={"username": self.username, "password": PASSWORD,
                                                          "csrf_token": token})
        assert response.status_code == 303, response.text
        self.csrf = _CSRF.search(self.http.get("/console/inbox").text).group(1)

    def post(self, path: str, **data: str) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **data})

    def inbox(self) -> List[Dict[str, Any]]:
        response = self.http.get("/console/api/inbox")
        assert response.status_code == 200
        return response.json()["items"]


def ticket_of(db_url: str, conversation_id: str) -> Ticket:
    with session_scope(db_url) as session:
        return session.execute(
            select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.created_at.desc())
        ).scalars().first()


@pytest.fixture
def citizen(stack):
    person = Citizen(stack.rasa_url)
    yield person
    person.close()


def test_in_core_hours_an_agent_takes_over_the_chat_and_hands_back(stack, session_db, citizen):
    with core_hours(stack.knowledge_dir, staffed=True):
        citizen.say("Was kostet ein Reisepass?")
        reply = citizen.say("Ich möchte bitte mit einem Menschen sprechen", until=is_handoff_status)
        # The citizen learns who takes over and how long it may take.
        assert "übernimmt dieses Gespräch" in texts(reply)
        assert re.search(r"an Position \d+; die Wartezeit beträgt voraussichtlich etwa", texts(reply))
        status = next(m for m in reply if m.get("type") == "handoff_status")
        assert status["state"] == "waiting" and status["minutes"] >= 1

        ticket = ticket_of(session_db, citizen.session_id)
        assert (ticket.mode, ticket.status, ticket.department_slug) == ("live", "new", "zentrale")
        # The agent sees it waiting in the inbox, with the summary.
        agent = Agent(stack.console_url, session_db)
        item = next(i for i in agent.inbox() if i["id"] == ticket.id)
        assert item["mode"] == "live" and any("reisepass" in line for line in [item["title"], *item["lines"]])

        # Asking again opens no second ticket.
        again = citizen.say("Mensch bitte")
        assert "bereits in der Warteschlange" in texts(again)

        assert agent.post(f"/console/tickets/{ticket.id}/claim").status_code == 303
        joined = citizen.wait_for(lambda m: m.get("type") == "agent_joined")
        assert agent.username in joined["agent"]
        assert ticket_of(session_db, citizen.session_id).status == "in_conversation"

        # While the agent has the chat, the bot stays silent ...
        silent = citizen.say("Hallo, sind Sie da? Was kostet ein Personalausweis?", expect_reply=False)
        assert silent == []
        # ... and the agent reads the citizen's message live.
        deadline = time.monotonic() + 10
        lines: List[Dict[str, Any]] = []
        while time.monotonic() < deadline and not any("sind Sie da" in m["text"] for m in lines):
            lines = agent.http.get(f"/console/api/tickets/{ticket.id}/messages").json()["messages"]
            time.sleep(0.3)
        assert any(m["role"] == "citizen" and "sind Sie da" in m["text"] for m in lines)

        # The agent answers; it arrives in real time in the citizen's socket.
        answer = agent.http.post(f"/console/api/tickets/{ticket.id}/messages", json={"text": "Ja, ich helfe Ihnen gern."},
                                 headers={"X-CSRF-Token": agent.csrf})
        assert answer.status_code == 201, answer.text
        said = citizen.wait_for(lambda m: m.get("type") == "agent_message")
        assert said["text"] == "Ja, ich helfe Ihnen gern."

        # Without the CSRF header nothing is sent.
        forged = agent.http.post(f"/console/api/tickets/{ticket.id}/messages", json={"text": "x"})
        assert forged.status_code == 403

        # Closing hands the conversation back: the bot answers again.
        assert agent.post(f"/console/tickets/{ticket.id}/close", resolution="answered").status_code == 303
        citizen.wait_for(lambda m: m.get("type") == "agent_left")
        back = citizen.say("Was kostet ein Personalausweis?")
        assert "Euro" in texts(back) or "€" in texts(back)
        assert ticket_of(session_db, citizen.session_id).status == "closed"


def test_outside_core_hours_the_citizen_gets_a_callback_offer_and_a_ticket(stack, session_db, citizen):
    with core_hours(stack.knowledge_dir, staffed=False):
        reply = citizen.say("Ich will mit einem Mitarbeiter sprechen", until=is_handoff_status)
    text = texts(reply)
    assert messages.servicecenter_closed(None).rstrip(". ") in text
    assert messages.CALLBACK_OFFER.strip() in text and "Rückruf anfordern" in text
    ticket = ticket_of(session_db, citizen.session_id)
    assert (ticket.mode, ticket.department_slug) == ("ticket", "zentrale")
    assert ticket.due_at is not None
    status = next(m for m in reply if m.get("type") == "handoff_status")
    assert status["state"] == "ticket" and status["reference"] == ticket.id.split("-")[0].upper()


def test_a_department_ticket_is_mailed_to_the_department_over_smtp(stack, session_db, mail_sink, citizen):
    citizen.say("Wie ist der Stand meines Bauantrags? Ich warte seit Wochen.", until=is_handoff_status)
    ticket = ticket_of(session_db, citizen.session_id)
    assert ticket is not None and ticket.department_slug == "bauordnung"
    recipients, message = mail_sink.wait_for(lambda rcpt, msg: ticket.id in msg.get_content())
    assert recipients == ["info@geldern.de"]
    body = message.get_content()
    assert ticket.id.split("-")[0].upper() in message["Subject"]
    assert "Bauantrag" in body or "bauantrag" in body
    assert f"/console/tickets/{ticket.id}" in body
    with session_scope(session_db) as session:
        row = session.execute(select(Notification).where(Notification.ticket_id == ticket.id)).scalar_one()
    assert row.status == "sent" and row.attempts == 1


def test_telephony_hook_names_the_transfer_target_only_with_the_token(stack, session_db):
    call_id = f"call-{uuid.uuid4().hex}"
    with core_hours(stack.knowledge_dir, staffed=True):
        response = httpx.post(f"{stack.rasa_url}/webhooks/voice/webhook",
                              json={"sender": call_id, "message": "Verbinden Sie mich bitte mit einem Mitarbeiter"},
                              timeout=30)
        assert response.status_code == 200
        token = telephony_token(stack.settings)
        url = f"{stack.console_url}/api/calls/{call_id}/route"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        routed = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert routed.status_code == 200, routed.text
    body = routed.json()
    assert body["department"] == "zentrale" and body["mode"] == "live"
    assert body["target"] == {"kind": "queue", "queue": "servicecenter", "uri": "sip:servicecenter@localhost"}
    assert body["handoff_id"] == ticket_of(session_db, call_id).id
    unknown = httpx.get(f"{stack.console_url}/api/calls/call-{uuid.uuid4().hex}/route",
                        headers={"Authorization": f"Bearer {token}"})
    assert unknown.status_code == 404


def test_rasa_api_refuses_requests_without_the_token(stack, citizen):
    """Nobody reads or writes a conversation through Rasa's HTTP API without the token."""
    citizen.say("Hallo")
    tracker = f"{stack.rasa_url}/conversations/{citizen.session_id}/tracker"
    assert httpx.get(tracker, timeout=30).status_code == 401
    assert httpx.get(tracker, params={"token": "falsch"}, timeout=30).status_code == 401
    pause = httpx.post(f"{tracker}/events", json=[{"event": "pause"}], timeout=30)
    assert pause.status_code == 401
    assert citizen.say("Was kostet ein Reisepass?")  # still answered: nothing was paused
