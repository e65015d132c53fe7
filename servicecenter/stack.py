"""Start the project's processes (action server, Rasa, console) and wait until they answer.

The public process API (``spawn``, ``child_env``, ``wait_http``, ``free_port`` and the
``start_*`` functions) is what every part that starts a child process uses: the whole
stack (``servicecenter.supervisor``), the voice gateway's starter, batch runs, the trainer,
the benchmarks and the tests, so all of them run the same real processes.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from sqlalchemy.engine import make_url

from servicecenter import PROJECT_ROOT
from servicecenter.secrets import rasa_api_token
from servicecenter.settings import Settings, VoiceSettings, child_environment, get_settings

log = logging.getLogger(__name__)
BIN = Path(sys.executable).parent


class StackError(RuntimeError):
    """A process did not start; the message names it and where its log is."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tracker_store_config(db_url: str) -> Dict[str, object]:
    """Rasa's SQLTrackerStore settings for the project database (own tables)."""
    url = make_url(db_url)
    config: Dict[str, object] = {"type": "SQL", "dialect": url.drivername.split("+")[0], "db": url.database}
    if url.host:
        config.update(host=url.host, port=url.port, username=url.username, password=url.password)
    return config


def write_endpoints(settings: Settings, path: Path, actions_url: Optional[str] = None) -> Path:
    endpoints = {
        "action_endpoint": {"url": actions_url or settings.actions_url},
        "tracker_store": tracker_store_config(settings.db_url),
        "lock_store": {"type": "in_memory"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
    return path


def latest_model(settings: Optional[Settings] = None) -> Path:
    settings = settings or get_settings()
    models = sorted(settings.rasa_model_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise StackError(f"no trained model in {settings.rasa_model_dir}: run 'assistant train'")
    return models[-1]


def wait_http(url: str, proc: subprocess.Popen, name: str, log_path: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{name} exited with code {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    raise StackError(f"{name} did not answer at {url} within {timeout:.0f}s; see {log_path}")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path


@dataclass
class Stack:
    rasa_port: int
    actions_port: int
    console_port: int
    processes: List[Process] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}/webhook"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        self.processes.clear()


def child_env(settings: Settings, voice: Optional[VoiceSettings] = None, **extra: str) -> Dict[str, str]:
    """The environment of a child process: this one's, with the settings it must share
    (``servicecenter.settings.child_environment``), then ``extra``."""
    return child_environment(settings, voice=voice, extra=extra)


def spawn(name: str, cmd: List[str], env: Dict[str, str], log_dir: Path, new_session: bool = False) -> Process:
    """Start ``cmd`` in the project directory, its output appended to ``log_dir/<name>.log``.

    ``new_session``: the child leaves this process's session (a Ctrl-C or a restart of this
    process does not stop it; used for training runs)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    handle = open(log_path, "ab")
    popen = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                             start_new_session=new_session)
    return Process(name, popen, log_path)


def start_actions(settings: Settings, port: int, log_dir: Path) -> Process:
    proc = spawn(
        "actions",
        [str(BIN / "rasa"), "run", "actions", "--actions", "bot.actions", "--port", str(port)],
        child_env(settings),
        log_dir,
    )
    wait_http(f"http://127.0.0.1:{port}/health", proc.popen, "action server", proc.log_path)
    return proc


def start_rasa(settings: Settings, port: int, actions_url: str, log_dir: Path, model: Optional[Path] = None) -> Process:
    endpoints = write_endpoints(settings, log_dir / f"endpoints-{port}.yml", actions_url)
    cmd = [
        str(BIN / "rasa"), "run",
        "--model", str(model or latest_model(settings)),
        "--endpoints", str(endpoints),
        "--credentials", str(PROJECT_ROOT / "bot" / "credentials.yml"),
        "--port", str(port),
        "--interface", settings.rasa_host,
        "--cors", "*",
        # The HTTP API (conversation control for live takeover, model swap) only with a token.
        "--enable-api", "--auth-token", rasa_api_token(settings),
    ]
    proc = spawn("rasa", cmd, child_env(settings), log_dir)
    wait_http(f"http://127.0.0.1:{port}/", proc.popen, "Rasa server", proc.log_path, timeout=240)
    return proc


def start_console(settings: Settings, port: int, rasa_port: int, log_dir: Path) -> Process:
    cmd = [
        str(BIN / "uvicorn"), "--factory", "servicecenter.console.app:create_app",
        "--host", settings.console_host, "--port", str(port), "--no-access-log",
    ]
    env = child_env(
        settings,
        ASSISTANT_RASA_PUBLIC_URL=settings.rasa_public_url or f"http://localhost:{rasa_port}",
    )
    proc = spawn("console", cmd, env, log_dir)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc.popen, "console", proc.log_path)
    return proc
