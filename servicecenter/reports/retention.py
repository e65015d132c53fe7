"""Retention and erasure (DSGVO): delete a conversation everywhere it is stored.

"Everywhere" is found, not listed: every table of the database that has a
``conversation_id`` column (the project's own, and any another module adds later), every
table that points at such a table by a foreign key (e.g. ``ticket_events`` -> ``tickets``),
and Rasa's tracker store ``events`` (``sender_id``). The monthly aggregates hold no
conversation ids and are kept.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from sqlalchemy import MetaData, Table, delete, func, select, type_coerce
from sqlalchemy.engine import Connection

from servicecenter.db import Base, get_engine
from servicecenter.input_guard import valid_session_id
from servicecenter.models import Ticket, UtcDateTime
from servicecenter.reports.aggregates import month_figures, store_aggregate
from servicecenter.reports.models import Feedback
from servicecenter.reports.period import Period

log = logging.getLogger(__name__)

CONVERSATION_COLUMN = "conversation_id"
TRACKER_TABLE = "events"
BATCH = 500
# A ticket still being worked on keeps its conversation, whatever its age.
DONE_STATUSES = ("answered", "closed")


class InvalidConversationId(ValueError):
    def __init__(self) -> None:
        super().__init__("not a conversation id (16-128 characters A-Z, a-z, 0-9, '_' or '-')")


@dataclass(frozen=True)
class Plan:
    """Which tables hold conversation data, and how they are reached."""

    direct: List[Table]  # tables with a conversation_id column
    dependent: List[Tuple[Table, str, Table, str]]  # (child, fk column, parent, parent key), children first
    tracker: Optional[Table]


def _existing_tables(conn: Connection) -> Dict[str, Table]:
    """The database's tables as they are (reflected): tables of modules this process never
    imported are found too."""
    reflected = MetaData()
    reflected.reflect(bind=conn)
    return dict(reflected.tables)


def deletion_plan(conn: Connection) -> Plan:
    tables = _existing_tables(conn)
    # Declared on Base.metadata (every imported model module) or found in the database.
    declared = {n for n, t in Base.metadata.tables.items() if CONVERSATION_COLUMN in t.c}
    direct = [t for n, t in tables.items()
              if n != TRACKER_TABLE and (CONVERSATION_COLUMN in t.c or n in declared)]
    dependent: List[Tuple[Table, str, Table, str]] = []
    frontier = list(direct)
    seen = {t.name for t in direct}
    while frontier:
        parent = frontier.pop(0)
        for child in tables.values():
            for fk in child.foreign_keys:
                if fk.column.table.name == parent.name and child.name not in seen and child.name != TRACKER_TABLE:
                    dependent.append((child, fk.parent.name, parent, fk.column.name))
                    seen.add(child.name)
                    frontier.append(child)
    dependent.reverse()  # grandchildren before children
    tracker = tables.get(TRACKER_TABLE)
    return Plan(direct, dependent, tracker if tracker is not None and "sender_id" in tracker.c else None)


def _parent_keys(parent: Table, key: str, ids: Sequence[str], plan: Plan):  # type: ignore[no-untyped-def]
    if CONVERSATION_COLUMN in parent.c:
        return select(parent.c[key]).where(parent.c[CONVERSATION_COLUMN].in_(ids))
    # The parent is itself a dependent table: reach it through its own parent.
    for child, fk_col, grand, grand_key in plan.dependent:
        if child.name == parent.name:
            return select(parent.c[key]).where(parent.c[fk_col].in_(_parent_keys(grand, grand_key, ids, plan)))
    raise RuntimeError(f"no way to {parent.name}")


def delete_conversations(conn: Connection, ids: Sequence[str], plan: Optional[Plan] = None) -> Counter:
    """Delete every row of the conversations ``ids`` (one transaction: the caller's)."""
    plan = plan or deletion_plan(conn)
    removed: Counter = Counter()
    ids = list(ids)
    for child, fk_col, parent, key in plan.dependent:
        result = conn.execute(delete(child).where(child.c[fk_col].in_(_parent_keys(parent, key, ids, plan))))
        removed[child.name] += max(result.rowcount or 0, 0)
    # Tables pointing at other direct tables go first (notifications -> tickets).
    for table in sorted(plan.direct, key=lambda t: -len(t.foreign_keys)):
        result = conn.execute(delete(table).where(table.c[CONVERSATION_COLUMN].in_(ids)))
        removed[table.name] += max(result.rowcount or 0, 0)
    if plan.tracker is not None:
        result = conn.execute(delete(plan.tracker).where(plan.tracker.c.sender_id.in_(ids)))
        removed[plan.tracker.name] += max(result.rowcount or 0, 0)
    return removed


def erase_conversation(conversation_id: str, url: Optional[str] = None) -> Counter:
    """Remove one conversation everywhere; return the rows removed per table."""
    if not valid_session_id(conversation_id):
        raise InvalidConversationId()
    with get_engine(url).begin() as conn:
        removed = delete_conversations(conn, [conversation_id])
    # The id only: what was said is exactly what must not reach the log.
    log.info("conversation %s erased: %d rows (%s)", conversation_id, sum(removed.values()),
             ", ".join(f"{t}={n}" for t, n in sorted(removed.items()) if n) or "nothing stored")
    return removed


def remaining_rows(conversation_id: str, url: Optional[str] = None) -> Dict[str, int]:
    """Rows still stored for the conversation, per table (for checks after an erasure)."""
    counts: Dict[str, int] = {}
    with get_engine(url).connect() as conn:
        plan = deletion_plan(conn)
        for table in plan.direct:
            counts[table.name] = conn.execute(
                select(func.count()).select_from(table).where(table.c[CONVERSATION_COLUMN] == conversation_id)
            ).scalar_one()
        for child, fk_col, parent, key in plan.dependent:
            counts[child.name] = conn.execute(
                select(func.count()).select_from(child)
                .where(child.c[fk_col].in_(_parent_keys(parent, key, [conversation_id], plan)))
            ).scalar_one()
        if plan.tracker is not None:
            counts[plan.tracker.name] = conn.execute(
                select(func.count()).select_from(plan.tracker).where(plan.tracker.c.sender_id == conversation_id)
            ).scalar_one()
    return counts


# ------------------------------------------------------------------------ purge


@dataclass
class PurgeResult:
    cutoff: dt.datetime
    conversations: int = 0
    rows: Counter = field(default_factory=Counter)
    months_kept: List[str] = field(default_factory=list)
    kept_open: int = 0


def _ids(conn: Connection, query) -> Set[str]:  # type: ignore[no-untyped-def]
    return {row[0] for row in conn.execute(query)}


def expired_conversations(conn: Connection, cutoff: dt.datetime) -> Tuple[Set[str], int]:
    """Conversations with nothing newer than ``cutoff`` and no ticket still being worked on,
    and how many old conversations are kept because a ticket is still open."""
    plan = deletion_plan(conn)
    old: Set[str] = set()
    recent: Set[str] = set()
    if plan.tracker is not None:
        e = plan.tracker.c
        last = func.max(e.timestamp)
        old |= _ids(conn, select(e.sender_id).group_by(e.sender_id).having(last < cutoff.timestamp()))
        recent |= _ids(conn, select(e.sender_id).group_by(e.sender_id).having(last >= cutoff.timestamp()))
    open_ids: Set[str] = set()
    for table in plan.direct:
        c = table.c
        old |= _ids(conn, select(c[CONVERSATION_COLUMN]).distinct())
        stamp = next((c[n] for n in ("updated_at", "created_at") if n in c), None)
        if stamp is not None:
            recent |= _ids(conn, select(c[CONVERSATION_COLUMN]).where(stamp >= cutoff).distinct())
        if table.name == "tickets" and "status" in c:
            open_ids |= _ids(conn, select(c[CONVERSATION_COLUMN]).where(c.status.notin_(DONE_STATUSES)).distinct())
    expired = old - recent - open_ids
    return expired, len((old - recent) & open_ids)


def _months_between(first: dt.date, last: dt.date) -> List[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _first_data_day(conn: Connection, tz) -> Optional[dt.date]:  # type: ignore[no-untyped-def]
    plan = deletion_plan(conn)
    stamps: List[dt.datetime] = []
    if plan.tracker is not None:
        first = conn.execute(select(func.min(plan.tracker.c.timestamp))).scalar()
        if first is not None:
            stamps.append(dt.datetime.fromtimestamp(float(first), dt.timezone.utc))
    for column in (Ticket.__table__.c.created_at, Feedback.__table__.c.created_at):
        first = conn.execute(select(type_coerce(func.min(column), UtcDateTime))).scalar()
        if first is not None:
            stamps.append(first)
    return min(stamps).astimezone(tz).date() if stamps else None


def purge(handbook, url: Optional[str] = None, now: Optional[dt.datetime] = None) -> PurgeResult:  # type: ignore[no-untyped-def]
    """Keep the figures of every finished month that is about to lose data, then delete the
    conversations older than the retention period."""
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(days=handbook.retention_days)
    result = PurgeResult(cutoff=cutoff)
    engine = get_engine(url)
    tz = handbook.routing.calendar.tz
    with engine.connect() as conn:
        first_day = _first_data_day(conn, tz)
    if first_day is not None and first_day <= cutoff.astimezone(tz).date():
        for month in _months_between(first_day, cutoff.astimezone(tz).date()):
            if Period.month(month, handbook.routing.timezone).end > now:
                continue  # an unfinished month cannot be summed up yet
            figures, frozen = month_figures(month, handbook, url=url, now=now)
            if not frozen:
                store_aggregate(month, figures, frozen=True, url=url)
                result.months_kept.append(month)
    with engine.connect() as conn:
        expired, result.kept_open = expired_conversations(conn, cutoff)
    ordered = sorted(expired)
    with engine.connect() as conn:
        plan = deletion_plan(conn)
    for i in range(0, len(ordered), BATCH):
        with engine.begin() as conn:
            result.rows.update(delete_conversations(conn, ordered[i:i + BATCH], plan))
    result.conversations = len(ordered)
    log.info("purge: %d conversations older than %s deleted (%d rows); %d kept for open tickets; "
             "aggregates kept for %s", result.conversations, cutoff.date().isoformat(), sum(result.rows.values()),
             result.kept_open, ", ".join(result.months_kept) or "no new month")
    return result

