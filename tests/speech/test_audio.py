"""G.711 and resampling at the boundary, WAV handling."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from speech.audio import (
    AudioFormatError,
    Resampler,
    alaw_decode,
    alaw_encode,
    level,
    read_wav,
    resample,
    to_internal,
    ulaw_decode,
    ulaw_encode,
    wav_bytes,
)


def tone(freq: float, seconds: float, rate: int, amplitude: int = 8000) -> bytes:
    n = int(seconds * rate)
    return struct.pack(f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))


@pytest.mark.parametrize("encode,decode", [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_g711_round_trip_keeps_the_signal_within_companding_error(encode, decode):
    pcm = tone(440, 0.1, 8000)
    coded = encode(pcm)
    assert len(coded) == len(pcm) // 2  # one byte per sample on the wire
    back = np.frombuffer(decode(coded), "<i2").astype(float)
    original = np.frombuffer(pcm, "<i2").astype(float)
    assert np.max(np.abs(back - original)) < 0.04 * 8000 + 16


def test_known_ulaw_codes_decode_to_silence_and_full_scale():
    assert level(ulaw_decode(b"\xff" * 160)) == 0  # 0xFF is μ-law zero
    assert level(ulaw_decode(b"\x00" * 160)) > 30000


def test_streaming_resampler_doubles_telephone_audio_without_gaps():
    resampler = Resampler(8000, 16000)
    pcm = tone(300, 1.0, 8000)
    out = b"".join(resampler.convert(pcm[i:i + 320]) for i in range(0, len(pcm), 320))
    assert abs(len(out) - 2 * len(pcm)) <= 8
    assert abs(level(out) - level(pcm)) < 0.05 * level(pcm)


def test_streaming_resampler_keeps_an_odd_byte_for_the_next_chunk():
    resampler = Resampler(8000, 8000)
    assert resampler.convert(b"\x01\x02\x03") == b"\x01\x02"
    assert resampler.convert(b"\x04") == b"\x03\x04"


def test_block_resampling_removes_tones_above_the_telephone_band():
    high = tone(6000, 0.5, 16000)  # above 4 kHz: must not fold back into the 8 kHz signal
    assert level(resample(high, 16000, 8000)) < 0.05 * level(high)
    low = tone(500, 0.5, 16000)
    assert level(resample(low, 16000, 8000)) > 0.9 * level(low)


def test_stereo_8bit_and_44k_audio_is_converted_to_the_internal_format():
    stereo = tone(440, 0.5, 44100)
    stereo = b"".join(stereo[i:i + 2] * 2 for i in range(0, len(stereo), 2))
    out = to_internal(stereo, 44100, 2, 2)
    assert abs(len(out) - 16000) <= 4  # 0.5 s at 16 kHz, 2 bytes a sample
    assert to_internal(bytes([128]) * 800, 8000, 1, 1) == b"\0\0" * 1600  # unsigned 8-bit silence


@pytest.mark.parametrize("args,message", [
    ((b"\0" * 6, 16000, 5, 1), "width"),
    ((b"\0" * 6, 16000, 2, 6), "channel"),
    ((b"\0" * 6, 1000, 2, 1), "rate"),
    ((b"\0" * 5, 16000, 2, 1), "whole number"),
])
def test_wrong_format_is_refused_with_a_clear_message(args, message):
    with pytest.raises(AudioFormatError, match=message):
        to_internal(*args)


def test_wav_round_trip_and_garbage_is_not_a_wav():
    pcm = tone(440, 0.1, 16000)
    assert read_wav(wav_bytes(pcm)) == (pcm, 16000, 2, 1)
    with pytest.raises(AudioFormatError):
        read_wav(b"RIFF nonsense, not audio")
