"""Handoff tickets: idempotent creation and a checked status life cycle with its history.

Every write is one transaction: a ticket never exists without its "created" event, and a
status never changes without the event that records who changed it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from enum import Enum
from typing import Any, Dict, FrozenSet, List, Mapping, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servicecenter.db import session_scope, use_session
from servicecenter.handoff.notifications import enqueue_department_mail
from servicecenter.models import Ticket, TicketEvent

log = logging.getLogger(__name__)


class Status(str, Enum):
    NEW = "new"
    CLAIMED = "claimed"
    IN_CONVERSATION = "in_conversation"
    FORWARDED = "forwarded"
    ANSWERED = "answered"
    CLOSED = "closed"


OPEN_STATUSES: FrozenSet[Status] = frozenset(s for s in Status if s is not Status.CLOSED)

# Closing is allowed from every open status (see ``transition``); the rest is the work flow.
TRANSITIONS: Dict[Status, FrozenSet[Status]] = {
    Status.NEW: frozenset({Status.CLAIMED}),
    Status.CLAIMED: frozenset({Status.IN_CONVERSATION, Status.FORWARDED, Status.ANSWERED}),
    Status.IN_CONVERSATION: frozenset({Status.ANSWERED, Status.FORWARDED}),
    Status.FORWARDED: frozenset({Status.ANSWERED}),
    Status.ANSWERED: frozenset(),
    Status.CLOSED: frozenset(),
}

MODES: FrozenSet[str] = frozenset({"live", "ticket"})
RESOLUTIONS: FrozenSet[str] = frozenset({"answered", "forwarded", "callback_done", "no_contact"})

ASSISTANT = "assistant"
CREATED_NOTE = "created"
_ACTOR_RE = re.compile(r"^(assistant|system|agent:[\w.@-]{1,100}|department:[a-z0-9-]{1,64})$")
_CAS_RETRIES = 3


class TicketError(Exception):
    """Base of the ticket errors."""


class TicketNotFound(TicketError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"no ticket with id '{ticket_id}'")
        self.ticket_id = ticket_id


class IllegalTransition(TicketError):
    def __init__(self, from_status: str, to_status: str, detail: str = "") -> None:
        message = f"illegal ticket transition from '{from_status}' to '{to_status}'"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.from_status = from_status
        self.to_status = to_status


class IdempotencyConflict(TicketError):
    """The key is already used by a ticket of another conversation (a caller bug)."""

    def __init__(self, key: str, conversation_id: str) -> None:
        super().__init__(f"idempotency key '{key}' belongs to another conversation than '{conversation_id}'")
        self.key = key


class ConcurrentUpdate(TicketError):
    """The ticket kept changing under us; the caller may retry."""


def allowed_targets(status: str) -> FrozenSet[Status]:
    """The statuses a ticket in ``status`` may move to."""
    current = Status(status)
    if current is Status.CLOSED:
        return frozenset()
    return TRANSITIONS[current] | {Status.CLOSED}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _add_event(
    session: Session, ticket_id: str, from_status: Optional[str], to_status: str, actor: str,
    note: Optional[str], at: dt.datetime,
) -> None:
    session.add(
        TicketEvent(ticket_id=ticket_id, from_status=from_status, to_status=to_status, actor=actor, note=note, at=at)
    )


def _find_by_key(session: Session, idempotency_key: str) -> Optional[Ticket]:
    return session.execute(select(Ticket).where(Ticket.idempotency_key == idempotency_key)).scalar_one_or_none()


def _existing(url: Optional[str], idempotency_key: str, conversation_id: str) -> Optional[Ticket]:
    with session_scope(url) as session:
        ticket = _find_by_key(session, idempotency_key)
    if ticket is not None and ticket.conversation_id != conversation_id:
        raise IdempotencyConflict(idempotency_key, conversation_id)
    return ticket


def _check_actor(actor: str) -> None:
    if not _ACTOR_RE.match(actor):
        raise ValueError(f"invalid actor '{actor}' (expected 'assistant', 'system', 'agent:<user>' or 'department:<slug>')")


def create_ticket(
    *,
    idempotency_key: str,
    conversation_id: str,
    reason: str,
    department_slug: str,
    channel: str,
    service_slug: Optional[str] = None,
    language: str = "de",
    summary: Optional[Mapping[str, Any]] = None,
    contact: Optional[Mapping[str, Any]] = None,
    consent: bool = False,
    due_at: Optional[dt.datetime] = None,
    actor: str = ASSISTANT,
    mode: str = "ticket",
    notify: Optional[str] = None,
    url: Optional[str] = None,
) -> Ticket:
    """Create a ticket with status "new" and its "created" event, or return the ticket that
    already has ``idempotency_key`` (a retried action must not open a second ticket).
    """
    if not idempotency_key:
        raise ValueError("an idempotency key is required")
    if contact and not consent:
        raise ValueError("contact data may only be stored with the citizen's consent")
    if due_at is not None and due_at.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")
    _check_actor(actor)
    if mode not in MODES:
        raise ValueError(f"unknown ticket mode '{mode}' (known: {', '.join(sorted(MODES))})")

    # Cheap path for retries; the unique constraint below is what actually guarantees one ticket.
    existing = _existing(url, idempotency_key, conversation_id)
    if existing is not None:
        log.info("ticket %s already exists for key %s", existing.id, idempotency_key)
        return existing

    now = _now()
    ticket = Ticket(
        id=str(uuid.uuid4()),
        idempotency_key=idempotency_key,
        conversation_id=conversation_id,
        reason=reason,
        service_slug=service_slug,
        department_slug=department_slug,
        channel=channel,
        language=language,
        status=Status.NEW.value,
        summary=dict(summary or {}),
        contact=dict(contact) if contact else None,
        consent=consent,
        due_at=due_at,
        mode=mode,
        created_at=now,
        updated_at=now,
    )
    try:
        with session_scope(url) as session:
            session.add(ticket)
            # Flush the ticket alone first so that a duplicate key fails here, not at the event.
            session.flush()
            _add_event(session, ticket.id, None, Status.NEW.value, actor, CREATED_NOTE, now)
            if notify:
                # Queued with the ticket: a crash can lose neither without the other.
                enqueue_department_mail(session, ticket, department_slug, notify, "created", now)
    except IntegrityError:
        # Another process inserted the same key between our look-up and our insert.
        existing = _existing(url, idempotency_key, conversation_id)
        if existing is None:
            raise
        log.info("ticket %s was created concurrently for key %s", existing.id, idempotency_key)
        return existing
    log.info(
        "ticket %s created: reason=%s department=%s channel=%s", ticket.id, reason, department_slug, channel
    )
    return ticket


def transition(
    ticket_id: str,
    to_status: str,
    actor: str,
    note: Optional[str] = None,
    resolution: Optional[str] = None,
    url: Optional[str] = None,
    session: Optional[Session] = None,
) -> Ticket:
    """Move a ticket to ``to_status`` and record the event, in one transaction (the caller's
    when ``session`` is given: then a concurrent change raises at once instead of retrying).

    Closing needs a ``resolution`` (one of RESOLUTIONS); other moves must not carry one.
    """
    target = Status(to_status)
    _check_actor(actor)
    if target is Status.CLOSED:
        if resolution not in RESOLUTIONS:
            raise ValueError(f"closing needs a resolution, one of: {', '.join(sorted(RESOLUTIONS))}")
    elif resolution is not None:
        raise ValueError("a resolution is only given when closing a ticket")

    for _ in range(_CAS_RETRIES):
        with use_session(session, url) as work:
            # FOR UPDATE serialises concurrent moves on PostgreSQL; SQLite ignores it and
            # relies on the compare-and-set below (its writers are serialised anyway).
            ticket = work.execute(
                select(Ticket).where(Ticket.id == ticket_id).with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if ticket is None:
                raise TicketNotFound(ticket_id)
            current = ticket.status
            if target not in allowed_targets(current):
                raise IllegalTransition(current, target.value)
            now = _now()
            changed = work.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == current)
                .values(status=target.value, resolution=resolution, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:
                if session is not None:
                    break
                work.rollback()
                continue
            _add_event(work, ticket_id, current, target.value, actor, note, now)
        log.info("ticket %s: %s -> %s by %s", ticket_id, current, target.value, actor)
        return get_ticket(ticket_id, url=url, session=session)
    raise ConcurrentUpdate(f"ticket '{ticket_id}' changed concurrently {_CAS_RETRIES} times")


def get_ticket(ticket_id: str, url: Optional[str] = None, session: Optional[Session] = None) -> Ticket:
    with use_session(session, url) as work:
        ticket = work.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


def ticket_events(ticket_id: str, url: Optional[str] = None, session: Optional[Session] = None) -> List[TicketEvent]:
    """The history of a ticket, oldest first."""
    with use_session(session, url) as work:
        return list(
            work.execute(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
            ).scalars()
        )


def set_contact(
    ticket_id: str,
    contact: Mapping[str, Any],
    *,
    consent: bool,
    actor: str = ASSISTANT,
    note: Optional[str] = None,
    notify: Optional[str] = None,
    url: Optional[str] = None,
    session: Optional[Session] = None,
) -> Ticket:
    """Store (or replace) the citizen's contact data on a ticket and record an event without a
    status change, in one transaction. Contact data needs the citizen's consent."""
    if not consent:
        raise ValueError("contact data may only be stored with the citizen's consent")
    if not contact:
        raise ValueError("no contact data given")
    _check_actor(actor)
    with use_session(session, url) as work:
        ticket = work.execute(
            select(Ticket).where(Ticket.id == ticket_id).with_for_update().execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if ticket is None:
            raise TicketNotFound(ticket_id)
        now = _now()
        ticket.contact = dict(contact)
        ticket.consent = True
        ticket.updated_at = now
        _add_event(work, ticket_id, ticket.status, ticket.status, actor, note, now)
        if notify:
            enqueue_department_mail(work, ticket, ticket.department_slug, notify, f"callback:{now.timestamp()}", now)
    log.info("ticket %s: contact data stored by %s", ticket_id, actor)
    return get_ticket(ticket_id, url=url, session=session)
