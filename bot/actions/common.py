"""Helpers shared by the actions: reading the turn, setting the per-turn outcome."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from servicecenter import dialogue
from servicecenter.knowledge.answers import channel_kind
from servicecenter.knowledge.repository import default_repository


def repository():  # type: ignore[no-untyped-def]
    return default_repository()


def channel(tracker: Tracker) -> str:
    return channel_kind(tracker.get_latest_input_channel())


def latest(tracker: Tracker) -> Dict[str, Any]:
    return tracker.latest_message or {}


def entity_values(tracker: Tracker, entity: str) -> List[str]:
    values: List[str] = []
    for ent in latest(tracker).get("entities", []) or []:
        if ent.get("entity") == entity and isinstance(ent.get("value"), str):
            if ent["value"] not in values:
                values.append(ent["value"])
    return values


def outcome_events(
    outcome: str,
    service: Optional[str] = None,
    department: Optional[str] = None,
    candidates: Optional[List[str]] = None,
    **extra: Any,
) -> List[Dict[str, Any]]:
    """Slot events that describe this turn (read by evaluation and, later, reports)."""
    events = [
        SlotSet("outcome", outcome),
        SlotSet("service", service),
        SlotSet("department", department),
        SlotSet("candidates", candidates or []),
    ]
    events.extend(SlotSet(k, v) for k, v in extra.items())
    return events


def emergency_override(dispatcher: Any, tracker: Tracker) -> Optional[List[Dict[str, Any]]]:
    """Refer to 110/112 when the words signal acute danger, whatever the intent was."""
    from servicecenter.safety import is_emergency

    if is_emergency(latest(tracker).get("text") or ""):
        dispatcher.utter_message(response="utter_emergency")
        return outcome_events(dialogue.EMERGENCY, pending=None)
    return None


def mentioned_services(tracker: Tracker, kb: Any) -> List[str]:
    """Services named in the message: exact lookup matches, else tolerant of typos."""
    from servicecenter.knowledge.mentions import fuzzy_mentions

    exact = [s for s in entity_values(tracker, "service") if s in kb.services]
    return exact or fuzzy_mentions(kb, latest(tracker).get("text") or "")


def start_turn(dispatcher: Any, tracker: Tracker) -> Tuple[Optional[List[Dict[str, Any]]], Any]:
    """What every answering action does first: refer emergencies to 110/112 and load the
    knowledge base. Returns (events to return at once, None) or (None, knowledge base)."""
    from servicecenter.knowledge.repository import KnowledgeUnavailable

    override = emergency_override(dispatcher, tracker)
    if override is not None:
        return override, None
    try:
        return None, repository().get()
    except KnowledgeUnavailable:
        dispatcher.utter_message(response="utter_knowledge_unavailable")
        return outcome_events(dialogue.FALLBACK), None
