"""Voice in the browser: a WebSocket that feeds the chat page's microphone to the pipeline.

Protocol (one connection per spoken question, ``/voice?session=<chat session id>``):
the page sends ``{"type": "start", "rate": <Hz>}``, then 16-bit mono PCM frames at that
rate; the server answers with JSON events (``speech``, ``transcript``, ``replies``,
``done`` with an error code or null) and the spoken answer as binary 16 kHz PCM frames.
The conversation id is the chat's session id, so the spoken question and its answer land
in the same Rasa conversation as the typed ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, List, Optional
from urllib.parse import parse_qs, urlparse

import websockets

from servicecenter.input_guard import valid_session_id
from servicecenter.voice.call import VoiceServices
from speech.audio import Resampler
from speech.const import SAMPLE_RATE
from speech.events import EventType, PipelineEvent, log_event
from speech.pipeline import PipelineSettings, VoicePipeline
from speech.stream import AudioInput

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024  # one browser audio frame is a few KB
MAX_SECONDS = 30.0  # one spoken question


def allowed_origins(console_url: str, console_port: int) -> List[str]:
    return sorted({console_url.rstrip("/"), f"http://localhost:{console_port}", f"http://127.0.0.1:{console_port}"})


class BrowserVoice:
    """Serves the chat page's voice socket with the process's shared services."""

    def __init__(self, services: VoiceServices, origins: List[str], max_sessions: int = 8) -> None:
        self.services = services
        self.origins = origins
        self._slots = asyncio.Semaphore(max_sessions)

    async def serve(self, host: str, port: int) -> Any:
        return await websockets.serve(
            self._handle, host, port, origins=self.origins, max_size=MAX_FRAME_BYTES, max_queue=64,
            ping_interval=20,
        )

    async def _handle(self, ws: Any, path: str) -> None:
        query = parse_qs(urlparse(path).query)
        session_id = (query.get("session") or [""])[0]
        if urlparse(path).path != "/voice" or not valid_session_id(session_id):
            await ws.close(4400, "invalid path or session")
            return
        if self._slots.locked():
            await self._send(ws, {"type": "done", "error": "busy"})
            await ws.close(1013, "busy")
            return
        async with self._slots:
            try:
                await asyncio.wait_for(self._turn(ws, session_id), MAX_SECONDS + self.services.turn_timeout)
            except asyncio.TimeoutError:
                await self._send(ws, {"type": "done", "error": "timeout"})
            except websockets.ConnectionClosed:
                pass

    @staticmethod
    async def _send(ws: Any, message: Any) -> None:
        try:
            await ws.send(message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False))
        except websockets.ConnectionClosed:
            pass

    async def _turn(self, ws: Any, session_id: str) -> None:
        try:
            start = json.loads(await asyncio.wait_for(ws.recv(), 10))
            rate = int(start.get("rate", 0)) if isinstance(start, dict) and start.get("type") == "start" else 0
        except (ValueError, TypeError, asyncio.TimeoutError):
            rate = 0
        if not 8000 <= rate <= 96000:
            await self._send(ws, {"type": "done", "error": "bad-format"})
            return
        audio = AudioInput()
        converter = Resampler(rate, SAMPLE_RATE)
        listening = True

        def on_event(event: PipelineEvent) -> None:
            nonlocal listening
            log_event(event, "browser")
            message: Optional[dict] = None
            if event.type is EventType.STT_SPEECH_START:
                message = {"type": "speech"}
            elif event.type is EventType.STT_END:
                listening = False
                message = {"type": "transcript", "text": event.data.get("text", "")}
            elif event.type is EventType.DIALOGUE_END:
                message = {"type": "replies", "texts": event.data.get("replies", [])}
            if message is not None:
                asyncio.ensure_future(self._send(ws, message))

        async def receive() -> None:
            async for frame in ws:
                if not listening:
                    continue
                if isinstance(frame, bytes) and len(frame) % 2 == 0:
                    audio.put(converter.convert(frame))
                else:
                    audio.end()
                    return
            audio.end()

        receiver = asyncio.ensure_future(receive())
        pipeline = VoicePipeline(
            session_id, self.services.stt.session(), self.services.dialogue, self.services.tts, on_event,
            PipelineSettings(turn_timeout=self.services.turn_timeout, output_rate=SAMPLE_RATE),
        )

        async def play(pcm: bytes) -> None:
            await self._send(ws, pcm)

        try:
            result = await pipeline.run_turn(audio, play)
        finally:
            receiver.cancel()
        await self._send(ws, {"type": "done", "error": result.code})
