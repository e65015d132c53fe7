"""Schema of the knowledge-base YAML files (XZuFi/FIM-style service descriptions)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Dict, List, Optional

from pydantic import BaseModel, Extra, HttpUrl, validator

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
WEEKDAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
INTERVAL_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True


def check_weekly(value: Dict[str, List[str]]) -> Dict[str, List[str]]:
    """Weekday keys mo..su with lists of 'HH:MM-HH:MM' intervals."""
    for day, intervals in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday '{day}' (use {', '.join(WEEKDAYS)})")
        for interval in intervals:
            if not INTERVAL_RE.match(interval):
                raise ValueError(f"'{interval}' on {day} is not 'HH:MM-HH:MM'")
    return value


def _slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError("must be a lower-case slug like 'wohnsitz-anmelden'")
    return value


class Fee(_Strict):
    label: str
    amount_eur: float
    note: Optional[str] = None

    @validator("amount_eur")
    def _non_negative(cls, value: float) -> float:  # noqa: N805
        if value < 0:
            raise ValueError("must not be negative")
        return round(value, 2)


class Link(_Strict):
    label: str
    url: HttpUrl


class Provenance(_Strict):
    sources: List[HttpUrl]
    source_url: HttpUrl
    as_of: str
    approved_by: str
    approved_on: dt.date


class Service(_Strict):
    slug: str
    name: str
    synonyms: List[str]
    teaser: str
    text: str
    documents: List[str] = []
    prerequisites: List[str] = []
    fees: List[Fee] = []
    fee_note: Optional[str] = None
    processing_time: Optional[str] = None
    deadlines: Optional[str] = None
    procedure: List[str] = []
    online_service: Optional[Link] = None
    forms: List[Link] = []
    legal_basis: List[str] = []
    responsible: str
    location: Optional[str] = None
    hours: Optional[str] = None
    contact_note: Optional[str] = None
    provenance: Provenance

    _slug_check = validator("slug", "responsible", allow_reuse=True)(_slug)

    @validator("synonyms")
    def _synonyms(cls, value: List[str]) -> List[str]:  # noqa: N805
        if not value:
            raise ValueError("at least one synonym is required")
        return [v.strip() for v in value if v.strip()]

    @validator("fee_note", always=True)
    def _fee_known_or_referred(cls, value, values):  # type: ignore[no-untyped-def]  # noqa: N805
        if not values.get("fees") and not value:
            raise ValueError(
                "no fees given: add 'fees' or a 'fee_note' that says who names the fee"
            )
        return value


class Organisation(_Strict):
    slug: str
    kind: str
    name: str
    article: Optional[str] = None
    synonyms: List[str] = []
    phone: Optional[str] = None
    email: Optional[str] = None
    web: Optional[HttpUrl] = None
    location: Optional[str] = None
    hours: Optional[str] = None
    note: Optional[str] = None

    _slug_check = validator("slug", allow_reuse=True)(_slug)

    @validator("article")
    def _article(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805
        if value is not None and value not in {"der", "die", "das"}:
            raise ValueError("must be 'der', 'die' or 'das' (the German article of the name)")
        return value

    @validator("kind")
    def _kind(cls, value: str) -> str:  # noqa: N805
        if value not in {"department", "external"}:
            raise ValueError("must be 'department' or 'external'")
        return value

    @validator("email")
    def _email(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", value):
            raise ValueError("is not an e-mail address")
        return value


class Location(_Strict):
    slug: str
    name: str
    street: str
    postcode: str
    city: str
    note: Optional[str] = None

    _slug_check = validator("slug", allow_reuse=True)(_slug)

    @property
    def address(self) -> str:
        return f"{self.street}, {self.postcode} {self.city}"


class OpeningHours(_Strict):
    slug: str
    name: str
    weekly: Dict[str, List[str]]
    note: Optional[str] = None
    source: Optional[HttpUrl] = None
    as_of: Optional[str] = None

    _slug_check = validator("slug", allow_reuse=True)(_slug)

    _weekly_check = validator("weekly", allow_reuse=True)(check_weekly)
