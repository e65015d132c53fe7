"""Text-to-speech with pyttsx3 and espeak-ng's German voice, isolated in worker processes."""

from __future__ import annotations

import asyncio

import pytest

from speech.audio import level
from speech.error import TextToSpeechError
from speech.tts import Synthesizer, TtsSettings, split_sentences

pytestmark = pytest.mark.speech


def test_answers_are_split_into_sentences_for_streaming():
    text = "Der Personalausweis kostet siebenunddreißig Euro. Bringen Sie ein Foto mit! Noch Fragen?"
    assert split_sentences(text) == [
        "Der Personalausweis kostet siebenunddreißig Euro.", "Bringen Sie ein Foto mit!", "Noch Fragen?",
    ]
    assert all(len(s) <= 400 for s in split_sentences("Wort, " * 200))


def test_many_consecutive_syntheses_in_one_process_do_not_hang():
    async def main():
        tts = Synthesizer(TtsSettings(workers=1))
        try:
            results = [await tts.synthesize(f"Das ist Satz Nummer {i}.", 8000) for i in range(40)]
        finally:
            tts.close()
        return results, tts.restarts

    results, restarts = asyncio.run(main())
    assert len(results) == 40 and restarts == 0
    for pcm in results:
        assert level(pcm) > 500  # audible speech, 8 kHz PCM
        assert 0.5 < len(pcm) / 16000 < 5  # seconds at 8 kHz, 16-bit


def test_first_sentence_is_ready_before_the_whole_answer_is_synthesised():
    requested = []

    class Counting(Synthesizer):
        async def synthesize(self, text, rate=16000, cache=False):
            requested.append(text)
            return await super().synthesize(text, rate, cache)

    async def main():
        tts = Counting(TtsSettings(workers=2))
        await tts.prepare()
        requested.clear()
        got = []
        try:
            async for pcm in tts.stream("Guten Tag. Das Bürgerbüro hat heute geöffnet. Auf Wiederhören."):
                got.append((pcm, len(requested)))
        finally:
            tts.close()
        return got

    chunks = asyncio.run(main())
    assert len(chunks) == 3 and all(level(pcm) > 500 for pcm, _ in chunks)
    # When the first sentence is handed out, at most the second one has been started.
    assert chunks[0][1] <= 2


def test_fixed_prompts_come_from_the_cache_the_second_time():
    async def main():
        tts = Synthesizer(TtsSettings(workers=1))
        try:
            first = await tts.synthesize("Einen Moment bitte.", 8000, cache=True)
            tts.close()  # no worker any more: only the cache can answer
            second = await tts.synthesize("Einen Moment bitte.", 8000, cache=True)
        finally:
            tts.close()
        return first, second

    first, second = asyncio.run(main())
    assert first is second


def test_a_synthesis_that_hangs_replaces_its_worker_and_the_next_one_works():
    async def main():
        tts = Synthesizer(TtsSettings(workers=1, timeout=0.001))
        try:
            with pytest.raises(TextToSpeechError) as info:
                await tts.synthesize("Dieser Satz ist zu lang für eine Millisekunde. " * 5)
            code = info.value.code
            tts.settings = TtsSettings(workers=1, timeout=10)
            for worker in tts._workers:
                worker.settings = tts.settings
            pcm = await tts.synthesize("Jetzt geht es wieder.")
        finally:
            tts.close()
        return code, tts.restarts, pcm

    code, restarts, pcm = asyncio.run(main())
    assert code == "tts-timeout" and restarts >= 1
    assert level(pcm) > 500


def test_rate_and_voice_are_checked():
    with pytest.raises(ValueError, match="rate"):
        TtsSettings(rate=5)
