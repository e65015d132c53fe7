"""Run the whole stack (action server, Rasa, console, voice gateway) and stop it together.

Used by ``assistant run``, the benchmarks and the tests; each process is started through
the public process API of ``servicecenter.stack``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

from servicecenter.settings import Settings, get_settings
from servicecenter.stack import Stack, start_actions, start_console, start_rasa
from servicecenter.voice.process import start_voice


@contextmanager
def running_stack(
    settings: Optional[Settings] = None,
    ports: Optional[Dict[str, int]] = None,
    log_dir: Optional[Path] = None,
    console: bool = True,
    voice: Optional[bool] = None,
) -> Iterator[Stack]:
    """Start actions, Rasa, (optionally) the console and the voice gateway; stop them on exit.

    ``voice``: None starts the gateway when a Vosk model is there (else one log line says
    how to get one), True requires it, False never starts it.
    """
    settings = settings or get_settings()
    ports = ports or {}
    stack = Stack(
        rasa_port=ports.get("rasa", settings.rasa_port),
        actions_port=ports.get("actions", settings.actions_port),
        console_port=ports.get("console", settings.console_port),
    )
    log_dir = log_dir or settings.var_dir / "log"
    # Every process sees the ports actually used (links in answers point to the console).
    settings = settings.copy(update={
        "rasa_port": stack.rasa_port, "actions_port": stack.actions_port, "console_port": stack.console_port,
    })
    try:
        stack.processes.append(start_actions(settings, stack.actions_port, log_dir))
        stack.processes.append(start_rasa(settings, stack.rasa_port, stack.actions_url, log_dir))
        if console:
            stack.processes.append(start_console(settings, stack.console_port, stack.rasa_port, log_dir))
        if voice is not False:
            gateway = start_voice(settings, log_dir, required=bool(voice))
            if gateway is not None:
                stack.processes.append(gateway)
        yield stack
    finally:
        stack.stop()
