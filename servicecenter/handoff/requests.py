"""Record that a conversation needs a person: a handoff ticket (no message text is stored)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Mapping, Optional

from servicecenter.handoff.tickets import create_ticket
from servicecenter.models import Ticket

REASONS = {
    "human": "explicit wish for a person",
    "case_status": "question about the citizen's own case",
    "complaint": "complaint",
    "not_helpful": "the answer did not help",
    "repeated_fallback": "two misunderstandings in a row",
    "outside_stage": "service not (yet) answered by the ServiceCenter in the current takeover stage",
}


def record_handoff(
    conversation_id: str,
    reason: str,
    department: str,
    channel: str,
    service: Optional[str] = None,
    url: Optional[str] = None,
    idempotency_key: Optional[str] = None,
    summary: Optional[Mapping[str, Any]] = None,
    due_at: Optional[dt.datetime] = None,
    mode: str = "ticket",
    notify: Optional[str] = None,
) -> Ticket:
    """Open a handoff ticket and return it.

    ``mode`` is "live" (the agent queue takes the conversation now) or "ticket" (answered
    within the service promise); ``notify`` is the department's e-mail address, queued for
    the outbox in the same transaction as the ticket.

    With the same ``idempotency_key`` (the action uses "<conversation_id>:<event timestamp>")
    a repeated call returns the id of the ticket already opened. Without a key every call
    opens a new ticket, as before.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason '{reason}' (known: {', '.join(REASONS)})")
    ticket = create_ticket(
        idempotency_key=idempotency_key or f"{conversation_id}:{uuid.uuid4()}",
        conversation_id=conversation_id,
        reason=reason,
        department_slug=department,
        channel=channel,
        service_slug=service,
        summary=summary,
        due_at=due_at,
        mode=mode,
        notify=notify,
        url=url,
    )
    return ticket
