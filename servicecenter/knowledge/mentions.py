"""Find service names in a message even when they are misspelt ("Eltergeld", "Reisepas").

Rasa's lookup tables match exact words only; a caller's typo or a speech recogniser's
near miss should still name the service. Only single-word synonyms of six or more letters
are matched approximately, so short words cannot collide.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Dict, List

from servicecenter.knowledge.loader import KnowledgeBase
from servicecenter.text import restore_umlauts

MIN_LENGTH = 6
CUTOFF = 0.86
_WORD = re.compile(r"[a-zäöüß]+")


def _fold(text: str) -> str:
    return restore_umlauts(unicodedata.normalize("NFC", text.casefold()))


def _index(kb: KnowledgeBase) -> Dict[str, Dict[str, str]]:
    """First letter -> {folded synonym: slug}; built once per loaded knowledge base."""
    cached = kb.__dict__.get("_fuzzy_index")
    if cached is not None:
        return cached
    index: Dict[str, Dict[str, str]] = {}
    for service in kb.services.values():
        for synonym in service.synonyms:
            word = _fold(synonym)
            if " " in word or "-" in word or len(word) < MIN_LENGTH:
                continue
            index.setdefault(word[0], {})[word] = service.slug
    kb.__dict__["_fuzzy_index"] = index
    return index


def fuzzy_mentions(kb: KnowledgeBase, text: str) -> List[str]:
    """Slugs of services whose name appears in ``text``, allowing small misspellings."""
    index = _index(kb)
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
