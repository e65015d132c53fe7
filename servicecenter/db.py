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
    # A web request's session is opened, used and committed in the server's worker threads
    # (one after the other, never at the same time), so SQLite must not pin it to one thread.
    connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
    engine = create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


def new_session(url: Optional[str] = None) -> Session:
    """A new session on ``url``; its objects stay readable after commit."""
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)()


@contextmanager
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """A session for one unit of work: committed on success, rolled back on error."""
    session = new_session(url)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def use_session(session: Optional[Session] = None, url: Optional[str] = None) -> Iterator[Session]:
    """``session`` when the caller has one (its transaction: flushed here, committed or rolled
    back by the caller, e.g. one per web request), else a unit of work of its own on ``url``."""
    if session is None:
        with session_scope(url) as own:
            yield own
        return
    yield session
    session.flush()
