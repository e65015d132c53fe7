"""Handoff tickets: life cycle, idempotent creation, one transaction per write.

Each test runs on SQLite and, when ASSISTANT_TEST_POSTGRES_URL is set, on PostgreSQL too
(in a schema of its own, so that it never touches the tables of other test runs).
"""

import datetime as dt
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from servicecenter.db import get_engine, session_scope
from servicecenter.handoff import tickets
from servicecenter.handoff.requests import record_handoff
from servicecenter.handoff.tickets import (
    IdempotencyConflict,
    IllegalTransition,
    Status,
    TicketNotFound,
    create_ticket,
    get_ticket,
    ticket_events,
    transition,
)
from servicecenter.models import Ticket, TicketEvent
from servicecenter.training import upgrade_database
from tests.conftest import migrated_sqlite

PG_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL")
AGENT = "agent:mueller"


def _postgres_schema_url(schema: str) -> str:
    assert PG_URL is not None
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.integration,
                pytest.mark.skipif(not PG_URL, reason="no PostgreSQL: set ASSISTANT_TEST_POSTGRES_URL"),
            ],
        ),
    ]
)
def db(request, tmp_path):
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "tickets.db")
        return
    schema = f"tickets_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with get_engine(PG_URL).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _postgres_schema_url(schema)
    try:
        upgrade_database(url)
        yield url
    finally:
        get_engine(url).dispose()
        with get_engine(PG_URL).begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def new_ticket(url, key="conv-1:1700000000.0", **kwargs):
    fields = dict(
        idempotency_key=key, conversation_id=key.split(":")[0], reason="case_status",
        department_slug="bauordnung", channel="chat", service_slug="bauantrag",
    )
    fields.update(kwargs)
    return create_ticket(url=url, **fields)


def count(url, model, *where):
    with session_scope(url) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar()


# --- creation ---------------------------------------------------------------------------


def test_a_new_ticket_is_new_and_has_its_created_event(db):
    due = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    ticket = new_ticket(db, summary={"topic": "bauantrag", "question": "Bearbeitungsstand"}, due_at=due)
    back = get_ticket(ticket.id, url=db)
    assert back.status == "new" and back.language == "de" and back.consent is False
    assert back.summary == {"topic": "bauantrag", "question": "Bearbeitungsstand"}
    assert back.contact is None
    assert back.due_at == due and back.due_at.tzinfo is not None
    assert back.created_at.tzinfo is not None
    [event] = ticket_events(ticket.id, url=db)
    assert (event.from_status, event.to_status, event.actor, event.note) == (None, "new", "assistant", "created")


def test_the_same_idempotency_key_returns_the_existing_ticket(db):
    first = new_ticket(db)
    second = new_ticket(db, reason="complaint", department_slug="zentrale")
    assert second.id == first.id and second.reason == "case_status"
    assert count(db, Ticket) == 1
    assert count(db, TicketEvent) == 1


def test_a_lost_race_on_the_key_is_caught_by_the_unique_constraint(db, monkeypatch):
    first = new_ticket(db)
    # Simulate a concurrent creator: our look-up misses, the insert hits the constraint.
    real_find = tickets._find_by_key
    misses = iter([True])
    monkeypatch.setattr(tickets, "_find_by_key", lambda s, k: None if next(misses, False) else real_find(s, k))
    second = new_ticket(db)
    assert second.id == first.id
    assert count(db, Ticket) == 1 and count(db, TicketEvent) == 1


def test_concurrent_creators_with_one_key_make_one_ticket(db):
    barrier = threading.Barrier(6)

    def create(_):
        barrier.wait()
        return new_ticket(db, key="conv-race:1.0").id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(create, range(6)))
    assert len(ids) == 1
    assert count(db, Ticket) == 1 and count(db, TicketEvent) == 1


def test_a_failing_event_insert_leaves_no_ticket(db, monkeypatch):
    def broken_event(session, ticket_id, from_status, to_status, actor, note, at):
        session.add(TicketEvent(ticket_id=ticket_id, from_status=from_status, to_status=None, actor=actor, at=at))

    monkeypatch.setattr(tickets, "_add_event", broken_event)
    with pytest.raises(IntegrityError):
        new_ticket(db)
    assert count(db, Ticket) == 0 and count(db, TicketEvent) == 0


def test_a_key_of_another_conversation_is_refused(db):
    new_ticket(db, key="conv-1:5.0")
    with pytest.raises(IdempotencyConflict):
        new_ticket(db, key="conv-1:5.0", conversation_id="conv-2")


def test_contact_data_needs_consent(db):
    with pytest.raises(ValueError, match="consent"):
        new_ticket(db, contact={"phone": "02831 0"})
    ticket = new_ticket(db, contact={"callback": "Rückruf erbeten"}, consent=True)
    assert get_ticket(ticket.id, url=db).contact == {"callback": "Rückruf erbeten"}


def test_a_naive_due_date_is_refused(db):
    with pytest.raises(ValueError, match="timezone"):
        new_ticket(db, due_at=dt.datetime(2026, 12, 3, 9, 0))


# --- life cycle -------------------------------------------------------------------------


def test_the_usual_path_is_recorded_event_by_event(db):
    ticket = new_ticket(db)
    for status in ("claimed", "in_conversation", "answered"):
        transition(ticket.id, status, AGENT, url=db)
    closed = transition(ticket.id, "closed", AGENT, note="telefonisch erledigt", resolution="answered", url=db)
    assert closed.status == "closed" and closed.resolution == "answered"
    assert closed.updated_at >= closed.created_at
    history = [(e.from_status, e.to_status, e.actor) for e in ticket_events(ticket.id, url=db)]
    assert history == [
        (None, "new", "assistant"),
        ("new", "claimed", AGENT),
        ("claimed", "in_conversation", AGENT),
        ("in_conversation", "answered", AGENT),
        ("answered", "closed", AGENT),
    ]
    assert ticket_events(ticket.id, url=db)[-1].note == "telefonisch erledigt"


def test_a_claimed_ticket_can_be_forwarded_and_then_answered(db):
    ticket = new_ticket(db)
    transition(ticket.id, "claimed", AGENT, url=db)
    transition(ticket.id, "forwarded", AGENT, note="an die Bauordnung", url=db)
    assert transition(ticket.id, "answered", "department:bauordnung", url=db).status == "answered"


@pytest.mark.parametrize("status", ["new", "claimed", "in_conversation", "forwarded", "answered"])
def test_every_open_ticket_can_be_closed_with_a_resolution(db, status):
    ticket = new_ticket(db)
    path = {
        "new": [],
        "claimed": ["claimed"],
        "in_conversation": ["claimed", "in_conversation"],
        "forwarded": ["claimed", "forwarded"],
        "answered": ["claimed", "answered"],
    }[status]
    for step in path:
        transition(ticket.id, step, AGENT, url=db)
    assert transition(ticket.id, "closed", AGENT, resolution="no_contact", url=db).status == "closed"


@pytest.mark.parametrize(
    "path, illegal",
    [
        ([], "answered"),
        ([], "in_conversation"),
        ([], "forwarded"),
        (["claimed"], "new"),
        (["claimed", "forwarded"], "in_conversation"),
        (["claimed", "answered"], "claimed"),
    ],
)
def test_an_illegal_transition_names_both_statuses(db, path, illegal):
    ticket = new_ticket(db)
    for step in path:
        transition(ticket.id, step, AGENT, url=db)
    current = path[-1] if path else "new"
    with pytest.raises(IllegalTransition) as caught:
        transition(ticket.id, illegal, AGENT, url=db)
    assert (caught.value.from_status, caught.value.to_status) == (current, illegal)
    assert f"'{current}'" in str(caught.value) and f"'{illegal}'" in str(caught.value)
    assert get_ticket(ticket.id, url=db).status == current
    assert len(ticket_events(ticket.id, url=db)) == len(path) + 1


def test_a_closed_ticket_stays_closed(db):
    ticket = new_ticket(db)
    transition(ticket.id, "closed", AGENT, resolution="callback_done", url=db)
    with pytest.raises(IllegalTransition, match="'closed' to 'claimed'"):
        transition(ticket.id, "claimed", AGENT, url=db)
    with pytest.raises(IllegalTransition, match="'closed' to 'closed'"):
        transition(ticket.id, "closed", AGENT, resolution="answered", url=db)


def test_closing_needs_a_known_resolution_and_only_closing_takes_one(db):
    ticket = new_ticket(db)
    with pytest.raises(ValueError, match="resolution"):
        transition(ticket.id, "closed", AGENT, url=db)
    with pytest.raises(ValueError, match="resolution"):
        transition(ticket.id, "closed", AGENT, resolution="vergessen", url=db)
    with pytest.raises(ValueError, match="resolution"):
        transition(ticket.id, "claimed", AGENT, resolution="answered", url=db)
    assert get_ticket(ticket.id, url=db).status == "new"


def test_unknown_status_actor_or_ticket_is_refused(db):
    ticket = new_ticket(db)
    with pytest.raises(ValueError):
        transition(ticket.id, "done", AGENT, url=db)
    with pytest.raises(ValueError, match="actor"):
        transition(ticket.id, "claimed", "mueller", url=db)
    with pytest.raises(TicketNotFound):
        transition(str(uuid.uuid4()), "claimed", AGENT, url=db)


def test_a_failing_event_insert_leaves_the_status_unchanged(db, monkeypatch):
    ticket = new_ticket(db)

    def broken_event(session, ticket_id, from_status, to_status, actor, note, at):
        session.add(TicketEvent(ticket_id=ticket_id, from_status=from_status, to_status=None, actor=actor, at=at))

    monkeypatch.setattr(tickets, "_add_event", broken_event)
    with pytest.raises(IntegrityError):
        transition(ticket.id, "claimed", AGENT, url=db)
    assert get_ticket(ticket.id, url=db).status == "new"
    assert len(ticket_events(ticket.id, url=db)) == 1


def test_concurrent_claims_let_exactly_one_agent_win(db):
    ticket = new_ticket(db)
    agents = [f"agent:a{i}" for i in range(5)]
    barrier = threading.Barrier(len(agents))

    def claim(agent):
        barrier.wait()
        try:
            transition(ticket.id, "claimed", agent, url=db)
            return "won"
        except IllegalTransition:
            return "lost"

    with ThreadPoolExecutor(len(agents)) as pool:
        outcomes = list(pool.map(claim, agents))
    assert outcomes.count("won") == 1
    assert [e.to_status for e in ticket_events(ticket.id, url=db)] == ["new", "claimed"]


def test_status_enum_matches_the_transition_table():
    assert set(tickets.TRANSITIONS) == set(Status)
    assert tickets.allowed_targets("closed") == frozenset()
    assert Status.CLOSED in tickets.allowed_targets("forwarded")


# --- record_handoff ---------------------------------------------------------------------


def test_record_handoff_opens_a_ticket_and_without_a_key_a_new_one_each_time(db):
    request_id = record_handoff("c" * 32, "case_status", "bauordnung", "chat", "bauantrag", url=db).id
    ticket = get_ticket(request_id, url=db)
    assert (ticket.status, ticket.department_slug, ticket.service_slug) == ("new", "bauordnung", "bauantrag")
    assert (ticket.reason, ticket.mode) == ("case_status", "ticket")
    assert record_handoff("c" * 32, "case_status", "bauordnung", "chat", "bauantrag", url=db).id != request_id


def test_record_handoff_with_a_key_is_idempotent_and_stores_summary_and_due_date(db):
    due = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)
    key = f"{'d' * 32}:1764840000.123"
    args = ("d" * 32, "human", "steueramt", "voice", "hundesteuer")
    first = record_handoff(*args, url=db, idempotency_key=key, summary={"topic": "hundesteuer"}, due_at=due).id
    again = record_handoff(*args, url=db, idempotency_key=key, summary={"topic": "hundesteuer"}, due_at=due).id
    assert first == again
    assert count(db, Ticket) == 1
    ticket = get_ticket(first, url=db)
    assert ticket.summary == {"topic": "hundesteuer"} and ticket.due_at == due


def test_record_handoff_still_refuses_unknown_reasons(db):
    with pytest.raises(ValueError, match="unknown handoff reason"):
        record_handoff("e" * 32, "boredom", "zentrale", "chat", url=db)
    assert count(db, Ticket) == 0
