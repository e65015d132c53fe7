"""The console's live-chat and JSON endpoints: access per role, CSRF, bad input, Rasa down.

Rasa is not running in these tests, so taking over a chat meets a refused connection: the
real failure path (the citizen's conversation is unreachable) is what is checked here; the
working path runs against the real stack in tests/integration/test_live_handoff.py.
"""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from servicecenter.console.app import create_app
from servicecenter.handoff import tickets
from servicecenter.settings import Settings
from servicecenter.stack import free_port
from tests.unit.test_console_inbox import csrf, new_ticket, signed_in


def live_ticket(url: str, department: str = "zentrale") -> tickets.Ticket:
    return tickets.create_ticket(
        idempotency_key=uuid.uuid4().hex, conversation_id=uuid.uuid4().hex, reason="human",
        department_slug=department, channel="chat", summary={"topic": "Reisepass", "service": "reisepass"},
        mode="live", url=url,
    )


def in_conversation(url: str, ticket_id: str) -> None:
    tickets.transition(ticket_id, "claimed", "agent:someone", url=url)
    tickets.transition(ticket_id, "in_conversation", "agent:someone", url=url)


def test_json_endpoints_need_a_session(session_db):
    client = TestClient(create_app(Settings(database_url=session_db)))
    ticket = live_ticket(session_db)
    for path in ("/console/api/inbox", f"/console/api/tickets/{ticket.id}/messages"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"
    response = client.post(f"/console/api/tickets/{ticket.id}/messages", json={"text": "x"}, follow_redirects=False)
    assert response.status_code == 303


def test_trainers_do_not_reach_the_inbox(session_db):
    trainer = signed_in(session_db, "trainer")
    assert trainer.get("/console/api/inbox").status_code == 403


def test_departments_see_only_their_tickets_in_the_live_list_and_transcripts(session_db):
    mine = new_ticket(session_db, "standesamt")
    other = new_ticket(session_db, "friedhof")
    clerk = signed_in(session_db, "department", "standesamt")
    ids = {item["id"] for item in clerk.get("/console/api/inbox").json()["items"]}
    assert mine.id in ids and other.id not in ids
    assert clerk.get(f"/console/api/tickets/{other.id}/messages").status_code == 404
    assert clerk.get(f"/console/api/tickets/{mine.id}/messages").status_code == 200


def test_live_chats_come_first_in_the_inbox(session_db):
    older = new_ticket(session_db, "standesamt", minutes_ago=30)
    waiting = live_ticket(session_db)
    agent = signed_in(session_db, "agent")
    order = [item["id"] for item in agent.get("/console/api/inbox").json()["items"]]
    assert order.index(waiting.id) < order.index(older.id)


def test_sending_needs_the_csrf_header_the_conversation_and_sane_text(session_db):
    ticket = live_ticket(session_db)
    agent = signed_in(session_db, "agent")
    token = csrf(agent, ticket.id)
    url = f"/console/api/tickets/{ticket.id}/messages"
    assert agent.post(url, json={"text": "Hallo"}).status_code == 403  # no header
    # Not (yet) in conversation: nothing can be said.
    assert agent.post(url, json={"text": "Hallo"}, headers={"X-CSRF-Token": token}).status_code == 409
    in_conversation(session_db, ticket.id)
    bad = agent.post(url, content=b"{not json", headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert bad.status_code == 400 and "JSON" in bad.json()["detail"]
    assert agent.post(url, json={"text": "   "}, headers={"X-CSRF-Token": token}).status_code == 400
    long = agent.post(url, json={"text": "x" * 2001}, headers={"X-CSRF-Token": token})
    assert long.status_code == 400 and "2000" in long.json()["detail"]
    assert agent.get(f"/console/api/tickets/{ticket.id}/messages?after=abc").status_code == 400


def test_when_the_chat_is_unreachable_the_agent_is_told_and_can_try_again(session_db):
    ticket = live_ticket(session_db)
    dead_rasa = Settings(database_url=session_db, rasa_port=free_port())
    agent = signed_in(session_db, "agent")
    agent.app = create_app(dead_rasa)  # same cookies, a console whose Rasa is down
    token = csrf(agent, ticket.id)
    response = agent.post(f"/console/tickets/{ticket.id}/claim", data={"csrf_token": token})
    assert response.status_code == 503
    assert "nicht erreichbar" in response.text and "Gespräch übernehmen" in response.text
    assert tickets.get_ticket(ticket.id, url=session_db).status == "claimed"
    retry = agent.post(f"/console/tickets/{ticket.id}/takeover", data={"csrf_token": token})
    assert retry.status_code == 503
    assert tickets.get_ticket(ticket.id, url=session_db).status == "claimed"


def test_department_users_cannot_take_over_or_write_into_chats(session_db):
    ticket = live_ticket(session_db, department="standesamt")
    in_conversation(session_db, ticket.id)
    clerk = signed_in(session_db, "department", "standesamt")
    token = csrf(clerk, ticket.id)
    page = clerk.get(f"/console/tickets/{ticket.id}").text
    assert "live-chat-form" not in page
    response = clerk.post(f"/console/api/tickets/{ticket.id}/messages", json={"text": "Hallo"},
                          headers={"X-CSRF-Token": token})
    assert response.status_code == 409
