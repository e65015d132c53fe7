"""Record that a conversation needs a person. No message text or contact data is stored."""

from __future__ import annotations

import logging
import uuid
from typing import Optional

from servicecenter.db import session_scope
from servicecenter.models import HandoffRequest

log = logging.getLogger(__name__)

REASONS = {
    "human": "explicit wish for a person",
    "case_status": "question about the citizen's own case",
    "complaint": "complaint",
    "not_helpful": "the answer did not help",
    "repeated_fallback": "two misunderstandings in a row",
}


def record_handoff(
    conversation_id: str,
    reason: str,
    department: str,
    channel: str,
    service: Optional[str] = None,
    url: Optional[str] = None,
) -> str:
    """Store a handoff request and return its id."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason '{reason}' (known: {', '.join(REASONS)})")
    request_id = str(uuid.uuid4())
    with session_scope(url) as session:
        session.add(
            HandoffRequest(
                id=request_id,
                conversation_id=conversation_id,
                reason=reason,
                service_slug=service,
                department_slug=department,
                channel=channel,
            )
        )
    log.info("handoff %s recorded: reason=%s department=%s channel=%s", request_id, reason, department, channel)
    return request_id
