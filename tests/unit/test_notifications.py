"""Department e-mail: queued with the ticket, delivered over real SMTP, retried, never dropped."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from servicecenter.db import session_scope
from servicecenter.handoff import notifications, tickets
from servicecenter.handoff.notifications import MAX_ATTEMPTS, Outbox
from servicecenter.models import Notification
from servicecenter.settings import Settings
from servicecenter.stack import free_port
from tests.conftest import MailSink


def new_ticket(url: str, notify: str | None = "bauordnung@example.org") -> tickets.Ticket:
    return tickets.create_ticket(
        idempotency_key=uuid.uuid4().hex,
        conversation_id=uuid.uuid4().hex,
        reason="case_status",
        department_slug="bauordnung",
        channel="chat",
        service_slug="bauantrag",
        summary={"topic": "Bauantrag", "service": "bauantrag", "open_question": "Wie ist der Stand?",
                 "reason": "Frage zum eigenen Vorgang", "department": "bauordnung",
                 "department_name": "Bauordnung", "channel": "Chat"},
        due_at=dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc),
        notify=notify,
        url=url,
    )


def rows(url: str, ticket_id: str):
    with session_scope(url) as session:
        return list(session.execute(select(Notification).where(Notification.ticket_id == ticket_id)).scalars())


@pytest.fixture
def sink():
    mail = MailSink().start()
    yield mail
    mail.stop()


def test_the_ticket_and_its_mail_are_one_transaction_and_retries_queue_nothing_twice(session_db):
    ticket = new_ticket(session_db)
    again = tickets.create_ticket(idempotency_key=ticket.idempotency_key, conversation_id=ticket.conversation_id,
                                  reason="case_status", department_slug="bauordnung", channel="chat",
                                  notify="bauordnung@example.org", url=session_db)
    assert again.id == ticket.id
    queued = rows(session_db, ticket.id)
    assert [(n.status, n.recipient, n.attempts) for n in queued] == [("pending", "bauordnung@example.org", 0)]


def test_outbox_delivers_the_summary_and_the_link_over_smtp(session_db, sink):
    ticket = new_ticket(session_db)
    settings = Settings(database_url=session_db, smtp_host="127.0.0.1", smtp_port=sink.port,
                        console_public_url="https://konsole.example")
    assert Outbox(settings).run_once() >= 1
    recipients, message = sink.wait_for(lambda rcpt, msg: ticket.id in msg.get_content())
    assert recipients == ["bauordnung@example.org"]
    body = message.get_content()
    assert f"https://konsole.example/console/tickets/{ticket.id}" in body
    assert "Offene Frage: „Wie ist der Stand?“" in body
    assert "Antwort fällig bis: Mittwoch, 2. Dezember, 13:00 Uhr" in body
    assert message["Subject"] == f"Neues Anliegen {ticket.id.split('-')[0].upper()}: Bauantrag"
    [row] = rows(session_db, ticket.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    # Nothing is sent twice.
    assert Outbox(settings).run_once() == 0


def test_an_unreachable_server_is_retried_later_and_finally_shown_as_failed(session_db, sink):
    ticket = new_ticket(session_db)
    dead = Settings(database_url=session_db, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_seconds=2)
    now = dt.datetime.now(dt.timezone.utc)
    assert Outbox(dead).run_once(now) == 0
    [row] = rows(session_db, ticket.id)
    assert row.status == "pending" and row.attempts == 1 and "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at > now + dt.timedelta(seconds=20)  # not hammered
    assert Outbox(dead).run_once(now) == 0  # not yet due
    assert rows(session_db, ticket.id)[0].attempts == 1

    later = now
    for _ in range(MAX_ATTEMPTS + 2):
        later += dt.timedelta(hours=2)
        Outbox(dead).run_once(later)
    [row] = rows(session_db, ticket.id)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert notifications.failed_count(url=session_db) >= 1

    # An agent sends it again once the server is back: it is delivered.
    assert notifications.retry(row.id, url=session_db)
    alive = Settings(database_url=session_db, smtp_host="127.0.0.1", smtp_port=sink.port)
    Outbox(alive).run_once()
    sink.wait_for(lambda rcpt, msg: ticket.id in msg.get_content())
    assert rows(session_db, ticket.id)[0].status == "sent"


def test_without_an_smtp_server_mail_waits_and_is_not_lost(session_db, caplog):
    ticket = new_ticket(session_db)
    outbox = Outbox(Settings(database_url=session_db, smtp_host=""))
    with caplog.at_level("WARNING"):
        assert outbox.run_once() == 0
        outbox.run_once()
    assert sum("ASSISTANT_SMTP_HOST" in r.getMessage() for r in caplog.records) == 1
    assert rows(session_db, ticket.id)[0].status == "pending"


def test_contact_data_needs_consent_and_the_callback_notifies_the_department(session_db):
    ticket = new_ticket(session_db, notify=None)
    assert rows(session_db, ticket.id) == []
    tickets.set_contact(ticket.id, {"name": "Erika Mustermann", "phone": "+4928311234567"}, consent=True,
                        notify="bauordnung@example.org", url=session_db)
    [row] = rows(session_db, ticket.id)
    assert row.status == "pending" and ":callback:" in row.dedupe_key
