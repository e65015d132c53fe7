"""The handbook's quality standards against the measured figures, the cost reimbursement
(quantity × tariff), and the German wording both are shown in (dashboard, PDF, CSV)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Dict, List, Optional, Tuple

from servicecenter.dialogue import slug_for
from servicecenter.handoff.summary import REASON_LABELS
from servicecenter.reports.config import TARIFF_KEYS, TO_BE_AGREED, QualityHandbook
from servicecenter.text import format_euro, format_month, format_number, format_percent

NO_DATA = "keine Daten"
CHANNEL_LABELS = {"chat": "Chat", "voice": "Telefon"}
INTENT_LABELS = {
    "out_of_scope": "Außerhalb der Zuständigkeit der Stadt",
    "bot_challenge": "Frage an den Assistenten selbst",
    "greet": "Begrüßung", "thanks": "Dank", "goodbye": "Verabschiedung", "affirm": "Zustimmung",
    "deny": "Ablehnung", "human": "Wunsch nach einem Menschen", "complaint": "Beschwerde",
    "case_status": "Frage zum eigenen Vorgang", "not_helpful": "Antwort half nicht",
    "nlu_fallback": "Nicht verstanden", "unbekannt": "Nicht verstanden",
}


def month_title(month: str) -> str:
    """'2026-11' -> 'November 2026'."""
    year, number = month.split("-")
    return format_month(int(year), int(number))


def de_share(value: Optional[float]) -> str:
    return NO_DATA if value is None else format_percent(value)


def de_eur(value: Optional[Decimal]) -> str:
    return TO_BE_AGREED if value is None else format_euro(value)


class Labels:
    """German names for slugs and codes (from the knowledge base)."""

    def __init__(self, kb: Any) -> None:
        self.kb = kb

    def service(self, slug: Optional[str]) -> str:
        if not slug:
            return "ohne erkanntes Anliegen"
        entry = self.kb.services.get(slug) if self.kb is not None else None
        return entry.name if entry is not None else slug

    def department(self, slug: str) -> str:
        org = self.kb.organisations.get(slug) if self.kb is not None else None
        return org.name if org is not None else slug

    def reason(self, code: str) -> str:
        return REASON_LABELS.get(code, code)

    def intent(self, name: str) -> str:
        slug = slug_for(name)
        if slug:
            return "Unsicher erkannt: " + self.service(slug)
        return INTENT_LABELS.get(name, name)

    def unanswered(self, key: str) -> str:
        kind, _, value = key.partition(":")
        return self.service(value) if kind == "service" else self.intent(value)


def quality_rows(figures: Dict[str, Any], handbook: QualityHandbook) -> List[Dict[str, Any]]:
    """The handbook's standards with the measured value, the target and whether it is met."""
    t = handbook.targets
    fcr, takeover, reply = figures["first_contact_resolution"], figures["takeover"], figures["reply_promise"]
    sat, handoff, fallback = figures["satisfaction"], figures["handoff"], figures["fallback"]
    hours = format_number(handbook.reply_within_service_hours, 0)
    rows = [
        ("fcr", "Abschließend beim Erstkontakt beantwortet", "Erstlösung", fcr["share"], t.first_contact_resolution,
         f"{format_number(fcr['resolved'])} von {format_number(fcr['contacts'])} Kontakten; Wiederkontakt-Fenster "
         f"{fcr['repeat_window_days']} Tage", False, "resolved"),
        ("takeover", f"Übernahme durch einen Menschen innerhalb von {t.takeover_within_seconds} Sekunden",
         f"Übernahme ≤ {t.takeover_within_seconds} s", takeover["share"], t.takeover_share,
         f"{format_number(takeover['within_limit'])} von {format_number(takeover['live_handoffs'])} Übergaben an das ServiceCenter",
         False, "takeover_late"),
        ("reply", f"Antwort auf Weiterleitungen und Rückrufe innerhalb von {hours} Servicestunden",
         f"Antwort ≤ {hours} Servicestd.", reply["share"], t.reply_in_time_share,
         f"{format_number(reply['in_time'])} von {format_number(reply['total'])}; "
         f"{format_number(reply['forwarded']['pending'] + reply['callbacks']['pending'])} noch in der Frist",
         False, "reply_late"),
        ("satisfaction", "Zufriedenheit (positive Bewertungen)", "Zufriedenheit", sat["share"], t.satisfaction,
         f"{format_number(sat['up'])} von {format_number(sat['rated_conversations'])} bewerteten Gesprächen", False, "resolved"),
        ("handoff_rate", "Übergabequote (an Menschen übergeben)", "Übergabequote", handoff["share"], None,
         f"{format_number(handoff['handoffs'])} von {format_number(fcr['contacts'])} Kontakten", True, "handoff"),
        ("fallback_rate", "Nicht verstandene Nachrichten", "Nicht verstanden", fallback["share"], None,
         f"{format_number(fallback['fallback_turns'])} von {format_number(fallback['turns'])} Nachrichten", True, "fallback"),
    ]
    result = []
    for key, label, short, value, target, basis, info, drill in rows:
        if value is None:
            status = NO_DATA
        elif target is None:
            status = "ohne Ziel" if info else "Ziel offen"
        else:
            status = "erfüllt" if value >= target else "nicht erfüllt"
        result.append({"key": key, "label": label, "short": short, "value": value, "share": value,
                       "target": target, "basis": basis, "status": status, "info": info, "drill": drill})
    return result


def volume_rows(figures: Dict[str, Any]) -> List[Tuple[str, str]]:
    c, v = figures["contacts"], figures["voice"]
    median = figures["takeover"]["median_seconds"]
    return [
        ("Kontakte gesamt", format_number(c["total"])),
        ("davon Chat", format_number(c["by_channel"].get("chat", 0))),
        ("davon Telefon", format_number(c["by_channel"].get("voice", 0))),
        ("Gesprächsminuten Telefon", format_number(v["minutes"], 2)),
        ("Übergaben an Menschen", format_number(figures["handoff"]["handoffs"])),
        ("Wartezeit bis zur Übernahme (Median)", NO_DATA if median is None else f"{format_number(median, 0)} s"),
        ("Bewertungen (davon mit Kommentar)",
         f"{format_number(figures['satisfaction']['ratings'])} ({format_number(figures['satisfaction']['with_comment'])})"),
    ]


# ------------------------------------------------------------------------ reimbursement


@dataclass(frozen=True)
class LineItem:
    key: str
    label: str
    unit: str
    quantity: Decimal
    tariff: Optional[Decimal]

    @property
    def amount(self) -> Optional[Decimal]:
        if self.tariff is None:
            return None
        return (self.quantity * self.tariff).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def reimbursement(figures: Dict[str, Any], handbook: QualityHandbook) -> Tuple[List[LineItem], Optional[Decimal]]:
    """Line items (quantity × tariff) and the total; the total is None while any tariff is open."""
    quantities = {
        "contact_chat": Decimal(figures["contacts"]["by_channel"].get("chat", 0)),
        "contact_voice": Decimal(figures["contacts"]["by_channel"].get("voice", 0)),
        "voice_minute": Decimal(str(figures["voice"]["minutes"])),
        "handoff": Decimal(figures["handoff"]["handoffs"]),
        "monthly_base": Decimal(1),
    }
    items = []
    for key in TARIFF_KEYS:
        tariff = handbook.tariffs[key]
        items.append(LineItem(key, tariff.label, tariff.unit, quantities[key], tariff.amount))
    amounts = [i.amount for i in items]
    total = None if any(a is None for a in amounts) else sum(amounts, Decimal("0.00"))  # type: ignore[arg-type]
    return items, total
