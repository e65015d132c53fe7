"""Hand a request over to a person: record it and tell the citizen what happens next.

The action adapts Rasa to the back office: the policy is ``servicecenter.handoff.decision``,
the German copy is the domain's ``utter_handoff`` and ``bot.actions.messages``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from bot.actions import messages
from bot.actions.common import (
    channel,
    entity_values,
    latest,
    mentioned_services,
    outcome_events,
    start_turn,
)
from servicecenter import dialogue
from servicecenter.handoff.callback import callback_url, german_due
from servicecenter.handoff.decision import decide_handoff
from servicecenter.handoff.live import WITH_AGENT, QueueState, open_live_ticket, queue_state
from servicecenter.handoff.requests import record_handoff
from servicecenter.handoff.routing import reply_due
from servicecenter.handoff.summary import build_summary
from servicecenter.knowledge.answers import VOICE, AnswerComposer
from servicecenter.settings import get_settings
from servicecenter.town import town_config

log = logging.getLogger(__name__)


def handoff_reason(tracker: Tracker) -> str:
    intent = ((latest(tracker).get("intent") or {}).get("name")) or ""
    if intent in ("human", "case_status", "complaint", "not_helpful"):
        return intent
    if intent == "affirm":  # accepted the offer after misunderstandings
        return "repeated_fallback"
    return "human"


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
        reason: Optional[str] = None,
        service: Optional[str] = None,
    ) -> List[Dict[Text, Any]]:
        done, kb = start_turn(dispatcher, tracker)
        if done is not None:
            return done
        reason = reason or handoff_reason(tracker)
        named_services = mentioned_services(tracker, kb)
        # A complaint is about how the town acted, not about the topic discussed before.
        context = None if reason == "complaint" else tracker.get_slot("topic")
        service = service or (named_services[0] if named_services else context)
        department = dialogue.handoff_target(kb, entity_values(tracker, "department"), service)
        kind = channel(tracker)
        routing = town_config().routing
        now = dt.datetime.now(dt.timezone.utc)
        decision = decide_handoff(
            reason, department, kind,
            department_named=bool(entity_values(tracker, "department")),
            answered_by_servicecenter=service is None or routing.answered_by_servicecenter(service, kb),
            servicecenter_open=routing.is_open(now),
        )
        owner = decision.owner
        if decision.live:
            waiting = open_live_ticket(tracker.sender_id)
            if waiting is not None:
                return self._already_waiting(dispatcher, kb, routing, waiting, kind)
        summary = build_summary(list(tracker.events), kb, reason, department, kind)
        custom = None
        try:
            ticket = record_handoff(
                tracker.sender_id, reason, owner, kind, service,
                idempotency_key=_turn_key(tracker),
                summary=summary.to_dict(),
                due_at=None if decision.live else reply_due(routing, now),
                mode=decision.mode,
                notify=routing.target_email(owner, kb) if decision.notifies_department else None,
            )
            reference = ticket.id.split("-")[0].upper()
            if decision.live:
                state = _queue(ticket, routing)
                next_step = _live_step(kind, state, ticket.id)
                custom = {"type": "handoff_status", "state": "waiting", "position": state.position,
                          "minutes": state.waiting_minutes, "reference": reference}
            else:
                next_step = _ticket_step(kind, decision.queue_closed, routing, now, ticket, reference)
                custom = {"type": "handoff_status", "state": "ticket", "reference": reference,
                          "due": german_due(ticket.due_at) if ticket.due_at else None}
        except SQLAlchemyError:
            log.exception("handoff could not be stored (reason=%s department=%s)", reason, department)
            next_step = messages.NOT_RECORDED
        org = kb.organisations[owner]
        composer = AnswerComposer(kb)
        name = f"{org.article} {org.name}" if org.article else org.name
        dispatcher.utter_message(
            response="utter_handoff",
            target=messages.accusative(name),
            target_short=name,
            next_step=next_step,
            contact=composer.contact_line(org, kind),
        )
        if custom is not None and kind != VOICE:
            dispatcher.utter_message(json_message={"data": custom})
        return outcome_events(
            dialogue.HANDOFF,
            service=None if reason == "complaint" else service,
            department=department,
            handoff_reason=reason,
            misunderstandings=0.0,
            pending=None,
        )

    def _already_waiting(self, dispatcher: CollectingDispatcher, kb: Any, routing: Any, ticket: Any,
                         kind: str) -> List[Dict[Text, Any]]:
        """Asked again while waiting: the place in the queue, no second ticket."""
        if ticket.status in WITH_AGENT:
            dispatcher.utter_message(text=messages.WITH_AGENT)
        else:
            state = _queue(ticket, routing)
            text = messages.already_waiting(state.position, state.waiting_minutes)
            if kind == VOICE:
                dispatcher.utter_message(text=text)
            else:
                dispatcher.utter_message(text=text + _callback_link(ticket.id, messages.CALLBACK_INSTEAD_OF_WAITING))
                dispatcher.utter_message(json_message={"data": {
                    "type": "handoff_status", "state": "waiting", "position": state.position,
                    "minutes": state.waiting_minutes, "reference": ticket.id.split("-")[0].upper()}})
        return outcome_events(dialogue.HANDOFF, department=ticket.department_slug,
                              handoff_reason=ticket.reason, misunderstandings=0.0, pending=None)


def _queue(ticket: Any, routing: Any) -> QueueState:
    return queue_state(ticket, routing.live_queue.minutes_per_waiting_contact,
                       routing.live_queue.measured_takeovers)


def _live_step(kind: str, state: QueueState, ticket_id: str) -> str:
    if kind == VOICE:
        return messages.CONNECTING
    return messages.live_in_chat(state.position, state.waiting_minutes) + _callback_link(
        ticket_id, messages.CALLBACK_INSTEAD_OF_WAITING)


def _ticket_step(kind: str, queue_closed: bool, routing: Any, now: dt.datetime, ticket: Any,
                 reference: str) -> str:
    due = messages.reply_by(german_due(ticket.due_at)) if ticket.due_at else ""
    closed = ""
    if queue_closed:
        opens = routing.calendar.next_opening(now)
        closed = messages.servicecenter_closed(german_due(opens) if opens else None)
    if kind == VOICE:
        return closed + messages.RECORDED
    link = _callback_link(ticket.id)
    return f"{closed}{messages.recorded_as(reference)}{link}{due if link else ''}"


def _callback_link(ticket_id: str, offer: str = messages.CALLBACK_OFFER) -> str:
    """The chat's Markdown link to the callback form, or '' if no link can be made."""
    settings = get_settings()
    try:
        url = callback_url(ticket_id, settings)
    except (OSError, RuntimeError, ValueError):
        log.exception("no callback link for ticket %s", ticket_id)
        return ""
    return messages.callback_link(url, offer)


def _turn_key(tracker: Tracker) -> str:
    """One ticket per citizen message, even if Rasa retries the action."""
    stamp = next(
        (e.get("timestamp") for e in reversed(tracker.events) if e.get("event") == "user"), None
    )
    return f"{tracker.sender_id}:{stamp}"
