"""The scheduled retention job: ``assistant purge`` once a day inside the console process.

The console runs :func:`run_forever` as a background task. At the configured local time
(``ASSISTANT_PURGE_AT``, default 03:00 Europe/Berlin) it runs the purge in a worker thread;
a lease in the database (``servicecenter.leases``, kept alive while the purge runs) makes
sure that several console workers, on one machine or several, never purge at once. An
operator who prefers cron or a systemd timer sets ``ASSISTANT_PURGE_SCHEDULED=false`` and
calls ``assistant purge`` there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Optional
from zoneinfo import ZoneInfo

from servicecenter import leases

log = logging.getLogger(__name__)

TIMEZONE = ZoneInfo("Europe/Berlin")
PURGE_LEASE = "daily-purge"
# The purging process renews the lease every third of this; a killed one frees it after this long.
PURGE_LEASE_TTL_SECONDS = 60.0


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

    try:
        with leases.hold(PURGE_LEASE, PURGE_LEASE_TTL_SECONDS, url=settings.db_url):
            kb = load_knowledge(settings.knowledge_dir, settings.catalogue_path)
            handbook = load_quality(settings.knowledge_dir, kb)
            result = purge(handbook, url=settings.db_url, now=now)
    except leases.LeaseBusy:
        log.info("purge skipped: another process is purging")
        return None
    log.info("scheduled purge: %d conversations older than %s deleted (%d rows), %d kept for open tickets",
             result.conversations, result.cutoff.date(), sum(result.rows.values()), result.kept_open)
    return result


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
