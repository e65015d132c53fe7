"""One telephone call: greeting, turns through the voice pipeline, DTMF, silence, handoff.

Independent of the SIP library: the gateway gives each call a ``CallControl`` (hang up,
transfer) and feeds it the caller's audio and DTMF digits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable, Deque, Optional, Protocol, Set

from sqlalchemy.exc import SQLAlchemyError

from servicecenter.handoff.callback import normalise_phone
from servicecenter.knowledge.loader import KnowledgeError
from servicecenter.voice import callback, prompts, rating
from servicecenter.voice.callback import DigitCollector, caller_number
from servicecenter.voice.routes import RouteLookup, RouteLookupError
from speech.audio import Resampler
from speech.const import SAMPLE_RATE, TELEPHONE_FRAME_BYTES, TELEPHONE_SAMPLE_RATE
from speech.dialogue import Dialogue
from speech.events import EventType, PipelineEvent, log_event
from speech.pipeline import PipelineSettings, VoicePipeline
from speech.stream import AudioInput
from speech.stt import VoskEngine
from speech.tts import Synthesizer

log = logging.getLogger(__name__)
EVENTS_KEPT = 500  # an hour-long call must not grow without bound


class CallControl(Protocol):
    def hangup(self) -> None:
        """End the call (BYE)."""

    def transfer(self, uri: str) -> Awaitable[bool]:
        """Blind transfer (REFER) to ``uri``; True when the transferee accepted it."""


@dataclass
class VoiceServices:
    """What every call of the process shares: one model, one TTS pool, one Rasa client."""

    stt: VoskEngine
    tts: Synthesizer
    dialogue: Dialogue
    routes: RouteLookup
    silence_seconds: float = 8.0
    turn_timeout: float = 30.0
    max_call_seconds: float = 1800.0
    db_url: Optional[str] = None  # where a callback number is stored on the ticket
    # The department's address for a callback notice (None: no mail, e.g. the ServiceCenter).
    callback_email: Optional[Callable[[str], Optional[str]]] = None
    # Where a call goes when the assistant cannot answer: a SIP URI while staffed, else None.
    fallback: Optional[Callable[[], Optional[str]]] = None


class Playback:
    """Audio waiting to be sent to the caller, read 20 ms at a time by the media clock."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self.last_active = time.monotonic()
        self.first_frame_at: Optional[float] = None  # when the current answer's first frame left

    def write(self, pcm: bytes) -> None:
        with self._lock:
            self._buffer += pcm

    def clear(self) -> int:
        with self._lock:
            dropped = len(self._buffer)
            self._buffer.clear()
            return dropped

    def frame(self) -> Optional[bytes]:
        """The next 20 ms of audio, or None when nothing is playing (media thread)."""
        with self._lock:
            if not self._buffer:
                return None
            chunk = bytes(self._buffer[:TELEPHONE_FRAME_BYTES])
            del self._buffer[:TELEPHONE_FRAME_BYTES]
            self.last_active = time.monotonic()
            if self.first_frame_at is None:
                self.first_frame_at = self.last_active
        return chunk.ljust(TELEPHONE_FRAME_BYTES, b"\0")

    def remaining(self) -> float:
        """Seconds of audio still to be sent."""
        with self._lock:
            return len(self._buffer) / (2 * TELEPHONE_SAMPLE_RATE)

    @property
    def playing(self) -> bool:
        with self._lock:
            return bool(self._buffer)

    async def drained(self) -> None:
        while self.playing:
            await asyncio.sleep(0.02)


class CallSession:
    """The conversation of one call (asyncio side)."""

    def __init__(self, call_id: str, control: CallControl, services: VoiceServices,
                 on_event: Optional[Callable[[str, PipelineEvent], None]] = None, caller_uri: str = "") -> None:
        self.call_id = call_id
        self.caller_uri = caller_uri  # the SIP From URI: the number a callback may go to
        self._collector: Optional[DigitCollector] = None
        self._digits = asyncio.Event()
        self._offered: Set[str] = set()
        self.control = control
        self.services = services
        self.playback = Playback()
        self.audio = AudioInput()
        self._resampler = Resampler(TELEPHONE_SAMPLE_RATE, SAMPLE_RATE)
        self._listening = False
        self._pending_text: Optional[str] = None
        self._interrupted = False
        self._turn: Optional[asyncio.Task] = None
        self._task: Optional[asyncio.Task] = None
        self._observer = on_event
        self.events: Deque[PipelineEvent] = deque(maxlen=EVENTS_KEPT)  # the call's recent trace
        self.ended = False
        # One-key rating (servicecenter/voice/rating.py): offered at most once per call.
        self._answered = False  # the last turn got an answer and no transfer
        self._rating_offered = False
        self._rating_open = False  # 1/2 rate the answer until the caller speaks again
        self._rated = False  # a rating was just given: silence now ends the call politely
        self._rating_task: Optional[asyncio.Task] = None
        self.pipeline = VoicePipeline(
            call_id,
            services.stt.session(),
            services.dialogue,
            services.tts,
            self._on_event,
            PipelineSettings(turn_timeout=services.turn_timeout, output_rate=TELEPHONE_SAMPLE_RATE),
        )

    # --- input from the SIP side ------------------------------------------------------------
    def on_audio(self, pcm8k: bytes) -> None:
        """Caller audio (8 kHz PCM from the media thread): resampled here, at the boundary."""
        self.audio.put_threadsafe(self._resampler.convert(pcm8k))

    def on_dtmf(self, digit: str) -> None:
        """RFC 4733 digit (event loop thread). 0 asks for a person at any time."""
        if self._collector is not None:  # typing a callback number: every key is part of it
            if self._collector.add(digit):
                self._digits.set()
            return
        if self._rating_open and digit in ("1", "2"):
            self._rating_open = False
            log.info("call=%s dtmf=rating", self.call_id)
            self._rating_task = asyncio.ensure_future(self._store_rating(digit))
            return
        log.info("call=%s dtmf=%s", self.call_id, "0" if digit == "0" else "other")
        if digit == "0":
            self._pending_text = prompts.HUMAN_REQUEST
            self.playback.clear()
            if self._listening and self._turn is not None and not self._turn.done():
                self._interrupted = True
                self._turn.cancel()

    def start(self) -> asyncio.Task:
        self._task = asyncio.ensure_future(self._run())
        return self._task

    def stop(self) -> None:
        """The caller hung up (BYE/CANCEL) or the gateway stops."""
        self.ended = True
        self.audio.end()
        self.playback.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # --- the conversation ---------------------------------------------------------------------
    def _on_event(self, event: PipelineEvent) -> None:
        self.events.append(event)
        log_event(event, self.call_id)
        if event.type is EventType.STT_START:
            self._listening = True
        elif event.type in (EventType.STT_END, EventType.ERROR, EventType.RUN_END):
            self._listening = False
        if event.type is EventType.STT_SPEECH_START:
            dropped = self.playback.clear()
            if dropped:
                log.info("call=%s barge-in: caller spoke, %d ms of playback dropped", self.call_id,
                         dropped * 1000 // (2 * TELEPHONE_SAMPLE_RATE))
        elif event.type is EventType.DIALOGUE_END:
            self.playback.first_frame_at = None
        if self._observer is not None:
            self._observer(self.call_id, event)

    async def _play(self, pcm: bytes) -> None:
        self.playback.write(pcm)

    async def _say(self, text: str) -> None:
        log.info("call=%s prompt=%s", self.call_id, prompts.NAMES.get(text, "other"))
        await self.pipeline.speak([text], self._play, cache=True)

    async def _say_and_end(self, text: str) -> None:
        self.playback.clear()
        await self._say(text)
        await self.playback.drained()
        self.control.hangup()

    async def _run(self) -> None:
        try:
            await asyncio.wait_for(self._converse(), self.services.max_call_seconds)
        except asyncio.TimeoutError:
            log.info("call=%s reached the maximum duration", self.call_id)
            await self._say_and_end(prompts.MAX_DURATION)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call=%s failed", self.call_id)
            if not self.ended:
                self.control.hangup()

    async def _converse(self) -> None:
        await self._say(prompts.GREETING)
        silent_turns = 0
        while not self.ended:
            text, self._pending_text = self._pending_text, None
            # The caller's silence counts from the end of what the bot is saying.
            if self.playback.playing:
                wait = self.playback.remaining() + self.services.silence_seconds
            else:
                wait = max(0.5, self.services.silence_seconds - (time.monotonic() - self.playback.last_active))
            self._turn = asyncio.ensure_future(
                self.pipeline.run_turn(self.audio, self._play, text=text, no_speech_timeout=wait))
            try:
                result = await self._turn
            except asyncio.CancelledError:
                if not self._interrupted or self.ended:
                    raise  # hung up or maximum duration reached
                self._interrupted = False
                continue  # DTMF 0 interrupted listening: the next turn sends the request
            if self.ended:
                return
            code = result.code
            if code == "stt-no-speech":
                if self.playback.playing:
                    continue  # the answer grew while listening: not yet the caller's turn
                silent_turns += 1
                if self._rated:  # rated and nothing more to ask
                    await self._say_and_end(prompts.GOODBYE)
                    return
                if silent_turns == 1 and await self._offer_rating():
                    continue
                if silent_turns >= 2:
                    await self._say_and_end(prompts.GOODBYE_SILENT)
                    return
                await self._say(prompts.STILL_THERE)
                continue
            silent_turns = 0
            if code == "stt-no-text":
                await self._say(prompts.NOT_UNDERSTOOD)
                continue
            self._answered = False
            if code is not None and code.startswith(("dialogue", "timeout")):
                await self._fall_back_to_a_person()
                return
            self._rating_open = self._rated = False  # the caller asks something new
            if result.replies and await self._transfer_if_handed_off():
                return
            self._answered = code is None and bool(result.replies)

    async def _offer_rating(self) -> bool:
        """Offer the one-key rating when configured and the last question was answered
        (not handed over, no emergency); once per call. True when it was offered."""
        if self._rating_offered or not self._answered:
            return False
        offer = await asyncio.get_running_loop().run_in_executor(
            None, rating.should_offer, self.services.db_url, self.call_id)
        if not offer or self.ended:
            return False
        self._rating_offered = self._rating_open = True
        await self._say(prompts.RATING_OFFER)
        return True

    async def _store_rating(self, digit: str) -> None:
        try:
            stored = await asyncio.get_running_loop().run_in_executor(
                None, rating.store, self.services.db_url, self.call_id, digit)
        except Exception:  # the call goes on without the rating
            log.exception("call=%s rating could not be stored", self.call_id)
            return
        if stored is None or self.ended:
            return
        log.info("call=%s rating stored: %s", self.call_id, stored)
        self._rated = True
        self.playback.clear()  # the caller has answered: the rest of the offer is not needed
        await self._say(prompts.RATING_THANKS)

    async def _fall_back_to_a_person(self) -> None:
        """The assistant cannot answer (Rasa down or too slow): a person takes over if the
        ServiceCenter is staffed, else the caller is asked to call again."""
        uri = None
        if self.services.fallback is not None:
            try:
                uri = await asyncio.get_running_loop().run_in_executor(None, self.services.fallback)
            except Exception:  # a broken routing file must not keep the caller on the line
                log.exception("call=%s no fallback target", self.call_id)
        if uri is None:
            await self._say_and_end(prompts.TECHNICAL_PROBLEM)
            return
        self.playback.clear()
        await self._say(prompts.TECHNICAL_TRANSFER)
        await self.playback.drained()
        log.info("call=%s transfer to the ServiceCenter after a technical problem", self.call_id)
        if not await self.control.transfer(uri):
            await self._say_and_end(prompts.TECHNICAL_PROBLEM)

    async def _transfer_if_handed_off(self) -> bool:
        try:
            route = await self.services.routes.route(self.call_id)
        except RouteLookupError as err:
            log.warning("call=%s route lookup failed: %s", self.call_id, err)
            return False
        if route is None:
            return False
        if route.kind == "callback":
            if route.handoff_id in self._offered:
                return False
            self._offered.add(route.handoff_id)
            return await self._offer_callback(route.handoff_id, route.department)
        await self.playback.drained()  # the caller hears where they are being connected
        log.info("call=%s transfer to department=%s kind=%s", self.call_id, route.department, route.kind)
        if await self.control.transfer(route.uri):
            return True
        await self._say_and_end(prompts.TRANSFER_FAILED)
        return True

    async def _offer_callback(self, ticket_id: str, department: str) -> bool:
        """Ask for a callback number (From header confirmed with 1, or typed ending with #);
        True when the call was ended."""
        number = caller_number(self.caller_uri)
        await self.playback.drained()
        try:
            for _ in range(2):
                self._collector = DigitCollector()
                self._digits.clear()
                log.info("call=%s prompt=callback-offer", self.call_id)
                await self.pipeline.speak([callback.offer_prompt(number)], self._play)
                try:
                    await asyncio.wait_for(self._digits.wait(),
                                           self.playback.remaining() + self.services.silence_seconds + 10)
                except asyncio.TimeoutError:
                    break
                typed = self._collector.result
                chosen = number if typed == "confirm" else normalise_phone(typed or "")
                if chosen is None:
                    await self._say(callback.INVALID)
                    continue
                self._collector = None
                if await self._store_callback(ticket_id, department, chosen):
                    log.info("call=%s callback number stored on ticket %s", self.call_id, ticket_id)
                    await self._say_and_end(callback.confirmation(chosen))
                    return True
                await self._say(prompts.CALLBACK_NOT_STORED)
                return False
        finally:
            self._collector = None
            self.audio.discard()  # what was said during the offer is not a question
        await self._say(prompts.NO_CALLBACK)
        return False

    async def _store_callback(self, ticket_id: str, department: str, number: str) -> bool:
        """Store the number on the ticket and, in the same transaction, the department's e-mail
        about the callback (the outbox sends it), as the web form does."""
        from servicecenter.handoff.tickets import TicketError, set_contact

        if not self.services.db_url:
            return False

        def store() -> None:
            notify = self.services.callback_email(department) if self.services.callback_email else None
            set_contact(ticket_id, callback.contact(number), consent=True, note="callback requested by phone",
                        notify=notify, url=self.services.db_url)

        try:
            await asyncio.get_running_loop().run_in_executor(None, store)
        except (TicketError, SQLAlchemyError, KnowledgeError, OSError, ValueError):
            log.exception("call=%s callback number could not be stored", self.call_id)
            return False
        return True
