"""Errors of the voice pipeline: one type per stage, each with a stable code."""

from __future__ import annotations


class PipelineError(Exception):
    """Base error; ``code`` is what event traces, logs and tests compare."""

    stage = "pipeline"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SpeechToTextError(PipelineError):
    stage = "stt"


class NoSpeechError(SpeechToTextError):
    """The caller said nothing (or nothing recognisable) before the silence timeout."""

    def __init__(self, message: str = "no speech before the silence timeout") -> None:
        super().__init__("stt-no-speech", message)


class DialogueError(PipelineError):
    stage = "dialogue"


class TextToSpeechError(PipelineError):
    stage = "tts"


class TurnTimeoutError(PipelineError):
    def __init__(self, seconds: float) -> None:
        super().__init__("timeout", f"the turn took longer than {seconds:g} s")
