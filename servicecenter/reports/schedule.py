"""The scheduled retention job: ``assistant purge`` once a day inside the console process.

The console runs :func:`run_forever` as a background task. At the configured local time
(``ASSISTANT_PURGE_AT``, default 03:00 Europe/Berlin) it runs the purge in a worker thread;
a file lock under var/ makes sure that several console workers never purge at once. An
operator who prefers cron or a systemd timer sets ``ASSISTANT_PURGE_SCHEDULED=false`` and
calls ``assistant purge`` there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import logging
import os
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

TIMEZONE = ZoneInfo("Europe/Berlin")
LOCK_FILE = "purge.lock"


def next_run(now: dt.datetime, at: dt.time) -> dt.datetime:
    """The next moment (aware, UTC) at local time ``at`` strictly after ``now``."""
    local = now.astimezone(TIMEZONE)
    candidate = dt.datetime.combine(local.date(), at, TIMEZONE)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, TIMEZONE)
    return candidate.astimezone(dt.timezone.utc)


def purge_once(settings: Any, now: Optional[dt.datetime] = None) -> Optional[Any]:
    """Run the purge unless another process is running it (then None)."""
    from servicecenter.knowledge.loader import load_knowledge
    from servicecenter.reports.config import load_quality
    from servicecenter.reports.retention import purge

    var_dir = Path(settings.var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(var_dir / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("purge skipped: another process is purging")
            return None
        kb = load_knowledge(settings.knowledge_dir, settings.catalogue_path)
        handbook = load_quality(settings.knowledge_dir, kb)
        result = purge(handbook, url=settings.db_url, now=now)
        log.info("scheduled purge: %d conversations older than %s deleted (%d rows), %d kept for open tickets",
                 result.conversations, result.cutoff.date(), sum(result.rows.values()), result.kept_open)
        return result
    finally:
        os.close(fd)


async def run_forever(settings: Any) -> None:
    at = dt.time.fromisoformat(settings.purge_at)
    while True:
        now = dt.datetime.now(dt.timezone.utc)
        wait = (next_run(now, at) - now).total_seconds()
        log.info("next scheduled purge in %.1f hours", wait / 3600)
        await asyncio.sleep(wait)
        try:
            await asyncio.to_thread(purge_once, settings)
        except asyncio.CancelledError:
            raise
        except Exception:  # the console must survive a failed purge; the next day tries again
            log.exception("scheduled purge failed")
