"""Telephony hook: where the voice gateway (or a PBX dialplan) transfers a call.

``GET /api/calls/{call_id}/route`` with ``Authorization: Bearer <token>`` answers with the
newest open handoff of that call and its transfer target from routing.yml
(``servicecenter.handoff.calls``). The call id is
the conversation id the gateway used with Rasa's ``voice`` channel.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from servicecenter.console.deps import DbSession, SettingsDep
from servicecenter.handoff import calls as handoff_calls
from servicecenter.secrets import derived_token
from servicecenter.town import town_config

log = logging.getLogger(__name__)

CALL_ID = re.compile(r"^[A-Za-z0-9._:@-]{8,128}$")


def telephony_token(settings: Any) -> str:
    configured = settings.telephony_token.get_secret_value()
    return configured or derived_token("telephony", settings)


def _authorised(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = telephony_token(request.app.state.settings)
    return scheme.lower() == "bearer" and bool(token) and hmac.compare_digest(token.encode(), expected.encode())


router = APIRouter(prefix="/api/calls")


@router.get("/{call_id}/route", name="call_route")
def call_route(call_id: str, request: Request, settings: SettingsDep, session: DbSession) -> JSONResponse:
    if not _authorised(request):
        return JSONResponse({"detail": "A valid bearer token is required."}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    if not CALL_ID.match(call_id):
        return JSONResponse({"detail": "Invalid call id: 8 to 128 characters of A-Z, a-z, 0-9, . _ : @ -"},
                            status_code=400)
    routing = town_config(settings.knowledge_dir).routing
    body = handoff_calls.call_route(call_id, routing, session=session)
    if body is None:
        return JSONResponse({"detail": "No open handoff for this call."}, status_code=404)
    log.info("call route for handoff %s: %s", body["handoff_id"], body["target"]["kind"])
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
