"""The NLU inbox: citizens' messages from Rasa's tracker store, redacted, for trainers to judge.

``sync`` reads new rows of Rasa's ``events`` table (same database) in id order and stores
each user message only after redaction, with the predicted intent, confidence, ranking,
recognised service and what the bot did next. ``list_items`` groups near-duplicates and
sorts the most useful first; ``decide`` records a trainer's verdict and, for accepted
examples, writes the training example.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy import and_, func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servicecenter.db import get_engine, session_scope
from servicecenter.dialogue import slug_for
from servicecenter.rasa_tables import has_events_table
from servicecenter.text import STOP_WORDS, fold_umlauts
from servicecenter.trainer import nlu_writer
from servicecenter.trainer.errors import TrainerError
from servicecenter.trainer.models import TrainerDecision, TrainerMessage, TrainerSyncState
from servicecenter.trainer.redaction import Redactor, default_redactor

log = logging.getLogger(__name__)

SYNC_NAME = "tracker"
SYNC_BATCH = 5000
PAGE_SIZE = 50
FALLBACK_ACTIONS = {"action_fallback", "action_default_fallback", "action_out_of_scope"}
HANDOFF_ACTIONS = {"action_handoff", "action_human_handoff"}
IGNORED_ACTIONS = {"action_listen", "action_session_start", "action_unlikely_intent", None, ""}
CHANNEL_LABELS = {"rest": "Chat", "socketio": "Chat", "chat": "Chat", "voice": "Telefon", "unknown": "unbekannt"}
CHANNEL_GROUPS = {"chat": ("rest", "socketio", "chat"), "voice": ("voice",)}
FILLERS = {"äh", "ähm", "aeh", "aehm", "hm", "hmm", "ja", "also", "bitte", "mal", "eigentlich", "hallo", "guten", "tag"}
_WORDS = re.compile(r"\[[A-Z\-]+\]|[a-z0-9]+")


# --------------------------------------------------------------------------- helpers


def low_confidence() -> float:
    """Below this confidence a message counts as unsure (ASSISTANT_TRAINER_LOW_CONFIDENCE)."""
    from servicecenter.settings import get_trainer_settings

    return get_trainer_settings().low_confidence


def group_key(text: str) -> str:
    """Near-duplicate key: the set of content words (case, umlauts, order, fillers ignored)."""
    words = _WORDS.findall(fold_umlauts(text.lower()).replace("[e-mail]", "[email]"))
    content = sorted({w for w in words if w not in STOP_WORDS and w not in FILLERS and len(w) > 1})
    basis = " ".join(content) if content else " ".join(words)
    return hashlib.sha1(basis.encode("utf-8")).hexdigest()[:16]


def priority(confidence: float, fallback: bool, handoff: bool, intent: Optional[str]) -> float:
    """Higher first: unsure, fallen back or handed over are where the model can learn most."""
    score = 1.0 - max(0.0, min(1.0, confidence))
    if fallback or intent == "nlu_fallback":
        score += 0.6
    if handoff:
        score += 0.3
    return round(score, 4)


def channel_of(data: Mapping[str, Any]) -> str:
    channel = str(data.get("input_channel") or "unknown")
    return channel[:32]


def _timestamp(value: Optional[float]) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.timezone.utc)
    return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)


def _service_of(parse: Mapping[str, Any], original: str, redacted: str) -> Tuple[Optional[str], Optional[int], Optional[int]]:
    """The recognised service and where its words stand in the redacted text (if they survived)."""
    for entity in parse.get("entities") or []:
        if not isinstance(entity, Mapping) or entity.get("entity") != "service":
            continue
        value = str(entity.get("value") or "")[:64] or None
        start, end = entity.get("start"), entity.get("end")
        words = original[start:end] if isinstance(start, int) and isinstance(end, int) else ""
        position = redacted.find(words) if words else -1
        if position >= 0:
            return value, position, position + len(words)
        return value, None, None
    return slug_for((parse.get("intent") or {}).get("name")), None, None


def events_table_present(url: Optional[str] = None) -> bool:
    return has_events_table(get_engine(url))


def feedback_table_present(url: Optional[str] = None) -> bool:
    return inspect(get_engine(url)).has_table("feedback")


# --------------------------------------------------------------------------- sync


@dataclasses.dataclass
class SyncResult:
    read_events: int = 0
    new_messages: int = 0
    last_event_id: int = 0


def sync(url: Optional[str] = None, redactor: Optional[Redactor] = None, limit: int = SYNC_BATCH) -> SyncResult:
    """Import the next ``limit`` tracker events; safe to call on every inbox view.

    Two console processes importing the same events at once: one wins, the other's
    transaction is rolled back on the unique event id and it simply finds nothing new.
    """
    try:
        return _sync(url, redactor, limit)
    except IntegrityError:
        log.info("trainer inbox: events imported concurrently by another process")
        return SyncResult()


def _sync(url: Optional[str], redactor: Optional[Redactor], limit: int) -> SyncResult:
    from servicecenter.rasa_tables import RASA_EVENTS as EV

    result = SyncResult()
    if not events_table_present(url):
        return result
    with session_scope(url) as session:
        state = session.get(TrainerSyncState, SYNC_NAME)
        if state is None:
            state = TrainerSyncState(name=SYNC_NAME, last_event_id=0)
            session.add(state)
            session.flush()
        rows = session.execute(
            select(EV.c.id, EV.c.sender_id, EV.c.type_name, EV.c.timestamp, EV.c.action_name, EV.c.data)
            .where(EV.c.id > state.last_event_id, EV.c.type_name.in_(("user", "action", "slot")))
            .order_by(EV.c.id)
            .limit(limit)
        ).all()
        if not rows:
            result.last_event_id = state.last_event_id
            return result
        redactor = redactor or default_redactor()
        latest: Dict[str, TrainerMessage] = {}
        for row in rows:
            result.read_events += 1
            sender = str(row.sender_id)[:255]
            if row.type_name == "user":
                message = _user_message(row, redactor)
                if message is not None:
                    session.add(message)
                    latest[sender] = message
                    result.new_messages += 1
                continue
            message = latest.get(sender)
            if message is None:
                message = session.execute(
                    select(TrainerMessage).where(TrainerMessage.conversation_id == sender)
                    .order_by(TrainerMessage.event_id.desc()).limit(1)
                ).scalar_one_or_none()
                if message is None:
                    continue
                latest[sender] = message
            _apply_bot_event(message, row)
        state.last_event_id = rows[-1].id
        state.updated_at = dt.datetime.now(dt.timezone.utc)
        result.last_event_id = state.last_event_id
    if result.new_messages:
        log.info("trainer inbox: %d new messages from %d tracker events", result.new_messages, result.read_events)
    return result


def _user_message(row: Any, redactor: Redactor) -> Optional[TrainerMessage]:
    try:
        data = json.loads(row.data or "{}")
    except (TypeError, ValueError):
        return None
    original = str(data.get("text") or "").strip()
    # Button payloads ("/greet") are not citizens' words.
    if not original or original.startswith("/"):
        return None
    redacted = redactor.redact(original[:2000])
    parse = data.get("parse_data") or {}
    intent = (parse.get("intent") or {}).get("name")
    confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
    ranking = [
        {"name": str(r.get("name"))[:128], "confidence": round(float(r.get("confidence") or 0.0), 4)}
        for r in (parse.get("intent_ranking") or [])[:5]
        if isinstance(r, Mapping)
    ]
    service, start, end = _service_of(parse, original, redacted.text)
    fallback = intent == "nlu_fallback"
    return TrainerMessage(
        event_id=int(row.id),
        conversation_id=str(row.sender_id)[:255],
        sent_at=_timestamp(row.timestamp),
        channel=channel_of(data),
        text=redacted.text,
        redactions=redacted.labels,
        group_key=group_key(redacted.text),
        intent=str(intent)[:128] if intent else None,
        confidence=round(confidence, 4),
        ranking=ranking,
        service=service,
        service_start=start,
        service_end=end,
        bot_action=None,
        fallback=fallback,
        handoff=False,
        priority=priority(confidence, fallback, False, intent),
        status="open",
    )


def _apply_bot_event(message: TrainerMessage, row: Any) -> None:
    if row.type_name == "action":
        name = row.action_name
        if name in IGNORED_ACTIONS:
            return
        if message.bot_action is None:
            message.bot_action = str(name)[:128]
        if name in FALLBACK_ACTIONS:
            message.fallback = True
        if name in HANDOFF_ACTIONS:
            message.handoff = True
    elif row.type_name == "slot" and row.action_name == "outcome":
        try:
            value = json.loads(row.data or "{}").get("value")
        except (TypeError, ValueError):
            value = None
        if value == "handoff":
            message.handoff = True
        elif value == "fallback":
            message.fallback = True
    message.priority = priority(message.confidence, message.fallback, message.handoff, message.intent)


# --------------------------------------------------------------------------- listing


@dataclasses.dataclass
class Filters:
    low_confidence: bool = False
    fallback: bool = False
    handoff: bool = False
    negative_feedback: bool = False
    channel: str = ""
    date_from: Optional[dt.date] = None
    date_to: Optional[dt.date] = None
    intent: str = ""
    service: str = ""
    status: str = "open"

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Tuple["Filters", List[str]]:
        """Filters from the URL; unusable values are dropped and named in German."""
        problems: List[str] = []

        def flag(name: str) -> bool:
            return str(query.get(name, "")).lower() in {"1", "on", "true", "ja"}

        def day(name: str, label: str) -> Optional[dt.date]:
            raw = str(query.get(name, "") or "").strip()
            if not raw:
                return None
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                problems.append(f"„{label}“ ist kein Datum (JJJJ-MM-TT) und wurde ignoriert.")
                return None

        channel = str(query.get("channel", "") or "")
        if channel and channel not in CHANNEL_GROUPS:
            problems.append("Unbekannter Kanal: der Filter wurde ignoriert.")
            channel = ""
        status = str(query.get("status", "open") or "open")
        if status not in {"open", "decided", "all"}:
            status = "open"
        intent = str(query.get("intent", "") or "")[:128]
        service = str(query.get("service", "") or "")[:64]
        return cls(
            low_confidence=flag("low"), fallback=flag("fallback"), handoff=flag("handoff"),
            negative_feedback=flag("negative"), channel=channel, date_from=day("from", "von"),
            date_to=day("to", "bis"), intent=intent, service=service, status=status,
        ), problems


def _conditions(filters: Filters, url: Optional[str]) -> List[Any]:
    m = TrainerMessage
    where: List[Any] = []
    if filters.status == "open":
        where.append(m.status == "open")
    elif filters.status == "decided":
        where.append(m.status != "open")
    if filters.low_confidence:
        where.append(m.confidence < low_confidence())
    if filters.fallback:
        where.append(m.fallback.is_(True))
    if filters.handoff:
        where.append(m.handoff.is_(True))
    if filters.channel:
        where.append(m.channel.in_(CHANNEL_GROUPS[filters.channel]))
    if filters.date_from:
        where.append(m.sent_at >= dt.datetime.combine(filters.date_from, dt.time(), tzinfo=dt.timezone.utc))
    if filters.date_to:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
        where.append(m.sent_at < end)
    if filters.intent:
        where.append(m.intent == filters.intent)
    if filters.service:
        where.append(m.service == filters.service)
    if filters.negative_feedback:
        if feedback_table_present(url):
            from sqlalchemy import column, table

            fb = table("feedback", column("conversation_id"), column("rating"))
            where.append(m.conversation_id.in_(select(fb.c.conversation_id).where(fb.c.rating == "down")))
        else:
            where.append(m.id < 0)  # no feedback recorded anywhere yet: nothing matches
    return where


@dataclasses.dataclass
class InboxItem:
    message: TrainerMessage
    count: int
    negative_feedback: bool = False


def list_items(filters: Filters, page: int = 1, url: Optional[str] = None,
               page_size: int = PAGE_SIZE) -> Tuple[List[InboxItem], int]:
    """One representative per near-duplicate group, most useful first; and the number of groups."""
    m = TrainerMessage
    where = _conditions(filters, url)
    # One aggregation: groups, their size, best priority and newest member, and (as a window
    # over the grouped rows) how many groups there are in all.
    grouped = (
        select(
            func.count(m.id).label("n"),
            func.max(m.priority).label("p"),
            func.max(m.id).label("rep"),
            func.count().over().label("total"),
        )
        .where(and_(*where) if where else True)
        .group_by(m.group_key)
        # Most useful first: the model's least sure guesses, then the most frequent questions.
        .order_by(func.max(m.priority).desc(), func.count(m.id).desc(), func.max(m.id).desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    with session_scope(url) as session:
        rows = session.execute(grouped).all()
        if rows:
            total = int(rows[0].total)
        else:
            sub = select(m.group_key).where(and_(*where) if where else True).group_by(m.group_key).subquery()
            total = session.execute(select(func.count()).select_from(sub)).scalar_one()
        ids = [r.rep for r in rows]
        messages = {x.id: x for x in session.execute(select(m).where(m.id.in_(ids))).scalars()} if ids else {}
        negative = _negative_conversations(session, [x.conversation_id for x in messages.values()], url)
    items = [
        InboxItem(messages[r.rep], int(r.n), messages[r.rep].conversation_id in negative)
        for r in rows if r.rep in messages
    ]
    return items, int(total)


def _negative_conversations(session: Session, conversation_ids: Sequence[str], url: Optional[str]) -> set:
    if not conversation_ids or not feedback_table_present(url):
        return set()
    from sqlalchemy import column, table

    fb = table("feedback", column("conversation_id"), column("rating"))
    return set(session.execute(
        select(fb.c.conversation_id).where(fb.c.rating == "down", fb.c.conversation_id.in_(list(conversation_ids)))
    ).scalars())


def get_message(message_id: int, url: Optional[str] = None) -> Optional[TrainerMessage]:
    with session_scope(url) as session:
        return session.get(TrainerMessage, message_id)


def group_members(message: TrainerMessage, url: Optional[str] = None, limit: int = 20) -> List[TrainerMessage]:
    with session_scope(url) as session:
        return list(session.execute(
            select(TrainerMessage).where(TrainerMessage.group_key == message.group_key,
                                         TrainerMessage.status == message.status)
            .order_by(TrainerMessage.sent_at.desc()).limit(limit)
        ).scalars())


def decisions_for(message_id: int, url: Optional[str] = None) -> List[TrainerDecision]:
    with session_scope(url) as session:
        return list(session.execute(
            select(TrainerDecision).where(TrainerDecision.message_id == message_id)
            .order_by(TrainerDecision.decided_at.desc())
        ).scalars())


def facets(intents: Iterable[str], services: Iterable[str]) -> Dict[str, List[str]]:
    """The filter lists: the model's intents (plus the fallback) and the catalogue's services."""
    return {"intents": sorted(set(intents) | {"nlu_fallback"}), "services": sorted(set(services))}


# --------------------------------------------------------------------------- decisions


def _nlu_dir() -> Path:
    """Where accepted examples go: ASSISTANT_TRAINER_DATA_DIR/nlu if set, else bot/data/nlu."""
    from servicecenter.settings import get_trainer_settings

    configured = get_trainer_settings().data_dir
    return configured / "nlu" if configured else nlu_writer.NLU_DIR


class DecisionError(TrainerError, ValueError):
    """The decision was not stored."""


@dataclasses.dataclass(frozen=True)
class DecisionResult:
    decision: TrainerDecision
    written: bool
    file: Optional[str]
    affected: int


def decide(
    message_id: int,
    decision: str,
    actor: str,
    *,
    intent: Optional[str] = None,
    service: Optional[str] = None,
    span: Optional[Tuple[int, int]] = None,
    known_intents: Iterable[str] = (),
    known_services: Iterable[str] = (),
    nlu_dir: Optional[Path] = None,
    url: Optional[str] = None,
) -> DecisionResult:
    """Confirm, correct or discard a message (and its open near-duplicates).

    Confirmed and corrected messages become training examples (redacted text only); a
    text that already belongs to another intent is refused and nothing is stored.
    """
    if decision not in {"confirm", "correct", "discard"}:
        raise DecisionError("Unbekannte Entscheidung.")
    message = get_message(message_id, url)
    if message is None:
        raise DecisionError("Diese Nachricht gibt es nicht (mehr).", 404)
    if message.status != "open":
        raise DecisionError("Über diese Nachricht wurde schon entschieden. Die Seite zeigt den aktuellen Stand.", 409)
    known_intents = set(known_intents)
    known_services = set(known_services)
    written, file = False, None
    if decision == "confirm":
        intent = message.intent
        service = message.service
        if message.service_start is not None and message.service_end is not None:
            span = (message.service_start, message.service_end)
        if not intent or intent == "nlu_fallback":
            raise DecisionError("Ohne erkanntes Anliegen gibt es nichts zu bestätigen: bitte korrigieren.")
    if decision in {"confirm", "correct"}:
        if not intent or (known_intents and intent not in known_intents):
            raise DecisionError("Bitte wählen Sie ein Anliegen (Intent) aus der Liste.")
        if service and known_services and service not in known_services:
            raise DecisionError("Bitte wählen Sie die Leistung aus der Liste.")
        if span is not None and not service:
            raise DecisionError("Zur markierten Stelle fehlt die Leistung.")
        if nlu_writer.PLACEHOLDER_ONLY.fullmatch(message.text.strip()):
            raise DecisionError("Nach dem Schwärzen bleibt kein Satz übrig, der als Beispiel taugt.")
        try:
            result = nlu_writer.append_example(
                intent, message.text, nlu_dir=nlu_dir or _nlu_dir(), span=span,
                entity_value=service if span is not None else None,
                known_intents=known_intents or None,
            )
        except nlu_writer.ExampleRejected as err:
            raise DecisionError(err.message, 409 if isinstance(err, nlu_writer.ExampleConflict) else 400) from err
        written, file = result.written, result.file.name
    status = {"confirm": "confirmed", "correct": "corrected", "discard": "discarded"}[decision]
    with session_scope(url) as session:
        row = TrainerDecision(
            message_id=message.id,
            conversation_id=message.conversation_id,
            decision=decision,
            intent=intent if decision != "discard" else None,
            service=service if decision != "discard" else None,
            service_start=span[0] if span else None,
            service_end=span[1] if span else None,
            example=message.text if decision != "discard" else None,
            decided_by=actor,
            written_to=file if written else None,
        )
        session.add(row)
        affected = session.execute(
            update(TrainerMessage)
            .where(TrainerMessage.group_key == message.group_key, TrainerMessage.status == "open")
            .values(status=status)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.flush()
    log.info("trainer: %s decided %s on message %s (%d in group)", actor, decision, message.id, affected)
    return DecisionResult(row, written, file, int(affected or 0))
