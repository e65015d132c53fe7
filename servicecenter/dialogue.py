"""Decisions the dialogue takes each turn, as plain functions the actions call.

Which service is meant (from the intent, the recognised service names and the topic under
discussion), whether to ask back, and where a handoff goes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence

from servicecenter.knowledge.loader import KnowledgeBase

SERVICE_INTENT_PREFIX = "svc_"
DEFAULT_HANDOFF_TARGET = "zentrale"

# Outcomes of a turn (evaluation records use these names).
ANSWER = "answer"
CLARIFY = "clarify"
HANDOFF = "handoff"
EMERGENCY = "emergency"
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "fallback"
SMALLTALK = "smalltalk"


def intent_for(slug: str) -> str:
    return SERVICE_INTENT_PREFIX + slug.replace("-", "_")


def slug_for(intent: Optional[str]) -> Optional[str]:
    if not intent or not intent.startswith(SERVICE_INTENT_PREFIX):
        return None
    return intent[len(SERVICE_INTENT_PREFIX):].replace("_", "-")


@dataclass(frozen=True)
class Resolution:
    """``service`` when one service is meant; ``candidates`` when we must ask back."""

    service: Optional[str] = None
    candidates: List[str] = field(default_factory=list)
    source: str = "none"

    @property
    def needs_clarification(self) -> bool:
        return self.service is None and len(self.candidates) > 1


# "Und was kostet das?", "Geht das auch online?", "kann den dann auch meine Tochter
# abholen": words that point back to what was just discussed.
_REFERS_BACK = re.compile(
    r"^(und|aber|also|ach|ok(ay)?|gut)\b|\b(das|dafür|dafuer|dazu|da|dort|dahin|dabei|damit|dann)\b",
    re.IGNORECASE,
)
# The citizen's OWN case: something already applied for, reported or ordered.
_OWN_CASE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(vor|seit)\s+(\w+\s+)?(tag(en)?|woche(n)?|monat(en)?|jahr(en)?)\b.*\b(angemeldet|beantragt|bestellt|gemeldet|eingereicht|abgegeben|geschickt|gestellt)\b",
        r"\b(angemeldet|beantragt|bestellt|gemeldet|eingereicht|abgegeben|gestellt)\b.*\b(noch (nichts|kein\w*|nicht)|wo bleibt|wann (wird|kommt))",
        r"\bwo bleibt\b",
        r"\b(stand|bearbeitungsstand)\b.*\bmein\w*\b",
        r"\bmein\w*\s+(antrag|widerspruch|einspruch|bescheid|vorgang|akte)\b.*\b(geworden|entschieden|bearbeitet|stand|weit)\b",
        r"\bwas ist (aus|mit) mein\w*\b",
        r"\bwie weit ist mein\w*\b",
        r"\b(schon|bereits) entschieden\b",
    )
]


_CONNECT = re.compile(
    r"\b(verbind\w*|durchstell\w*|weiterleit\w*|weiterverbind\w*|sprechen|einmal die|einmal das|einmal den)\b",
    re.IGNORECASE,
)


def wants_connection(text: str, named_departments: Sequence[str]) -> bool:
    """A switchboard request: an office is named and the caller asks to be put through
    ("Friedhofsverwaltung bitte", "verbinden Sie mich mit dem Standesamt")."""
    if not named_departments:
        return False
    words = re.findall(r"\w+", text or "")
    return bool(_CONNECT.search(text or "")) or (len(words) <= 4 and "?" not in (text or ""))


def refers_back(text: str) -> bool:
    """Does the message point back to the topic under discussion?"""
    return bool(_REFERS_BACK.search(text or ""))


def is_own_case(text: str) -> bool:
    """Is this about the status of the citizen's own application, report or order?"""
    return any(p.search(text or "") for p in _OWN_CASE)


def _known(slugs: Iterable[Optional[str]], kb: KnowledgeBase) -> List[str]:
    seen: List[str] = []
    for slug in slugs:
        if slug and slug in kb.services and slug not in seen:
            seen.append(slug)
    return seen


def resolve_service(
    kb: KnowledgeBase,
    intent: Optional[str],
    confidence: float,
    ranking: Sequence[dict],
    mentioned: Sequence[str],
    current: Optional[str],
    margin: float = 0.15,
    trust: float = 0.2,
    sure: float = 0.3,
    text: str = "",
    context_trust: float = 0.6,
) -> Resolution:
    """Decide which service a message is about.

    The thresholds are calibrated on a split of the training data for the blended
    classifier: above ``sure`` its top intent was right 96 % of the time, above
    ``trust`` 94 %, above ``context_trust`` 98.5 % (docs/nlu-model.md).

    - A service intent decides when it is confident (``sure``); a service named in the
      text overrides an intent below ``trust`` (a mention like "Reisepass" in "Reisepass
      verloren" must not beat a confident "lost document" intent).
    - Two service intents close together, neither confident: ask back with both.
    - A follow-up without a service refers to the topic under discussion.
    """
    named = _known(mentioned, kb)
    intended = slug_for(intent)
    if (
        current in kb.services
        and not named
        and intended != current
        and confidence < context_trust
        and refers_back(text)
    ):
        # A short question that points back ("Geht das auch im Rathaus?") stays on topic
        # unless the classifier is sure it is about something else.
        return Resolution(current, source="context")
    if intended and intended in kb.services:
        if named and intended not in named and confidence < trust:
            return Resolution(named[0], source="entity") if len(named) == 1 else Resolution(candidates=named[:3], source="entity")
        if confidence < sure:
            rivals = [
                slug_for(r.get("name"))
                for r in ranking[1:3]
                if slug_for(r.get("name")) and confidence - float(r.get("confidence", 0.0)) < margin
            ]
            rivals = _known(rivals, kb)
            if rivals:
                return Resolution(candidates=[intended] + rivals, source="ranking")
        return Resolution(intended, source="intent")
    if len(named) == 1:
        return Resolution(named[0], source="entity")
    if len(named) > 1:
        return Resolution(candidates=named[:3], source="entity")
    if current and current in kb.services:
        return Resolution(current, source="context")
    return Resolution()


def handoff_target(
    kb: KnowledgeBase,
    named_departments: Sequence[str],
    service: Optional[str],
) -> str:
    """The competent department or body: a named office, else the service's, else the switchboard."""
    for slug in named_departments:
        if slug in kb.organisations and slug != "polizei-notruf":
            return slug
    if service and service in kb.services:
        return kb.services[service].responsible
    return DEFAULT_HANDOFF_TARGET


def recover_from_fallback(
    kb: KnowledgeBase,
    ranking: Sequence[dict],
    mentioned: Sequence[str],
    floor: float = 0.15,
    current: Optional[str] = None,
    text: str = "",
) -> Resolution:
    """When the classifier is unsure, use what agrees: a service named in the text, the
    topic under discussion for a message that points back, or the two best service
    intents to offer as choices."""
    named = _known(mentioned, kb)
    if len(named) == 1:
        return Resolution(named[0], source="entity")
    top = next((r.get("name") for r in ranking if r.get("name") != "nlu_fallback"), None)
    about_a_service = bool(top) and (top.startswith(SERVICE_INTENT_PREFIX) or top.startswith("ask_"))
    if not named and current in kb.services and about_a_service and refers_back(text):
        return Resolution(current, source="context")
    services = [
        (slug_for(r.get("name")), float(r.get("confidence", 0.0)))
        for r in ranking
        if slug_for(r.get("name"))
    ]
    services = [(s, c) for s, c in services if s in kb.services and c >= floor]
    if len(named) > 1:
        top = services[0][0] if services else None
        if top in named:
            return Resolution(top, source="entity+ranking")
        return Resolution(candidates=named[:3], source="entity")
    if len(services) >= 2:
        return Resolution(candidates=[s for s, _ in services[:3]], source="ranking")
    return Resolution()
