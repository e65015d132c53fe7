"""What an agent reads when a conversation is handed over: the topic, the open question,
what was already answered and why the assistant handed over, in a few short lines.

Built from the tracker's events alone, so the citizen is not asked again. The citizen's own
words appear only in ``open_question``; contact data only with the citizen's consent.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from servicecenter.knowledge.loader import KnowledgeBase
from servicecenter.models import Ticket

log = logging.getLogger(__name__)

LANGUAGE = "de"
MAX_QUESTION_LENGTH = 300

REASON_LABELS = {
    "human": "Wunsch nach einem Menschen",
    "case_status": "Frage zum eigenen Vorgang",
    "complaint": "Beschwerde",
    "not_helpful": "Antwort half nicht",
    "repeated_fallback": "Zwei Missverständnisse",
    "outside_stage": "Außerhalb des Leistungsspektrums der aktuellen Stufe",
}

ASPECT_LABELS = {
    "general": "Allgemeines",
    "fee": "Gebühren",
    "documents": "Unterlagen",
    "duration": "Dauer",
    "location": "Ort",
    "online": "Online-Antrag",
    "hours": "Öffnungszeiten",
    "deadline": "Fristen",
}

CHANNEL_LABELS = {"voice": "Telefon", "chat": "Chat"}

CONTACT_LABELS = {"name": "Name", "phone": "Telefon", "email": "E-Mail", "callback": "Rückruf"}

# Messages that carry no question of their own.
SMALLTALK_INTENTS = frozenset({"greet", "thanks", "affirm", "deny", "goodbye", "bot_challenge"})
# Asking for a person (or saying the answer did not help) is the trigger, not the question.
TRIGGER_INTENTS = frozenset({"human", "not_helpful"})

# Contact data a citizen typed into the question is masked unless they consented.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}|0)[\d ()/-]{5,}\d")
_MIN_PHONE_DIGITS = 7


@dataclass(frozen=True)
class Summary:
    """A handed-over conversation as the agent sees it."""

    topic: Optional[str]
    service: Optional[str]
    answered: List[str]
    open_question: Optional[str]
    reason: str
    reason_code: str
    department: str
    department_name: str
    channel: str
    started_at: datetime
    handed_over_at: datetime
    turns: int
    language: str = LANGUAGE
    contact: Optional[Dict[str, Any]] = None
    # Aspects answered for ``service`` itself, for the short line in ``to_text``.
    answered_aspects: List[str] = field(default_factory=list)

    @property
    def duration_minutes(self) -> int:
        return max(0, int((self.handed_over_at - self.started_at).total_seconds() // 60))

    def to_dict(self) -> Dict[str, Any]:
        """JSON-serialisable form (timestamps as ISO 8601 in UTC)."""
        return {
            "topic": self.topic,
            "service": self.service,
            "answered": list(self.answered),
            "open_question": self.open_question,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "department": self.department,
            "department_name": self.department_name,
            "channel": self.channel,
            "language": self.language,
            "started_at": self.started_at.isoformat(),
            "handed_over_at": self.handed_over_at.isoformat(),
            "turns": self.turns,
            "contact": dict(self.contact) if self.contact is not None else None,
        }

    def to_text(self) -> str:
        """At most eight short German lines an agent takes in at a glance."""
        lines = [topic_line(self.service, self.topic, self.reason_code), question_line(self.open_question)]
        lines.append(f"Bereits beantwortet: {self._answered_text()}")
        lines.append(f"Grund: {self.reason}")
        lines.append(department_line(self.department_name, self.department))
        messages = "1 Nachricht" if self.turns == 1 else f"{self.turns} Nachrichten"
        lines.append(f"Kanal: {self.channel} · seit {_minutes_text(self.duration_minutes)} · {messages}")
        if self.contact:
            lines.append(contact_line(self.contact))
        return "\n".join(lines)

    def _answered_text(self) -> str:
        if not self.answered:
            return "noch nichts"
        if len(self.answered_aspects) == len(self.answered):
            return ", ".join(self.answered_aspects)
        return "; ".join(self.answered)


def build_summary(
    events: Sequence[Dict[str, Any]],
    kb: KnowledgeBase,
    reason: str,
    department: str,
    channel: str,
    contact: Optional[Dict[str, Any]] = None,
    consent: bool = False,
    now: Optional[datetime] = None,
) -> Summary:
    """Summarise the current session of a conversation for the agent who takes it over.

    ``events`` are the tracker's events (dicts), ``reason`` a handoff reason code,
    ``channel`` the channel kind ("chat" or "voice"). ``now`` is the moment of handoff
    (aware); without it the last event's timestamp is used.
    """
    if reason not in REASON_LABELS:
        raise ValueError(f"unknown handoff reason '{reason}' (known: {', '.join(REASON_LABELS)})")
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    session = _current_session(events)
    users = [e for e in session if e.get("event") == "user"]
    service = _current_service(session)
    answered_pairs = _answered_pairs(session)
    started_at, last_at = _time_span(users, session)
    handed_over_at = (now or last_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    started_at = min(started_at or handed_over_at, handed_over_at)

    org = kb.organisations.get(department)
    if org is None:
        log.warning("handoff summary for unknown department '%s'", department)

    question = _open_question(users, reason)
    if question and not consent:
        question = mask_contact_data(question)

    return Summary(
        topic=_service_name(kb, service) if service else None,
        service=service,
        answered=[f"{_service_name(kb, slug)}: {_aspect_label(aspect)}" for slug, aspect in answered_pairs],
        answered_aspects=[_aspect_label(aspect) for slug, aspect in answered_pairs if slug == service],
        open_question=_truncate(question) if question else None,
        reason=REASON_LABELS[reason],
        reason_code=reason,
        department=department,
        department_name=org.name if org is not None else department,
        channel=CHANNEL_LABELS.get(channel, CHANNEL_LABELS["chat"]),
        started_at=started_at,
        handed_over_at=handed_over_at,
        turns=len(users),
        contact=dict(contact) if consent and contact else None,
    )


def mask_contact_data(text: str) -> str:
    """Replace e-mail addresses and phone numbers in a citizen's message."""
    text = _EMAIL.sub("[E-Mail]", text)

    def phone(match: re.Match) -> str:
        digits = sum(ch.isdigit() for ch in match.group(0))
        return "[Telefonnummer]" if digits >= _MIN_PHONE_DIGITS else match.group(0)

    return _PHONE.sub(phone, text)


def _current_session(events: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    # Slots are not carried over into a new session, so neither is the summary.
    start = 0
    for i, event in enumerate(events):
        if event.get("event") == "session_started":
            start = i + 1
    return list(events[start:])


def _slot_values(session: Iterable[Dict[str, Any]], names: Tuple[str, ...]) -> List[Any]:
    return [e.get("value") for e in session if e.get("event") == "slot" and e.get("name") in names]


def _current_service(session: Sequence[Dict[str, Any]]) -> Optional[str]:
    """The last service set as topic or as this turn's service."""
    values = [v for v in _slot_values(session, ("topic", "service")) if isinstance(v, str) and v]
    return values[-1] if values else None


def _answered_pairs(session: Sequence[Dict[str, Any]]) -> List[Tuple[str, str]]:
    values = _slot_values(session, ("answered",))
    latest = values[-1] if values else None
    pairs: List[Tuple[str, str]] = []
    for item in latest or []:
        if not isinstance(item, str) or not item:
            continue
        slug, _, aspect = item.partition(":")
        pair = (slug, aspect or "general")
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def _service_name(kb: KnowledgeBase, slug: str) -> str:
    service = kb.services.get(slug)
    return service.name if service is not None else slug


def _aspect_label(aspect: str) -> str:
    return ASPECT_LABELS.get(aspect, aspect)


def _intent(event: Dict[str, Any]) -> str:
    parse = event.get("parse_data") or {}
    return str((parse.get("intent") or {}).get("name") or "")


def _is_substantive(event: Dict[str, Any]) -> bool:
    text = (event.get("text") or "").strip()
    return bool(text) and not text.startswith("/") and _intent(event) not in SMALLTALK_INTENTS


def _open_question(users: Sequence[Dict[str, Any]], reason: str) -> Optional[str]:
    """The citizen's last own question; after "human"/"not_helpful" the one before the trigger."""
    candidates = [e for e in users if _is_substantive(e)]
    if not candidates:
        return None
    if reason in TRIGGER_INTENTS:
        before = list(candidates)
        while before and _intent(before[-1]) in TRIGGER_INTENTS:
            before.pop()
        if before:
            return _clean(before[-1]["text"])
        # Only the request itself ("Friedhofsverwaltung bitte"): still the citizen's words.
    return _clean(candidates[-1]["text"])


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _truncate(text: str) -> str:
    if len(text) <= MAX_QUESTION_LENGTH:
        return text
    return text[: MAX_QUESTION_LENGTH - 1].rstrip() + "…"


def _timestamp(event: Dict[str, Any]) -> Optional[datetime]:
    value = event.get("timestamp")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def _time_span(
    users: Sequence[Dict[str, Any]], session: Sequence[Dict[str, Any]]
) -> Tuple[Optional[datetime], Optional[datetime]]:
    """(first citizen message, last event); the session start counts only without messages."""
    user_times = [t for t in (_timestamp(e) for e in users) if t is not None]
    all_times = [t for t in (_timestamp(e) for e in session) if t is not None]
    started = min(user_times) if user_times else (min(all_times) if all_times else None)
    last = max(all_times) if all_times else None
    return started, last


def _minutes_text(minutes: int) -> str:
    if minutes < 1:
        return "weniger als 1 Min."
    if minutes < 60:
        return f"{minutes} Min."
    return f"{minutes // 60} Std. {minutes % 60} Min."


def topic_line(service: Optional[str], topic: Optional[str], reason_code: Optional[str]) -> str:
    if not service:
        return "Anliegen: nicht erkannt"
    # A complaint is about how the town acted; the topic before it is only context.
    label = "Zuvor besprochen" if reason_code == "complaint" else "Anliegen"
    return f"{label}: {topic or service} ({service})"


def question_line(question: Optional[str]) -> str:
    return f"Offene Frage: „{question}“" if question else "Offene Frage: keine eigene Frage gestellt"


def department_line(name: Optional[str], slug: Optional[str]) -> str:
    return f"Zuständig: {name or slug} ({slug})"


def contact_line(contact: Dict[str, Any]) -> str:
    parts = ", ".join(f"{CONTACT_LABELS.get(k, k)} {v}" for k, v in contact.items() if v not in (None, ""))
    return f"Kontakt (mit Einwilligung): {parts}"


def ticket_lines(ticket: Ticket) -> List[str]:
    """A ticket's stored summary as the short lines of ``Summary.to_text`` (tolerant of missing keys).

    The console's ticket view and the department mail both show these lines.
    """
    s: Mapping[str, Any] = ticket.summary or {}
    service = s.get("service") or ticket.service_slug
    lines = [topic_line(service, s.get("topic"), s.get("reason_code") or ticket.reason)]
    lines.append(question_line(s.get("open_question")))
    answered = s.get("answered") or []
    lines.append(f"Bereits beantwortet: {'; '.join(str(a) for a in answered) if answered else 'noch nichts'}")
    lines.append(f"Grund: {s.get('reason') or REASON_LABELS.get(ticket.reason, ticket.reason)}")
    department = s.get("department") or ticket.department_slug
    lines.append(department_line(s.get("department_name"), department))
    lines.append(f"Kanal: {s.get('channel') or CHANNEL_LABELS.get(ticket.channel, ticket.channel)}")
    contact = ticket.contact if ticket.consent else None
    if contact:
        lines.append(contact_line(contact))
    return lines
