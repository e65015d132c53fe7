"""Shared fixtures: a throw-away database with the knowledge base, the trained model and
the running stack (action server, Rasa, console) started once per test session."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def stack(trained_model, session_db, tmp_path_factory):
    """Action server, Rasa and console on free ports, using the test database."""
    from servicecenter.settings import Settings
    from servicecenter.stack import free_port, running_stack

    var_dir = tmp_path_factory.mktemp("var")
    settings = Settings(database_url=session_db, var_dir=var_dir)
    ports = {"rasa": free_port(), "actions": free_port(), "console": free_port()}
    with running_stack(settings, ports=ports, log_dir=var_dir / "log") as running:
        yield running
