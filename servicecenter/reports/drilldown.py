"""The contacts behind a figure of the dashboard (which conversations a number counts)."""

from __future__ import annotations

import datetime as dt
from typing import Callable, Dict, List, Optional, Set, Tuple

from sqlalchemy.engine import Connection

from servicecenter.db import get_engine
from servicecenter.handoff.service_hours import ServiceCalendar
from servicecenter.reports.contacts import Contact, iter_contacts
from servicecenter.reports.period import Period
from servicecenter.reports.tickets import iter_tickets

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
