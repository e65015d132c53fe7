"""The one-key rating on the phone (quality.yml feedback.voice_dtmf_rating).

End to end with SIPp as the caller: the caller's German question enters at the speech-to-text
boundary (tests/speech/transcript_gateway.py; the German Vosk model cannot be downloaded here),
the real Rasa assistant answers through its voice channel, the caller stays silent and presses 1
(RFC 4733) every few seconds until the assistant hangs up. With the switch on, the rating is
offered once after the answer and stored with channel "voice" and the call's conversation id;
with the switch off, nobody is asked and nothing is stored.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import List

import pytest
from sqlalchemy import insert, select

from benchmarks.sip_harness import korean_model_path, running_gateway, sipp, stack_env
from servicecenter.db import get_engine, session_scope
from servicecenter.rasa_tables import RASA_EVENTS, create_events_table
from servicecenter.reports.models import Feedback
from tests.conftest import edited_yaml

QUESTION = "Was kostet ein Reisepass?"


def voice_rating(knowledge_dir: Path, on: bool):  # type: ignore[no-untyped-def]
    """Switch the phone rating in a test's knowledge copy; the gateway reloads it on change."""
    return edited_yaml(knowledge_dir / "quality.yml",
                       lambda config: config.setdefault("feedback", {}).__setitem__("voice_dtmf_rating", on))


def call_with_question(stack, tmp_path: Path, rating_on: bool):  # type: ignore[no-untyped-def]
    env = stack_env(stack, ASSISTANT_VOICE_SILENCE_SECONDS="3", TEST_CALLER_TRANSCRIPT=QUESTION)
    with voice_rating(stack.knowledge_dir, rating_on), running_gateway(
            tmp_path, korean_model_path(), module="tests.speech.transcript_gateway", **env) as gw:
        run = sipp("answer_then_rate.xml", gw.sip_port, tmp_path, timeout_s=150,
                   keys={"payload": "0", "codec": "PCMU"})
        log = gw.log()
    assert run.ok, run.output + log[-3000:]
    call_id = log.split("call=")[1].split()[0]
    prompts = [line.split("prompt=")[1].strip() for line in log.splitlines() if "prompt=" in line]
    return call_id, prompts, log


def feedback_of(url: str, conversation_id: str) -> List[Feedback]:
    with session_scope(url) as session:
        rows = list(session.execute(select(Feedback).where(Feedback.conversation_id == conversation_id)).scalars())
        session.expunge_all()
        return rows


@pytest.mark.integration
def test_after_an_answer_and_silence_the_caller_rates_it_with_key_1(stack, tmp_path):
    call_id, prompts, log = call_with_question(stack, tmp_path, rating_on=True)
    # Offered once, instead of "Sind Sie noch da?"; thanked, then a polite goodbye and BYE.
    assert prompts == ["greeting", "rating-offer", "rating-thanks", "goodbye"], log[-3000:]
    [row] = feedback_of(stack.settings.db_url, call_id)
    assert (row.rating, row.channel, row.comment) == ("up", "voice", None)


@pytest.mark.integration
def test_with_the_switch_off_key_1_after_an_answer_stores_nothing(stack, tmp_path):
    call_id, prompts, log = call_with_question(stack, tmp_path, rating_on=False)
    assert prompts == ["greeting", "still-there", "goodbye-silent"], log[-3000:]
    assert "dtmf=other" in log  # the caller did press 1: it just means nothing here
    assert feedback_of(stack.settings.db_url, call_id) == []


# --- when the rating is offered: the conversation's outcomes in the tracker store ---------


@pytest.fixture()
def events_db(session_db):
    create_events_table(get_engine(session_db))
    return session_db


def conversation_with(url: str, *outcomes: str) -> str:
    sender = uuid.uuid4().hex
    with get_engine(url).begin() as conn:
        for i, outcome in enumerate(outcomes):
            conn.execute(insert(RASA_EVENTS).values(
                sender_id=sender, type_name="slot", timestamp=1_790_000_000.0 + i, action_name="outcome",
                data=json.dumps({"event": "slot", "name": "outcome", "value": outcome}),
            ))
    return sender


@pytest.mark.parametrize("outcomes, offered", [
    (("answer",), True),
    (("answer", "smalltalk"), True),  # "danke, tschüss" after the answer
    (("fallback", "answer"), True),
    (("answer", "fallback"), False),  # the last question was not answered
    (("answer", "handoff"), False),  # handed over (transfer or callback)
    (("handoff", "answer"), False),
    (("emergency", "answer"), False),
    (("smalltalk",), False),
    ((), False),
])
def test_rating_is_offered_only_after_an_answer_without_handoff_or_emergency(events_db, outcomes, offered):
    from servicecenter.voice.rating import answered_without_handoff

    assert answered_without_handoff(events_db, conversation_with(events_db, *outcomes)) is offered


def test_key_2_stores_not_helpful_and_other_keys_store_nothing(events_db):
    from servicecenter.voice.rating import store

    sender = conversation_with(events_db, "answer")
    with get_engine(events_db).begin() as conn:  # the tracker store knows the call
        conn.execute(insert(RASA_EVENTS).values(
            sender_id=sender, type_name="user", timestamp=1_790_000_000.0, intent_name="ask_fee",
            data=json.dumps({"event": "user", "input_channel": "voice"})))
    assert store(events_db, sender, "3") is None
    assert store(events_db, sender, "2") == "down"
    [row] = feedback_of(events_db, sender)
    assert (row.rating, row.channel) == ("down", "voice")


def test_rating_for_an_unknown_conversation_is_not_stored(events_db):
    from servicecenter.voice.rating import store

    sender = uuid.uuid4().hex
    assert store(events_db, sender, "1") is None
    assert feedback_of(events_db, sender) == []


def test_a_not_helpful_phone_rating_shows_up_in_the_trainer_inbox(events_db):
    from servicecenter.trainer import inbox
    from servicecenter.voice.rating import store

    sender = conversation_with(events_db, "answer")
    with get_engine(events_db).begin() as conn:
        conn.execute(insert(RASA_EVENTS).values(
            sender_id=sender, type_name="user", timestamp=time.time(), intent_name="ask_fee",
            data=json.dumps({"event": "user", "text": "Was kostet ein Reisepass?", "input_channel": "voice",
                             "parse_data": {"intent": {"name": "ask_fee", "confidence": 0.9}}})))
    assert store(events_db, sender, "2") == "down"
    while inbox.sync(events_db).read_events:
        pass
    items, _ = inbox.list_items(inbox.Filters(negative_feedback=True, channel="voice"), url=events_db,
                                page_size=1000)
    [item] = [i for i in items if i.message.conversation_id == sender]
    assert item.negative_feedback and item.message.text == "Was kostet ein Reisepass?"
