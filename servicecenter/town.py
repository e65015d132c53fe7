"""The town configuration: one reloadable view of a town's knowledge folder.

``town_config()`` returns the ``TownConfig`` of the configured folder (``ASSISTANT_KNOWLEDGE_DIR``)
or of a given one: the knowledge base, routing.yml, the quality handbook (quality.yml) and
the canned responses of live chats, each loaded and validated on first use (a broken
quality.yml does not stop routing). When any YAML file of the folder changes (modification
time or size), the next call returns a fresh object, so a running process sees an edit with
its next request; parts an object has loaded stay as they were. One cache, keyed by folder
path; routing and quality are validated against the folder's own knowledge base.

This module sits above the loaders it combines (``knowledge.loader``, ``handoff.routing``,
``handoff.canned``, ``reports.config``); they do not import it. The database's copy of the
knowledge that answers citizens is ``knowledge.repository``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import List, Optional, Tuple

from servicecenter.handoff.canned import CannedResponse, load_canned
from servicecenter.handoff.routing import RoutingConfig, load_routing
from servicecenter.knowledge.loader import KnowledgeBase, load_knowledge
from servicecenter.reports.config import QualityHandbook, load_quality
from servicecenter.settings import get_settings

Stamp = Tuple[Tuple[str, int, int], ...]
_KEEP = 8  # folders kept (tests use several)


class TownConfig:
    """A town's configuration as its files are now; parts load on first use."""

    def __init__(self, directory: Path, catalogue: Optional[Path] = None, stamp: Stamp = ()) -> None:
        self.directory = directory
        self.catalogue = catalogue
        self.stamp = stamp

    @cached_property
    def kb(self) -> KnowledgeBase:
        return load_knowledge(self.directory, self.catalogue)

    @cached_property
    def routing(self) -> RoutingConfig:
        return load_routing(self.directory, self.kb)

    @cached_property
    def quality(self) -> QualityHandbook:
        return load_quality(self.directory, self.kb, self.routing)

    @cached_property
    def canned(self) -> List[CannedResponse]:
        return load_canned(self.directory)


def files_stamp(directory: Path, extra: Optional[Path] = None) -> Stamp:
    """(relative path, mtime in ns, size) of every YAML file of the folder (and ``extra``)."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.endswith((".yml", ".yaml")):
                path = os.path.join(root, name)
                stat = os.stat(path)
                found.append((os.path.relpath(path, directory), stat.st_mtime_ns, stat.st_size))
    if extra is not None and extra.exists():
        stat = extra.stat()
        found.append((str(extra), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


_lock = threading.Lock()
_cache: "OrderedDict[str, TownConfig]" = OrderedDict()


def town_config(directory: Optional[Path] = None) -> TownConfig:
    """The configuration of ``directory`` (default: the configured town) as its files are now."""
    settings = get_settings()
    directory = Path(directory or settings.knowledge_dir)
    catalogue = settings.catalogue_file if directory == settings.knowledge_dir else None
    stamp = files_stamp(directory, catalogue)
    key = str(directory.resolve())
    with _lock:
        current = _cache.get(key)
        if current is None or current.stamp != stamp:
            current = _cache[key] = TownConfig(directory, catalogue, stamp)
        _cache.move_to_end(key)
        while len(_cache) > _KEEP:
            _cache.popitem(last=False)
    return current

