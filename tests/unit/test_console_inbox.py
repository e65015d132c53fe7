"""The agents' ticket inbox: who sees which tickets, detail page, claim/forward/close."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Optional

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from servicecenter import accounts
from servicecenter.console.app import create_app
from servicecenter.db import session_scope
from servicecenter.handoff import tickets
from servicecenter.handoff.summary import REASON_LABELS
from servicecenter.models import Ticket
from servicecenter.settings import Settings

PASSWORD = "richtig-langes-Passwort-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def summary(topic: str, service: str, department: str, department_name: str) -> dict:
    return {
        "topic": topic,
        "service": service,
        "answered": [f"{topic}: Gebühren"],
        "open_question": f"Frage zu {topic} {uuid.uuid4().hex[:6]}",
        "reason": "Wunsch nach einem Menschen",
        "reason_code": "human",
        "department": department,
        "department_name": department_name,
        "channel": "Chat",
    }


def new_ticket(url: str, department: str = "standesamt", minutes_ago: int = 5) -> Ticket:
    names = {"standesamt": ("Geburtsurkunde", "geburtsurkunde", "Standesamt"),
             "friedhof": ("Friedhof und Grabstellen", "friedhof", "Friedhofsverwaltung")}
    topic, service, department_name = names[department]
    ticket = tickets.create_ticket(
        idempotency_key=uuid.uuid4().hex,
        conversation_id=uuid.uuid4().hex,
        reason="human",
        department_slug=department,
        channel="chat",
        service_slug=service,
        summary=summary(topic, service, department, department_name),
        url=url,
    )
    created = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    with session_scope(url) as session:
        session.execute(update(Ticket).where(Ticket.id == ticket.id).values(created_at=created))
    return ticket


def signed_in(url: str, role: str, department: Optional[str] = None) -> TestClient:
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    accounts.add_user(username, PASSWORD, role, department, url=url)
    client = TestClient(create_app(Settings(database_url=url)))
    token = _CSRF.search(client.get("/console/login").text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    client.username = username  # type: ignore[attr-defined]
    return client


def csrf(client: TestClient, ticket_id: str) -> str:
    page = client.get(f"/console/tickets/{ticket_id}")
    assert page.status_code == 200
    return _CSRF.search(page.text).group(1)  # type: ignore[union-attr]


def post(client: TestClient, ticket_id: str, action: str, **data: str):  # type: ignore[no-untyped-def]
    data.setdefault("csrf_token", csrf(client, ticket_id))
    return client.post(f"/console/tickets/{ticket_id}/{action}", data=data, follow_redirects=False)


def actors(url: str, ticket_id: str) -> list:
    return [(e.from_status, e.to_status, e.actor) for e in tickets.ticket_events(ticket_id, url=url)]


@pytest.fixture
def agent(use_db: str) -> TestClient:
    return signed_in(use_db, "agent")


def test_inbox_needs_a_login(use_db: str) -> None:
    client = TestClient(create_app(Settings(database_url=use_db)))
    response = client.get("/console/inbox", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


def test_agent_sees_open_tickets_of_all_departments_longest_waiting_first(agent: TestClient, use_db: str) -> None:
    older = new_ticket(use_db, "friedhof", minutes_ago=95)
    newer = new_ticket(use_db, "standesamt", minutes_ago=3)
    closed = new_ticket(use_db, "standesamt", minutes_ago=200)
    tickets.transition(closed.id, "closed", "agent:someone", resolution="no_contact", url=use_db)

    page = agent.get("/console/inbox").text
    assert older.id in page and newer.id in page
    assert closed.id not in page
    assert page.index(older.id) < page.index(newer.id)
    assert "Anliegen: Friedhof und Grabstellen (friedhof)" in page
    assert f"Offene Frage: „{older.summary['open_question']}“" in page
    assert f"Grund: {REASON_LABELS['human']}" in page
    assert "Zuständig: Friedhofsverwaltung (friedhof)" in page
    assert "Kanal: Chat" in page
    assert "wartet seit 1 Std. 35 Min." in page
    assert "Neu" in page


def test_department_user_sees_only_own_department(use_db: str) -> None:
    own = new_ticket(use_db, "standesamt")
    other = new_ticket(use_db, "friedhof")
    client = signed_in(use_db, "department", "standesamt")

    page = client.get("/console/inbox").text
    assert own.id in page
    assert other.id not in page
    assert client.get(f"/console/tickets/{own.id}").status_code == 200
    # Another department's ticket looks exactly like one that does not exist.
    hidden = client.get(f"/console/tickets/{other.id}", headers={"accept": "text/html"})
    guessed = client.get(f"/console/tickets/{uuid.uuid4()}", headers={"accept": "text/html"})
    for response in (hidden, guessed):
        assert response.status_code == 404
        assert "Diese Seite gibt es nicht" in response.text
    token = csrf(client, own.id)
    assert client.post(f"/console/tickets/{other.id}/claim", data={"csrf_token": token}).status_code == 404
    assert tickets.get_ticket(other.id, url=use_db).status == "new"


def test_trainer_has_no_inbox(use_db: str) -> None:
    ticket = new_ticket(use_db)
    client = signed_in(use_db, "trainer")
    for path in ("/console/inbox", f"/console/tickets/{ticket.id}"):
        response = client.get(path)
        assert response.status_code == 403
        assert "fehlt Ihnen die Berechtigung" in response.text


def test_agent_guessing_an_id_gets_404(agent: TestClient) -> None:
    assert agent.get(f"/console/tickets/{uuid.uuid4()}").status_code == 404


def test_claim_then_close_records_the_agent(agent: TestClient, use_db: str) -> None:
    ticket = new_ticket(use_db)
    claimed = post(agent, ticket.id, "claim")
    assert claimed.status_code == 303
    page = agent.get(claimed.headers["location"]).text
    assert 'id="ticket-status">Übernommen<' in page

    closed = post(agent, ticket.id, "close", resolution="callback_done", note="Rückruf erledigt, alles klar")
    assert closed.status_code == 303
    page = agent.get(closed.headers["location"]).text
    assert 'id="ticket-status">Abgeschlossen<' in page
    assert "Rückruf erledigt, alles klar" in page  # the history shows the note

    actor = f"agent:{agent.username}"  # type: ignore[attr-defined]
    assert actors(use_db, ticket.id)[1:] == [("new", "claimed", actor), ("claimed", "closed", actor)]
    assert tickets.get_ticket(ticket.id, url=use_db).resolution == "callback_done"
    assert ticket.id not in agent.get("/console/inbox").text


def test_department_user_acts_as_the_department(use_db: str) -> None:
    ticket = new_ticket(use_db, "standesamt")
    client = signed_in(use_db, "department", "standesamt")
    assert post(client, ticket.id, "claim").status_code == 303
    assert actors(use_db, ticket.id)[-1] == ("new", "claimed", "department:standesamt")
    # Forwarding is for the ServiceCenter's agents only.
    response = post(client, ticket.id, "forward", department="friedhof", note="bitte übernehmen")
    assert response.status_code == 403
    assert tickets.get_ticket(ticket.id, url=use_db).status == "claimed"


def test_illegal_transition_shows_a_german_error(agent: TestClient, use_db: str) -> None:
    ticket = new_ticket(use_db)
    token = csrf(agent, ticket.id)
    assert post(agent, ticket.id, "claim", csrf_token=token).status_code == 303
    again = post(agent, ticket.id, "claim", csrf_token=token)
    assert again.status_code == 409
    assert "im Status „Übernommen“ nicht möglich" in again.text
    assert len(actors(use_db, ticket.id)) == 2

    tickets.transition(ticket.id, "closed", "system", resolution="answered", url=use_db)
    late = post(agent, ticket.id, "close", csrf_token=token, resolution="answered")
    assert late.status_code == 409
    assert "„Abgeschlossen“" in late.text


def test_close_needs_a_resolution(agent: TestClient, use_db: str) -> None:
    ticket = new_ticket(use_db)
    response = post(agent, ticket.id, "close", resolution="erledigt")
    assert response.status_code == 400
    assert "wie das Anliegen erledigt wurde" in response.text
    assert tickets.get_ticket(ticket.id, url=use_db).status == "new"


def test_action_without_valid_csrf_token_changes_nothing(agent: TestClient, use_db: str) -> None:
    ticket = new_ticket(use_db)
    for data in ({}, {"csrf_token": "geraten"}):
        response = agent.post(f"/console/tickets/{ticket.id}/claim", data=data)
        assert response.status_code == 403
        assert "konnte nicht bestätigt werden" in response.text
    assert tickets.get_ticket(ticket.id, url=use_db).status == "new"
    assert len(actors(use_db, ticket.id)) == 1


def test_agent_forwards_to_another_department(agent: TestClient, use_db: str) -> None:
    ticket = new_ticket(use_db, "standesamt")
    assert post(agent, ticket.id, "claim").status_code == 303
    missing_note = post(agent, ticket.id, "forward", department="friedhof", note="")
    assert missing_note.status_code == 400
    assert "kurze Notiz" in missing_note.text

    response = post(agent, ticket.id, "forward", department="friedhof", note="Frage zur Grabpflege")
    assert response.status_code == 303
    stored = tickets.get_ticket(ticket.id, url=use_db)
    assert stored.status == "forwarded" and stored.department_slug == "friedhof"
    last = tickets.ticket_events(ticket.id, url=use_db)[-1]
    assert last.actor == f"agent:{agent.username}"  # type: ignore[attr-defined]
    assert last.note == "an friedhof: Frage zur Grabpflege"

    friedhof = signed_in(use_db, "department", "friedhof")
    assert ticket.id in friedhof.get("/console/inbox").text
    assert "Weitergeleitet" in friedhof.get(f"/console/tickets/{ticket.id}").text
