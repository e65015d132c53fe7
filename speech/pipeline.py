"""The voice pipeline: speech-to-text -> dialogue -> text-to-speech, one turn at a time.

Every stage emits start/end events, a failure becomes one ``error`` event with a code, and
one timeout bounds the whole turn. The phone gateway and the browser socket run the same
pipeline; what they differ in is where audio comes from and where it goes (``play``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable, List, Optional

from speech.const import SAMPLE_RATE, TURN_TIMEOUT
from speech.dialogue import Dialogue
from speech.error import PipelineError, TurnTimeoutError
from speech.events import EventCallback, EventType, PipelineEvent, PipelineStage
from speech.stream import AudioInput
from speech.stt import VoskSession
from speech.tts import Synthesizer

Play = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class PipelineSettings:
    turn_timeout: float = TURN_TIMEOUT
    output_rate: int = SAMPLE_RATE  # what the boundary plays (8 kHz on the phone)

    def __post_init__(self) -> None:
        if self.turn_timeout <= 0:
            raise ValueError("turn_timeout must be positive")


@dataclass
class TurnResult:
    transcript: str = ""
    replies: List[str] = field(default_factory=list)
    error: Optional[PipelineError] = None

    @property
    def code(self) -> Optional[str]:
        return self.error.code if self.error else None


class VoicePipeline:
    """One conversation's pipeline (one recogniser); ``run_turn`` handles one utterance."""

    def __init__(
        self,
        conversation_id: str,
        stt: VoskSession,
        dialogue: Dialogue,
        tts: Synthesizer,
        on_event: EventCallback,
        settings: PipelineSettings = PipelineSettings(),
    ) -> None:
        self.conversation_id = conversation_id
        self.stt = stt
        self.dialogue = dialogue
        self.tts = tts
        self.emit = on_event
        self.settings = settings

    async def run_turn(self, audio: AudioInput, play: Play, text: Optional[str] = None,
                       no_speech_timeout: Optional[float] = None) -> TurnResult:
        """Listen (or take ``text``, e.g. a DTMF request), answer and speak; never raises PipelineError.

        The turn's timeout runs from the moment the caller starts speaking (or from the start
        when ``text`` is given) to the last sentence of the answer; waiting for the caller to
        speak at all is bounded by the recogniser's own silence timeout.
        """
        result = TurnResult()
        self.emit(PipelineEvent(EventType.RUN_START, {"timeout": self.settings.turn_timeout}))
        started = time.monotonic()
        try:
            if text is None:
                speech_started: List[float] = []

                def watch(event: PipelineEvent) -> None:
                    if event.type is EventType.STT_SPEECH_START:
                        speech_started.append(event.timestamp)
                    self.emit(event)

                text = await self.stt.transcribe(audio, watch, no_speech_timeout)
                started = speech_started[0] if speech_started else started
            result.transcript = text
            remaining = self.settings.turn_timeout - (time.monotonic() - started)
            if remaining <= 0:
                raise TurnTimeoutError(self.settings.turn_timeout)
            work = asyncio.ensure_future(self._answer(text, play, result))
            # An error that races with a cancellation (caller hung up) is still collected.
            work.add_done_callback(lambda t: t.cancelled() or t.exception())
            try:
                await asyncio.wait_for(work, remaining)
            except asyncio.TimeoutError:
                raise TurnTimeoutError(self.settings.turn_timeout) from None
        except PipelineError as err:
            result.error = err
        if result.error is not None:
            self.emit(PipelineEvent(EventType.ERROR, {
                "code": result.error.code, "stage": result.error.stage, "message": result.error.message,
            }))
        self.emit(PipelineEvent(EventType.RUN_END, {"ms": round(1000 * (time.monotonic() - started))}))
        return result

    async def _answer(self, text: str, play: Play, result: TurnResult) -> None:
        result.replies = await self.respond(text)
        await self.speak(result.replies, play)

    async def respond(self, text: str) -> List[str]:
        self.emit(PipelineEvent(EventType.DIALOGUE_START, {"text": text}))
        replies = await self.dialogue.respond(self.conversation_id, text)
        self.emit(PipelineEvent(EventType.DIALOGUE_END, {"replies": replies, "count": len(replies)}))
        return replies

    async def speak(self, texts: List[str], play: Play, cache: bool = False) -> None:
        """Synthesise and play ``texts`` sentence by sentence (``cache`` for fixed prompts)."""
        rate = self.settings.output_rate
        for text in texts:
            self.emit(PipelineEvent(EventType.TTS_START, {"text": text, "chars": len(text)}))
            sentences = 0
            audio_ms = 0
            if cache:
                chunks: AsyncIterator[bytes] = _one(await self.tts.synthesize(text, rate, cache=True))
            else:
                chunks = self.tts.stream(text, rate)
            async for pcm in chunks:
                if sentences == 0:
                    self.emit(PipelineEvent(EventType.TTS_AUDIO, {"stage": PipelineStage.TTS.value}))
                sentences += 1
                audio_ms += len(pcm) * 1000 // (2 * rate)
                await play(pcm)
            self.emit(PipelineEvent(EventType.TTS_END, {"sentences": sentences, "audio_ms": audio_ms}))


async def _one(pcm: bytes) -> AsyncIterator[bytes]:
    yield pcm
