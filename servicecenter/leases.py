"""Leases: a named right that only one process may hold at a time, kept by a heartbeat.

A lease is one row of ``job_leases`` (the name is the primary key). Acquiring is one
transaction on SQLite and PostgreSQL alike: an ``UPDATE`` that only matches an expired lease
(or one the caller already holds), else an ``INSERT`` that the primary key refuses when
another process got there first. The database serialises both, so of several processes, on
one machine or several, exactly one wins. The holder renews the lease (``Heartbeat``) well
within its time to live; when it stops (process killed, machine gone) the lease expires and
the next caller takes it over. Times come from the callers' clocks: keep them in sync (NTP),
the times to live are many seconds.

Used for "one trainer job at a time" and the daily purge; any job that must not run twice
(an outbox sender, a report schedule) takes a lease of its own name.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

from sqlalchemy import Column, String, and_, case, delete, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from servicecenter.db import Base, get_engine
from servicecenter.models import UtcDateTime

log = logging.getLogger(__name__)


class JobLease(Base):
    """Who holds the lease ``name`` and until when (migration 0010)."""

    __tablename__ = "job_leases"
    name = Column(String(64), primary_key=True)
    holder = Column(String(128), nullable=False)
    acquired_at = Column(UtcDateTime, nullable=False)
    heartbeat_at = Column(UtcDateTime, nullable=False)
    expires_at = Column(UtcDateTime, nullable=False)


class LeaseBusy(RuntimeError):
    """Another holder has the lease and keeps it alive."""


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime
    expires_at: dt.datetime


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_holder() -> str:
    """A holder id naming this process (host and pid, for operators) and unique per call."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def acquire(name: str, holder: str, ttl_seconds: float, url: Optional[str] = None,
            replace: Optional[str] = None, now: Optional[dt.datetime] = None) -> bool:
    """Take (or renew) the lease for ``ttl_seconds``; False while another holder keeps it alive.

    ``replace`` names a holder whose lease may be taken over although it has not expired
    (the caller knows it is finished, e.g. a job recorded as done).
    """
    now = now or utcnow()
    expires = now + dt.timedelta(seconds=ttl_seconds)
    table = JobLease.__table__
    takeable = or_(table.c.expires_at <= now, table.c.holder == holder)
    if replace:
        takeable = or_(takeable, table.c.holder == replace)
    try:
        with get_engine(url).begin() as conn:
            taken = conn.execute(
                update(table).where(and_(table.c.name == name, takeable)).values(
                    holder=holder, heartbeat_at=now, expires_at=expires,
                    acquired_at=case((table.c.holder == holder, table.c.acquired_at),
                                     else_=literal(now, UtcDateTime())),
                )
            ).rowcount
            if taken == 1:
                return True
            conn.execute(insert(table).values(name=name, holder=holder, acquired_at=now, heartbeat_at=now,
                                              expires_at=expires))
            return True
    except IntegrityError:
        return False


def renew(name: str, holder: str, ttl_seconds: float, url: Optional[str] = None,
          now: Optional[dt.datetime] = None) -> bool:
    """Extend a lease ``holder`` still holds; False when it expired or another holder has it."""
    now = now or utcnow()
    table = JobLease.__table__
    with get_engine(url).begin() as conn:
        return conn.execute(
            update(table)
            .where(table.c.name == name, table.c.holder == holder, table.c.expires_at > now)
            .values(heartbeat_at=now, expires_at=now + dt.timedelta(seconds=ttl_seconds))
        ).rowcount == 1


def release(name: str, holder: str, url: Optional[str] = None) -> bool:
    """Give the lease up (only its holder can); True when it was held."""
    table = JobLease.__table__
    with get_engine(url).begin() as conn:
        return conn.execute(delete(table).where(table.c.name == name, table.c.holder == holder)).rowcount == 1


def current(name: str, url: Optional[str] = None, now: Optional[dt.datetime] = None) -> Optional[Lease]:
    """The live lease ``name`` (None when nobody holds it or its holder stopped heartbeating)."""
    now = now or utcnow()
    table = JobLease.__table__
    with get_engine(url).connect() as conn:
        row = conn.execute(select(table).where(table.c.name == name, table.c.expires_at > now)).first()
    if row is None:
        return None
    return Lease(row.name, row.holder, row.acquired_at, row.heartbeat_at, row.expires_at)


class Heartbeat:
    """Renews a held lease from a daemon thread every ``every`` seconds until stopped.

    ``lost`` is set when a renewal fails (the lease expired and may belong to someone else
    now): the holder must stop the work the lease protects.
    """

    def __init__(self, name: str, holder: str, ttl_seconds: float, every: Optional[float] = None,
                 url: Optional[str] = None) -> None:
        self.name, self.holder, self.ttl, self.url = name, holder, ttl_seconds, url
        self.every = every if every is not None else max(0.05, ttl_seconds / 3)
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "Heartbeat":
        self._thread = threading.Thread(target=self._run, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if not renew(self.name, self.holder, self.ttl, self.url):
                    log.warning("lease %s of %s lost", self.name, self.holder)
                    self.lost.set()
                    return
            except Exception:  # noqa: BLE001 - a database hiccup; the next beat tries again
                log.exception("lease %s: heartbeat failed", self.name)

    def stop(self, release_lease: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if release_lease:
            release(self.name, self.holder, self.url)


@contextmanager
def hold(name: str, ttl_seconds: float = 60.0, url: Optional[str] = None, holder: Optional[str] = None,
         every: Optional[float] = None) -> Iterator[Heartbeat]:
    """Hold the lease for the ``with`` block (heartbeat included); ``LeaseBusy`` when it is taken."""
    holder = holder or new_holder()
    if not acquire(name, holder, ttl_seconds, url):
        raise LeaseBusy(name)
    heartbeat = Heartbeat(name, holder, ttl_seconds, every, url).start()
    try:
        yield heartbeat
    finally:
        heartbeat.stop()


__all__ = ["Heartbeat", "JobLease", "Lease", "LeaseBusy", "acquire", "current", "hold", "new_holder", "release",
           "renew", "utcnow"]
