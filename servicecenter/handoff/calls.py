"""Where a call that needs a person goes: one answer for the console's route API and for
gateways that look it up in the database themselves (``ASSISTANT_VOICE_ROUTE_LOOKUP=database``).

The newest open handoff of the call decides: a live handoff with a configured target is
transferred (``kind`` "sip" for a department's own SIP URI, "queue" for the ServiceCenter's
queue URI from routing.yml); anything else (outside core hours, a department's work item)
gets ``kind`` "callback", and the gateway takes a callback request instead.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicecenter.db import use_session
from servicecenter.handoff.live import LIVE
from servicecenter.handoff.tickets import OPEN_STATUSES
from servicecenter.models import Ticket


def newest_open_handoff(call_id: str, url: Optional[str] = None,
                        session: Optional[Session] = None) -> Optional[Ticket]:
    with use_session(session, url) as work:
        return work.execute(
            select(Ticket)
            .where(Ticket.conversation_id == call_id, Ticket.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(Ticket.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()


def call_route(call_id: str, routing: Any, url: Optional[str] = None,
               session: Optional[Session] = None) -> Optional[Dict[str, Any]]:
    """The route API's answer for ``call_id``, or None when the call has no open handoff."""
    ticket = newest_open_handoff(call_id, url, session)
    if ticket is None:
        return None
    body: Dict[str, Any] = {
        "handoff_id": ticket.id,
        "department": ticket.department_slug,
        "reason": ticket.reason,
        "mode": ticket.mode,
        "open": routing.is_open(),
    }
    target = routing.targets.get(ticket.department_slug)
    uri = routing.transfer_uri(ticket.department_slug) if target is not None else None
    if ticket.mode == LIVE and uri:
        body["target"] = {"kind": "sip" if target.sip_uri else "queue", "queue": target.queue, "uri": uri}
    else:
        body["target"] = {"kind": "callback", "queue": None, "uri": None}
    return body
