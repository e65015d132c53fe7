"""Hand a request over to a person: record it and tell the citizen what happens next."""

from __future__ import annotations

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
from servicecenter.handoff.callback import callback_token
from servicecenter.handoff.requests import record_handoff
from servicecenter.handoff.routing import reply_due
from servicecenter.handoff.summary import build_summary
from servicecenter.knowledge.answers import VOICE, AnswerComposer
from servicecenter.settings import get_settings

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
        summary = build_summary(list(tracker.events), kb, reason, department, kind)
        try:
            request_id = record_handoff(
                tracker.sender_id, reason, department, kind, service,
                idempotency_key=_turn_key(tracker),
                summary=summary.to_dict(),
                due_at=reply_due(kb),
            )
            reference = request_id.split("-")[0].upper()
            next_step = (
                f"Ihr Anliegen ist unter der Nummer {reference} vermerkt.{_callback_link(request_id)}"
                if kind != VOICE
                else "Ihr Anliegen ist vermerkt."
            )
        except SQLAlchemyError:
            log.exception("handoff could not be stored (reason=%s department=%s)", reason, department)
            next_step = "Ich konnte Ihr Anliegen gerade nicht vermerken; bitte melden Sie sich direkt."
        org = kb.organisations[department]
        composer = AnswerComposer(kb)
        name = f"{org.article} {org.name}" if org.article else org.name
        dispatcher.utter_message(
            response="utter_handoff",
            target=_accusative(name),
            target_short=name,
            next_step=next_step,
            contact=composer.contact_line(org, kind),
        )
        return outcome_events(
            dialogue.HANDOFF,
            service=None if reason == "complaint" else service,
            department=department,
            handoff_reason=reason,
            misunderstandings=0.0,
            pending=None,
        )


def _callback_link(ticket_id: str) -> str:
    """The chat's Markdown link to the callback form, or '' if no link can be made."""
    settings = get_settings()
    try:
        token = callback_token(ticket_id, settings=settings)
    except (OSError, RuntimeError, ValueError):
        log.exception("no callback link for ticket %s", ticket_id)
        return ""
    url = f"{settings.browser_console_url}/rueckruf/{token}"
    return f" Wenn Sie möchten, rufen wir Sie zurück: [Rückruf anfordern]({url})."


def _turn_key(tracker: Tracker) -> str:
    """One ticket per citizen message, even if Rasa retries the action."""
    stamp = next(
        (e.get("timestamp") for e in reversed(tracker.events) if e.get("event") == "user"), None
    )
    return f"{tracker.sender_id}:{stamp}"


def _accusative(name: str) -> str:
    """'der Kreis Kleve' -> 'den Kreis Kleve' (after 'an'); 'das'/'die' stay."""
    return "den " + name[4:] if name.startswith("der ") else name
