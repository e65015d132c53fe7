"""Tables of the quality module: citizens' feedback and the kept monthly aggregates.

``feedback`` is read by the trainer workbench too: keep its name and columns.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Column, String, UniqueConstraint

from servicecenter.db import Base
from servicecenter.models import UtcDateTime

RATINGS = ("up", "down")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Feedback(Base):
    """One rating of an answer by the citizen; ``comment`` is stored exactly as written."""

    __tablename__ = "feedback"
    id = Column(String(36), primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    rating = Column(String(8), nullable=False)
    comment = Column(String(500))
    channel = Column(String(32), nullable=False)
    created_at = Column(UtcDateTime, nullable=False, default=_now, index=True)


class MonthlyAggregate(Base):
    """The figures of one month (no personal data), kept after the conversations are purged."""

    __tablename__ = "monthly_aggregates"
    __table_args__ = (UniqueConstraint("month", name="uq_monthly_aggregates_month"),)
    month = Column(String(7), primary_key=True)  # "2026-11"
    figures = Column(JSON, nullable=False)
    # True once conversations of the month were purged: the figures can no longer be recomputed.
    frozen = Column(Boolean, nullable=False, default=False)
    computed_at = Column(UtcDateTime, nullable=False, default=_now)
