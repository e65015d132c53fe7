"""Session start, emergencies, out-of-scope questions, small talk and misunderstandings."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.answer import ActionAnswerService
from bot.actions.common import emergency_override, latest, mentioned_services, outcome_events, repository
from bot.actions.handoff import ActionHandoff
from servicecenter import dialogue

MAX_MISUNDERSTANDINGS = 2


class ActionSessionStart(Action):
    """Every conversation opens by saying that an automated system answers (AI Act Art. 50)."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_disclosure")
        return [SessionStarted(), ActionExecuted("action_listen")]


class ActionEmergency(Action):
    def name(self) -> Text:
        return "action_emergency"

    async def run(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        dispatcher.utter_message(response="utter_emergency")
        return outcome_events(dialogue.EMERGENCY, pending=None)


class ActionOutOfScope(Action):
    def name(self) -> Text:
        return "action_out_of_scope"

    async def run(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        override = emergency_override(dispatcher, tracker)
        if override is not None:
            return override
        dispatcher.utter_message(response="utter_out_of_scope")
        return outcome_events(dialogue.OUT_OF_SCOPE, pending=None)


class ActionSmalltalk(Action):
    """Greetings, thanks, 'are you a bot?', and yes/no answers to the assistant's offers."""

    def name(self) -> Text:
        return "action_smalltalk"

    async def run(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        intent = (latest(tracker).get("intent") or {}).get("name")
        pending = tracker.get_slot("pending")
        if intent == "affirm" and pending == "offer_handoff":
            return await ActionHandoff().run(dispatcher, tracker, domain)
        if intent == "deny" and pending == "offer_handoff":
            dispatcher.utter_message(response="utter_deny_handoff")
            return outcome_events(dialogue.SMALLTALK, pending=None, misunderstandings=0.0)
        response = {
            "greet": "utter_greet",
            "goodbye": "utter_goodbye",
            "thanks": "utter_thanks",
            "bot_challenge": "utter_bot_challenge",
            "affirm": "utter_affirm_without_question",
            "deny": "utter_deny",
        }.get(intent or "", "utter_greet")
        dispatcher.utter_message(response=response)
        return outcome_events(dialogue.SMALLTALK, pending=None)


class ActionFallback(Action):
    """Ask to rephrase; after two misunderstandings in a row, offer a person."""

    def name(self) -> Text:
        return "action_fallback"

    async def run(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        override = emergency_override(dispatcher, tracker)
        if override is not None:
            return override
        recovered = self._recover(dispatcher, tracker)
        if recovered is not None:
            return recovered
        count = int(tracker.get_slot("misunderstandings") or 0) + 1
        if count >= MAX_MISUNDERSTANDINGS:
            dispatcher.utter_message(response="utter_offer_handoff")
            return outcome_events(
                dialogue.FALLBACK, misunderstandings=float(count), pending="offer_handoff",
            )
        dispatcher.utter_message(response="utter_rephrase")
        return outcome_events(
            dialogue.FALLBACK, misunderstandings=float(count), pending=None,
        )

    @staticmethod
    def _recover(dispatcher, tracker):  # type: ignore[no-untyped-def]
        """An unsure classification that a named service or two close services explain."""
        from servicecenter.knowledge.repository import KnowledgeUnavailable

        try:
            kb = repository().get()
        except KnowledgeUnavailable:
            return None
        message = latest(tracker)
        resolution = dialogue.recover_from_fallback(
            kb, message.get("intent_ranking") or [], mentioned_services(tracker, kb),
            current=tracker.get_slot("topic"), text=message.get("text") or "",
        )
        if resolution.service is None and not resolution.needs_clarification:
            return None
        return ActionAnswerService().respond(dispatcher, tracker, kb, resolution)
