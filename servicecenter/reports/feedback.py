"""Citizens' ratings of an answer (thumbs up/down, optional comment), checked before storing.

The comment is stored exactly as written and never logged; the trainer workbench reads it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from servicecenter.db import use_session
from servicecenter.input_guard import valid_session_id
from servicecenter.rasa_tables import RASA_EVENTS, has_events_table
from servicecenter.reports.models import RATINGS, Feedback

log = logging.getLogger(__name__)

CHANNELS = ("chat", "voice")
MAX_COMMENT = 500
# A conversation may rate a few answers; more is not a citizen but a script.
MAX_PER_CONVERSATION = 5
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# DTMF rating on the phone: 1 = helpful, 2 = not helpful.
DTMF_RATINGS = {"1": "up", "2": "down"}

MESSAGES = {
    "conversation": "Die Bewertung gehört zu keinem gültigen Gespräch. Bitte laden Sie die Seite neu.",
    "unknown_conversation": "Zu dieser Bewertung wurde kein Gespräch gefunden. Bitte stellen Sie zuerst eine Frage.",
    "rating": "Bitte wählen Sie „hilfreich“ oder „nicht hilfreich“.",
    "comment_type": "Der Kommentar muss ein Text sein.",
    "comment_long": f"Ihr Kommentar ist zu lang. Bitte kürzen Sie ihn auf höchstens {MAX_COMMENT} Zeichen.",
    "comment_control": "Der Kommentar enthält Zeichen, die nicht gespeichert werden können.",
    "channel": "Unbekannter Kanal.",
    "too_many": "Für dieses Gespräch liegen schon genug Bewertungen vor. Vielen Dank!",
}


class FeedbackRejected(ValueError):
    """Bad input; ``message`` is the German text for the citizen, ``code`` for logs and tests."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = MESSAGES[code]


@dataclass(frozen=True)
class CheckedFeedback:
    conversation_id: str
    rating: str
    comment: Optional[str]
    channel: str


def check_feedback(conversation_id: Any, rating: Any, comment: Any = None, channel: Any = "chat",
                   max_comment: int = MAX_COMMENT) -> CheckedFeedback:
    """Validate one rating; raise FeedbackRejected naming what is wrong."""
    if not valid_session_id(conversation_id):
        raise FeedbackRejected("conversation")
    if rating not in RATINGS:
        raise FeedbackRejected("rating")
    if channel not in CHANNELS:
        raise FeedbackRejected("channel")
    if comment is not None and not isinstance(comment, str):
        raise FeedbackRejected("comment_type")
    if comment is not None:
        if len(comment) > min(max_comment, MAX_COMMENT):
            raise FeedbackRejected("comment_long")
        if _CONTROL.search(comment):
            raise FeedbackRejected("comment_control")
        if not comment.strip():
            comment = None
    return CheckedFeedback(conversation_id, rating, comment, channel)


def record_feedback(conversation_id: Any, rating: Any, comment: Any = None, channel: Any = "chat",
                    url: Optional[str] = None, now: Optional[dt.datetime] = None,
                    max_comment: int = MAX_COMMENT, session: Optional[Session] = None) -> Feedback:
    """Store a rating of a conversation the tracker store knows; nothing is stored on bad input.

    With ``session`` the row is written in the caller's transaction."""
    checked = check_feedback(conversation_id, rating, comment, channel, max_comment)
    with use_session(session, url) as work:
        conn = work.connection()
        known = has_events_table(conn) and conn.execute(
            select(RASA_EVENTS.c.id).where(RASA_EVENTS.c.sender_id == checked.conversation_id).limit(1)
        ).first() is not None
        if not known:
            raise FeedbackRejected("unknown_conversation")
        count = work.execute(
            select(func.count()).select_from(Feedback).where(Feedback.conversation_id == checked.conversation_id)
        ).scalar_one()
        if count >= MAX_PER_CONVERSATION:
            raise FeedbackRejected("too_many")
        row = Feedback(
            id=str(uuid.uuid4()),
            conversation_id=checked.conversation_id,
            rating=checked.rating,
            comment=checked.comment,
            channel=checked.channel,
            created_at=now or dt.datetime.now(dt.timezone.utc),
        )
        work.add(row)
    log.info("feedback %s stored: rating=%s channel=%s comment=%s", row.id, row.rating, row.channel,
             "yes" if row.comment else "no")
    return row


def dtmf_feedback(conversation_id: str, digit: str, url: Optional[str] = None) -> Optional[Feedback]:
    """The phone's one-key rating (when quality.yml enables it); other keys store nothing."""
    rating = DTMF_RATINGS.get(digit)
    if rating is None:
        return None
    return record_feedback(conversation_id, rating, None, "voice", url=url)
