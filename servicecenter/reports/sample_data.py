"""Generated conversations for tests and the report benchmark, with their true figures.

Writes what the running system writes: Rasa tracker events (session start, user messages
with intent ranking and input channel, the slots the actions set), handoff tickets with
their status history, and feedback. Every conversation follows a known script, so the
figures the report must find are known without computing them the report's way.
No real message text or contact data: texts are placeholders.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from servicecenter.dialogue import intent_for
from servicecenter.handoff.service_hours import ServiceCalendar
from servicecenter.models import Ticket, TicketEvent
from servicecenter.rasa_tables import RASA_EVENTS, create_events_table
from servicecenter.reports.models import Feedback

SERVICES = ("personalausweis", "reisepass", "hundesteuer", "wohnsitz-anmelden", "sperrmuell",
            "gelbe-saecke", "fuehrungszeugnis", "briefwahl")
OTHER_INTENTS = ("greet", "thanks", "goodbye", "affirm", "deny", "human", "complaint", "bot_challenge")
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Truth:
    """The figures the generated data must yield (contacts that began in the month)."""

    contacts: Counter = field(default_factory=Counter)  # by channel
    by_day: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    resolved: int = 0
    answered: int = 0
    repeated: int = 0
    handoffs: int = 0
    handoff_reason: Counter = field(default_factory=Counter)
    handoff_department: Counter = field(default_factory=Counter)
    turns: int = 0
    fallback_turns: int = 0
    services: Counter = field(default_factory=Counter)
    unanswered: Counter = field(default_factory=Counter)
    voice_seconds: float = 0.0
    live: int = 0
    live_in_time: int = 0
    forwarded: int = 0
    forwarded_in_time: int = 0
    feedback_up: int = 0
    feedback_down: int = 0

    @property
    def total(self) -> int:
        return sum(self.contacts.values())


class Writer:
    """Collects rows and writes them in large batches."""

    def __init__(self, engine: Engine, batch: int = 20000) -> None:
        self.engine = engine
        self.batch = batch
        self.events: List[Dict[str, Any]] = []
        self.tickets: List[Dict[str, Any]] = []
        self.ticket_events: List[Dict[str, Any]] = []
        self.feedback: List[Dict[str, Any]] = []
        create_events_table(engine)

    def flush(self, force: bool = False) -> None:
        if not force and len(self.events) < self.batch:
            return
        with self.engine.begin() as conn:
            if self.events:
                conn.execute(insert(RASA_EVENTS), self.events)
            if self.tickets:
                conn.execute(insert(Ticket.__table__), self.tickets)
            if self.ticket_events:
                conn.execute(insert(TicketEvent.__table__), self.ticket_events)
            if self.feedback:
                conn.execute(insert(Feedback.__table__), self.feedback)
        self.events, self.tickets, self.ticket_events, self.feedback = [], [], [], []

    # --- Rasa events -------------------------------------------------------------

    def _event(self, sender: str, type_name: str, ts: float, intent: Optional[str] = None,
               action: Optional[str] = None, data: Optional[Dict[str, Any]] = None) -> None:
        body = {"event": type_name, "timestamp": ts, **(data or {})}
        self.events.append({"sender_id": sender, "type_name": type_name, "timestamp": ts,
                            "intent_name": intent, "action_name": action, "data": json.dumps(body)})

    def session(self, sender: str, ts: float) -> None:
        self._event(sender, "action", ts, action="action_session_start", data={"name": "action_session_start"})
        self._event(sender, "bot", ts + 0.01, data={"text": "Begrüßung und Hinweis"})
        self._event(sender, "session_started", ts + 0.02)

    def turn(self, sender: str, ts: float, channel: str, intent: str, outcome: str,
             service: Optional[str] = None, reason: Optional[str] = None,
             department: Optional[str] = None, guess: Optional[str] = None) -> None:
        ranking = [{"name": intent, "confidence": 0.9}]
        if guess:
            ranking.append({"name": guess, "confidence": 0.3})
        ranking += [{"name": other, "confidence": 0.01} for other in OTHER_INTENTS]
        self._event(sender, "user", ts, intent=intent, data={
            "text": "Beispielfrage", "input_channel": channel, "message_id": uuid.uuid4().hex,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": [],
                           "intent_ranking": ranking}})
        self._event(sender, "action", ts + 0.1, action="action_answer_service", data={"name": "action_answer_service"})
        self._event(sender, "bot", ts + 0.2, data={"text": "Beispielantwort"})
        for name, value in (("outcome", outcome), ("service", service), ("department", department)):
            self._event(sender, "slot", ts + 0.2, action=name, data={"name": name, "value": value})
        if outcome == "handoff":
            self._event(sender, "slot", ts + 0.2, action="handoff_reason", data={"name": "handoff_reason", "value": reason})
        self._event(sender, "action", ts + 0.3, action="action_listen", data={"name": "action_listen"})

    def ticket(self, conversation: str, created: dt.datetime, mode: str, reason: str, department: str,
               channel: str, service: Optional[str], claimed_after: Optional[float] = None,
               answered_after: Optional[dt.timedelta] = None, callback: bool = False) -> str:
        ticket_id = str(uuid.uuid4())
        final = "new"
        history = [(None, "new", created)]
        if claimed_after is not None:
            history.append(("new", "claimed", created + dt.timedelta(seconds=claimed_after)))
            final = "claimed"
        if answered_after is not None:
            if final == "new":
                history.append(("new", "claimed", created + answered_after / 2))
            history.append(("claimed", "answered", created + answered_after))
            final = "answered"
        self.tickets.append({
            "id": ticket_id, "idempotency_key": f"{conversation}:{ticket_id}", "conversation_id": conversation,
            "reason": reason, "service_slug": service, "department_slug": department, "channel": channel,
            "language": "de", "status": final, "resolution": None,
            "summary": {"service": service, "open_question": "Beispielfrage"},
            "contact": {"name": "Beispiel", "phone": "+49 2831 0000000"} if callback else None,
            "consent": callback, "due_at": None, "mode": mode, "assignee": None,
            "created_at": created, "updated_at": history[-1][2],
        })
        for before, after, at in history:
            self.ticket_events.append({"ticket_id": ticket_id, "from_status": before, "to_status": after,
                                       "actor": "assistant" if before is None else "agent:beispiel",
                                       "note": None, "at": at})
        return ticket_id

    def rating(self, conversation: str, rating: str, at: dt.datetime, comment: Optional[str] = None,
               channel: str = "chat") -> None:
        self.feedback.append({"id": str(uuid.uuid4()), "conversation_id": conversation, "rating": rating,
                              "comment": comment, "channel": channel, "created_at": at})


SCRIPTS = ("answer", "answer_two", "repeat", "live", "forwarded", "fallback_then_answer",
           "fallback_only", "out_of_scope", "greeting_only", "voice_answer")
WEIGHTS = (30, 10, 4, 8, 6, 8, 6, 4, 6, 18)


def generate_month(engine: Engine, month: str, conversations: int, calendar: ServiceCalendar,
                   reply_hours: float = 24.0, seed: int = 6, repeat_days: int = 7,
                   takeover_seconds: int = 30) -> Truth:
    """Write ``conversations`` scripted conversations that begin in ``month``; return the truth."""
    rng = random.Random(seed)
    year, number = (int(p) for p in month.split("-"))
    first = dt.datetime(year, number, 1, tzinfo=BERLIN)
    following = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=BERLIN)
    # Scripts that come back (repeat) or wait for a reply must stay inside the month.
    span = (following - first).total_seconds() - 9 * 86400
    writer = Writer(engine)
    truth = Truth()
    for _ in range(conversations):
        script = rng.choices(SCRIPTS, WEIGHTS)[0]
        start = first + dt.timedelta(seconds=rng.uniform(0, span))
        _write_script(writer, truth, rng, script, start, calendar, reply_hours, takeover_seconds)
        writer.flush()
    writer.flush(force=True)
    return truth


def _count(truth: Truth, start: dt.datetime, channel: str) -> None:
    truth.contacts[channel] += 1
    truth.by_day[start.astimezone(BERLIN).date().isoformat()][channel] += 1


def _write_script(w: Writer, truth: Truth, rng: random.Random, script: str, start: dt.datetime,
                  calendar: ServiceCalendar, reply_hours: float, takeover_seconds: int) -> None:
    sender = uuid.uuid4().hex
    ts = start.timestamp()
    service = rng.choice(SERVICES)
    channel = "voice" if script == "voice_answer" or (script == "live" and rng.random() < 0.5) else "socketio"
    kind = "voice" if channel == "voice" else "chat"
    w.session(sender, ts - 1)
    w.turn(sender, ts, channel, "greet", "smalltalk")
    if script == "greeting_only":
        return
    _count(truth, start, kind)
    t = ts + 5
    if script in ("answer", "voice_answer", "answer_two", "repeat"):
        w.turn(sender, t, channel, intent_for(service), "answer", service)
        truth.turns += 2
        truth.answered += 1
        truth.services[service] += 1
        if script == "answer_two":
            other = rng.choice([s for s in SERVICES if s != service])
            w.turn(sender, t + 30, channel, intent_for(other), "answer", other)
            truth.turns += 1
        if script == "repeat":
            truth.repeated += 1
            later = t + rng.uniform(2 * 3600, 5 * 86400)  # a new session: more than an hour later
            w.session(sender, later - 1)
            w.turn(sender, later, channel, intent_for(service), "answer", service)
            # The second contact is itself answered and not repeated.
            truth.turns += 1
            truth.answered += 1
            truth.resolved += 1
            truth.services[service] += 1
            _count(truth, dt.datetime.fromtimestamp(later, dt.timezone.utc), kind)
        else:
            truth.resolved += 1
        if script == "voice_answer":
            seconds = rng.uniform(40, 300)
            w._event(sender, "bot", t + seconds, data={"text": "Auf Wiederhören"})
            # Voice minutes: from the first event (session start) to the last.
            truth.voice_seconds += (t + seconds) - (ts - 1)
        elif rng.random() < 0.2:
            up = rng.random() < 0.7
            w.rating(sender, "up" if up else "down", start + dt.timedelta(minutes=2),
                     comment="Beispielkommentar" if rng.random() < 0.3 else None)
            truth.feedback_up += up
            truth.feedback_down += not up
        return
    if script == "live":
        w.turn(sender, t, channel, "human", "handoff", service, reason="human", department="zentrale")
        truth.turns += 2
        truth.handoffs += 1
        truth.handoff_reason["human"] += 1
        truth.handoff_department["zentrale"] += 1
        truth.services[service] += 1
        wait = rng.choice((5.0, 12.0, 25.0, 29.0, 45.0, 90.0, 300.0))
        w.ticket(sender, dt.datetime.fromtimestamp(t, dt.timezone.utc), "live", "human", "zentrale", kind,
                 service, claimed_after=wait)
        truth.live += 1
        truth.live_in_time += wait <= takeover_seconds
        if kind == "voice":
            end = t + wait + rng.uniform(60, 240)
            w._event(sender, "bot", end, data={"text": "Übergabe"})
            truth.voice_seconds += end - (ts - 1)
        return
    if script == "forwarded":
        department = rng.choice(("standesamt", "steueramt", "ordnungsamt"))
        w.turn(sender, t, channel, "complaint" if department == "ordnungsamt" else "human", "handoff", service,
               reason="complaint" if department == "ordnungsamt" else "case_status", department=department)
        reason = "complaint" if department == "ordnungsamt" else "case_status"
        truth.turns += 2
        truth.handoffs += 1
        truth.handoff_reason[reason] += 1
        truth.handoff_department[department] += 1
        truth.services[service] += 1
        created = dt.datetime.fromtimestamp(t, dt.timezone.utc)
        service_hours = rng.choice((2.0, 10.0, 23.5, 30.0, 60.0))
        answered = calendar.add_service_hours(created, service_hours)
        w.ticket(sender, created, "ticket", reason, department, kind, service,
                 answered_after=answered - created, callback=rng.random() < 0.3)
        truth.forwarded += 1
        truth.forwarded_in_time += service_hours <= reply_hours
        return
    if script == "fallback_then_answer":
        w.turn(sender, t, channel, "nlu_fallback", "fallback", guess=intent_for(service))
        w.turn(sender, t + 20, channel, intent_for(service), "answer", service)
        truth.turns += 3
        truth.fallback_turns += 1
        truth.unanswered[f"intent:{intent_for(service)}"] += 1
        truth.answered += 1
        truth.resolved += 1
        truth.services[service] += 1
        return
    if script == "fallback_only":
        w.turn(sender, t, channel, "nlu_fallback", "fallback", guess="bot_challenge")
        w.turn(sender, t + 20, channel, "nlu_fallback", "fallback", guess="bot_challenge")
        truth.turns += 3
        truth.fallback_turns += 2
        truth.unanswered["intent:bot_challenge"] += 1
        return
    if script == "out_of_scope":
        w.turn(sender, t, channel, "out_of_scope", "out_of_scope")
        truth.turns += 2
        truth.unanswered["intent:out_of_scope"] += 1
        return
    raise ValueError(script)


def expected_figures(truth: Truth) -> Dict[str, Any]:
    """The truth in the shape of compute_figures' result (the parts a test compares)."""
    return {
        "contacts_total": truth.total,
        "by_channel": dict(sorted(truth.contacts.items())),
        "resolved": truth.resolved,
        "repeated": truth.repeated,
        "handoffs": truth.handoffs,
        "by_reason": dict(truth.handoff_reason),
        "by_department": dict(truth.handoff_department),
        "fallback_turns": truth.fallback_turns,
        "turns": truth.turns,
        "live": truth.live,
        "live_in_time": truth.live_in_time,
        "forwarded": truth.forwarded,
        "forwarded_in_time": truth.forwarded_in_time,
        "voice_seconds": truth.voice_seconds,
    }
