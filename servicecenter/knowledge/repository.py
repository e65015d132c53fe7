"""The knowledge base as the running actions see it: read from the database, cached."""

from __future__ import annotations

import logging
import threading
import time
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from servicecenter.db import session_scope
from servicecenter.knowledge.loader import KnowledgeBase, load_catalogue
from servicecenter.knowledge.store import read_knowledge
from servicecenter.models import KbService
from servicecenter.settings import get_settings

log = logging.getLogger(__name__)


class KnowledgeUnavailable(RuntimeError):
    """The database holds no knowledge base; the message says how to load one."""


class KnowledgeRepository:
    """Caches the imported knowledge base and reloads it when a new import lands."""

    def __init__(self, url: Optional[str] = None, check_every: float = 10.0):
        self._url = url
        self._check_every = check_every
        self._lock = threading.Lock()
        self._kb: Optional[KnowledgeBase] = None
        self._version: Optional[object] = None
        self._checked_at = 0.0

    def get(self) -> KnowledgeBase:
        now = time.monotonic()
        if self._kb is not None and now - self._checked_at < self._check_every:
            return self._kb
        with self._lock:
            self._checked_at = now
            try:
                with session_scope(self._url) as session:
                    version = session.execute(
                        select(func.count(KbService.slug), func.max(KbService.imported_at))
                    ).one()
                    if not version[0]:
                        raise KnowledgeUnavailable(
                            "the knowledge base is empty: run 'assistant knowledge import'"
                        )
                    if self._kb is None or version != self._version:
                        catalogue = load_catalogue(get_settings().catalogue_path)
                        self._kb = read_knowledge(session, catalogue)
                        self._version = version
                        log.info("knowledge base loaded: %d services", len(self._kb.services))
            except (OperationalError, ProgrammingError) as err:
                raise KnowledgeUnavailable(
                    "the knowledge tables are missing: run 'assistant db upgrade' and "
                    "'assistant knowledge import'"
                ) from err
            return self._kb


_default: Optional[KnowledgeRepository] = None


def default_repository() -> KnowledgeRepository:
    global _default
    if _default is None:
        _default = KnowledgeRepository()
    return _default
