"""German text helpers: folding both ways, month and weekday names, numbers and amounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from servicecenter.text import (
    MONTH_NAMES,
    MONTH_WORDS,
    STOP_WORDS,
    WEEKDAY_ABBREVIATIONS,
    fold_umlauts,
    format_euro,
    format_month,
    format_number,
    format_percent,
    format_weekday_date_time,
    month_name,
    restore_umlauts,
    weekday_adverb,
)


def test_folding_goes_both_ways_so_ascii_and_umlaut_spellings_meet() -> None:
    assert fold_umlauts("gebühr für größe") == "gebuehr fuer groesse"
    assert restore_umlauts("gebuehr fuer groesse") == "gebühr für größe"
    assert restore_umlauts(fold_umlauts("sperrmüll")) == "sperrmüll"


def test_stop_words_are_folded_function_words() -> None:
    assert {"fuer", "moechte", "ueber"} <= STOP_WORDS
    assert not {"kosten", "hund", "für"} & STOP_WORDS


def test_month_and_weekday_names() -> None:
    assert MONTH_NAMES[0] == "Januar" and month_name(3) == "März" and len(MONTH_NAMES) == 12
    assert {"märz", "maerz", "jänner", "sept", "okt", "dezember"} <= MONTH_WORDS
    assert WEEKDAY_ABBREVIATIONS == ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
    assert weekday_adverb(2) == "mittwochs"
    assert format_month(2026, 11) == "November 2026"
    due = dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.timezone.utc).astimezone(ZoneInfo("Europe/Berlin"))
    assert format_weekday_date_time(due) == "Dienstag, 1. Dezember, 12:00 Uhr"


@pytest.mark.parametrize("value, decimals, expected", [
    (1234, 0, "1.234"),
    (1234.5, 2, "1.234,50"),
    (-1234.56, 1, "-1.234,6"),
    (Decimal("0.1250"), 4, "0,1250"),
    (1234567.891, 2, "1.234.567,89"),
])
def test_numbers_use_german_grouping_and_decimal_comma(value, decimals, expected) -> None:  # type: ignore[no-untyped-def]
    assert format_number(value, decimals) == expected


def test_shares_and_amounts_keep_a_plain_space_before_the_unit() -> None:
    assert format_percent(0.4567) == "45,7 %"
    assert format_euro(37.5) == "37,50 €"
    assert format_euro(Decimal("1234.5")) == "1.234,50 €"
