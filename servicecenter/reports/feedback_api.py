"""``POST /api/feedback``: the chat widget's rating of an answer (no sign-in, JSON only)."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from servicecenter.reports.feedback import FeedbackRejected, record_feedback

log = logging.getLogger(__name__)

MAX_BODY = 4096
BAD_REQUEST = "Die Bewertung konnte nicht gelesen werden. Bitte laden Sie die Seite neu."
UNAVAILABLE = "Ihre Bewertung konnte gerade nicht gespeichert werden. Bitte versuchen Sie es später noch einmal."
THANKS = "Vielen Dank für Ihre Rückmeldung!"
NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=NO_STORE)


def feedback_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/feedback", name="api_feedback")
    async def post_feedback(request: Request) -> JSONResponse:
        # JSON only: a cross-site HTML form cannot send application/json without a CORS preflight.
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _error(400, "content_type", BAD_REQUEST)
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(400, "too_large", BAD_REQUEST)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "json", BAD_REQUEST)
        if not isinstance(data, dict):
            return _error(400, "json", BAD_REQUEST)
        settings = request.app.state.settings
        try:
            row = record_feedback(
                data.get("conversation_id"), data.get("rating"), data.get("comment"),
                data.get("channel", "chat"), url=settings.db_url,
            )
        except FeedbackRejected as err:
            log.info("feedback rejected: %s", err.code)
            status = 429 if err.code == "too_many" else 400
            return _error(status, err.code, err.message)
        except SQLAlchemyError:
            log.exception("feedback could not be stored")
            return _error(503, "unavailable", UNAVAILABLE)
        return JSONResponse({"id": row.id, "message": THANKS}, status_code=201, headers=NO_STORE)

    return router
