"""``POST /api/feedback``: the chat widget's rating of an answer (no sign-in, JSON only)."""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from servicecenter.console.deps import DbSession
from servicecenter.reports.feedback import FeedbackRejected, record_feedback

log = logging.getLogger(__name__)

MAX_BODY = 4096
BAD_REQUEST = "Die Bewertung konnte nicht gelesen werden. Bitte laden Sie die Seite neu."
UNAVAILABLE = "Ihre Bewertung konnte gerade nicht gespeichert werden. Bitte versuchen Sie es später noch einmal."
THANKS = "Vielen Dank für Ihre Rückmeldung!"
NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=NO_STORE)


async def _body(request: Request) -> bytes:
    return await request.body()


router = APIRouter()


@router.post("/api/feedback", name="api_feedback")
def post_feedback(request: Request, body: Annotated[bytes, Depends(_body)], session: DbSession) -> JSONResponse:
    # JSON only: a cross-site HTML form cannot send application/json without a CORS preflight.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return _error(400, "content_type", BAD_REQUEST)
    if len(body) > MAX_BODY:
        return _error(400, "too_large", BAD_REQUEST)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "json", BAD_REQUEST)
    if not isinstance(data, dict):
        return _error(400, "json", BAD_REQUEST)
    try:
        row = record_feedback(
            data.get("conversation_id"), data.get("rating"), data.get("comment"),
            data.get("channel", "chat"), session=session,
        )
    except FeedbackRejected as err:
        log.info("feedback rejected: %s", err.code)
        status = 429 if err.code == "too_many" else 400
        return _error(status, err.code, err.message)
    except SQLAlchemyError:
        log.exception("feedback could not be stored")
        session.rollback()
        return _error(503, "unavailable", UNAVAILABLE)
    return JSONResponse({"id": row.id, "message": THANKS}, status_code=201, headers=NO_STORE)
