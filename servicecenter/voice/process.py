"""Start the voice gateway as one of the stack's processes (through ``servicecenter.stack``)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Optional

from servicecenter.settings import Settings
from servicecenter.stack import Process, StackError, child_env, spawn

log = logging.getLogger(__name__)


def start_voice(settings: Settings, log_dir: Path, required: bool = False) -> Optional[Process]:
    """The running gateway process, or None (one log line saying why) when no Vosk model is there."""
    from servicecenter.settings import get_voice_settings
    from servicecenter.voice.__main__ import DISABLED_MESSAGE, model_path
    from servicecenter.voice.health import sip_options_ok

    voice = get_voice_settings()
    if model_path(settings, voice) is None:
        message = DISABLED_MESSAGE.format(where=voice.vosk_model or settings.models_dir / "vosk")
        if required:
            raise StackError(message)
        log.warning(message)
        return None
    proc: Process = spawn("voice", [sys.executable, "-m", "servicecenter.voice"], child_env(settings, voice), log_dir)
    host = "127.0.0.1" if voice.sip_host in ("0.0.0.0", "") else voice.sip_host
    deadline = time.monotonic() + 180  # loading a large model takes a while
    while not sip_options_ok(host, voice.sip_port, timeout=0.5):
        if proc.popen.poll() is not None:
            raise StackError(f"voice gateway exited with code {proc.popen.returncode}; see {proc.log_path}")
        if time.monotonic() > deadline:
            proc.popen.kill()
            raise StackError(f"voice gateway did not answer SIP on port {voice.sip_port}; see {proc.log_path}")
        time.sleep(0.3)
    return proc


def sip_address() -> str:
    from servicecenter.settings import get_voice_settings

    voice = get_voice_settings()
    return f"sip:assistant@{voice.sip_public_address or voice.sip_host}:{voice.sip_port}"
