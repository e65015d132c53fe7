"""Answer a question about a service from the knowledge base."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import (
    channel,
    entity_values,
    latest,
    mentioned_services,
    outcome_events,
    start_turn,
)
from bot.actions.handoff import ActionHandoff
from servicecenter import dialogue
from servicecenter.knowledge.answers import VOICE, AnswerComposer
from servicecenter.knowledge.aspects import detect_aspect
from servicecenter.settings import get_settings
from servicecenter.town import town_config


class ActionAnswerService(Action):
    def name(self) -> Text:
        return "action_answer_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        done, kb = start_turn(dispatcher, tracker)
        if done is not None:
            return done
        message = latest(tracker)
        intent = (message.get("intent") or {}).get("name")
        confidence = float((message.get("intent") or {}).get("confidence") or 0.0)
        resolution = dialogue.resolve_service(
            kb,
            intent,
            confidence,
            message.get("intent_ranking") or [],
            mentioned_services(tracker, kb),
            tracker.get_slot("topic"),
            margin=get_settings().clarify_margin,
            text=message.get("text") or "",
        )
        text = message.get("text") or ""
        if dialogue.wants_connection(text, entity_values(tracker, "department")) and detect_aspect(text) == "general":
            return await ActionHandoff().run(dispatcher, tracker, domain, reason="human")
        if resolution.service and not town_config().routing.answered_by_servicecenter(resolution.service, kb):
            # Takeover stage: this service is not (yet) answered at first contact.
            return await ActionHandoff().run(
                dispatcher, tracker, domain, reason="outside_stage", service=resolution.service
            )
        if resolution.service and dialogue.is_own_case(text):
            # "Ich habe vor drei Wochen Sperrmüll angemeldet, wo bleibt ...": only the
            # department can look into the citizen's own case.
            return await ActionHandoff().run(dispatcher, tracker, domain, reason="case_status", service=resolution.service)
        if resolution.service is None and not resolution.needs_clarification:
            dispatcher.utter_message(response="utter_which_service")
            return outcome_events(dialogue.CLARIFY)
        return self.respond(dispatcher, tracker, kb, resolution)

    def respond(self, dispatcher, tracker, kb, resolution):  # type: ignore[no-untyped-def]
        """Answer the resolved service, or ask back when several fit."""
        message = latest(tracker)
        intent = (message.get("intent") or {}).get("name")
        if resolution.needs_clarification:
            aspect = detect_aspect(message.get("text") or "", intent)
            return self._clarify(dispatcher, tracker, kb, resolution.candidates, aspect)
        aspect = detect_aspect(message.get("text") or "", intent)
        if tracker.get_slot("pending") == "clarify" and aspect == "general":
            # The citizen picked one of the offered services: answer what they asked.
            aspect = tracker.get_slot("aspect") or aspect
        answer = AnswerComposer(kb).answer(resolution.service, aspect, channel(tracker))
        dispatcher.utter_message(text=answer.text)
        answered = list(tracker.get_slot("answered") or [])
        answered.append(f"{resolution.service}:{aspect}")
        return outcome_events(
            dialogue.ANSWER,
            service=resolution.service,
            topic=resolution.service,
            aspect=aspect,
            misunderstandings=0.0,
            pending=None,
            answered=answered[-10:],
        )

    @staticmethod
    def _clarify(dispatcher, tracker, kb, candidates, aspect):  # type: ignore[no-untyped-def]
        names = [kb.services[c].name for c in candidates]
        if channel(tracker) == VOICE:
            dispatcher.utter_message(response="utter_clarify", options=" oder ".join(names))
        else:
            dispatcher.utter_message(
                response="utter_clarify",
                buttons=[
                    {"title": name, "payload": "/" + dialogue.intent_for(slug)}
                    for slug, name in zip(candidates, names, strict=True)
                ],
            )
        return outcome_events(
            dialogue.CLARIFY, candidates=candidates, pending="clarify", aspect=aspect
        )
