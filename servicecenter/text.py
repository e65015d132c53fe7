"""German text in one place: umlaut folding, stop words, month and weekday names, dates,
numbers, amounts.

Names and formats come from Babel's CLDR data for ``de_DE``; only what CLDR does not know
(ASCII spellings, the function words of a search, spoken month variants) is kept here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import FrozenSet, Tuple

from babel.dates import format_date, format_datetime, get_day_names, get_month_names
from babel.numbers import format_decimal

LOCALE = "de_DE"

_TO_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_FROM_ASCII = (("ae", "ä"), ("oe", "ö"), ("ue", "ü"), ("ss", "ß"))


def fold_umlauts(text: str) -> str:
    """'Gebühr für Müll' -> 'Gebuehr fuer Muell' (lower-case umlauts and ß; call after lower())."""
    return text.translate(_TO_ASCII)


def restore_umlauts(text: str) -> str:
    """'gebuehr' -> 'gebühr': the other direction, so that ASCII and umlaut spellings meet.

    Over-eager on purpose ('neue' -> 'neü'): both sides of a comparison go through it.
    """
    for ascii_spelling, umlaut in _FROM_ASCII:
        text = text.replace(ascii_spelling, umlaut)
    return text


# Function words only (folded spelling): content words ("brauche", "kosten") stay searchable.
STOP_WORDS: FrozenSet[str] = frozenset("""
aber alle alles als also am an auch auf aus bei bin bis bitte da damit dann das dass dem den denn der des
dich die dir doch du ein eine einem einen einer eines er es etwas fuer gibt habe haben hallo hat ich ihr
im in ist ja jetzt kann koennen man mein meine meinem meinen meiner mich mir mit moechte muss nach nicht noch
nur ob oder sich sie sind so soll und uns unser vom von vor war was welche welcher welches wenn wer wie wir
wird wo zu zum zur aeh aehm hm mal eigentlich ueber um
""".split())

MONTH_NAMES: Tuple[str, ...] = tuple(get_month_names("wide", locale=LOCALE)[m] for m in range(1, 13))


def _month_words() -> FrozenSet[str]:
    names = [name.lower() for name in MONTH_NAMES]
    folded = [fold_umlauts(name) for name in names]
    abbreviations = [name[:3] for name in names] + ["sept"]
    return frozenset(names + folded + abbreviations + ["jänner"])


# Lower-case ways a month is written in a message: "märz", "maerz", "jänner", "okt", "sept".
MONTH_WORDS: FrozenSet[str] = _month_words()


def month_name(month: int) -> str:
    """12 -> 'Dezember'."""
    return MONTH_NAMES[month - 1]


# Monday first, as date.weekday() counts.
WEEKDAY_NAMES: Tuple[str, ...] = tuple(get_day_names("wide", locale=LOCALE)[d] for d in range(7))
WEEKDAY_ABBREVIATIONS: Tuple[str, ...] = tuple(
    get_day_names("abbreviated", context="stand-alone", locale=LOCALE)[d] for d in range(7)
)


def weekday_adverb(weekday: int) -> str:
    """0 -> 'montags' (on Mondays), as opening hours are read out."""
    return WEEKDAY_NAMES[weekday].lower() + "s"


def format_month(year: int, month: int) -> str:
    """(2026, 11) -> 'November 2026'."""
    return format_date(dt.date(year, month, 1), "MMMM y", locale=LOCALE)


def format_weekday_date_time(moment: dt.datetime) -> str:
    """'Dienstag, 1. Dezember, 12:00 Uhr' (``moment`` already in the wanted time zone)."""
    return format_datetime(moment, "EEEE, d. MMMM, HH:mm 'Uhr'", locale=LOCALE)


def format_number(value: float | int | Decimal, decimals: int = 0) -> str:
    """1234.5 -> '1.234,50' with ``decimals=2``: German grouping and decimal comma.

    Rounded as Python's format() rounds (half to even on the exact binary value), so that
    figures read the same as they always did; Babel supplies the German symbols.
    """
    rounded = Decimal(f"{value:.{decimals}f}")
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(rounded, format=pattern, locale=LOCALE)


def format_percent(share: float, decimals: int = 1) -> str:
    """0.4567 -> '45,7 %' (a share of 1 is 100 %)."""
    return format_number(100 * share, decimals) + " %"


def format_euro(amount: float | Decimal) -> str:
    """1234.5 -> '1.234,50 €'.

    A plain space before the sign: Babel's format_currency puts a no-break space there, which
    would change every amount citizens, the town's spreadsheets and the tests already read.
    """
    return format_number(amount, 2) + " €"
