"""A callback request on the phone, when no one can take the call live.

The caller confirms the number the call came from (key 1), or types another one ending with
the hash key; the number is stored on the handoff's ticket only after that confirmation,
which the prompt states is consent to keep it for the callback.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from servicecenter.handoff.callback import normalise_phone

DIGIT_WORDS = {"0": "null", "1": "eins", "2": "zwei", "3": "drei", "4": "vier", "5": "fünf",
               "6": "sechs", "7": "sieben", "8": "acht", "9": "neun", "+": "plus"}
_SIP_USER = re.compile(r"sips?:([^@;>]+)@")
MAX_DIGITS = 20


def caller_number(remote_uri: str) -> Optional[str]:
    """E.164 number of the caller from the SIP From URI, if it is a valid phone number."""
    match = _SIP_USER.search(remote_uri or "")
    return normalise_phone(match.group(1)) if match else None


def spoken_number(e164: str) -> str:
    """'+492831123456' -> 'null zwei acht drei eins, eins zwei drei vier fünf sechs' (national form)."""
    national = "0" + e164[3:] if e164.startswith("+49") else e164
    words = [DIGIT_WORDS.get(ch, ch) for ch in national]
    return " ".join(words)


def offer_prompt(number: Optional[str]) -> str:
    if number:
        return (
            "Möchten Sie, dass wir Sie zurückrufen? Unter der Nummer "
            f"{spoken_number(number)}: drücken Sie die Eins. Damit stimmen Sie zu, dass wir die "
            "Nummer für den Rückruf speichern. Für eine andere Nummer geben Sie diese ein und "
            "drücken Sie danach die Rautetaste."
        )
    return (
        "Möchten Sie, dass wir Sie zurückrufen? Dann geben Sie bitte Ihre Telefonnummer ein und "
        "drücken Sie danach die Rautetaste. Damit stimmen Sie zu, dass wir die Nummer für den "
        "Rückruf speichern."
    )


def confirmation(number: str) -> str:
    return (f"Vielen Dank. Wir rufen Sie unter der Nummer {spoken_number(number)} zurück. "
            "Auf Wiederhören.")


INVALID = "Diese Nummer kann ich leider nicht erkennen. Bitte versuchen Sie es noch einmal."
NO_CALLBACK = "In Ordnung, ohne Rückruf. Ihr Anliegen ist vermerkt. Auf Wiederhören."


class DigitCollector:
    """Keys typed while the callback offer runs: '1' first confirms, digits then '#' give a number."""

    def __init__(self) -> None:
        self.keys = ""
        self.result: Optional[str] = None  # "confirm" or the typed digits

    def add(self, key: str) -> bool:
        """Take one key; True when the input is complete."""
        if key == "1" and not self.keys:
            self.result = "confirm"
            return True
        if key == "#":
            self.result = self.keys
            return True
        if key.isdigit() and len(self.keys) < MAX_DIGITS:
            self.keys += key
        return False


def contact(number: str, now: Optional[dt.datetime] = None) -> dict:
    """What tickets.contact holds for a phone callback (the same fields as the web form)."""
    return {
        "name": None, "phone": number, "email": None, "preferred_time": "egal", "concern": "",
        "requested_at": (now or dt.datetime.now(dt.timezone.utc)).isoformat(), "source": "phone",
    }
