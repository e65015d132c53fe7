"""SQLAlchemy tables of the project (Rasa's tracker store keeps its own tables)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from servicecenter.db import Base


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UtcDateTime(TypeDecorator):
    """A timezone-aware timestamp on every dialect: stored as UTC, read back with tzinfo=UTC.

    SQLite drops the offset of ``DateTime(timezone=True)``; normalising to UTC on the way in
    and attaching UTC on the way out gives the same values as PostgreSQL's timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: a timezone is required")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class KbLocation(Base):
    __tablename__ = "kb_locations"
    slug = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    street = Column(String(200), nullable=False)
    postcode = Column(String(10), nullable=False)
    city = Column(String(100), nullable=False)
    note = Column(Text)


class KbOpeningHours(Base):
    __tablename__ = "kb_opening_hours"
    slug = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    weekly = Column(JSON, nullable=False)
    note = Column(Text)
    source = Column(String(500))
    as_of = Column(String(50))


class KbOrganisation(Base):
    __tablename__ = "kb_organisations"
    slug = Column(String(64), primary_key=True)
    kind = Column(String(16), nullable=False)
    name = Column(String(200), nullable=False)
    article = Column(String(3))
    synonyms = Column(JSON, nullable=False, default=list)
    phone = Column(String(64))
    email = Column(String(200))
    web = Column(String(500))
    location_slug = Column(String(64), ForeignKey("kb_locations.slug"))
    hours_slug = Column(String(64), ForeignKey("kb_opening_hours.slug"))
    note = Column(Text)


class KbService(Base):
    __tablename__ = "kb_services"
    slug = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    teaser = Column(Text, nullable=False)
    text = Column(Text, nullable=False)
    responsible_slug = Column(String(64), ForeignKey("kb_organisations.slug"), nullable=False)
    location_slug = Column(String(64), ForeignKey("kb_locations.slug"))
    hours_slug = Column(String(64), ForeignKey("kb_opening_hours.slug"))
    source_url = Column(String(500), nullable=False)
    as_of = Column(String(50), nullable=False)
    approved_by = Column(String(200), nullable=False)
    approved_on = Column(Date, nullable=False)
    # The whole validated entry (XZuFi modules), so answers need one row per service.
    document = Column(JSON, nullable=False)
    imported_at = Column(DateTime(timezone=True), nullable=False, default=_now)


class KbServiceSynonym(Base):
    __tablename__ = "kb_service_synonyms"
    __table_args__ = (UniqueConstraint("synonym", name="uq_kb_service_synonyms_synonym"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    service_slug = Column(String(64), ForeignKey("kb_services.slug", ondelete="CASCADE"), nullable=False)
    synonym = Column(String(200), nullable=False)


class KbServiceFee(Base):
    __tablename__ = "kb_service_fees"
    id = Column(Integer, primary_key=True, autoincrement=True)
    service_slug = Column(String(64), ForeignKey("kb_services.slug", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    label = Column(String(200), nullable=False)
    amount_eur = Column(Numeric(10, 2), nullable=False)
    note = Column(Text)


class Ticket(Base):
    """A handoff to a person that survives restarts; its history is in ``ticket_events``.

    ``summary`` is the structured summary the agent reads; ``contact`` is only ever filled
    when the citizen consented (checked in servicecenter.handoff.tickets).
    """

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_tickets_idempotency_key"),)
    id = Column(String(36), primary_key=True)
    idempotency_key = Column(String(200), nullable=False)
    conversation_id = Column(String(128), nullable=False, index=True)
    reason = Column(String(32), nullable=False)
    service_slug = Column(String(64))
    department_slug = Column(String(64), nullable=False)
    channel = Column(String(32), nullable=False)
    language = Column(String(8), nullable=False, default="de", server_default="de")
    status = Column(String(32), nullable=False, index=True)
    resolution = Column(String(32))
    summary = Column(JSON, nullable=False, default=dict)
    contact = Column(JSON)
    consent = Column(Boolean, nullable=False, default=False)
    due_at = Column(UtcDateTime)
    # "live": waits in the ServiceCenter's agent queue for a live takeover of the chat;
    # "ticket": a work item (department request, callback) answered within the service promise.
    mode = Column(String(16), nullable=False, default="ticket", server_default="ticket")
    # Who has the ticket now (the actor who claimed it), for the inbox and the citizen's widget.
    assignee = Column(String(128))
    created_at = Column(UtcDateTime, nullable=False, default=_now)
    updated_at = Column(UtcDateTime, nullable=False, default=_now)


class TicketEvent(Base):
    """One status change of a ticket; the first one (from_status NULL, to_status 'new') is its creation."""

    __tablename__ = "ticket_events"
    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(String(36), ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    from_status = Column(String(32))
    to_status = Column(String(32), nullable=False)
    actor = Column(String(128), nullable=False)
    note = Column(Text)
    at = Column(UtcDateTime, nullable=False, default=_now)


class User(Base):
    """A person who signs in to the console; ``department_slug`` only for the role "department"."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False)
    department_slug = Column(String(64))
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UtcDateTime, nullable=False, default=_now)


class ConsoleSession(Base):
    """A signed-in console session; ``id`` is the SHA-256 of the cookie's token, never the token."""

    __tablename__ = "sessions"
    id = Column(String(64), primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UtcDateTime, nullable=False, default=_now)
    last_seen_at = Column(UtcDateTime, nullable=False, default=_now)


class Notification(Base):
    """An e-mail to a department about a ticket, sent by the console's outbox worker.

    The message itself is built at sending time from the ticket, so no copy of the summary is
    stored here; ``last_error`` holds the SMTP error only (never the message).
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_notifications_dedupe_key"),)
    id = Column(String(36), primary_key=True)
    dedupe_key = Column(String(200), nullable=False)
    ticket_id = Column(String(36), ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    kind = Column(String(32), nullable=False)
    department_slug = Column(String(64), nullable=False)
    recipient = Column(String(254), nullable=False)
    status = Column(String(16), nullable=False, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UtcDateTime, nullable=False, default=_now)
    last_error = Column(String(500))
    created_at = Column(UtcDateTime, nullable=False, default=_now)
    sent_at = Column(UtcDateTime)
