"""Callback requests: a signed, expiring link for one ticket and the validation of the form.

The link token is ``<ticket id>.<expiry as unix seconds>.<HMAC-SHA256, base64url>``; the
HMAC key is the project's secret key (``servicecenter.secrets.secret_key``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

import phonenumbers

from servicecenter.secrets import secret_key
from servicecenter.settings import Settings
from servicecenter.text import format_weekday_date_time

TOKEN_LIFETIME = dt.timedelta(days=7)
_PURPOSE = b"callback-link:v1"
_TICKET_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")

PREFERRED_TIMES: Dict[str, str] = {
    "vormittags": "vormittags",
    "nachmittags": "nachmittags",
    "egal": "egal",
}
MAX_NAME = 100
MAX_CONCERN = 1000
MAX_EMAIL = 254
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

BERLIN = ZoneInfo("Europe/Berlin")


class InvalidCallbackToken(ValueError):
    """The link token is malformed, tampered with or expired."""


# ---------------------------------------------------------------- tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(key: bytes, ticket_id: str, expires: int) -> str:
    message = _PURPOSE + b"|" + ticket_id.encode("utf-8") + b"|" + str(expires).encode("ascii")
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def _unix(now: Optional[dt.datetime]) -> int:
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp())


def callback_token(ticket_id: str, now: Optional[dt.datetime] = None, settings: Optional[Settings] = None) -> str:
    """A link token for ``ticket_id``, valid for seven days from ``now``."""
    if not _TICKET_ID_RE.match(ticket_id):
        raise ValueError("invalid ticket id")
    expires = _unix(now) + int(TOKEN_LIFETIME.total_seconds())
    return f"{ticket_id}.{expires}.{_signature(secret_key(settings), ticket_id, expires)}"


def callback_url(ticket_id: str, settings: Settings) -> str:
    """The citizen's link to the callback form of one ticket."""
    return f"{settings.browser_console_url}/rueckruf/{callback_token(ticket_id, settings=settings)}"


def verify_callback_token(
    token: str, now: Optional[dt.datetime] = None, settings: Optional[Settings] = None
) -> str:
    """The ticket id of a valid token; raises InvalidCallbackToken otherwise."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not _TICKET_ID_RE.match(parts[0]) or not parts[1].isdigit() or len(parts[1]) > 12:
        raise InvalidCallbackToken("malformed token")
    ticket_id, expires_text, signature = parts
    expires = int(expires_text)
    expected = _signature(secret_key(settings), ticket_id, expires)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise InvalidCallbackToken("bad signature")
    if _unix(now) >= expires:
        raise InvalidCallbackToken("token expired")
    return ticket_id


# ---------------------------------------------------------------- form validation


@dataclass(frozen=True)
class CallbackRequest:
    name: str
    phone: Optional[str]  # E.164
    email: Optional[str]
    preferred_time: str
    concern: str
    consent: bool

    def contact(self, now: Optional[dt.datetime] = None) -> Dict[str, Any]:
        """The JSON stored in ``tickets.contact``."""
        data = asdict(self)
        data.pop("consent")
        data["requested_at"] = (now or dt.datetime.now(dt.timezone.utc)).isoformat()
        return data


def _text(form: Mapping[str, Any], field: str) -> str:
    value = form.get(field)
    return _CONTROL_RE.sub("", str(value)).strip() if value is not None else ""


def normalise_phone(raw: str) -> Optional[str]:
    """E.164 for a valid phone number (German numbers without country code too), else None."""
    if not raw or len(raw) > 40:
        return None
    try:
        number = phonenumbers.parse(raw, "DE")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_email(raw: str) -> bool:
    return len(raw) <= MAX_EMAIL and bool(_EMAIL_RE.match(raw))


def consent_given(form: Mapping[str, Any]) -> bool:
    return _text(form, "consent") in {"ja", "on", "1", "true", "yes"}


def validate_callback(form: Mapping[str, Any]) -> Tuple[Optional[CallbackRequest], Dict[str, str]]:
    """The checked request, or None and German messages per field."""
    errors: Dict[str, str] = {}
    name = _text(form, "name")
    phone_raw = _text(form, "phone")
    email = _text(form, "email")
    preferred = _text(form, "preferred_time") or "egal"
    concern = str(form.get("concern") or "").replace("\r\n", "\n").strip()
    concern = _CONTROL_RE.sub("", concern)
    consent = consent_given(form)

    if not name:
        errors["name"] = "Bitte geben Sie Ihren Namen an."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Bitte kürzen Sie den Namen auf höchstens {MAX_NAME} Zeichen."

    phone: Optional[str] = None
    if phone_raw:
        phone = normalise_phone(phone_raw)
        if phone is None:
            errors["phone"] = (
                "Diese Telefonnummer können wir nicht erkennen. Bitte prüfen Sie die Nummer, "
                "zum Beispiel 02831 123456 oder +49 2831 123456."
            )
    if email and not valid_email(email):
        errors["email"] = "Bitte geben Sie eine gültige E-Mail-Adresse an, zum Beispiel name@beispiel.de."
    if not phone_raw and not email:
        errors["phone"] = "Bitte geben Sie eine Telefonnummer oder eine E-Mail-Adresse an."

    if preferred not in PREFERRED_TIMES:
        errors["preferred_time"] = "Bitte wählen Sie vormittags, nachmittags oder egal."
    if len(concern) > MAX_CONCERN:
        errors["concern"] = f"Bitte fassen Sie Ihr Anliegen in höchstens {MAX_CONCERN} Zeichen zusammen."
    if not consent:
        errors["consent"] = "Ohne Ihre Einwilligung können wir Ihre Kontaktdaten nicht speichern."

    if errors:
        return None, errors
    return (
        CallbackRequest(
            name=name, phone=phone, email=email or None, preferred_time=preferred, concern=concern, consent=True
        ),
        {},
    )


# ---------------------------------------------------------------- German date wording


def german_due(due_at: dt.datetime) -> str:
    """'Dienstag, 1. Dezember, 12:00 Uhr' in Geldern's local time."""
    return format_weekday_date_time(due_at.astimezone(BERLIN))
