"""Quality figures computed from what is stored, never from counters that can drift.

Sources: Rasa's tracker store (``events``: user messages and the slots the actions set each
turn: ``outcome``, ``service``, ``handoff_reason``, ``department``), the handoff tickets with
their status history, and the citizens' feedback.

A *contact* is one Rasa session of a conversation (a conversation id can hold several:
the chat keeps its id for the browser tab, and a new session starts after an hour of
silence). A contact counts once the citizen asked something (greetings alone do not count).
Rows are streamed in conversation order, so memory does not grow with the month.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import Text, and_, case, cast, func, or_, select, type_coerce
from sqlalchemy.engine import Connection

from servicecenter.db import get_engine
from servicecenter.handoff.service_hours import ServiceCalendar
from servicecenter.models import Ticket, TicketEvent, UtcDateTime
from servicecenter.reports.events import RASA_EVENTS, has_events_table, json_text
from servicecenter.reports.models import Feedback

TRACKED_SLOTS = ("outcome", "service", "handoff_reason", "department")
# Outcomes of a turn (servicecenter.dialogue); only these count as the citizen asking something.
ANSWER, HANDOFF, FALLBACK, OUT_OF_SCOPE, CLARIFY, EMERGENCY, SMALLTALK = (
    "answer", "handoff", "fallback", "out_of_scope", "clarify", "emergency", "smalltalk")
SUBSTANTIVE = frozenset({ANSWER, HANDOFF, FALLBACK, OUT_OF_SCOPE, CLARIFY, EMERGENCY})
UNANSWERED = frozenset({FALLBACK, OUT_OF_SCOPE})
FALLBACK_INTENT = "nlu_fallback"
# Lookback so that a session begun shortly before the period is not read from its middle.
LOOKBACK = dt.timedelta(days=1)
ANSWERED_STATUSES = ("answered", "closed")


@dataclass(frozen=True)
class Period:
    """[start, end) in the town's time zone (e.g. one calendar month)."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def month(cls, month: str, timezone: str = "Europe/Berlin") -> "Period":
        """'2026-11' -> the whole of November 2026, local time."""
        try:
            year, number = (int(p) for p in month.split("-"))
            first = dt.date(year, number, 1)
        except ValueError as err:
            raise ValueError(f"month must look like 2026-11, got {month!r}") from err
        following = dt.date(year + number // 12, number % 12 + 1, 1)
        tz = ZoneInfo(timezone)
        return cls(dt.datetime.combine(first, dt.time(), tz), dt.datetime.combine(following, dt.time(), tz))

    @classmethod
    def days(cls, first: dt.date, last: dt.date, timezone: str = "Europe/Berlin") -> "Period":
        if last < first:
            raise ValueError("the period ends before it starts")
        tz = ZoneInfo(timezone)
        return cls(dt.datetime.combine(first, dt.time(), tz),
                   dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz))

    @property
    def label(self) -> str:
        last = (self.end - dt.timedelta(seconds=1)).date()
        return f"{self.start.date():%d.%m.%Y} – {last:%d.%m.%Y}"


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


# ------------------------------------------------------------------------ tickets


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


# ------------------------------------------------------------------------ figures


def _share(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


@dataclass
class Accumulator:
    """Adds contacts and tickets up into the figures (JSON-ready, no personal data)."""

    tz: ZoneInfo
    contacts: int = 0
    by_channel: Counter = field(default_factory=Counter)
    by_day: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    by_hour: Counter = field(default_factory=Counter)
    answered: int = 0
    resolved: int = 0
    repeated: int = 0
    handoffs: int = 0
    handoff_reason: Counter = field(default_factory=Counter)
    handoff_department: Counter = field(default_factory=Counter)
    turns: int = 0
    fallback_turns: int = 0
    services: Counter = field(default_factory=Counter)
    unanswered: Counter = field(default_factory=Counter)
    voice_conversations: Set[str] = field(default_factory=set)

    def add(self, c: Contact) -> None:
        self.contacts += 1
        self.by_channel[c.channel] += 1
        local = dt.datetime.fromtimestamp(c.start, self.tz)
        self.by_day[local.date().isoformat()][c.channel] += 1
        self.by_hour[local.hour] += 1
        self.turns += c.turns
        self.fallback_turns += c.fallbacks
        if c.answered:
            self.answered += 1
        if c.resolved_first_contact:
            self.resolved += 1
        if c.repeated:
            self.repeated += 1
        if c.handoff is not None:
            self.handoffs += 1
            self.handoff_reason[c.handoff[0]] += 1
            self.handoff_department[c.handoff[1]] += 1
        if c.service:
            self.services[c.service] += 1
        self.unanswered.update(set(c.unanswered))
        if c.channel == "voice":
            self.voice_conversations.add(c.conversation_id)


def compute_figures(
    period: Period,
    repeat_days: int,
    calendar: ServiceCalendar,
    reply_hours: float,
    takeover_seconds: int,
    url: Optional[str] = None,
    now: Optional[dt.datetime] = None,
    top: int = 10,
) -> Dict[str, Any]:
    """Every figure of the quality handbook for ``period`` (see the module docstring)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    tz = ZoneInfo(calendar.timezone)
    acc = Accumulator(tz)
    engine = get_engine(url)
    with engine.connect() as conn:
        for contact in iter_contacts(conn, period, repeat_days):
            acc.add(contact)
        live_total = live_in_time = 0
        waits: List[float] = []
        promise = {"forwarded": [0, 0, 0], "callback": [0, 0, 0]}  # total, in time, pending
        for ticket in iter_tickets(conn, period):
            if ticket.mode == "live":
                live_total += 1
                if ticket.claimed_at is not None:
                    wait = (ticket.claimed_at - ticket.created_at).total_seconds()
                    waits.append(wait)
                    live_in_time += wait <= takeover_seconds
                continue
            kind = "callback" if ticket.callback else "forwarded"
            due = calendar.add_service_hours(ticket.created_at, reply_hours)
            if ticket.answered_at is None and now < due:
                promise[kind][2] += 1  # still within the promise: not yet decided
                continue
            promise[kind][0] += 1
            promise[kind][1] += ticket.answered_at is not None and ticket.answered_at <= due
        feedback = _feedback_figures(conn, period)
        voice_seconds = _voice_seconds(conn, acc.voice_conversations)
    waits.sort()
    replies_total = promise["forwarded"][0] + promise["callback"][0]
    replies_in_time = promise["forwarded"][1] + promise["callback"][1]
    return {
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(), "label": period.label},
        "contacts": {
            "total": acc.contacts,
            "by_channel": dict(sorted(acc.by_channel.items())),
            "by_day": {day: dict(sorted(c.items())) for day, c in sorted(acc.by_day.items())},
            "by_hour": {str(h): acc.by_hour.get(h, 0) for h in range(24)},
        },
        "first_contact_resolution": {
            "contacts": acc.contacts, "answered": acc.answered, "resolved": acc.resolved,
            "repeated": acc.repeated, "share": _share(acc.resolved, acc.contacts),
            "repeat_window_days": repeat_days,
        },
        "handoff": {
            "handoffs": acc.handoffs, "share": _share(acc.handoffs, acc.contacts),
            "by_reason": dict(acc.handoff_reason.most_common()),
            "by_department": dict(acc.handoff_department.most_common()),
        },
        "fallback": {"turns": acc.turns, "fallback_turns": acc.fallback_turns,
                     "share": _share(acc.fallback_turns, acc.turns)},
        "takeover": {
            "live_handoffs": live_total, "taken": len(waits), "within_limit": live_in_time,
            "limit_seconds": takeover_seconds, "share": _share(live_in_time, live_total),
            "median_seconds": waits[len(waits) // 2] if waits else None,
        },
        "reply_promise": {
            "service_hours": reply_hours,
            "forwarded": {"total": promise["forwarded"][0], "in_time": promise["forwarded"][1],
                          "pending": promise["forwarded"][2]},
            "callbacks": {"total": promise["callback"][0], "in_time": promise["callback"][1],
                          "pending": promise["callback"][2]},
            "total": replies_total, "in_time": replies_in_time, "share": _share(replies_in_time, replies_total),
        },
        "satisfaction": feedback,
        "top_services": [[s, n] for s, n in acc.services.most_common(top)],
        "top_unanswered": [[k, n] for k, n in acc.unanswered.most_common(top)],
        "voice": {"seconds": round(voice_seconds, 1), "minutes": round(voice_seconds / 60.0, 2),
                  "calls": len(acc.voice_conversations)},
    }


def _voice_seconds(conn: Connection, conversations: Set[str], chunk: int = 500) -> float:
    """Sum over the voice conversations of first to last event (the call's length)."""
    e = RASA_EVENTS.c
    ids = sorted(conversations)
    total = 0.0
    for i in range(0, len(ids), chunk):
        rows = conn.execute(
            select(func.max(e.timestamp) - func.min(e.timestamp))
            .where(e.sender_id.in_(ids[i:i + chunk]))
            .group_by(e.sender_id)
        )
        total += sum(float(seconds or 0.0) for (seconds,) in rows)
    return total


def _feedback_figures(conn: Connection, period: Period) -> Dict[str, Any]:
    """Share of positive ratings; a conversation's latest rating counts (no comment text)."""
    f = Feedback.__table__.c
    rows = conn.execute(
        select(f.conversation_id, f.rating, f.comment.isnot(None))
        .where(f.created_at >= period.start, f.created_at < period.end)
        .order_by(f.conversation_id, f.created_at)
    )
    latest: Dict[str, str] = {}
    ratings = comments = 0
    for conversation_id, rating, has_comment in rows:
        latest[conversation_id] = rating
        ratings += 1
        comments += bool(has_comment)
    up = sum(1 for r in latest.values() if r == "up")
    return {"ratings": ratings, "rated_conversations": len(latest), "up": up,
            "down": len(latest) - up, "with_comment": comments, "share": _share(up, len(latest))}


# ------------------------------------------------------------------------ drill-down

DrillFilter = Callable[[Contact], bool]


def drill_filter(figure: str) -> DrillFilter:
    """The contacts behind a figure: 'contacts', 'resolved', 'not_resolved', 'repeated',
    'handoff', 'handoff_reason:<r>', 'handoff_department:<d>', 'fallback', 'voice',
    'channel:<c>', 'service:<slug>', 'unanswered:<key>' (anything else: ValueError)."""
    kind, _, arg = figure.partition(":")
    simple: Dict[str, DrillFilter] = {
        "contacts": lambda c: True,
        "resolved": lambda c: c.resolved_first_contact,
        "not_resolved": lambda c: not c.resolved_first_contact,
        "repeated": lambda c: c.repeated,
        "handoff": lambda c: c.handoff is not None,
        "fallback": lambda c: c.fallbacks > 0,
        "voice": lambda c: c.channel == "voice",
        "unanswered_any": lambda c: bool(c.unanswered),
    }
    if not arg and kind in simple:
        return simple[kind]
    with_arg: Dict[str, DrillFilter] = {
        "handoff_reason": lambda c: c.handoff is not None and c.handoff[0] == arg,
        "handoff_department": lambda c: c.handoff is not None and c.handoff[1] == arg,
        "channel": lambda c: c.channel == arg,
        "service": lambda c: c.service == arg,
        "unanswered": lambda c: arg in c.unanswered,
    }
    if arg and kind in with_arg:
        return with_arg[kind]
    raise ValueError(f"unknown figure {figure!r}")


TICKET_FIGURES = ("takeover", "takeover_late", "reply", "reply_late")


def _ticket_conversations(conn: Connection, period: Period, figure: str, calendar: Optional[ServiceCalendar],
                          reply_hours: float, takeover_seconds: int, now: dt.datetime) -> Set[str]:
    """Conversations of the live handoffs (takeover*) or forwarded requests (reply*) of the
    period; *_late: only those that missed the limit."""
    ids: Set[str] = set()
    for ticket in iter_tickets(conn, period):
        if figure.startswith("takeover") and ticket.mode == "live":
            waited = None if ticket.claimed_at is None else (ticket.claimed_at - ticket.created_at).total_seconds()
            if figure == "takeover" or waited is None or waited > takeover_seconds:
                ids.add(ticket.conversation_id)
        elif figure.startswith("reply") and ticket.mode != "live":
            if figure == "reply":
                ids.add(ticket.conversation_id)
                continue
            if calendar is None:
                raise ValueError("the service calendar is needed for late replies")
            due = calendar.add_service_hours(ticket.created_at, reply_hours)
            late = (ticket.answered_at or now) > due
            if late and (ticket.answered_at is not None or now >= due):
                ids.add(ticket.conversation_id)
    return ids


def drill_down(period: Period, repeat_days: int, figure: str, url: Optional[str] = None,
               limit: int = 500, calendar: Optional[ServiceCalendar] = None, reply_hours: float = 24.0,
               takeover_seconds: int = 30, now: Optional[dt.datetime] = None) -> Tuple[List[Contact], int]:
    """Up to ``limit`` contacts behind ``figure`` (newest first) and how many there are."""
    found: List[Contact] = []
    total = 0
    with get_engine(url).connect() as conn:
        if figure in TICKET_FIGURES:
            ids = _ticket_conversations(conn, period, figure, calendar, reply_hours, takeover_seconds,
                                        now or dt.datetime.now(dt.timezone.utc))
            keep: DrillFilter = lambda c: c.conversation_id in ids and c.handoff is not None  # noqa: E731
        else:
            keep = drill_filter(figure)
        for contact in iter_contacts(conn, period, repeat_days):
            if keep(contact):
                total += 1
                found.append(contact)
    found.sort(key=lambda c: c.start, reverse=True)
    return found[:limit], total
