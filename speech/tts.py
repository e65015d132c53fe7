"""Text-to-speech with pyttsx3 (espeak-ng), isolated in worker processes.

pyttsx3's engine loop can hang on repeated ``runAndWait()`` and is not thread-safe, so each
engine lives in its own process; a synthesis that does not finish in time kills and
replaces that worker instead of blocking the server. Answers are split into sentences and
each sentence is streamed as soon as it is rendered, so the first audio leaves before the
whole answer is synthesised. Fixed prompts (greeting, "einen Moment bitte") are cached.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import tempfile
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import AsyncIterator, List, Optional, Tuple

from speech.audio import AudioFormatError, read_wav, resample, to_internal
from speech.const import SAMPLE_RATE, TTS_TIMEOUT
from speech.error import TextToSpeechError

log = logging.getLogger(__name__)

_SENTENCE_RE = re.compile(r"(?<=[.!?:;])\s+(?=[A-ZÄÖÜ0-9„\"])")
MAX_SENTENCE_CHARS = 400
STARTUP_TIMEOUT = 60.0  # seconds for a worker process to load pyttsx3 and espeak-ng


@dataclass(frozen=True)
class TtsSettings:
    voice: str = "gmw/de"  # espeak-ng's German voice as pyttsx3 names it
    rate: int = 165  # words per minute
    volume: float = 1.0
    workers: int = 2
    timeout: float = TTS_TIMEOUT
    # A worker is replaced after this many syntheses, so a slow leak in the engine cannot grow.
    recycle_after: int = 500
    cache_size: int = 64

    def __post_init__(self) -> None:
        if not 80 <= self.rate <= 400:
            raise ValueError("rate must be between 80 and 400 words per minute")
        if not 0.0 < self.volume <= 1.0:
            raise ValueError("volume must be in (0, 1]")
        if self.workers < 1 or self.timeout <= 0:
            raise ValueError("workers must be >= 1 and timeout > 0")


def split_sentences(text: str) -> List[str]:
    """Sentences of ``text`` in order; very long ones are cut at commas."""
    sentences: List[str] = []
    for part in _SENTENCE_RE.split(" ".join(text.split())):
        while len(part) > MAX_SENTENCE_CHARS:
            cut = part.rfind(",", 0, MAX_SENTENCE_CHARS)
            cut = cut + 1 if cut > 0 else MAX_SENTENCE_CHARS
            sentences.append(part[:cut].strip())
            part = part[cut:].strip()
        if part.strip():
            sentences.append(part.strip())
    return sentences


EMPTY_WAV = (b"", 0, 2, 1)


def _worker_main(conn: Connection, voice: str, rate: int, volume: float) -> None:
    """Worker process: one pyttsx3 engine; requests are texts, answers WAV frames or an error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # pyttsx3 prints "Audio saved to ..." on stdout
    import pyttsx3

    engine = pyttsx3.init("espeak")
    engine.setProperty("voice", voice)
    engine.setProperty("rate", rate)
    engine.setProperty("volume", volume)
    conn.send(("ready", None))
    with tempfile.TemporaryDirectory(prefix="tts-") as workdir:
        path = os.path.join(workdir, "out.wav")
        while True:
            text = conn.recv()
            if text is None:
                break
            try:
                # pyttsx3's espeak driver now and then returns from runAndWait() before it wrote
                # the audio (no file, an empty one or only part of its header, seen under CPU
                # load); such a result is rendered again (a real failure stays empty).
                for _ in range(3):
                    engine.save_to_file(text, path)
                    engine.runAndWait()
                    try:
                        result = read_wav(path) if os.path.exists(path) else EMPTY_WAV
                    except AudioFormatError:
                        result = EMPTY_WAV
                    if result[0]:
                        break
                    if os.path.exists(path):
                        os.unlink(path)
                conn.send(("ok", result))
            except Exception as err:  # reported to the parent, which raises a typed error
                conn.send(("error", f"{type(err).__name__}: {err}"))
            finally:
                if os.path.exists(path):
                    os.unlink(path)


class _Worker:
    """One engine process; ``restart`` replaces a hung or worn-out process in place."""

    def __init__(self, settings: TtsSettings) -> None:
        self.settings = settings
        self._start()

    def _start(self) -> None:
        self.count = 0
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, self.settings.voice, self.settings.rate, self.settings.volume),
            daemon=True, name="tts-worker",
        )
        self.process.start()
        child.close()
        # Starting the interpreter and the engine is not part of any synthesis' time budget.
        if not self.conn.poll(STARTUP_TIMEOUT) or self.conn.recv()[0] != "ready":
            self.process.kill()
            raise TextToSpeechError("tts-start-failed", "the speech synthesis worker did not start")

    def synthesize(self, text: str) -> Tuple[bytes, int]:
        """(16-bit mono PCM, its sample rate) for ``text``; TextToSpeechError on failure or hang."""
        self.count += 1
        try:
            self.conn.send(text)
            if not self.conn.poll(self.settings.timeout):
                raise TextToSpeechError("tts-timeout", f"synthesis took longer than {self.settings.timeout:g} s")
            status, payload = self.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError) as err:
            raise TextToSpeechError("tts-worker-died", "the speech synthesis worker stopped") from err
        if status != "ok":
            raise TextToSpeechError("tts-failed", str(payload))
        pcm, rate, width, channels = payload
        if width != 2 or channels != 1:
            return to_internal(pcm, rate, width, channels), SAMPLE_RATE
        return pcm, rate

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)
        self.conn.close()

    def restart(self) -> None:
        self.stop(kill=True)
        self._start()


class Synthesizer:
    """A pool of pyttsx3 worker processes behind an async, sentence-streaming interface."""

    def __init__(self, settings: TtsSettings = TtsSettings()) -> None:
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="tts")
        self._idle: "Optional[asyncio.Queue[_Worker]]" = None
        self._workers: List[_Worker] = []
        self._cache: "OrderedDict[Tuple[str, int], bytes]" = OrderedDict()
        self._lock = threading.Lock()
        self.restarts = 0

    async def prepare(self) -> None:
        """Start the workers (before the first call) and check that the voice speaks."""
        if self._idle is not None:
            return
        loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        for _ in range(self.settings.workers):
            worker = await loop.run_in_executor(self._executor, _Worker, self.settings)
            self._workers.append(worker)
            self._idle.put_nowait(worker)
        await self.synthesize("Test.", SAMPLE_RATE)

    def _run(self, worker: _Worker, text: str) -> Tuple[_Worker, Tuple[bytes, int]]:
        try:
            result = worker.synthesize(text)
        except TextToSpeechError:
            self._replace(worker)
            raise
        if worker.count >= self.settings.recycle_after:
            self._replace(worker)
        return worker, result

    def _replace(self, worker: _Worker) -> None:
        worker.restart()
        with self._lock:
            self.restarts += 1

    async def synthesize(self, text: str, rate: int = SAMPLE_RATE, cache: bool = False) -> bytes:
        """16-bit mono PCM at ``rate`` for one sentence (or a short prompt)."""
        key = (text, rate)
        if cache and key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if self._idle is None:
            await self.prepare()
        assert self._idle is not None
        worker = await self._idle.get()
        loop = asyncio.get_running_loop()
        try:
            _, (pcm, source_rate) = await loop.run_in_executor(self._executor, self._run, worker, text)
        finally:
            self._idle.put_nowait(worker)
        if not pcm:
            raise TextToSpeechError("tts-empty", "the synthesis produced no audio")
        pcm = await loop.run_in_executor(self._executor, resample, pcm, source_rate, rate)
        if cache:
            self._cache[key] = pcm
            while len(self._cache) > self.settings.cache_size:
                self._cache.popitem(last=False)
        return pcm

    async def stream(self, text: str, rate: int = SAMPLE_RATE) -> AsyncIterator[bytes]:
        """Audio of ``text`` sentence by sentence; the next sentence renders while one plays."""
        sentences = split_sentences(text)
        if not sentences:
            return
        pending = asyncio.ensure_future(self.synthesize(sentences[0], rate))
        try:
            for index in range(len(sentences)):
                pcm = await pending
                if index + 1 < len(sentences):
                    pending = asyncio.ensure_future(self.synthesize(sentences[index + 1], rate))
                yield pcm
        finally:
            if not pending.done():
                pending.cancel()

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        self._idle = None
        self._executor.shutdown(wait=False, cancel_futures=True)
