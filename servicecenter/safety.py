"""A safety net for emergencies: acute danger is referred to 110/112 whatever the model says.

The classifier can miss an unusual wording ("Ein Kind ist in die Niers gefallen"); a
missed emergency costs more than an unneeded hint, so clear danger words decide.
"""

from __future__ import annotations

import re

_DANGER = [
    r"\bes brennt\b", r"\bbrennt\b.*\b(haus|wohnung|auto|küche|dach)\b", r"\bfeuer\b(?!wehr\s*(fest|verein))",
    r"\brauch\b.*\b(wohnung|haus|treppenhaus)\b", r"\bgas\s*geruch|\briecht\b.*\bgas\b",
    r"\bbewusstlos\b", r"\batmet nicht\b", r"\bherzinfarkt\b", r"\bschlaganfall\b.*\b(gerade|jetzt)\b",
    r"\b(gerade|jetzt)\b.*\bschlaganfall\b", r"\bzusammengebrochen\b", r"\bblutet\b.*\b(stark|viel)\b",
    r"\bunfall\b.*\b(verletzt|eingeklemmt|gerade|jetzt)\b", r"\beingeklemmt\b",
    r"\bbricht\b.*\bein\b", r"\beinbrecher\b", r"\b(bedroht|angegriffen|schlägt)\b.*\b(mich|uns|messer|waffe)\b",
    r"\bmesser\b", r"\bins wasser gefallen\b", r"\bin die \w+ gefallen\b", r"\bertrinkt\b",
    r"\bnotarzt\b", r"\brettungswagen\b", r"\bkrankenwagen\b", r"\bhilfe\s*!",
]
_PATTERN = re.compile("|".join(f"(?:{p})" for p in _DANGER), re.IGNORECASE)
# Questions about the topic ("Wer zahlt den Krankenwagen?") are not emergencies.
_NOT_ACUTE = re.compile(r"\b(gebühr|kosten|kostet|zahlt|rechnung|letztes jahr|damals|ausweis|antrag)\b", re.IGNORECASE)


def is_emergency(text: str) -> bool:
    """True when the words signal acute danger now."""
    if not text or not _PATTERN.search(text):
        return False
    return not _NOT_ACUTE.search(text)
