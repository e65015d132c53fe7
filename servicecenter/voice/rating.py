"""The one-key rating on the phone (quality.yml ``feedback.voice_dtmf_rating``).

When it is offered: once per call, when the caller is silent after the assistant has
answered a question. Instead of "Sind Sie noch da?" the caller hears
``prompts.RATING_OFFER`` ("War meine Auskunft hilfreich? ... die Eins ... die Zwei ...
Oder stellen Sie einfach Ihre nächste Frage."). A caller who keeps asking is never
interrupted, a caller who has just heard the answer is not rushed, and a caller who hangs
up right after the answer is not held on the line. Never offered when the call was handed
over (transfer, callback offer) or was an emergency: the conversation's outcomes in
Rasa's tracker store (the ``outcome`` slot set by the actions) decide.

1 = hilfreich ("up"), 2 = nicht hilfreich ("down"), stored by
``servicecenter.reports.feedback.dtmf_feedback`` with channel "voice" and the call's
conversation id; every other key keeps its meaning (0 = a person).
"""

from __future__ import annotations

import json
import logging
from typing import Optional

from sqlalchemy import select

from servicecenter.db import get_engine

log = logging.getLogger(__name__)

ANSWER, SMALLTALK = "answer", "smalltalk"
# Outcomes after which a rating of "the answer" would be out of place.
NO_RATING_AFTER = frozenset({"handoff", "emergency"})


def enabled() -> bool:
    """The quality handbook's switch (reloaded when the knowledge folder changes)."""
    from servicecenter.town import town_config

    return town_config().quality.config.feedback.voice_dtmf_rating


def answered_without_handoff(db_url: str, conversation_id: str) -> bool:
    """True when the conversation's last question was answered and the call had neither a
    handoff nor an emergency (small talk such as "danke, tschüss" after the answer is fine)."""
    from servicecenter.rasa_tables import RASA_EVENTS, has_events_table

    e = RASA_EVENTS.c
    engine = get_engine(db_url)
    with engine.connect() as conn:
        if not has_events_table(conn):
            return False
        rows = conn.execute(
            select(e.data).where(e.sender_id == conversation_id, e.type_name == "slot",
                                 e.action_name == "outcome").order_by(e.id)
        ).scalars().all()
    outcomes = []
    for data in rows:
        try:
            value = json.loads(data or "{}").get("value")
        except ValueError:
            continue
        if isinstance(value, str) and value != SMALLTALK:
            outcomes.append(value)
    return bool(outcomes) and outcomes[-1] == ANSWER and not set(outcomes) & NO_RATING_AFTER


def should_offer(db_url: Optional[str], conversation_id: str) -> bool:
    """Whether to offer the rating now (blocking: run it in an executor)."""
    if not db_url:
        return False
    try:
        return enabled() and answered_without_handoff(db_url, conversation_id)
    except Exception:  # a broken quality.yml or database must not disturb the call
        log.exception("call=%s rating offer check failed", conversation_id)
        return False


def store(db_url: Optional[str], conversation_id: str, digit: str) -> Optional[str]:
    """Store the rating of ``digit`` (1/2); the stored rating, or None if nothing was stored."""
    from servicecenter.reports.feedback import FeedbackRejected, dtmf_feedback

    try:
        row = dtmf_feedback(conversation_id, digit, url=db_url)
    except FeedbackRejected as err:
        log.warning("call=%s rating not stored: %s", conversation_id, err.code)
        return None
    return None if row is None else row.rating
