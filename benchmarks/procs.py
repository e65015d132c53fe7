"""Memory and age of the processes a benchmark starts (psutil)."""

from __future__ import annotations

import os
import time
from typing import Optional

import psutil


def tree_rss_mib(pid: int) -> Optional[float]:
    """Resident memory of a process and all its descendants in MiB (None: process gone)."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for proc in tree:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # ended meanwhile
            continue
    return round(total / (1 << 20), 1) if total else None


def own_rss_mib() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / (1 << 20)


def process_age_s(pid: int) -> float:
    """Seconds since the process started."""
    return time.time() - psutil.Process(pid).create_time()
