"""The voice pipeline's event trace: real Vosk (Korean model) and real pyttsx3; the dialogue
stage is a stand-in here (Rasa runs in test_voice_handoff.py)."""

from __future__ import annotations

import asyncio
from typing import List

import pytest

from speech.audio import level
from speech.dialogue import texts_of
from speech.error import DialogueError
from speech.events import EventType, Trace
from speech.pipeline import PipelineSettings, VoicePipeline
from speech.stream import AudioInput
from speech.tts import Synthesizer, TtsSettings
from tests.speech.conftest import silence

pytestmark = pytest.mark.speech

ANSWER = "Der Personalausweis kostet siebenunddreißig Euro. Sie bekommen ihn im Bürgerbüro."


class StandInDialogue:
    def __init__(self, replies: List[str], delay: float = 0.0, fail: bool = False) -> None:
        self.replies, self.delay, self.fail = replies, delay, fail
        self.heard: List[str] = []

    async def respond(self, conversation_id: str, text: str) -> List[str]:
        self.heard.append(text)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise DialogueError("dialogue-unavailable", "Rasa is not reachable")
        return self.replies


@pytest.fixture(scope="module")
def tts():
    synthesizer = Synthesizer(TtsSettings(workers=2))
    yield synthesizer
    synthesizer.close()


def run_turn(engine, tts, dialogue, pcm=None, text=None, timeout=30.0):
    async def main():
        trace = Trace()
        played: List[bytes] = []

        async def play(chunk: bytes) -> None:
            played.append(chunk)

        pipeline = VoicePipeline("a" * 32, engine.session(), dialogue, tts, trace,
                                 PipelineSettings(turn_timeout=timeout, output_rate=8000))
        result = await pipeline.run_turn(AudioInput.of(pcm or b""), play, text=text)
        return result, trace, played

    return asyncio.run(main())


def test_a_turn_with_stand_in_dialogue_emits_every_stage_in_order(korean_engine, espeak, tts):
    dialogue = StandInDialogue([ANSWER])
    result, trace, played = run_turn(korean_engine, tts, dialogue, silence(0.3) + espeak("감사합니다") + silence(1.5))
    assert result.error is None and result.transcript == "감사합니다"
    assert dialogue.heard == ["감사합니다"]
    assert trace.types() == [
        "run-start", "stt-start", "stt-vad-start", "stt-vad-end", "stt-end",
        "dialogue-start", "dialogue-end", "tts-start", "tts-audio", "tts-end", "run-end",
    ]
    assert trace.first(EventType.TTS_END).data["sentences"] == 2  # streamed sentence by sentence
    assert len(played) == 2 and all(level(p) > 500 for p in played)


def test_a_request_typed_as_dtmf_skips_speech_recognition(korean_engine, tts):
    dialogue = StandInDialogue(["Ich verbinde Sie."])
    result, trace, _ = run_turn(korean_engine, tts, dialogue, text="/human")
    assert dialogue.heard == ["/human"]
    assert "stt-start" not in trace.types() and result.error is None


def test_an_unreachable_dialogue_becomes_one_error_event_with_its_code(korean_engine, espeak, tts):
    result, trace, played = run_turn(korean_engine, tts, StandInDialogue([], fail=True),
                                     espeak("서울") + silence(1.5))
    assert result.code == "dialogue-unavailable"
    assert trace.errors() == ["dialogue-unavailable"]
    assert trace.types()[-2:] == ["error", "run-end"] and not played


def test_a_turn_that_takes_too_long_ends_with_a_timeout_error(korean_engine, tts):
    result, trace, _ = run_turn(korean_engine, tts, StandInDialogue([ANSWER], delay=5), text="Hallo", timeout=0.5)
    assert result.code == "timeout" and trace.errors() == ["timeout"]


def test_silence_ends_the_turn_with_no_speech_and_never_asks_the_dialogue(korean_engine, tts):
    dialogue = StandInDialogue([ANSWER])
    result, trace, _ = run_turn(korean_engine, tts, dialogue, silence(2.0))
    assert result.code == "stt-no-speech" and dialogue.heard == []


def test_rasa_messages_become_spoken_texts_and_anything_else_is_refused():
    assert texts_of([{"recipient_id": "x", "text": "Guten Tag."}, {"image": "x.png"}]) == ["Guten Tag."]
    with pytest.raises(DialogueError):
        texts_of({"text": "kein Array"})
