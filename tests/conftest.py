"""Shared fixtures: a throw-away database with the knowledge base, the trained model and
the running stack (action server, Rasa, console) started once per test session."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from servicecenter import PROJECT_ROOT

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def knowledge():
    """The project's real knowledge base, validated."""
    from servicecenter.knowledge.loader import load_knowledge

    return load_knowledge(PROJECT_ROOT / "knowledge" / "geldern")


@pytest.fixture(scope="session")
def session_db(tmp_path_factory) -> Iterator[str]:
    """A migrated SQLite database with the knowledge base imported; its URL."""
    from servicecenter.db import session_scope
    from servicecenter.knowledge.loader import load_knowledge
    from servicecenter.knowledge.store import import_knowledge
    from servicecenter.training import upgrade_database

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade_database(url)
    with session_scope(url) as session:
        import_knowledge(session, load_knowledge(PROJECT_ROOT / "knowledge" / "geldern"))
    yield url


@pytest.fixture()
def use_db(session_db, monkeypatch) -> Iterator[str]:
    """Point the settings (and the actions' knowledge cache) at the test database."""
    from servicecenter.knowledge import repository
    from servicecenter.settings import get_settings

    monkeypatch.setenv("ASSISTANT_DATABASE_URL", session_db)
    get_settings.cache_clear()
    monkeypatch.setattr(repository, "_default", None)
    yield session_db
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The trained model; trains it when missing or out of date (Rasa's fingerprint)."""
    from servicecenter.settings import get_settings
    from servicecenter.stack import latest_model
    from servicecenter.training import prepare

    settings = get_settings()
    model = settings.rasa_model_dir / "geldern.tar.gz"
    if not model.exists():
        prepare(settings)
    return latest_model(settings)


class MailSink:
    """A real SMTP server (aiosmtpd) on a free local port that keeps what it received."""

    def __init__(self) -> None:
        import email
        import email.policy
        import threading

        from aiosmtpd.controller import Controller

        from servicecenter.stack import free_port

        self.messages: list = []
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with sink._lock:
                    sink.messages.append((list(envelope.rcpt_tos), message))
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> "MailSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, predicate, timeout: float = 30.0):
        """The first received (recipients, message) that satisfies ``predicate``."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for item in self.messages:
                    if predicate(*item):
                        return item
            time.sleep(0.2)
        raise AssertionError(f"no matching e-mail arrived within {timeout:.0f}s ({len(self.messages)} received)")


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def stack(trained_model, session_db, mail_sink, tmp_path_factory):
    """Action server, Rasa and console on free ports, using the test database, a copy of the
    knowledge directory (``stack.knowledge_dir``; tests may change its routing.yml through
    ``core_hours``) and the local SMTP server ``mail_sink``."""
    import shutil

    from servicecenter.settings import Settings
    from servicecenter.stack import free_port
    from servicecenter.supervisor import running_stack

    var_dir = tmp_path_factory.mktemp("var")
    knowledge_dir = tmp_path_factory.mktemp("knowledge") / "geldern"
    shutil.copytree(PROJECT_ROOT / "knowledge" / "geldern", knowledge_dir)
    settings = Settings(
        database_url=session_db, var_dir=var_dir, knowledge_dir=knowledge_dir,
        smtp_host="127.0.0.1", smtp_port=mail_sink.port,
    )
    ports = {"rasa": free_port(), "actions": free_port(), "console": free_port()}
    with running_stack(settings, ports=ports, log_dir=var_dir / "log") as running:
        running.knowledge_dir = knowledge_dir
        running.settings = settings.copy(update={
            "rasa_port": ports["rasa"], "actions_port": ports["actions"], "console_port": ports["console"],
        })
        yield running


@contextmanager
def edited_yaml(path: Path, edit) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Apply ``edit`` to the parsed YAML file at ``path`` for the duration of the block (the
    running processes reload the file when its modification time changes), then restore it."""
    import time

    import yaml

    original = path.read_text(encoding="utf-8")
    config = yaml.safe_load(original)
    edit(config)
    time.sleep(0.05)  # a distinct modification time
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    try:
        yield
    finally:
        time.sleep(0.05)
        path.write_text(original, encoding="utf-8")


def core_hours(knowledge_dir: Path, staffed: bool):  # type: ignore[no-untyped-def]
    """Make the ServiceCenter staffed around the clock (holidays included) or never, by
    rewriting routing.yml in a test's knowledge copy."""
    return edited_yaml(knowledge_dir / "routing.yml", lambda config: _set_core_hours(config, staffed))


def _set_core_hours(config: dict, staffed: bool) -> None:
    if staffed:
        config["core_hours"] = {day: ["00:00-23:59"] for day in ("mo", "tu", "we", "th", "fr", "sa", "su")}
        config["holidays"]["observe"] = False
    else:
        # Staffed one hour a day, never at this hour (due times still have hours to count).
        import datetime as dt
        from zoneinfo import ZoneInfo

        hour = dt.datetime.now(ZoneInfo(config["timezone"])).hour
        window = ["06:00-07:00"] if hour >= 12 else ["18:00-19:00"]
        config["core_hours"] = {day: list(window) for day in ("mo", "tu", "we", "th", "fr", "sa", "su")}
        config["holidays"]["observe"] = False
