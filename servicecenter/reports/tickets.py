"""Handoff tickets of a period with the times they were claimed and answered (from their
status history)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator, Optional

from sqlalchemy import Text, case, cast, func, select, type_coerce
from sqlalchemy.engine import Connection

from servicecenter.models import Ticket, TicketEvent, UtcDateTime
from servicecenter.reports.period import Period

ANSWERED_STATUSES = ("answered", "closed")


@dataclass(frozen=True)
class TicketTimes:
    id: str
    conversation_id: str
    mode: str
    channel: str
    callback: bool
    created_at: dt.datetime
    claimed_at: Optional[dt.datetime]
    answered_at: Optional[dt.datetime]


def iter_tickets(conn: Connection, period: Period) -> Iterator[TicketTimes]:
    t, e = Ticket.__table__.c, TicketEvent.__table__.c
    claimed = type_coerce(func.min(case((e.to_status == "claimed", e.at), else_=None)), UtcDateTime)
    answered = type_coerce(func.min(case((e.to_status.in_(ANSWERED_STATUSES), e.at), else_=None)), UtcDateTime)
    # A callback request is a ticket with contact data; JSON null counts as none.
    has_contact = func.coalesce(cast(t.contact, Text), "null") != "null"
    query = (
        select(t.id, t.conversation_id, t.mode, t.channel, has_contact, t.created_at, claimed, answered)
        .select_from(Ticket.__table__.outerjoin(TicketEvent.__table__, e.ticket_id == t.id))
        .where(t.created_at >= period.start, t.created_at < period.end)
        # The other columns depend on the key (allowed by SQLite and PostgreSQL alike).
        .group_by(t.id)
        .order_by(t.created_at)
    )
    for row in conn.execute(query):
        yield TicketTimes(*row)
