"""Write text for the ear: amounts, times, dates and numbers in words; no URLs."""

from __future__ import annotations

import re

from num2words import num2words

from servicecenter.text import WEEKDAY_ABBREVIATIONS, month_name, weekday_adverb

_URL_RE = re.compile(r"\[([^\]]+)\]\((https?://[^)]+)\)|https?://\S+|www\.\S+")
_EURO_RE = re.compile(r"(\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?|\d+(?:[.,]\d{1,2})?)\s*(?:€|EUR\b|Euro\b)")
_TIME_RANGE_RE = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?\s*Uhr\b")
_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})(?:\s*Uhr)?\b")
_PHONE_RE = re.compile(r"\b0\d{2,4}[ /]?\d{2,8}(?:-\d{1,4})?\b")
_DIGITS_RE = re.compile(r"\b(?:11[02]|\d{5})\b")  # emergency numbers and postcodes
_NUMBER_RANGE_RE = re.compile(r"\b(\d+)\s*[-–]\s*(\d+)\b")
_DATE_RE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")
_NUMBER_RE = re.compile(r"\b\d+(?:,\d+)?\b")
_EMAIL_RE = re.compile(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b")
_MARKUP_RE = re.compile(r"[*_`#>]")

_DAYS = {abbreviation: weekday_adverb(i) for i, abbreviation in enumerate(WEEKDAY_ABBREVIATIONS)}
_DAY_RANGE_RE = re.compile(r"\b(Mo|Di|Mi|Do|Fr|Sa|So)\.?\s*[-–]\s*(Mo|Di|Mi|Do|Fr|Sa|So)\b\.?")
_DAY_RE = re.compile(r"\b(Mo|Di|Mi|Do|Fr|Sa|So)\.?(?=[\s:,]+\d)")


def words(number: int) -> str:
    return num2words(number, lang="de")


def euro(amount: float) -> str:
    """70.0 -> 'siebzig Euro'; 37.5 -> 'siebenunddreißig Euro fünfzig'."""
    cents = round(amount * 100)
    euros, rest = divmod(cents, 100)
    if euros == 0 and rest == 0:
        return "kostenlos"
    text = f"{words(euros)} Euro" if euros else ""
    if rest:
        text = f"{text} {words(rest)}".strip() if euros else f"{words(rest)} Cent"
    return text


def clock(hour: int, minute: int = 0) -> str:
    """(8, 0) -> 'acht Uhr'; (12, 30) -> 'zwölf Uhr dreißig'."""
    text = f"{words(hour)} Uhr"
    return f"{text} {words(minute)}" if minute else text


def time_range(start: str, end: str) -> str:
    """('08:00', '17:00') -> 'acht bis siebzehn Uhr'."""
    sh, sm = (int(x) for x in start.split(":"))
    eh, em = (int(x) for x in end.split(":"))
    if sm == 0 and em == 0:
        return f"{words(sh)} bis {words(eh)} Uhr"
    return f"{clock(sh, sm)} bis {clock(eh, em)}"


def phone(number: str) -> str:
    """'02831 398-0' -> digits spoken one by one, in groups."""
    groups = re.split(r"[ /-]+", number.strip())
    return ", ".join(" ".join(words(int(d)) for d in g if d.isdigit()) for g in groups if g)


def _euro_sub(match: re.Match) -> str:
    raw = match.group(1)
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?", raw):  # 1.000 or 1.000,50
        raw = raw.replace(".", "")
    return euro(float(raw.replace(",", ".")))


def _range_sub(match: re.Match) -> str:
    start = f"{match.group(1)}:{match.group(2) or '00'}"
    end = f"{match.group(3)}:{match.group(4) or '00'}"
    return time_range(start, end)


def _date_sub(match: re.Match) -> str:
    day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if not 1 <= month <= 12:
        return match.group(0)
    return f"{num2words(day, lang='de', to='ordinal')}n {month_name(month)} {words(year)}"


def _number_sub(match: re.Match) -> str:
    raw = match.group(0)
    if "," in raw:
        whole, frac = raw.split(",", 1)
        return f"{words(int(whole))} Komma {' '.join(words(int(d)) for d in frac)}"
    return words(int(raw))


def for_speech(text: str) -> str:
    """Turn a chat text into something a text-to-speech voice reads well."""
    text = _URL_RE.sub(lambda m: m.group(1) or "", text)
    text = _EMAIL_RE.sub(lambda m: f"{m.group(1)} at {m.group(2).replace('.', ' Punkt ')}", text)
    text = _MARKUP_RE.sub("", text)
    text = _DAY_RANGE_RE.sub(lambda m: f"{_DAYS[m.group(1)]} bis {_DAYS[m.group(2)]}", text)
    text = _DAY_RE.sub(lambda m: _DAYS[m.group(1)], text)
    text = _PHONE_RE.sub(lambda m: phone(m.group(0)), text)
    text = _EURO_RE.sub(_euro_sub, text)
    text = _TIME_RANGE_RE.sub(_range_sub, text)
    text = _TIME_RE.sub(lambda m: clock(int(m.group(1)), int(m.group(2))), text)
    text = _DATE_RE.sub(_date_sub, text)
    text = _DIGITS_RE.sub(lambda m: " ".join(words(int(d)) for d in m.group(0)), text)
    text = _NUMBER_RANGE_RE.sub(lambda m: f"{words(int(m.group(1)))} bis {words(int(m.group(2)))}", text)
    text = re.sub(r"§+\s*", "Paragraf ", text)
    text = _NUMBER_RE.sub(_number_sub, text)
    text = re.sub(r"\s*\n\s*-\s*", ". ", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip()
