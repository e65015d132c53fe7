"""Conversation review: one conversation's events in order, redacted, with the model's guesses.

Citizens' messages and the bot's replies (which may repeat what a citizen wrote, e.g. in a
handoff summary) are redacted before they are shown; nothing of it is stored here except
the trainer's tags.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any, Dict, List, Optional

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from servicecenter.db import session_scope
from servicecenter.trainer.errors import TrainerError
from servicecenter.trainer.inbox import CHANNEL_LABELS, events_table_present
from servicecenter.trainer.models import CONVERSATION_TAGS, TrainerConversationTag, TrainerMessage
from servicecenter.trainer.redaction import default_redactor

log = logging.getLogger(__name__)

MAX_EVENTS = 1000
SHOWN_ACTIONS_SKIP = {"action_listen", "action_session_start"}


class ReviewError(TrainerError, ValueError):
    """A review tag or note was not stored."""


@dataclasses.dataclass
class Turn:
    kind: str  # "user", "bot", "action", "outcome", "session"
    at: dt.datetime
    text: str = ""
    intent: Optional[str] = None
    confidence: Optional[float] = None
    service: Optional[str] = None
    channel: Optional[str] = None
    message_id: Optional[int] = None
    status: Optional[str] = None


def conversation(conversation_id: str, url: Optional[str] = None) -> List[Turn]:
    """The conversation's events in order (empty when there is no such conversation)."""
    from servicecenter.rasa_tables import RASA_EVENTS as EV

    if not conversation_id or len(conversation_id) > 255 or not events_table_present(url):
        return []
    redactor = default_redactor()
    with session_scope(url) as session:
        rows = session.execute(
            select(EV.c.id, EV.c.type_name, EV.c.timestamp, EV.c.action_name, EV.c.data)
            .where(EV.c.sender_id == conversation_id).order_by(EV.c.id).limit(MAX_EVENTS)
        ).all()
        items = {
            m.event_id: m for m in session.execute(
                select(TrainerMessage).where(TrainerMessage.conversation_id == conversation_id)
            ).scalars()
        }
    turns: List[Turn] = []
    for row in rows:
        at = dt.datetime.fromtimestamp(float(row.timestamp or 0), tz=dt.timezone.utc)
        try:
            data: Dict[str, Any] = json.loads(row.data or "{}")
        except (TypeError, ValueError):
            data = {}
        if row.type_name == "user":
            item = items.get(row.id)
            parse = data.get("parse_data") or {}
            text = item.text if item is not None else redactor.redact(str(data.get("text") or "")).text
            turns.append(Turn(
                "user", at, text=text,
                intent=(parse.get("intent") or {}).get("name"),
                confidence=float((parse.get("intent") or {}).get("confidence") or 0.0),
                service=item.service if item is not None else None,
                channel=CHANNEL_LABELS.get(str(data.get("input_channel") or ""), data.get("input_channel")),
                message_id=item.id if item is not None else None,
                status=item.status if item is not None else None,
            ))
        elif row.type_name == "bot":
            text = str(data.get("text") or "")
            if text:
                turns.append(Turn("bot", at, text=redactor.redact(text).text))
        elif row.type_name == "action" and row.action_name not in SHOWN_ACTIONS_SKIP:
            turns.append(Turn("action", at, text=str(row.action_name or "")))
        elif row.type_name == "slot" and row.action_name == "outcome" and data.get("value"):
            turns.append(Turn("outcome", at, text=str(data.get("value"))))
        elif row.type_name == "session_started":
            turns.append(Turn("session", at))
    return turns


def tags(conversation_id: str, url: Optional[str] = None) -> List[TrainerConversationTag]:
    with session_scope(url) as session:
        return list(session.execute(
            select(TrainerConversationTag).where(TrainerConversationTag.conversation_id == conversation_id)
            .order_by(TrainerConversationTag.tagged_at)
        ).scalars())


def add_tag(conversation_id: str, tag: str, actor: str, note: str = "", url: Optional[str] = None) -> None:
    if tag not in CONVERSATION_TAGS:
        raise ReviewError("Bitte wählen Sie eine Markierung aus der Liste.")
    if not conversation(conversation_id, url):
        raise ReviewError("Dieses Gespräch gibt es nicht.", 404)
    try:
        with session_scope(url) as session:
            session.add(TrainerConversationTag(
                conversation_id=conversation_id, tag=tag, tagged_by=actor,
                note=default_redactor().redact(note.strip()[:500]).text or None,
            ))
    except IntegrityError:
        raise ReviewError("Diese Markierung hat das Gespräch schon.", 409) from None


def remove_tag(conversation_id: str, tag: str, url: Optional[str] = None) -> None:
    with session_scope(url) as session:
        session.execute(delete(TrainerConversationTag).where(
            TrainerConversationTag.conversation_id == conversation_id, TrainerConversationTag.tag == tag))
