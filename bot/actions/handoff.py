"""Hand a request over to a person: record it and tell the citizen what happens next."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from bot.actions.common import (
    channel,
    entity_values,
    latest,
    mentioned_services,
    outcome_events,
    start_turn,
)
from servicecenter import dialogue
from servicecenter.handoff.callback import callback_token, german_due
from servicecenter.handoff.live import LIVE, TICKET, WITH_AGENT, QueueState, open_live_ticket, queue_state
from servicecenter.handoff.requests import record_handoff
from servicecenter.handoff.routing import reply_due
from servicecenter.handoff.summary import build_summary
from servicecenter.knowledge.answers import VOICE, AnswerComposer
from servicecenter.settings import get_settings
from servicecenter.town import town_config

log = logging.getLogger(__name__)
ZENTRALE = "zentrale"
# Reasons the ServiceCenter's agents take themselves (own cases and complaints go to the department).
QUEUE_REASONS = frozenset({"human", "not_helpful", "repeated_fallback"})


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
        is_open = routing.is_open(now)
        # A wish for a person about something the ServiceCenter answers goes to its agent queue
        # during core hours (the agent sees the competent department in the summary and can
        # forward); on the phone any target is transferred live then (the gateway asks
        # /api/calls/<id>/route). Everything else becomes a ticket of the competent department.
        named = bool(entity_values(tracker, "department"))
        for_queue = reason in QUEUE_REASONS and not named and (
            service is None or routing.answered_by_servicecenter(service, kb)
        )
        mode = LIVE if is_open and (for_queue or kind == VOICE) else TICKET
        owner = ZENTRALE if mode == LIVE and for_queue else department
        if mode == LIVE:
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
                due_at=None if mode == LIVE else reply_due(routing, now),
                mode=mode,
                notify=None if mode == LIVE or owner == ZENTRALE else routing.target_email(owner, kb),
            )
            reference = ticket.id.split("-")[0].upper()
            if mode == LIVE:
                state = _queue(ticket, routing)
                next_step = _live_step(kind, state, ticket.id)
                custom = {"type": "handoff_status", "state": "waiting", "position": state.position,
                          "minutes": state.waiting_minutes, "reference": reference}
            else:
                next_step = _ticket_step(kind, for_queue and not is_open, routing, now, ticket, reference)
                custom = {"type": "handoff_status", "state": "ticket", "reference": reference,
                          "due": german_due(ticket.due_at) if ticket.due_at else None}
        except SQLAlchemyError:
            log.exception("handoff could not be stored (reason=%s department=%s)", reason, department)
            next_step = "Ich konnte Ihr Anliegen gerade nicht vermerken; bitte melden Sie sich direkt."
        org = kb.organisations[owner]
        composer = AnswerComposer(kb)
        name = f"{org.article} {org.name}" if org.article else org.name
        dispatcher.utter_message(
            response="utter_handoff",
            target=_accusative(name),
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
            dispatcher.utter_message(
                text="Eine Mitarbeiterin oder ein Mitarbeiter des ServiceCenters ist schon für Sie da.")
        else:
            state = _queue(ticket, routing)
            text = (
                f"Sie sind bereits in der Warteschlange, an Position {state.position}. "
                f"Die Wartezeit beträgt voraussichtlich etwa {_minutes(state.waiting_minutes)}."
            )
            if kind == VOICE:
                dispatcher.utter_message(text=text)
            else:
                dispatcher.utter_message(text=text + _callback_link(ticket.id, prefix=" Wenn Sie nicht warten möchten, rufen wir Sie zurück:"))
                dispatcher.utter_message(json_message={"data": {
                    "type": "handoff_status", "state": "waiting", "position": state.position,
                    "minutes": state.waiting_minutes, "reference": ticket.id.split("-")[0].upper()}})
        return outcome_events(dialogue.HANDOFF, department=ticket.department_slug,
                              handoff_reason=ticket.reason, misunderstandings=0.0, pending=None)


def _queue(ticket: Any, routing: Any) -> QueueState:
    return queue_state(ticket, routing.live_queue.minutes_per_waiting_contact,
                       routing.live_queue.measured_takeovers)


def _minutes(value: int) -> str:
    return "eine Minute" if value == 1 else f"{value} Minuten"


def _live_step(kind: str, state: QueueState, ticket_id: str) -> str:
    if kind == VOICE:
        return "Ich verbinde Sie jetzt mit einer Mitarbeiterin oder einem Mitarbeiter des ServiceCenters."
    return (
        "Eine Mitarbeiterin oder ein Mitarbeiter des ServiceCenters übernimmt dieses Gespräch "
        f"gleich hier im Chat. Sie sind an Position {state.position}; die Wartezeit beträgt "
        f"voraussichtlich etwa {_minutes(state.waiting_minutes)}. Bis dahin können Sie mir weiter "
        "Fragen stellen." + _callback_link(ticket_id, prefix=" Wenn Sie nicht warten möchten, rufen wir Sie zurück:")
    )


def _ticket_step(kind: str, queue_closed: bool, routing: Any, now: dt.datetime, ticket: Any,
                 reference: str) -> str:
    due = f" Wir melden uns dann spätestens bis {german_due(ticket.due_at)}." if ticket.due_at else ""
    closed = ""
    if queue_closed:
        opens = routing.calendar.next_opening(now)
        closed = "Das ServiceCenter ist gerade nicht besetzt" + (
            f"; es ist ab {german_due(opens)} wieder für Sie da. " if opens else ". "
        )
    if kind == VOICE:
        return closed + "Ihr Anliegen ist vermerkt."
    link = _callback_link(ticket.id)
    return f"{closed}Ihr Anliegen ist unter der Nummer {reference} vermerkt.{link}{due if link else ''}"


def _callback_link(ticket_id: str, prefix: str = " Wenn Sie möchten, rufen wir Sie zurück:") -> str:
    """The chat's Markdown link to the callback form, or '' if no link can be made."""
    settings = get_settings()
    try:
        token = callback_token(ticket_id, settings=settings)
    except (OSError, RuntimeError, ValueError):
        log.exception("no callback link for ticket %s", ticket_id)
        return ""
    url = f"{settings.browser_console_url}/rueckruf/{token}"
    return f"{prefix} [Rückruf anfordern]({url})."


def _turn_key(tracker: Tracker) -> str:
    """One ticket per citizen message, even if Rasa retries the action."""
    stamp = next(
        (e.get("timestamp") for e in reversed(tracker.events) if e.get("event") == "user"), None
    )
    return f"{tracker.sender_id}:{stamp}"


def _accusative(name: str) -> str:
    """'der Kreis Kleve' -> 'den Kreis Kleve' (after 'an'); 'das'/'die' stay."""
    return "den " + name[4:] if name.startswith("der ") else name
