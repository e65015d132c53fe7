"""Typed events of the voice pipeline; the trace is what logs, tests and benchmarks read.

Event data never holds what the caller said in logs: :func:`log_event` writes only the
type and numeric fields; transcripts stay in the in-memory trace.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

log = logging.getLogger("speech.pipeline")


class PipelineStage(str, enum.Enum):
    """Stages in their fixed order."""

    STT = "stt"
    DIALOGUE = "dialogue"
    TTS = "tts"


class EventType(str, enum.Enum):
    RUN_START = "run-start"
    RUN_END = "run-end"
    STT_START = "stt-start"
    STT_SPEECH_START = "stt-vad-start"  # the caller started speaking (barge-in trigger)
    STT_PARTIAL = "stt-partial"
    STT_ENDPOINT = "stt-vad-end"  # end of the utterance detected by the recogniser
    STT_END = "stt-end"
    DIALOGUE_START = "dialogue-start"
    DIALOGUE_END = "dialogue-end"
    TTS_START = "tts-start"
    TTS_AUDIO = "tts-audio"  # the first audio of a sentence is ready
    TTS_END = "tts-end"
    ERROR = "error"


@dataclass(frozen=True)
class PipelineEvent:
    type: EventType
    data: Dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.monotonic)


EventCallback = Callable[[PipelineEvent], None]

# Fields that may carry what a person said or what the bot answered: never logged.
_PRIVATE = {"text", "transcript", "replies", "partial", "message"}
_QUIET = {EventType.STT_PARTIAL, EventType.TTS_AUDIO}


def log_event(event: PipelineEvent, call: str = "-") -> None:
    """Write an event to the log without personal data."""
    if event.type in _QUIET:
        return
    fields = " ".join(f"{k}={v}" for k, v in sorted(event.data.items()) if k not in _PRIVATE)
    level = logging.WARNING if event.type is EventType.ERROR else logging.INFO
    log.log(level, "call=%s %s %s", call, event.type.value, fields)


class Trace:
    """Collects events (and optionally forwards them); tests and benchmarks read it."""

    def __init__(self, forward: Optional[EventCallback] = None) -> None:
        self.events: List[PipelineEvent] = []
        self._forward = forward

    def __call__(self, event: PipelineEvent) -> None:
        self.events.append(event)
        if self._forward is not None:
            self._forward(event)

    def types(self) -> List[str]:
        return [e.type.value for e in self.events if e.type is not EventType.STT_PARTIAL]

    def first(self, kind: EventType) -> Optional[PipelineEvent]:
        return next((e for e in self.events if e.type is kind), None)

    def errors(self) -> List[str]:
        return [e.data["code"] for e in self.events if e.type is EventType.ERROR]
