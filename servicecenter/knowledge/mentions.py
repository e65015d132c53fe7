"""Find service names in a message even when they are misspelt ("Eltergeld", "Reisepas").

Rasa's lookup tables match exact words only; a caller's typo or a speech recogniser's
near miss should still name the service. Only single-word synonyms of six or more letters
are matched approximately, so short words cannot collide.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache
from typing import Dict, List, Tuple

from servicecenter.knowledge.loader import KnowledgeBase

MIN_LENGTH = 6
CUTOFF = 0.86
_WORD = re.compile(r"[a-zäöüß]+")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text.casefold())
    return text.replace("ae", "ä").replace("oe", "ö").replace("ue", "ü").replace("ss", "ß")


@lru_cache(maxsize=8)
def _index(kb_id: int, items: Tuple[Tuple[str, str], ...]) -> Dict[str, Dict[str, str]]:
    """First letter -> {folded synonym: slug}."""
    index: Dict[str, Dict[str, str]] = {}
    for synonym, slug in items:
        word = _fold(synonym)
        if " " in word or "-" in word or len(word) < MIN_LENGTH:
            continue
        index.setdefault(word[0], {})[word] = slug
    return index


def fuzzy_mentions(kb: KnowledgeBase, text: str) -> List[str]:
    """Slugs of services whose name appears in ``text``, allowing small misspellings."""
    items = tuple(sorted((s, svc.slug) for svc in kb.services.values() for s in svc.synonyms))
    index = _index(id(kb), items)
    found: List[str] = []
    for token in _WORD.findall(_fold(text)):
        if len(token) < MIN_LENGTH:
            continue
        bucket = index.get(token[0], {})
        if token in bucket:
            slug = bucket[token]
        else:
            close = difflib.get_close_matches(token, list(bucket), n=1, cutoff=CUTOFF)
            if not close:
                continue
            slug = bucket[close[0]]
        if slug not in found:
            found.append(slug)
    return found
