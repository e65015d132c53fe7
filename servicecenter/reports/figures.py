"""Quality figures computed from what is stored, never from counters that can drift.

Sources: the contacts of Rasa's tracker store (``contacts``), the handoff tickets with their
status history (``tickets``), and the citizens' feedback. The result is JSON-ready and holds
no personal data.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from servicecenter.db import get_engine
from servicecenter.handoff.service_hours import ServiceCalendar
from servicecenter.rasa_tables import RASA_EVENTS
from servicecenter.reports.contacts import Contact, iter_contacts
from servicecenter.reports.models import Feedback
from servicecenter.reports.period import Period
from servicecenter.reports.tickets import iter_tickets


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
