"""Benchmark the monthly report: a month of 100,000 generated conversations in a scratch
database (Rasa tracker events, tickets with history, feedback), then ``assistant report``'s
work (figures, charts, PDF, CSV) in a child process: wall time and peak resident memory.

Targets (issue 6): under 60 s and under 1 GiB. Run alone with ``python -m benchmarks.report``
(``--conversations`` to change the size, ``--url`` for a PostgreSQL database).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from servicecenter import PROJECT_ROOT
from servicecenter.settings import child_environment

CONVERSATIONS = 100_000
MONTH = "2026-11"
TARGET_SECONDS = 60.0
TARGET_MIB = 1024.0


def _handbook():  # type: ignore[no-untyped-def]
    from servicecenter.knowledge.loader import load_knowledge
    from servicecenter.reports.config import load_quality

    folder = PROJECT_ROOT / "knowledge" / "geldern"
    return load_quality(folder, load_knowledge(folder))


def prepare(url: str, conversations: int) -> Dict[str, Any]:
    """Migrate the scratch database and write the generated month; returns its size."""
    from sqlalchemy import func, select

    from servicecenter.db import get_engine
    from servicecenter.rasa_tables import RASA_EVENTS
    from servicecenter.reports.sample_data import generate_month
    from servicecenter.training import upgrade_database

    upgrade_database(url)
    started = time.perf_counter()
    truth = generate_month(get_engine(url), MONTH, conversations, _handbook().routing.calendar, seed=2026)
    with get_engine(url).connect() as conn:
        events = conn.execute(select(func.count()).select_from(RASA_EVENTS)).scalar_one()
    return {"conversations": conversations, "contacts": truth.total, "events": events,
            "generate_s": round(time.perf_counter() - started, 1)}


def run_report(url: str, out: Path) -> Dict[str, Any]:
    """The measured part (runs in the child process)."""
    import datetime as dt

    from servicecenter.reports.report import write_report

    started = time.perf_counter()
    handbook = _handbook()
    files = write_report(MONTH, handbook, out, url=url, now=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc))
    return {"seconds": round(time.perf_counter() - started, 2), "pdf_bytes": files.pdf.stat().st_size,
            # This process's own peak (Linux: KiB), start-up included; not any other child's.
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def measure(conversations: int = CONVERSATIONS, url: Optional[str] = None) -> Dict[str, Any]:
    """Generate the month, then time the report in a fresh process (its peak RSS is its own)."""
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        url = url or f"sqlite:///{work / 'report.db'}"
        print(f"• report benchmark: generating {conversations:,} conversations", flush=True)
        figures = prepare(url, conversations)
        print("• report benchmark: assistant report (figures, charts, PDF, CSV)", flush=True)
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.report", "--child", url, str(work / "out")],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
            env=child_environment(extra={"TF_CPP_MIN_LOG_LEVEL": "2"}),
        )
        wall = time.perf_counter() - started
        if child.returncode != 0:
            raise RuntimeError(f"report child failed: {child.stderr[-2000:]}")
        inner = json.loads(child.stdout.strip().splitlines()[-1])
    figures.update({
        "report_s": inner["seconds"],
        "process_wall_s": round(wall, 2),
        "peak_rss_mib": round(inner["peak_rss_kib"] / 1024.0, 1),
        "pdf_bytes": inner["pdf_bytes"],
        "targets": {"report_s": TARGET_SECONDS, "peak_rss_mib": TARGET_MIB},
    })
    figures["met"] = figures["report_s"] < TARGET_SECONDS and figures["peak_rss_mib"] < TARGET_MIB
    return figures


def format_figures(f: Dict[str, Any]) -> List[str]:
    status = "met" if f["met"] else "MISSED"
    return [
        f"monthly report, {f['conversations']:,} conversations ({f['contacts']:,} contacts, {f['events']:,} events)",
        f"  report time      {f['report_s']:.1f} s  (process incl. start {f['process_wall_s']:.1f} s)  target < 60 s",
        f"  peak memory      {f['peak_rss_mib']:.0f} MiB  target < 1024 MiB  [{status}]",
        f"  data generation  {f['generate_s']:.1f} s (not part of the measurement)",
    ]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=CONVERSATIONS)
    parser.add_argument("--url", help="database URL (default: a scratch SQLite file); its data is added to")
    parser.add_argument("--child", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_report(args.child[0], Path(args.child[1]))))
        return 0
    figures = measure(args.conversations, args.url)
    print("\n".join(format_figures(figures)))
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
