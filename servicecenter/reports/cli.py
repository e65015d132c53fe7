"""``assistant report``, ``assistant purge`` and ``assistant erase`` (registered by cli.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any

from servicecenter import PROJECT_ROOT

REPORTS_DIR = PROJECT_ROOT / "reports" / "monthly"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _handbook(settings: Any):  # type: ignore[no-untyped-def]
    from servicecenter.knowledge.loader import load_knowledge
    from servicecenter.reports.config import load_quality

    kb = load_knowledge(settings.knowledge_dir, settings.catalogue_path)
    return load_quality(settings.knowledge_dir, kb)


def _setup():  # type: ignore[no-untyped-def]
    from servicecenter.knowledge.loader import KnowledgeError
    from servicecenter.settings import SettingsError, get_settings

    try:
        settings = get_settings()
        return settings, _handbook(settings)
    except (SettingsError, KnowledgeError) as err:
        sys.exit(f"error: {err}")


def check_month(month: str, now: dt.datetime) -> str:
    if not _MONTH.match(month or ""):
        raise ValueError(f"month must look like 2026-11, got {month!r}")
    if month > now.strftime("%Y-%m"):
        raise ValueError(f"month {month} has not begun yet")
    return month


def cmd_report(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from servicecenter.reports.report import write_report

    now = dt.datetime.now(dt.timezone.utc)
    try:
        month = check_month(args.month, now)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    settings, handbook = _setup()
    try:
        files = write_report(month, handbook, Path(args.out), url=settings.db_url, now=now)
    except (OperationalError, ProgrammingError):
        print("error: the database is not ready: run 'assistant db upgrade'", file=sys.stderr)
        return 1
    if month == now.strftime("%Y-%m"):
        print(f"note: {month} is not over yet; the figures cover the month so far", file=sys.stderr)
    print(f"wrote {files.pdf}")
    for path in files.csv:
        print(f"wrote {path}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from servicecenter.db import get_engine
    from servicecenter.reports.retention import expired_conversations, purge

    settings, handbook = _setup()
    now = dt.datetime.now(dt.timezone.utc)
    if args.dry_run:
        cutoff = now - dt.timedelta(days=handbook.retention_days)
        with get_engine(settings.db_url).connect() as conn:
            expired, kept = expired_conversations(conn, cutoff)
        print(f"would delete {len(expired)} conversations older than {cutoff.date()} "
              f"({handbook.retention_days} days); {kept} kept for open tickets")
        return 0
    result = purge(handbook, url=settings.db_url, now=now)
    print(f"deleted {result.conversations} conversations older than {result.cutoff.date()} "
          f"({sum(result.rows.values())} rows); {result.kept_open} kept for open tickets")
    if result.months_kept:
        print(f"monthly figures kept for {', '.join(result.months_kept)}")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from servicecenter.reports.retention import InvalidConversationId, erase_conversation
    from servicecenter.settings import get_settings

    try:
        removed = erase_conversation(args.conversation, url=get_settings().db_url)
    except InvalidConversationId as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    total = sum(removed.values())
    if not total:
        print(f"nothing was stored for conversation {args.conversation}")
        return 0
    detail = ", ".join(f"{table} {n}" for table, n in sorted(removed.items()) if n)
    print(f"conversation {args.conversation} erased: {total} rows ({detail})")
    return 0


def add_commands(sub: Any) -> None:
    """Register the quality commands on the ``assistant`` parser's subcommands."""
    p = sub.add_parser("report", help="monthly quality and reimbursement report (PDF and CSV)")
    p.add_argument("--month", required=True, help="the month, e.g. 2026-11")
    p.add_argument("--out", default=str(REPORTS_DIR), help="folder for the report (default: reports/monthly)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("purge", help="delete conversations older than the retention period (quality.yml)")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.set_defaults(func=cmd_purge)
    p = sub.add_parser("erase", help="remove one conversation everywhere it is stored")
    p.add_argument("--conversation", required=True, help="the conversation id")
    p.set_defaults(func=cmd_erase)
