"""Voice gateway settings (environment prefix ``ASSISTANT_``), validated at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic import BaseSettings, ValidationError, validator

from servicecenter import PROJECT_ROOT
from servicecenter.settings import SettingsError


class VoiceSettings(BaseSettings):
    # Folder of a Vosk model; default: the downloaded German model under models/vosk/.
    vosk_model: Optional[Path] = None
    # Restrict recognition to the domain's vocabulary (knowledge base + training data).
    vosk_grammar: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    # Address written into SDP when the gateway sits behind NAT; default: sip_host.
    sip_public_address: str = ""
    rtp_port: int = 40000
    rtp_port_range: int = 400
    max_calls: int = 8  # more than 4 runs several worker processes (see __main__)
    # Ringing before the gateway answers (180 Ringing first): a caller or PBX that gives up in
    # this window CANCELs cleanly (200 for the CANCEL, 487 for the INVITE). 0 answers at once.
    voice_answer_delay_ms: int = 300
    max_call_seconds: float = 1800.0
    silence_seconds: float = 8.0
    turn_timeout: float = 30.0
    tts_voice: str = "gmw/de"
    tts_rate: int = 165
    tts_workers: int = 2
    # WebSocket for the chat page's microphone (0: off) and where browsers reach it.
    voice_ws_port: int = 5070
    voice_public_url: str = ""
    # Where the transfer target of a call comes from: the console's route API, or the
    # database directly (single-machine installs without the console).
    route_lookup: str = "console"

    class Config:
        env_prefix = "ASSISTANT_"
        env_file = str(PROJECT_ROOT / ".env")
        extra = "ignore"

    @validator("sip_port", "rtp_port")
    def _port(cls, value: int) -> int:  # noqa: N805
        if not 1 <= value <= 65535:
            raise ValueError("must be a UDP port between 1 and 65535")
        return value

    @validator("voice_answer_delay_ms")
    def _answer_delay(cls, value: int) -> int:  # noqa: N805
        if not 0 <= value <= 10000:
            raise ValueError("must be between 0 and 10000 milliseconds")
        return value

    @validator("voice_ws_port")
    def _ws_port(cls, value: int) -> int:  # noqa: N805
        if not 0 <= value <= 65535:
            raise ValueError("must be 0 (off) or a TCP port")
        return value

    @property
    def browser_voice_url(self) -> str:
        return (self.voice_public_url or f"ws://localhost:{self.voice_ws_port}").rstrip("/") + "/voice"

    @validator("max_calls")
    def _calls(cls, value: int) -> int:  # noqa: N805
        if not 1 <= value <= 64:
            raise ValueError("must be between 1 and 30")
        return value

    @validator("max_call_seconds", "silence_seconds", "turn_timeout")
    def _positive(cls, value: float) -> float:  # noqa: N805
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value

    @validator("route_lookup")
    def _lookup(cls, value: str) -> str:  # noqa: N805
        if value not in ("console", "database"):
            raise ValueError("must be 'console' or 'database'")
        return value


@lru_cache(maxsize=1)
def get_voice_settings() -> VoiceSettings:
    try:
        return VoiceSettings()
    except ValidationError as err:
        problems = "; ".join(
            f"ASSISTANT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in err.errors()
        )
        raise SettingsError(f"Invalid voice configuration: {problems}") from err
