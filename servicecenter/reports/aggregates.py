"""A month's figures, kept as ``monthly_aggregates`` (no personal data) so that they outlive
the purge of the conversations they were computed from."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Optional, Tuple

from sqlalchemy import select

from servicecenter.db import session_scope
from servicecenter.reports.config import QualityHandbook
from servicecenter.reports.figures import compute_figures
from servicecenter.reports.models import MonthlyAggregate
from servicecenter.reports.period import Period


def month_figures(month: str, handbook: QualityHandbook, url: Optional[str] = None,
                  now: Optional[dt.datetime] = None) -> Tuple[Dict[str, Any], bool]:
    """The month's figures and whether they come from the kept aggregate (data purged)."""
    with session_scope(url) as session:
        kept = session.execute(select(MonthlyAggregate).where(MonthlyAggregate.month == month)).scalar_one_or_none()
        if kept is not None and kept.frozen:
            return dict(kept.figures), True
    period = Period.month(month, handbook.routing.timezone)
    figures = compute_figures(period, handbook.repeat_contact_days, handbook.routing.calendar,
                              handbook.reply_within_service_hours, handbook.targets.takeover_within_seconds,
                              url=url, now=now)
    return figures, False


def store_aggregate(month: str, figures: Dict[str, Any], frozen: bool, url: Optional[str] = None) -> None:
    """Keep the month's figures (no personal data); a frozen aggregate is never overwritten."""
    with session_scope(url) as session:
        kept = session.get(MonthlyAggregate, month)
        now = dt.datetime.now(dt.timezone.utc)
        if kept is None:
            session.add(MonthlyAggregate(month=month, figures=figures, frozen=frozen, computed_at=now))
        elif not kept.frozen:
            kept.figures, kept.frozen, kept.computed_at = figures, frozen, now
