"""Retention and erasure end to end: nothing of an erased or expired conversation remains, in
any table that holds conversations (found generically), and the monthly figures survive."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, func, insert, select

from servicecenter import PROJECT_ROOT
from servicecenter.cli import main
from servicecenter.db import get_engine, session_scope
from servicecenter.handoff import tickets
from servicecenter.models import Notification
from servicecenter.rasa_tables import RASA_EVENTS
from servicecenter.reports.aggregates import month_figures
from servicecenter.reports.config import load_quality
from servicecenter.reports.feedback import record_feedback
from servicecenter.reports.models import MonthlyAggregate
from servicecenter.reports.retention import erase_conversation, purge, remaining_rows
from servicecenter.reports.sample_data import BERLIN, Writer
from tests.conftest import migrated_sqlite

KB_DIR = PROJECT_ROOT / "knowledge" / "geldern"


@pytest.fixture(scope="module")
def handbook(knowledge):
    return load_quality(KB_DIR, knowledge)


@pytest.fixture()
def db(tmp_path):
    url = migrated_sqlite(tmp_path / "retention.db")
    # A table another module might add later: found by its conversation_id column, with a
    # child table that only points at it.
    extra = MetaData()
    Table("trainer_review_items", extra, Column("id", Integer, primary_key=True),
          Column("conversation_id", String(128), nullable=False), Column("label", String(50)))
    Table("trainer_review_notes", extra, Column("id", Integer, primary_key=True),
          Column("item_id", Integer, ForeignKey("trainer_review_items.id"), nullable=False))
    extra.create_all(get_engine(url))
    return url


def full_conversation(url: str, start: dt.datetime, service: str = "reisepass") -> str:
    """A conversation stored everywhere: tracker events, a handoff ticket with history, contact
    data for a callback, a department notification, feedback with a comment, a review item."""
    sender = uuid.uuid4().hex
    w = Writer(get_engine(url))
    ts = start.timestamp()
    w.session(sender, ts - 1)
    w.turn(sender, ts, "socketio", "svc_" + service, "handoff", service, reason="case_status",
           department="standesamt")
    w.flush(force=True)
    ticket = tickets.create_ticket(idempotency_key=uuid.uuid4().hex, conversation_id=sender, reason="case_status",
                                   department_slug="standesamt", channel="chat", service_slug=service,
                                   summary={"open_question": "Wo bleibt mein Pass?"}, notify="standesamt@geldern.de",
                                   url=url)
    tickets.set_contact(ticket.id, {"name": "Erika Muster", "phone": "+49 2831 123456"}, consent=True, url=url)
    tickets.transition(ticket.id, "claimed", "agent:anna", url=url)
    tickets.transition(ticket.id, "answered", "agent:anna", url=url)
    with session_scope(url) as session:
        session.execute(
            tickets.Ticket.__table__.update().where(tickets.Ticket.id == ticket.id)
            .values(created_at=start, updated_at=start))
        session.execute(
            tickets.TicketEvent.__table__.update().where(tickets.TicketEvent.ticket_id == ticket.id).values(at=start))
        session.execute(Notification.__table__.update().where(Notification.ticket_id == ticket.id)
                        .values(created_at=start, next_attempt_at=start))
    record_feedback(sender, "down", "Mein Name ist Erika Muster", url=url, now=start)
    with get_engine(url).begin() as conn:
        item = conn.execute(insert(Table("trainer_review_items", MetaData(), autoload_with=conn))
                            .values(conversation_id=sender, label="x")).inserted_primary_key[0]
        conn.execute(insert(Table("trainer_review_notes", MetaData(), autoload_with=conn)).values(item_id=item))
    return sender


def test_erase_removes_one_conversation_everywhere_and_logs_only_its_id(db, caplog):
    gone = full_conversation(db, dt.datetime(2026, 11, 3, 9, tzinfo=BERLIN))
    kept = full_conversation(db, dt.datetime(2026, 11, 3, 10, tzinfo=BERLIN))
    before = remaining_rows(gone, url=db)
    assert {"events", "tickets", "ticket_events", "notifications", "feedback", "trainer_review_items",
            "trainer_review_notes"} <= {t for t, n in before.items() if n}
    with caplog.at_level(logging.INFO, logger="servicecenter.reports.retention"):
        removed = erase_conversation(gone, url=db)
    assert removed["events"] == before["events"] and removed["ticket_events"] == before["ticket_events"]
    assert all(n == 0 for n in remaining_rows(gone, url=db).values())
    # Nothing of it anywhere in the database file's tables, not even its text.
    with get_engine(db).connect() as conn:
        dump = "\n".join(str(row) for name in ("events", "tickets", "ticket_events", "feedback", "notifications")
                         for row in conn.exec_driver_sql(f"SELECT * FROM {name}"))
    assert gone not in dump
    # The other conversation is untouched.
    assert remaining_rows(kept, url=db) == before
    assert f"conversation {gone} erased" in caplog.text
    assert "Erika" not in caplog.text and "Pass" not in caplog.text


def test_erase_of_an_unknown_or_invalid_id(db, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", db)
    from servicecenter.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["erase", "--conversation", "a" * 32]) == 0
        assert main(["erase", "--conversation", "'; DROP TABLE tickets; --"]) == 2
        sender = full_conversation(db, dt.datetime(2026, 11, 3, 9, tzinfo=BERLIN))
        assert main(["erase", "--conversation", sender]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert f"nothing was stored for conversation {'a' * 32}" in out.out
    assert "not a conversation id" in out.err
    assert f"conversation {sender} erased:" in out.out and "feedback 1" in out.out
    assert all(n == 0 for n in remaining_rows(sender, url=db).values())


def test_purge_deletes_expired_conversations_and_keeps_the_months_figures(db, handbook):
    old = full_conversation(db, dt.datetime(2026, 7, 10, 9, tzinfo=BERLIN))
    old_open = full_conversation(db, dt.datetime(2026, 7, 11, 9, tzinfo=BERLIN))
    recent = full_conversation(db, dt.datetime(2026, 11, 20, 9, tzinfo=BERLIN))
    # The open ticket keeps its conversation (work still pending), whatever its age.
    with session_scope(db) as session:
        session.execute(tickets.Ticket.__table__.update()
                        .where(tickets.Ticket.conversation_id == old_open).values(status="claimed"))
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)  # retention 90 days: cutoff 2 Sept
    july_before, _ = month_figures("2026-07", handbook, url=db, now=now)
    assert july_before["contacts"]["total"] == 2 and july_before["handoff"]["handoffs"] == 2

    result = purge(handbook, url=db, now=now)

    assert result.conversations == 1 and result.kept_open == 1
    assert all(n == 0 for n in remaining_rows(old, url=db).values())
    assert remaining_rows(old_open, url=db)["events"] > 0
    assert remaining_rows(recent, url=db)["tickets"] == 1
    assert "2026-07" in result.months_kept and "2026-11" not in result.months_kept
    july_after, from_aggregate = month_figures("2026-07", handbook, url=db, now=now)
    assert from_aggregate and july_after == json.loads(json.dumps(july_before))
    # A second purge deletes nothing more and never overwrites the kept figures.
    again = purge(handbook, url=db, now=now)
    assert again.conversations == 0 and again.months_kept == []
    with session_scope(db) as session:
        assert session.execute(select(func.count()).select_from(MonthlyAggregate)).scalar_one() == len(
            result.months_kept)


def test_purge_cli_dry_run_counts_without_deleting(db, monkeypatch, capsys):
    old = full_conversation(db, dt.datetime(2025, 1, 10, 9, tzinfo=BERLIN))
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", db)
    from servicecenter.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["purge", "--dry-run"]) == 0
        assert remaining_rows(old, url=db)["events"] > 0
        assert main(["purge"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "would delete 1 conversations" in out and "deleted 1 conversations" in out
    assert all(n == 0 for n in remaining_rows(old, url=db).values())
    with get_engine(db).connect() as conn:
        assert conn.execute(select(func.count()).select_from(RASA_EVENTS)).scalar_one() == 0
