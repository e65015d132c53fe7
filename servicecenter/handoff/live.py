"""Live takeover of a chat: the agent queue, Rasa's conversation control and the transcript.

While an agent has a conversation, Rasa's tracker is *paused*: Rasa still records what the
citizen writes but predicts no action, so the bot stays silent. The agent's messages are
appended to the tracker as bot events with ``execute_side_effects``, which makes Rasa send
them through the citizen's socket.io room at once. Handing back resumes the tracker.

The widget tells these messages apart by their custom payload ``{"type": ...}``:
``agent_joined``, ``agent_message``, ``agent_left`` and ``handoff_status``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import statistics
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import httpx
from sqlalchemy import select
from sqlalchemy.exc import NoSuchTableError, OperationalError, ProgrammingError

from servicecenter.db import get_engine, session_scope
from servicecenter.handoff.tickets import Status
from servicecenter.models import Ticket, TicketEvent
from servicecenter.rasa_tables import RASA_EVENTS
from servicecenter.secrets import rasa_api_token
from servicecenter.settings import Settings, get_settings

log = logging.getLogger(__name__)

LIVE = "live"
TICKET = "ticket"
WAITING = (Status.NEW.value,)
WITH_AGENT = (Status.CLAIMED.value, Status.IN_CONVERSATION.value)
MAX_AGENT_MESSAGE = 2000
AGENT_LABEL = "Servicecenter"

class RasaUnavailable(RuntimeError):
    """Rasa's HTTP API did not accept a conversation control request."""


@dataclass(frozen=True)
class QueueState:
    position: int  # 1 = next in line
    waiting_minutes: int  # estimate until an agent takes over


@dataclass(frozen=True)
class TranscriptLine:
    id: int
    role: str  # "citizen", "bot", "agent", "notice"
    text: str
    at: dt.datetime
    agent: Optional[str] = None


# --- the queue -------------------------------------------------------------------------


def open_live_ticket(conversation_id: str, url: Optional[str] = None) -> Optional[Ticket]:
    """The conversation's live ticket that is still waiting or with an agent, if any."""
    with session_scope(url) as session:
        return session.execute(
            select(Ticket)
            .where(
                Ticket.conversation_id == conversation_id,
                Ticket.mode == LIVE,
                Ticket.status.in_(WAITING + WITH_AGENT),
            )
            .order_by(Ticket.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()


def queue_state(ticket: Ticket, minutes_per_contact: float, measured: int = 10,
                url: Optional[str] = None) -> QueueState:
    """Position in the agent queue and the expected wait.

    The estimate is the median waiting time of the last ``measured`` takeovers (created ->
    claimed) times the position, when that many were measured; else the configured minutes
    per waiting contact.
    """
    with session_scope(url) as session:
        ahead = session.execute(
            select(Ticket.id).where(
                Ticket.mode == LIVE,
                Ticket.status.in_(WAITING),
                Ticket.created_at < ticket.created_at,
            )
        ).all()
        recent = session.execute(
            select(Ticket.created_at, TicketEvent.at)
            .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
            .where(Ticket.mode == LIVE, TicketEvent.to_status == Status.CLAIMED.value)
            .order_by(TicketEvent.at.desc())
            .limit(measured)
        ).all()
    position = len(ahead) + 1
    per_contact = minutes_per_contact
    if measured and len(recent) >= measured:
        per_contact = max(0.5, statistics.median((at - created).total_seconds() / 60 for created, at in recent))
    return QueueState(position=position, waiting_minutes=max(1, round(per_contact * position)))


def waiting_count(url: Optional[str] = None) -> int:
    with session_scope(url) as session:
        return len(session.execute(
            select(Ticket.id).where(Ticket.mode == LIVE, Ticket.status.in_(WAITING))
        ).all())


# --- Rasa's conversation control ---------------------------------------------------------


def _custom(payload: Dict[str, Any]) -> Dict[str, Any]:
    """A bot event whose custom payload socket.io emits as the message itself."""
    return {"event": "bot", "text": None, "data": {"custom": {"data": payload}}}


class RasaControl:
    """Pause, resume and speak into a conversation through Rasa's authenticated HTTP API."""

    def __init__(self, settings: Optional[Settings] = None, timeout: float = 10.0) -> None:
        self.settings = settings or get_settings()
        self.timeout = timeout

    async def _append(self, conversation_id: str, events: Sequence[Dict[str, Any]]) -> None:
        url = f"{self.settings.rasa_url}/conversations/{conversation_id}/tracker/events"
        params = {
            "token": rasa_api_token(self.settings),
            "output_channel": "socketio",
            "execute_side_effects": "true",
            "include_events": "NONE",
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(url, params=params, json=list(events))
        except httpx.HTTPError as err:
            raise RasaUnavailable(f"Rasa at {self.settings.rasa_url} not reachable: {type(err).__name__}") from err
        if response.status_code >= 300:
            raise RasaUnavailable(f"Rasa refused the conversation event (HTTP {response.status_code})")

    async def take_over(self, conversation_id: str, agent: str) -> None:
        await self._append(conversation_id, [
            {"event": "pause"},
            _custom({"type": "agent_joined", "agent": agent}),
        ])

    async def say(self, conversation_id: str, agent: str, text: str) -> None:
        await self._append(conversation_id, [_custom({"type": "agent_message", "agent": agent, "text": text})])

    async def hand_back(self, conversation_id: str, agent: str) -> None:
        await self._append(conversation_id, [
            _custom({"type": "agent_left", "agent": agent}),
            {"event": "resume"},
        ])


# --- the transcript an agent reads -------------------------------------------------------


def _line(row: Any) -> Optional[TranscriptLine]:
    try:
        data = json.loads(row.data or "{}")
    except ValueError:
        return None
    at = dt.datetime.fromtimestamp(row.timestamp or 0, dt.timezone.utc)
    if row.type_name == "user":
        text = data.get("text") or ""
        if not text or text.startswith("/"):
            return None  # button payloads and the chat's opening carry no words of the citizen
        return TranscriptLine(row.id, "citizen", text, at)
    if row.type_name != "bot":
        return None
    custom = ((data.get("data") or {}).get("custom") or {}).get("data") or {}
    kind = custom.get("type") if isinstance(custom, dict) else None
    if kind == "agent_message":
        return TranscriptLine(row.id, "agent", str(custom.get("text") or ""), at, str(custom.get("agent") or ""))
    if kind == "agent_joined":
        return TranscriptLine(row.id, "notice", f"{custom.get('agent')} hat das Gespräch übernommen.", at)
    if kind == "agent_left":
        return TranscriptLine(row.id, "notice", "Das Gespräch wurde an den Assistenten zurückgegeben.", at)
    text = data.get("text")
    return TranscriptLine(row.id, "bot", text, at) if text else None


def transcript(conversation_id: str, after: int = 0, limit: int = 200,
               url: Optional[str] = None) -> List[TranscriptLine]:
    """The conversation's messages after event id ``after``, oldest first (empty when Rasa has
    not created its table yet)."""
    query = (
        select(RASA_EVENTS.c.id, RASA_EVENTS.c.type_name, RASA_EVENTS.c.timestamp, RASA_EVENTS.c.data)
        .where(
            RASA_EVENTS.c.sender_id == conversation_id,
            RASA_EVENTS.c.type_name.in_(("user", "bot")),
            RASA_EVENTS.c.id > after,
        )
        .order_by(RASA_EVENTS.c.id)
        .limit(limit)
    )
    try:
        with get_engine(url).connect() as conn:
            rows = conn.execute(query).all()
    except (OperationalError, ProgrammingError, NoSuchTableError):
        return []
    return [line for line in (_line(r) for r in rows) if line is not None]
