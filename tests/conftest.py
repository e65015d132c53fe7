"""Shared fixtures: a throw-away database with the knowledge base, the trained model and
the running stack (action server, Rasa, console) started once per test session.

Markers (registered in pyproject.toml): ``e2e`` browser tests, ``integration`` tests that need
running processes or servers, ``model`` the trained Rasa model, ``stack`` the project's
processes, ``speech`` Vosk or speech synthesis. Tests get ``model``, ``stack``, ``speech`` and
``e2e`` automatically from the fixtures they use (``FIXTURE_MARKERS``), ``integration`` and
``e2e`` from their folder (``FOLDER_MARKERS``); modules that need them otherwise mark
themselves. ``make test-fast`` leaves all of them out.

With ``CI=true`` a skipped test fails: CI installs everything, so a skip there means that a
browser, database or SIP test silently did not run.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import pytest

from servicecenter import PROJECT_ROOT

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def playwright_sync_api():  # type: ignore[no-untyped-def]
    """``playwright.sync_api``; the calling test is skipped (fails under CI) without Debian's
    Chromium or Playwright."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed")
    return pytest.importorskip("playwright.sync_api")


# A test using one of these fixtures (directly or through another fixture) gets the marker.
FIXTURE_MARKERS = {
    "trained_model": ("model",),
    "stack": ("model", "stack", "integration"),
    "browser": ("e2e",),
    "korean_engine": ("speech",),
    "korean_open_engine": ("speech",),
    "espeak": ("speech",),
    "tts": ("speech",),
}


def running_under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


# Every test in these folders gets the marker.
FOLDER_MARKERS = {"integration": "integration", "e2e": "e2e"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:  # type: ignore[no-untyped-def]
    # tryfirst: the markers must be there before `-m` deselects.
    tests_dir = Path(__file__).parent
    for item in items:
        present = {mark.name for mark in item.iter_markers()}
        wanted = [name for fixture in getattr(item, "fixturenames", ()) for name in FIXTURE_MARKERS.get(fixture, ())]
        try:
            folder = Path(str(item.fspath)).relative_to(tests_dir).parts[0]
        except ValueError:
            folder = ""
        if folder in FOLDER_MARKERS:
            wanted.append(FOLDER_MARKERS[folder])
        for name in wanted:
            if name not in present:
                item.add_marker(name)
                present.add(name)


def _skip_reason(longrepr) -> str:  # type: ignore[no-untyped-def]
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if running_under_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {_skip_reason(report.longrepr)}"


_skipped_modules: list = []


def pytest_collectreport(report) -> None:  # type: ignore[no-untyped-def]
    if report.skipped:
        _skipped_modules.append((report.nodeid, _skip_reason(report.longrepr)))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if running_under_ci() and _skipped_modules:
        terminalreporter.section("modules skipped under CI=true (a failure)", red=True)
        for nodeid, reason in _skipped_modules:
            terminalreporter.line(f"{nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    # Under CI a whole module skipped at collection (e.g. a missing import) fails the run too,
    # while the other modules still run; so does a run without any test.
    if not running_under_ci():
        return
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED or (_skipped_modules and exitstatus == pytest.ExitCode.OK):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


POSTGRES_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL")
NO_POSTGRES = "no PostgreSQL: set ASSISTANT_TEST_POSTGRES_URL (scripts/start-postgres.sh)"


def postgres_url() -> str:
    """The test server's URL; the calling test is skipped (fails under CI) without one."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    return POSTGRES_URL


@pytest.fixture()
def pg_url() -> str:
    """The PostgreSQL test database, emptied (schema ``public`` dropped and re-created) and
    migrated to the latest schema."""
    from sqlalchemy import text

    from servicecenter.db import get_engine
    from servicecenter.training import upgrade_database

    url = postgres_url()
    with get_engine(url).begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade_database(url)
    return url


@pytest.fixture(scope="session", autouse=True)
def model_sources_untouched() -> Iterator[None]:
    """No test may change what the model is trained from (config.yml, bot/domain, bot/data,
    bot/nlu, the spaCy pipeline): the next `make run` would train again."""
    from servicecenter.settings import get_settings
    from servicecenter.training import ModelSources, source_parts

    sources = ModelSources.of(get_settings())
    before = source_parts(sources)
    yield
    after = source_parts(sources)
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    assert not changed, f"the tests changed what the model is trained from: {', '.join(changed)}"


_migrated_template: Optional[Path] = None


def migrated_sqlite(path: Path) -> str:
    """A SQLite database at ``path`` at the latest schema, copied from one migrated once per
    test process (running the migrations takes about half a second); its URL."""
    global _migrated_template
    if _migrated_template is None:
        import atexit
        import shutil
        import sqlite3
        import tempfile

        from servicecenter.db import get_engine
        from servicecenter.training import upgrade_database

        folder = Path(tempfile.mkdtemp(prefix="migrated-db-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "template.db"
        upgrade_database(f"sqlite:///{template}")
        get_engine(f"sqlite:///{template}").dispose()
        # One self-contained file to copy: the write-ahead log folded in and switched off.
        conn = sqlite3.connect(template)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        _migrated_template = template
    import shutil

    shutil.copyfile(_migrated_template, path)
    return f"sqlite:///{path}"


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
