"""Audio at the boundary: G.711 (μ-law, A-law), resampling, WAV in and out, levels.

Inside the pipeline audio is always 16 kHz, 16-bit, mono PCM (``speech.const``); these
functions convert what arrives from a telephone line or a browser, and what leaves for it.
``audioop`` is in the standard library of Python 3.10 (the version this project runs on).
"""

from __future__ import annotations

import audioop
import io
import wave
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
from scipy.signal import resample_poly

from speech.const import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH


class AudioFormatError(ValueError):
    """Audio in a format the pipeline cannot take; the message says what was expected."""


@dataclass(frozen=True)
class AudioChunk:
    """A piece of PCM audio that carries its own format."""

    audio: bytes
    rate: int = SAMPLE_RATE
    width: int = SAMPLE_WIDTH
    channels: int = CHANNELS
    timestamp_ms: int = 0

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.audio) / (self.rate * self.width * self.channels)


def ulaw_decode(payload: bytes) -> bytes:
    """G.711 μ-law (PCMU) bytes to 16-bit PCM at the same rate."""
    return audioop.ulaw2lin(payload, SAMPLE_WIDTH)


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM to G.711 μ-law (PCMU)."""
    return audioop.lin2ulaw(pcm, SAMPLE_WIDTH)


def alaw_decode(payload: bytes) -> bytes:
    """G.711 A-law (PCMA) bytes to 16-bit PCM at the same rate."""
    return audioop.alaw2lin(payload, SAMPLE_WIDTH)


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM to G.711 A-law (PCMA)."""
    return audioop.lin2alaw(pcm, SAMPLE_WIDTH)


G711 = {"PCMU": (ulaw_decode, ulaw_encode), "PCMA": (alaw_decode, alaw_encode)}


class Resampler:
    """Streaming sample-rate converter for 16-bit mono PCM; keeps its state across chunks.

    For live audio in small frames (telephone to recogniser). Whole blocks that are known
    at once (a synthesised sentence) go through :func:`resample`, which filters properly.
    """

    def __init__(self, source_rate: int, target_rate: int) -> None:
        if source_rate <= 0 or target_rate <= 0:
            raise AudioFormatError("sample rates must be positive")
        self.source_rate = source_rate
        self.target_rate = target_rate
        self._state: Optional[tuple] = None
        self._odd = b""

    def convert(self, pcm: bytes) -> bytes:
        pcm = self._odd + pcm
        if len(pcm) % SAMPLE_WIDTH:
            pcm, self._odd = pcm[:-1], pcm[-1:]
        else:
            self._odd = b""
        if self.source_rate == self.target_rate or not pcm:
            return pcm
        out, self._state = audioop.ratecv(pcm, SAMPLE_WIDTH, 1, self.source_rate, self.target_rate, self._state)
        return out


def resample(pcm: bytes, source_rate: int, target_rate: int) -> bytes:
    """Resample a whole block of 16-bit mono PCM with a polyphase anti-aliasing filter."""
    if source_rate == target_rate or not pcm:
        return pcm
    factor = gcd(source_rate, target_rate)
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32)
    out = resample_poly(samples, target_rate // factor, source_rate // factor)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


def to_internal(pcm: bytes, rate: int, width: int, channels: int) -> bytes:
    """Convert any PCM block to the pipeline's format (16 kHz, 16-bit, mono)."""
    if width not in (1, 2, 3, 4):
        raise AudioFormatError(f"unsupported sample width {width} bytes")
    if channels not in (1, 2):
        raise AudioFormatError(f"unsupported channel count {channels} (expected mono or stereo)")
    if not 4000 <= rate <= 192000:
        raise AudioFormatError(f"unsupported sample rate {rate} Hz")
    if len(pcm) % (width * channels):
        raise AudioFormatError("audio length is not a whole number of frames")
    if width != SAMPLE_WIDTH:
        if width == 1:  # WAV stores 8-bit PCM unsigned
            pcm = audioop.bias(pcm, 1, -128)
        pcm = audioop.lin2lin(pcm, width, SAMPLE_WIDTH)
    if channels == 2:
        pcm = audioop.tomono(pcm, SAMPLE_WIDTH, 0.5, 0.5)
    return resample(pcm, rate, SAMPLE_RATE)


def read_wav(source: Union[str, Path, bytes]) -> Tuple[bytes, int, int, int]:
    """(pcm, rate, width, channels) of a WAV file or WAV bytes; AudioFormatError if it is none."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    try:
        with wave.open(handle, "rb") as wav:
            return wav.readframes(wav.getnframes()), wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
    except (wave.Error, EOFError) as err:
        raise AudioFormatError(f"not a PCM WAV file: {err}") from err
    finally:
        handle.close()


def wav_bytes(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM wrapped as a WAV file in memory."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buf.getvalue()


def level(pcm: bytes) -> int:
    """Root-mean-square level of 16-bit PCM (0 for digital silence, ~32767 full scale)."""
    return audioop.rms(pcm[: len(pcm) // 2 * 2], SAMPLE_WIDTH) if len(pcm) >= 2 else 0
