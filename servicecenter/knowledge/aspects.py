"""What a question asks about a service: fee, documents, duration, place, online, hours."""

from __future__ import annotations

import re
from typing import Optional

GENERAL = "general"
FEE = "fee"
DOCUMENTS = "documents"
DURATION = "duration"
LOCATION = "location"
ONLINE = "online"
HOURS = "hours"
DEADLINE = "deadline"

ASPECTS = (GENERAL, FEE, DOCUMENTS, DURATION, LOCATION, ONLINE, HOURS, DEADLINE)

# Follow-up intents map one to one onto aspects.
INTENT_ASPECTS = {
    "ask_fee": FEE,
    "ask_documents": DOCUMENTS,
    "ask_duration": DURATION,
    "ask_location": LOCATION,
    "ask_online": ONLINE,
    "ask_hours": HOURS,
}

# Ordered: the first pattern that matches wins (a fee question that mentions the
# Bürgerbüro is about the fee).
_PATTERNS = [
    (FEE, r"kost|gebühr|gebuehr|preis|teuer|bezahl|zahlen|euro|billig|günstig"),
    (DOCUMENTS, r"unterlagen|dokument|mitbring|nachweis|was brauch|welche papiere|brauche ich"),
    (ONLINE, r"online|internet|digital|per mail|e-mail|webseite|app\b"),
    (HOURS, r"öffnungszeit|oeffnungszeit|geöffnet|geoeffnet|offen|auf\?|sprechzeit|wann (?:hat|haben|ist)"),
    (DEADLINE, r"frist|bis wann|spätestens|wie viel zeit hab"),
    (DURATION, r"dauer|wie lange|wie lang|wann (?:ist|bekomm|krieg).*fertig|bearbeitungszeit"),
    (LOCATION, r"\bwo\b|wohin|adresse|anschrift|hingehen|welches amt|wer ist zuständig|zuständig"),
]
_COMPILED = [(aspect, re.compile(p, re.IGNORECASE)) for aspect, p in _PATTERNS]


def detect_aspect(text: str, intent: Optional[str] = None) -> str:
    """The aspect a message asks about; follow-up intents decide, else the words do."""
    if intent in INTENT_ASPECTS:
        return INTENT_ASPECTS[intent]
    for aspect, pattern in _COMPILED:
        if pattern.search(text or ""):
            return aspect
    return GENERAL
