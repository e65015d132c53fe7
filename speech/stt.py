"""Speech-to-text with Vosk: one model per process, one recogniser per call.

Recogniser calls block (Kaldi decoding); they run in a thread pool so the event loop that
serves other calls never waits for them (Vosk's C calls release the GIL). Endpointing
happens here: Vosk's endpoint rules decide when an utterance is over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Deque, Dict, List, Optional, Sequence, Tuple

from speech.audio import level
from speech.const import (
    ENDPOINT_DELAY_LONG,
    ENDPOINT_DELAY_MAX,
    ENDPOINT_DELAY_SHORT,
    MAX_UTTERANCE,
    NO_SPEECH_TIMEOUT,
    SAMPLE_RATE,
    STT_BLOCK_BYTES,
)
from speech.error import NoSpeechError, SpeechToTextError
from speech.events import EventCallback, EventType, PipelineEvent
from speech.stream import AudioInput

log = logging.getLogger(__name__)

UNKNOWN = "[unk]"
PREROLL_BLOCKS = 3  # audio kept from before the speech onset (3 x 100 ms)
_models: Dict[Path, object] = {}
_models_lock = threading.Lock()


def load_model(path: Path) -> object:
    """The process's Vosk model for ``path``, loaded on first use (several seconds, ~1 GB for large ones)."""
    path = Path(path).resolve()
    with _models_lock:
        model = _models.get(path)
        if model is None:
            if not (path / "am").is_dir() and not (path / "final.mdl").exists():
                raise SpeechToTextError("stt-model-missing", f"no Vosk model at {path}")
            import vosk

            vosk.SetLogLevel(-1)
            try:
                model = vosk.Model(str(path))
            except Exception as err:  # vosk raises a bare Exception when Kaldi refuses the files
                raise SpeechToTextError("stt-model-invalid", f"Vosk could not load the model at {path}") from err
            _models[path] = model
            log.info("Vosk model loaded from %s", path)
        return model


@dataclass(frozen=True)
class EndpointDelays:
    """Trailing silence (s) that ends an utterance: short after speech, long, and maximum length."""

    short: float = ENDPOINT_DELAY_SHORT
    long: float = ENDPOINT_DELAY_LONG
    maximum: float = ENDPOINT_DELAY_MAX

    def __post_init__(self) -> None:
        if not 0 < self.short <= self.long <= self.maximum:
            raise ValueError("endpoint delays must satisfy 0 < short <= long <= maximum")


@dataclass(frozen=True)
class SttSettings:
    no_speech_timeout: float = NO_SPEECH_TIMEOUT
    max_utterance: float = MAX_UTTERANCE
    # RMS level (16-bit) a block must reach before the recogniser hears anything.
    speech_level: int = 200
    endpoint: EndpointDelays = EndpointDelays()

    def __post_init__(self) -> None:
        if self.no_speech_timeout <= 0 or self.max_utterance <= 0:
            raise ValueError("timeouts must be positive")


class VoskEngine:
    """A loaded model plus what every recogniser of this process shares (grammar, pool)."""

    def __init__(
        self,
        model_path: Path,
        grammar: Optional[Sequence[str]] = None,
        settings: SttSettings = SttSettings(),
        workers: Optional[int] = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.settings = settings
        self.grammar = _grammar_json(grammar) if grammar else None
        self.executor = ThreadPoolExecutor(max_workers=workers or max(2, os.cpu_count() or 2),
                                           thread_name_prefix="vosk")
        self._model: Optional[object] = None

    def prepare(self) -> None:
        """Load the model now (before the first call), raising SpeechToTextError if it cannot be."""
        self._model = load_model(self.model_path)

    @property
    def supports_endpoint_delays(self) -> bool:
        import vosk

        return hasattr(vosk.KaldiRecognizer, "SetEndpointerDelays")

    def session(self, sample_rate: int = SAMPLE_RATE) -> "VoskSession":
        """A new recogniser for one call (or one browser conversation)."""
        if self._model is None:
            self.prepare()
        import vosk

        args: Tuple = (self._model, float(sample_rate))
        recognizer = vosk.KaldiRecognizer(*args, self.grammar) if self.grammar else vosk.KaldiRecognizer(*args)
        recognizer.SetWords(True)
        if self.supports_endpoint_delays:
            delays = self.settings.endpoint
            recognizer.SetEndpointerDelays(delays.short, delays.long, delays.maximum)
        # Otherwise the model's own rules apply (conf/model.conf, e.g. 0.5 s after speech).
        return VoskSession(recognizer, sample_rate, self)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _grammar_json(phrases: Sequence[str]) -> str:
    words = sorted({p.strip().lower() for p in phrases if p.strip()} - {UNKNOWN})
    return json.dumps(words + [UNKNOWN], ensure_ascii=False)


def _clean(text: str) -> str:
    return " ".join(w for w in text.split() if w != UNKNOWN)


class VoskSession:
    """One recogniser, reused for every utterance of one call; not shared between calls."""

    def __init__(self, recognizer: object, sample_rate: int, engine: VoskEngine) -> None:
        self._rec = recognizer
        self.sample_rate = sample_rate
        self._engine = engine
        self._block = STT_BLOCK_BYTES * sample_rate // SAMPLE_RATE

    def _accept(self, block: bytes) -> Tuple[bool, str]:
        rec = self._rec
        if rec.AcceptWaveform(block):  # type: ignore[attr-defined]
            return True, json.loads(rec.Result()).get("text", "")  # type: ignore[attr-defined]
        return False, json.loads(rec.PartialResult()).get("partial", "")  # type: ignore[attr-defined]

    def _final(self, rest: bytes = b"") -> str:
        rec = self._rec
        if rest and rec.AcceptWaveform(rest):  # type: ignore[attr-defined]
            return json.loads(rec.Result()).get("text", "")  # type: ignore[attr-defined]
        return json.loads(rec.FinalResult()).get("text", "")  # type: ignore[attr-defined]

    async def transcribe(self, audio: AudioInput, emit: EventCallback,
                         no_speech_timeout: Optional[float] = None) -> str:
        """Read audio until the recogniser detects the end of an utterance; return its text.

        Raises NoSpeechError if nothing was said within ``no_speech_timeout`` (default: the
        engine's setting; the phone passes the time until its prompt ends plus the silence
        allowed) or the audio ended first and SpeechToTextError("stt-no-text") if speech was heard but no word
        recognised. Audio after the endpoint stays in ``audio`` for the next utterance.
        """
        loop = asyncio.get_running_loop()
        settings = self._engine.settings
        executor = self._engine.executor
        emit(PipelineEvent(EventType.STT_START, {"rate": self.sample_rate}))
        buffer = bytearray()
        heard = False
        loud = False
        preroll: Deque[bytes] = deque(maxlen=PREROLL_BLOCKS)
        last_partial = ""
        deadline = loop.time() + (no_speech_timeout if no_speech_timeout is not None else settings.no_speech_timeout)
        text = ""
        while True:
            try:
                chunk = await audio.read(max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                if not heard:
                    raise NoSpeechError() from None
                text = await loop.run_in_executor(executor, self._final, bytes(buffer))
                emit(PipelineEvent(EventType.STT_ENDPOINT, {"reason": "max-length"}))
                break
            if chunk is None:
                text = await loop.run_in_executor(executor, self._final, bytes(buffer))
                if heard or _clean(text):
                    emit(PipelineEvent(EventType.STT_ENDPOINT, {"reason": "end-of-stream"}))
                break
            buffer += chunk
            if len(buffer) < self._block:
                continue
            block = bytes(buffer)
            buffer.clear()
            if not loud:
                # Energy gate: a quiet line is not decoded at all (a grammar-bound recogniser
                # would fit words to its noise, and decoding silence costs CPU per call).
                if level(block) < settings.speech_level:
                    preroll.append(block)
                    continue
                loud = True
                block = b"".join(preroll) + block  # keep the onset of the first word
                preroll.clear()
            endpoint, result = await loop.run_in_executor(executor, self._accept, block)
            if endpoint:
                if heard or (loud and _clean(result)):
                    text = result
                    # Decoding restarts cleanly at the next utterance (the leftover of this
                    # block would otherwise open the next result with a stray word).
                    await loop.run_in_executor(executor, self.reset)
                    emit(PipelineEvent(EventType.STT_ENDPOINT, {"reason": "silence"}))
                    break
                loud = False
                continue  # silence or noise only: Vosk closed a segment without speech; keep listening
            if _clean(result) and not heard:
                heard = True
                deadline = loop.time() + settings.max_utterance
                emit(PipelineEvent(EventType.STT_SPEECH_START, {}))
            if result and result != last_partial:
                last_partial = result
                emit(PipelineEvent(EventType.STT_PARTIAL, {"partial": _clean(result)}))
        text = _clean(text)
        if not text:
            if not heard:
                raise NoSpeechError("the audio ended without speech")
            raise SpeechToTextError("stt-no-text", "speech was heard but no word was recognised")
        emit(PipelineEvent(EventType.STT_END, {"text": text, "words": len(text.split())}))
        return text

    def reset(self) -> None:
        self._rec.Reset()  # type: ignore[attr-defined]


def words_of(phrases: Sequence[str]) -> List[str]:
    """Distinct lower-case words of ``phrases`` (for a recogniser grammar)."""
    return sorted({w for p in phrases for w in p.lower().split() if w})
