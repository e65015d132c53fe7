"""Contacts read from Rasa's tracker store (``events``): user messages and the slots the actions
set each turn (``outcome``, ``service``, ``handoff_reason``, ``department``).

A *contact* is one Rasa session of a conversation (a conversation id can hold several:
the chat keeps its id for the browser tab, and a new session starts after an hour of
silence). A contact counts once the citizen asked something (greetings alone do not count).
Rows are streamed in conversation order, so memory does not grow with the month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, List, Optional, Set, Tuple

from sqlalchemy import and_, case, or_, select
from sqlalchemy.engine import Connection

from servicecenter.rasa_tables import RASA_EVENTS, has_events_table, json_text
from servicecenter.reports.period import Period

TRACKED_SLOTS = ("outcome", "service", "handoff_reason", "department")
# Outcomes of a turn (servicecenter.dialogue); only these count as the citizen asking something.
ANSWER, HANDOFF, FALLBACK, OUT_OF_SCOPE, CLARIFY, EMERGENCY, SMALLTALK = (
    "answer", "handoff", "fallback", "out_of_scope", "clarify", "emergency", "smalltalk")
SUBSTANTIVE = frozenset({ANSWER, HANDOFF, FALLBACK, OUT_OF_SCOPE, CLARIFY, EMERGENCY})
UNANSWERED = frozenset({FALLBACK, OUT_OF_SCOPE})
FALLBACK_INTENT = "nlu_fallback"
# Lookback so that a session begun shortly before the period is not read from its middle.
LOOKBACK = dt.timedelta(days=1)


@dataclass
class Contact:
    """One session of a conversation, classified from its turns (no message text)."""

    conversation_id: str
    start: float
    end: float
    channel: str = "chat"
    turns: int = 0
    substantive: int = 0
    fallbacks: int = 0
    answered: List[str] = field(default_factory=list)
    services: Set[str] = field(default_factory=set)
    handoff: Optional[Tuple[str, str]] = None  # (reason, department) of the first handoff
    handoff_service: Optional[str] = None
    unanswered: List[str] = field(default_factory=list)  # "service:<slug>" or "intent:<name>"
    repeated: bool = False

    @property
    def counted(self) -> bool:
        return self.substantive > 0

    @property
    def resolved_first_contact(self) -> bool:
        return bool(self.answered) and self.handoff is None and not self.repeated

    @property
    def service(self) -> Optional[str]:
        return self.answered[0] if self.answered else self.handoff_service

    @property
    def outcome(self) -> str:
        if self.handoff is not None:
            return HANDOFF
        if self.answered:
            return "repeat" if self.repeated else ANSWER
        if self.unanswered:
            return "unanswered"
        return "other"


class _Turn:
    __slots__ = ("intent", "outcome", "service", "reason", "department")

    def __init__(self, intent: Optional[str]) -> None:
        self.intent = intent
        self.outcome: Optional[str] = None
        self.service: Optional[str] = None
        self.reason: Optional[str] = None
        self.department: Optional[str] = None


def _close_turn(contact: Contact, turn: Optional[_Turn]) -> None:
    if turn is None:
        return
    outcome = turn.outcome
    if outcome in SUBSTANTIVE:
        contact.substantive += 1
    if outcome == ANSWER and turn.service:
        if turn.service not in contact.answered:
            contact.answered.append(turn.service)
        contact.services.add(turn.service)
    elif outcome == HANDOFF:
        if contact.handoff is None:
            contact.handoff = (turn.reason or "unknown", turn.department or "unknown")
            contact.handoff_service = turn.service
        if turn.service:
            contact.services.add(turn.service)
    elif outcome in UNANSWERED:
        if outcome == FALLBACK:
            contact.fallbacks += 1
        contact.unanswered.append(f"service:{turn.service}" if turn.service else f"intent:{turn.intent or 'unbekannt'}")


def _event_rows(conn: Connection, since: float, until: float) -> Iterator[Tuple[Any, ...]]:
    dialect = conn.dialect.name
    e = RASA_EVENTS.c
    ranking_second = json_text(dialect, e.data, "parse_data", "intent_ranking", 1, "name")
    query = (
        select(
            e.sender_id, e.type_name, e.timestamp, e.intent_name, e.action_name,
            case((e.type_name == "user", json_text(dialect, e.data, "input_channel")),
                 (e.type_name == "slot", json_text(dialect, e.data, "value")), else_=None),
            case((and_(e.type_name == "user", e.intent_name == FALLBACK_INTENT), ranking_second), else_=None),
        )
        .where(e.timestamp >= since, e.timestamp < until)
        .where(or_(e.type_name.in_(("user", "session_started")),
                   and_(e.type_name == "slot", e.action_name.in_(TRACKED_SLOTS))))
        .order_by(e.sender_id, e.id)
    )
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
    for partition in result.partitions(5000):
        yield from partition


def _contacts_of_rows(rows: Iterable[Tuple[Any, ...]]) -> Iterator[List[Contact]]:
    """Group the streamed rows into the contacts of each conversation (one list per sender)."""
    sender: Optional[str] = None
    contacts: List[Contact] = []
    contact: Optional[Contact] = None
    turn: Optional[_Turn] = None
    for sender_id, type_name, timestamp, intent, action, value, second in rows:
        if sender_id != sender:
            if contact is not None:
                _close_turn(contact, turn)
                contacts.append(contact)
            if contacts:
                yield contacts
            sender, contacts, contact, turn = sender_id, [], None, None
        ts = float(timestamp or 0.0)
        if type_name == "session_started":
            if contact is not None:
                _close_turn(contact, turn)
                contacts.append(contact)
            contact, turn = Contact(sender_id, ts, ts), None
            continue
        if contact is None:
            contact = Contact(sender_id, ts, ts)
        contact.end = max(contact.end, ts)
        if type_name == "user":
            _close_turn(contact, turn)
            if contact.turns == 0:
                contact.start = ts
                contact.channel = "voice" if value == "voice" else "chat"
            contact.turns += 1
            turn = _Turn(second if intent == FALLBACK_INTENT and second else intent)
        elif turn is not None:
            if action == "outcome":
                turn.outcome = value
            elif action == "service":
                turn.service = value
            elif action == "handoff_reason":
                turn.reason = value
            elif action == "department":
                turn.department = value
    if contact is not None:
        _close_turn(contact, turn)
        contacts.append(contact)
    if contacts:
        yield contacts


def _mark_repeats(contacts: List[Contact], window_s: float) -> None:
    """A contact is repeated when a later contact of the same conversation within the window
    concerns one of its services."""
    for i, first in enumerate(contacts):
        if not first.services:
            continue
        for later in contacts[i + 1:]:
            if later.start - first.start > window_s:
                break
            if later.counted and later.start > first.start and first.services & later.services:
                first.repeated = True
                break


def iter_contacts(conn: Connection, period: Period, repeat_days: int) -> Iterator[Contact]:
    """The counted contacts that began in ``period``, with repeat contacts marked."""
    if not has_events_table(conn):
        return
    start, end = period.start.timestamp(), period.end.timestamp()
    window = repeat_days * 86400.0
    rows = _event_rows(conn, start - LOOKBACK.total_seconds(), end + window)
    for group in _contacts_of_rows(rows):
        group = [c for c in group if c.turns]
        group.sort(key=lambda c: c.start)
        _mark_repeats(group, window)
        for contact in group:
            if contact.counted and start <= contact.start < end:
                yield contact
