"""Engine and session factory. Nothing is connected at import time."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

Base = declarative_base()


@lru_cache(maxsize=8)
def get_engine(url: Optional[str] = None) -> Engine:
    """Return the (cached) engine for ``url`` (default: the configured database)."""
    if url is None:
        from servicecenter.settings import get_settings

        settings = get_settings()
        url = settings.db_url
        if url.startswith("sqlite:///"):
            settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


@contextmanager
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """A session for one unit of work: committed on success, rolled back on error."""
    factory = sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
