"""Audio input of one conversation: chunks in arrival order, read across turns.

The telephone's media thread or the browser socket puts chunks in; the recogniser reads
them out. One input lives as long as the call, so nothing is lost between utterances.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterable, Optional


class AudioInput:
    """An unbounded FIFO of 16 kHz PCM chunks; ``None`` marks the end of the audio."""

    def __init__(self) -> None:
        self._queue: "asyncio.Queue[Optional[bytes]]" = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self.ended = False

    def put(self, chunk: bytes) -> None:
        """Add a chunk (from the event loop's thread)."""
        if not self.ended:
            self._queue.put_nowait(chunk)

    def put_threadsafe(self, chunk: bytes) -> None:
        """Add a chunk from another thread (a media clock, say)."""
        self._loop.call_soon_threadsafe(self.put, chunk)

    def end(self) -> None:
        if not self.ended:
            self._queue.put_nowait(None)
            self.ended = True

    async def read(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next chunk, or None at the end; asyncio.TimeoutError after ``timeout`` seconds."""
        chunk = await asyncio.wait_for(self._queue.get(), timeout)
        if chunk is None:
            self._queue.put_nowait(None)  # every later read sees the end too
        return chunk

    def discard(self) -> int:
        """Drop what is queued (audio heard while the caller could not interrupt); returns the count."""
        dropped = 0
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                self._queue.put_nowait(None)
                break
            dropped += 1
        return dropped

    @classmethod
    def of(cls, pcm: bytes, chunk: int = 640, end: bool = True) -> "AudioInput":
        """An input holding ``pcm`` in chunks (tests, files)."""
        audio = cls()
        for start in range(0, len(pcm), chunk):
            audio.put(pcm[start:start + chunk])
        if end:
            audio.end()
        return audio

    @classmethod
    def feed(cls, source: AsyncIterable[bytes]) -> "AudioInput":
        """An input filled from an async iterable by a background task."""
        audio = cls()

        async def pump() -> None:
            try:
                async for chunk in source:
                    audio.put(chunk)
            finally:
                audio.end()

        audio._pump = asyncio.ensure_future(pump())  # type: ignore[attr-defined]
        return audio
