"""Where a handed-over request goes: the ServiceCenter's live queue or a department's ticket.

The policy: a wish for a person about something the ServiceCenter answers goes to its agent
queue during core hours (the agent sees the competent department in the summary and can
forward); on the phone any target is transferred live then (the gateway asks
/api/calls/<id>/route). Everything else becomes a ticket of the competent department.
"""

from __future__ import annotations

from dataclasses import dataclass

from servicecenter.dialogue import DEFAULT_HANDOFF_TARGET
from servicecenter.handoff.live import LIVE, TICKET
from servicecenter.knowledge.answers import VOICE

# Reasons the ServiceCenter's agents take themselves (own cases and complaints go to the department).
QUEUE_REASONS = frozenset({"human", "not_helpful", "repeated_fallback"})


@dataclass(frozen=True)
class HandoffDecision:
    mode: str  # LIVE (an agent takes the conversation over) or TICKET
    owner: str  # organisation slug of whoever gets the ticket
    for_queue: bool  # a request the ServiceCenter's agents take themselves
    servicecenter_open: bool

    @property
    def live(self) -> bool:
        return self.mode == LIVE

    @property
    def queue_closed(self) -> bool:
        """The ServiceCenter would take it, but nobody is there now."""
        return self.for_queue and not self.servicecenter_open

    @property
    def notifies_department(self) -> bool:
        """A department's ticket is mailed to the department."""
        return self.mode == TICKET and self.owner != DEFAULT_HANDOFF_TARGET


def decide_handoff(
    reason: str,
    department: str,
    channel: str,
    *,
    department_named: bool,
    answered_by_servicecenter: bool,
    servicecenter_open: bool,
) -> HandoffDecision:
    """The decision for one handoff.

    ``department``: the competent organisation; ``department_named``: the citizen named one
    themselves; ``answered_by_servicecenter``: the service in question (or no service at all)
    is one the ServiceCenter answers; ``servicecenter_open``: now is within its core hours.
    """
    for_queue = reason in QUEUE_REASONS and not department_named and answered_by_servicecenter
    mode = LIVE if servicecenter_open and (for_queue or channel == VOICE) else TICKET
    owner = DEFAULT_HANDOFF_TARGET if mode == LIVE and for_queue else department
    return HandoffDecision(mode=mode, owner=owner, for_queue=for_queue, servicecenter_open=servicecenter_open)
