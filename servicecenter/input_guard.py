"""Check a citizen's message before it reaches the dialogue model.

Bad input gets a polite answer and changes nothing. Rasa treats text that starts with "/"
as a structured payload (intent and entities); a citizen can type that too, so only the
payloads our own buttons send pass as such, without entities. Anything else that starts
with "/" is read as ordinary words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Optional

MAX_LENGTH = 1000
_ALLOWED_PAYLOAD = re.compile(r"^/(svc_[a-z_]{3,40}|affirm|deny|human|greet)$")
_PAYLOAD_PARTS = re.compile(r"\{.*\}|\[.*\]|@[0-9.]+|[_]")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")

EMPTY_REPLY = "Bitte schreiben Sie Ihre Frage in das Textfeld."
TOO_LONG_REPLY = (
    f"Ihre Nachricht ist zu lang. Bitte fassen Sie Ihre Frage in höchstens {MAX_LENGTH} Zeichen zusammen."
)
NOT_TEXT_REPLY = "Ich kann nur Textnachrichten verarbeiten. Bitte schreiben Sie Ihre Frage."


@dataclass(frozen=True)
class Checked:
    text: Optional[str] = None
    problem: Optional[str] = None  # machine-readable code
    reply: Optional[str] = None  # what the citizen is told

    @property
    def ok(self) -> bool:
        return self.problem is None


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    # Drop control and format characters (keep line breaks and tabs as spaces).
    text = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in text
        if ch in "\t\r\n" or unicodedata.category(ch)[0] != "C"
    )
    return re.sub(r"\s+", " ", text).strip()


def check_message(raw: Any) -> Checked:
    """Validate and normalise one message; say politely what is wrong otherwise."""
    if not isinstance(raw, str):
        return Checked(problem="not_text", reply=NOT_TEXT_REPLY)
    if len(raw) > MAX_LENGTH * 4:
        return Checked(problem="too_long", reply=TOO_LONG_REPLY)
    text = _clean(raw)
    if not text:
        return Checked(problem="empty", reply=EMPTY_REPLY)
    if len(text) > MAX_LENGTH:
        return Checked(problem="too_long", reply=TOO_LONG_REPLY)
    if text.startswith("/") and not _ALLOWED_PAYLOAD.match(text):
        # Keep the words, drop the structure: no intent, confidence or entities.
        text = _PAYLOAD_PARTS.sub(" ", text.lstrip("/"))
        text = re.sub(r"\s+", " ", text).strip() or "?"
    return Checked(text=text)


def valid_session_id(value: Any) -> bool:
    """Sender ids must be long random tokens, so no one can guess another's conversation."""
    return isinstance(value, str) and bool(_SESSION_ID.match(value))
