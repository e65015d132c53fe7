"""Custom actions: thin adapters from Rasa to ``servicecenter``."""

from bot.actions.answer import ActionAnswerService
from bot.actions.conversation import (
    ActionEmergency,
    ActionFallback,
    ActionOutOfScope,
    ActionSessionStart,
    ActionSmalltalk,
)
from bot.actions.handoff import ActionHandoff

__all__ = [
    "ActionAnswerService",
    "ActionEmergency",
    "ActionFallback",
    "ActionHandoff",
    "ActionOutOfScope",
    "ActionSessionStart",
    "ActionSmalltalk",
]
