"""Where a call that needs a person goes: one answer for the console's route API and for a
gateway that looks it up in the database (``ASSISTANT_VOICE_ROUTE_LOOKUP=database``)."""

from __future__ import annotations

import asyncio
import uuid

from servicecenter.handoff import tickets
from servicecenter.handoff.calls import call_route
from servicecenter.settings import Settings
from servicecenter.town import town_config
from servicecenter.voice.routes import DatabaseRoutes, Knowledge, Route


def _ticket(url: str, call_id: str, department: str, mode: str) -> tickets.Ticket:
    return tickets.create_ticket(idempotency_key=uuid.uuid4().hex, conversation_id=call_id, reason="human",
                                 department_slug=department, channel="voice", mode=mode, url=url)


def test_live_handoffs_are_transferred_and_department_work_gets_a_callback(session_db):
    knowledge_dir = Settings().knowledge_dir
    routing = town_config(knowledge_dir).routing
    lookup = DatabaseRoutes(session_db, Knowledge(knowledge_dir))

    call = f"call-{uuid.uuid4().hex}"
    assert call_route(call, routing, session_db) is None
    assert asyncio.run(lookup.route(call)) is None

    live = _ticket(session_db, call, "zentrale", "live")
    body = call_route(call, routing, session_db)
    assert body["handoff_id"] == live.id and body["target"]["kind"] == "queue"
    assert body["target"]["uri"] == routing.transfer_uri("zentrale") and "servicecenter" in body["target"]["uri"]
    assert asyncio.run(lookup.route(call)) == Route(live.id, "zentrale", "queue", body["target"]["uri"])

    # A newer department ticket of the same call (e.g. a complaint) is not transferred live.
    later = _ticket(session_db, call, "bauordnung", "ticket")
    assert call_route(call, routing, session_db)["target"] == {"kind": "callback", "queue": None, "uri": None}
    assert asyncio.run(lookup.route(call)) == Route(later.id, "bauordnung", "callback", "")
