"""The monthly report for the town: quality figures against the handbook's targets and the
cost reimbursement (quantity × tariff), as a PDF with charts and as CSV files.

Aggregate reports contain no personal data: counts, shares, service and intent names only.
Figures of a month whose conversations were purged come from ``monthly_aggregates``.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import textwrap
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from sqlalchemy import select

from servicecenter.db import session_scope
from servicecenter.dialogue import slug_for
from servicecenter.handoff.summary import REASON_LABELS
from servicecenter.reports import charts
from servicecenter.reports.config import TARIFF_KEYS, TO_BE_AGREED, QualityHandbook
from servicecenter.reports.metrics import Period, compute_figures
from servicecenter.reports.models import MonthlyAggregate

log = logging.getLogger(__name__)

MONTHS_DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
             "Oktober", "November", "Dezember")
CHANNEL_LABELS = {"chat": "Chat", "voice": "Telefon"}
INTENT_LABELS = {
    "out_of_scope": "Außerhalb der Zuständigkeit der Stadt",
    "bot_challenge": "Frage an den Assistenten selbst",
    "greet": "Begrüßung", "thanks": "Dank", "goodbye": "Verabschiedung", "affirm": "Zustimmung",
    "deny": "Ablehnung", "human": "Wunsch nach einem Menschen", "complaint": "Beschwerde",
    "case_status": "Frage zum eigenen Vorgang", "not_helpful": "Antwort half nicht",
    "nlu_fallback": "Nicht verstanden", "unbekannt": "Nicht verstanden",
}
CSV_FILES = ("kennzahlen.csv", "kontakte_nach_tag.csv", "themen.csv", "kostenerstattung.csv")
A4 = (8.27, 11.69)


# ------------------------------------------------------------------------ formatting


def month_title(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTHS_DE[int(number) - 1]} {year}"


def de_number(value: float | int | Decimal, decimals: int = 0) -> str:
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "X").replace(".", ",").replace("X", ".")


def de_share(value: Optional[float]) -> str:
    return "keine Daten" if value is None else de_number(100 * value, 1) + " %"


def de_eur(value: Optional[Decimal]) -> str:
    return TO_BE_AGREED if value is None else de_number(value, 2) + " €"


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


# ------------------------------------------------------------------------ figures vs targets


def quality_rows(figures: Dict[str, Any], handbook: QualityHandbook) -> List[Dict[str, Any]]:
    """The handbook's standards with the measured value, the target and whether it is met."""
    t = handbook.targets
    fcr, takeover, reply = figures["first_contact_resolution"], figures["takeover"], figures["reply_promise"]
    sat, handoff, fallback = figures["satisfaction"], figures["handoff"], figures["fallback"]
    hours = de_number(handbook.reply_within_service_hours, 0)
    rows = [
        ("fcr", "Abschließend beim Erstkontakt beantwortet", "Erstlösung", fcr["share"], t.first_contact_resolution,
         f"{de_number(fcr['resolved'])} von {de_number(fcr['contacts'])} Kontakten; Wiederkontakt-Fenster "
         f"{fcr['repeat_window_days']} Tage", False, "resolved"),
        ("takeover", f"Übernahme durch einen Menschen innerhalb von {t.takeover_within_seconds} Sekunden",
         f"Übernahme ≤ {t.takeover_within_seconds} s", takeover["share"], t.takeover_share,
         f"{de_number(takeover['within_limit'])} von {de_number(takeover['live_handoffs'])} Übergaben an das ServiceCenter",
         False, "takeover_late"),
        ("reply", f"Antwort auf Weiterleitungen und Rückrufe innerhalb von {hours} Servicestunden",
         f"Antwort ≤ {hours} Servicestd.", reply["share"], t.reply_in_time_share,
         f"{de_number(reply['in_time'])} von {de_number(reply['total'])}; "
         f"{de_number(reply['forwarded']['pending'] + reply['callbacks']['pending'])} noch in der Frist",
         False, "reply_late"),
        ("satisfaction", "Zufriedenheit (positive Bewertungen)", "Zufriedenheit", sat["share"], t.satisfaction,
         f"{de_number(sat['up'])} von {de_number(sat['rated_conversations'])} bewerteten Gesprächen", False, "resolved"),
        ("handoff_rate", "Übergabequote (an Menschen übergeben)", "Übergabequote", handoff["share"], None,
         f"{de_number(handoff['handoffs'])} von {de_number(fcr['contacts'])} Kontakten", True, "handoff"),
        ("fallback_rate", "Nicht verstandene Nachrichten", "Nicht verstanden", fallback["share"], None,
         f"{de_number(fallback['fallback_turns'])} von {de_number(fallback['turns'])} Nachrichten", True, "fallback"),
    ]
    result = []
    for key, label, short, value, target, basis, info, drill in rows:
        if value is None:
            status = "keine Daten"
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
        ("Kontakte gesamt", de_number(c["total"])),
        ("davon Chat", de_number(c["by_channel"].get("chat", 0))),
        ("davon Telefon", de_number(c["by_channel"].get("voice", 0))),
        ("Gesprächsminuten Telefon", de_number(v["minutes"], 2)),
        ("Übergaben an Menschen", de_number(figures["handoff"]["handoffs"])),
        ("Wartezeit bis zur Übernahme (Median)", "keine Daten" if median is None else f"{de_number(median, 0)} s"),
        ("Bewertungen (davon mit Kommentar)",
         f"{de_number(figures['satisfaction']['ratings'])} ({de_number(figures['satisfaction']['with_comment'])})"),
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


# ------------------------------------------------------------------------ figures of a month


def month_figures(month: str, handbook: QualityHandbook, url: Optional[str] = None,
                  now: Optional[dt.datetime] = None) -> Tuple[Dict[str, Any], bool]:
    """The month's figures and whether they come from the kept aggregate (data purged)."""
    with session_scope(url) as session:
        kept = session.execute(select(MonthlyAggregate).where(MonthlyAggregate.month == month)).scalar_one_or_none()
        if kept is not None and kept.frozen:
            return dict(kept.figures), True
    period = Period.month(month, handbook.routing.timezone)
    figures = compute_figures(period, handbook.repeat_contact_days, handbook.routing.calendar,
                              handbook.reply_within_service_hours, handbook.targets.takeover_within_seconds,
                              url=url, now=now)
    return figures, False


def store_aggregate(month: str, figures: Dict[str, Any], frozen: bool, url: Optional[str] = None) -> None:
    """Keep the month's figures (no personal data); a frozen aggregate is never overwritten."""
    with session_scope(url) as session:
        kept = session.get(MonthlyAggregate, month)
        now = dt.datetime.now(dt.timezone.utc)
        if kept is None:
            session.add(MonthlyAggregate(month=month, figures=figures, frozen=frozen, computed_at=now))
        elif not kept.frozen:
            kept.figures, kept.frozen, kept.computed_at = figures, frozen, now


# ------------------------------------------------------------------------ files


@dataclass(frozen=True)
class ReportFiles:
    directory: Path
    pdf: Path
    csv: List[Path]
    from_aggregate: bool


def _write_csv(path: Path, header: List[str], rows: List[List[str]]) -> None:
    # Semicolons and a BOM: German spreadsheet programs open the file as it is meant.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)


def write_csvs(directory: Path, figures: Dict[str, Any], handbook: QualityHandbook, labels: Labels) -> List[Path]:
    paths = [directory / name for name in CSV_FILES]
    rows = [[r["label"], de_share(r["value"]), TO_BE_AGREED if r["target"] is None and not r["info"]
             else ("–" if r["target"] is None else de_share(r["target"])), r["status"], r["basis"]]
            for r in quality_rows(figures, handbook)]
    rows += [[label, value, "–", "Menge", ""] for label, value in volume_rows(figures)]
    _write_csv(paths[0], ["Kennzahl", "Wert", "Ziel", "Bewertung", "Grundlage"], rows)
    days = [[day, str(c.get("chat", 0)), str(c.get("voice", 0)), str(sum(c.values()))]
            for day, c in figures["contacts"]["by_day"].items()]
    _write_csv(paths[1], ["Datum", "Chat", "Telefon", "Gesamt"], days)
    topics = [["Anliegen", labels.service(s), str(n)] for s, n in figures["top_services"]]
    topics += [["Unbeantwortet", labels.unanswered(k), str(n)] for k, n in figures["top_unanswered"]]
    topics += [["Übergabegrund", labels.reason(k), str(n)] for k, n in figures["handoff"]["by_reason"].items()]
    topics += [["Übergabe an", labels.department(k), str(n)] for k, n in figures["handoff"]["by_department"].items()]
    _write_csv(paths[2], ["Art", "Thema", "Anzahl"], topics)
    items, total = reimbursement(figures, handbook)
    lines = [[i.label, de_number(i.quantity, 2 if i.key == "voice_minute" else 0), i.unit,
              TO_BE_AGREED if i.tariff is None else de_number(i.tariff, 4 if i.tariff != i.tariff.quantize(Decimal("0.01")) else 2),
              de_eur(i.amount).replace(" €", "")] for i in items]
    lines.append(["Summe", "", "", "", "nicht berechenbar: Tarife noch zu vereinbaren" if total is None
                  else de_number(total, 2)])
    _write_csv(paths[3], ["Position", "Menge", "Einheit", "Tarif (EUR je Einheit)", "Betrag (EUR)"], lines)
    return paths


def _page(pdf: PdfPages, title: str, month: str) -> Figure:
    fig = Figure(figsize=A4)
    fig.text(0.07, 0.965, title, fontsize=15, weight="bold", va="top")
    fig.text(0.07, 0.94, f"ServiceCenter Kreis Wesel für die Stadt Geldern · {month_title(month)}",
             fontsize=9, color="#444444", va="top")
    return fig


def _table(fig: Figure, top: float, header: List[str], rows: List[List[str]], xs: List[float],
           size: float = 8.5, step: float = 0.024) -> float:
    y = top
    for x, text in zip(xs, header, strict=True):
        fig.text(x, y, text, fontsize=size, weight="bold", va="top")
    y -= step
    for row in rows:
        for x, text in zip(xs, row, strict=True):
            fig.text(x, y, text, fontsize=size, va="top", linespacing=1.3)
        y -= step * max(text.count("\n") + 1 for text in row) * (0.75 if any("\n" in t for t in row) else 1)
    return y


def write_pdf(path: Path, month: str, figures: Dict[str, Any], handbook: QualityHandbook, labels: Labels,
              from_aggregate: bool) -> None:
    rows = quality_rows(figures, handbook)
    items, total = reimbursement(figures, handbook)
    metadata = {"Title": f"Qualitäts- und Abrechnungsbericht {month_title(month)}", "Author": "ServiceCenter Kreis Wesel",
                "Subject": "Bürgerservice Geldern", "Creator": "Bürgerservice Geldern", "Producer": "Bürgerservice Geldern",
                "CreationDate": None}
    with PdfPages(path, metadata=metadata) as pdf:
        fig = _page(pdf, f"Qualitäts- und Abrechnungsbericht {month_title(month)}", month)
        fig.text(0.07, 0.91, f"Zeitraum: {figures['period']['label']} · Ziele nach dem Qualitätshandbuch "
                 "(115-Serviceversprechen)", fontsize=9, va="top")
        y = _table(fig, 0.88, ["Qualitätsstandard", "Wert", "Ziel", "Bewertung"],
                   [[textwrap.fill(r["label"], 58), de_share(r["value"]),
                     "–" if r["info"] else ("zu vereinbaren" if r["target"] is None else de_share(r["target"])), r["status"]]
                    for r in rows], [0.07, 0.58, 0.68, 0.83], size=8)
        y = _table(fig, y - 0.015, ["Mengen", "Wert"], [list(v) for v in volume_rows(figures)], [0.07, 0.60], size=8)
        note = ("Die Werte stammen aus dem aufbewahrten Monatsaggregat (Gesprächsdaten bereits gelöscht)."
                if from_aggregate else "Berechnet aus den gespeicherten Gesprächsereignissen, Tickets und Bewertungen.")
        fig.text(0.07, y - 0.01, note + " Der Bericht enthält keine personenbezogenen Daten.", fontsize=7.5,
                 color="#444444", va="top")
        charts.draw(fig.add_axes((0.30, 0.06, 0.63, 0.30)), "targets", figures, rows, labels)
        pdf.savefig(fig)

        fig = _page(pdf, "Kontakte", month)
        charts.draw(fig.add_axes((0.09, 0.55, 0.86, 0.33)), "contacts_by_day", figures)
        charts.draw(fig.add_axes((0.09, 0.10, 0.86, 0.33)), "contacts_by_hour", figures)
        pdf.savefig(fig)

        fig = _page(pdf, "Anliegen und Übergaben", month)
        charts.draw(fig.add_axes((0.40, 0.66, 0.55, 0.24)), "top_services", figures, labels=labels)
        charts.draw(fig.add_axes((0.40, 0.36, 0.55, 0.24)), "top_unanswered", figures, labels=labels)
        charts.draw(fig.add_axes((0.40, 0.06, 0.55, 0.24)), "handoff_reasons", figures, labels=labels)
        pdf.savefig(fig)

        fig = _page(pdf, "Kostenerstattung", month)
        y = _table(fig, 0.90, ["Position", "Menge", "Tarif", "Betrag"],
                   [[i.label[:55], f"{de_number(i.quantity, 2 if i.key == 'voice_minute' else 0)} {i.unit}",
                     de_eur(i.tariff), de_eur(i.amount)] for i in items], [0.07, 0.55, 0.72, 0.85], size=8)
        fig.text(0.07, y - 0.01, "Summe: " + ("nicht berechenbar, Tarife noch zu vereinbaren" if total is None
                                                else de_eur(total)), fontsize=10, weight="bold", va="top")
        if total is None:
            fig.text(0.07, y - 0.05, "Die Tarife der Kostenerstattung sind im Qualitätshandbuch noch nicht festgelegt "
                     "(quality.yml: amount null).\nDie Mengen sind vollständig; die Beträge folgen, sobald die Tarife "
                     "vereinbart sind.", fontsize=8, va="top")
        pdf.savefig(fig)


def write_report(month: str, handbook: QualityHandbook, out_root: Path, url: Optional[str] = None,
                 now: Optional[dt.datetime] = None) -> ReportFiles:
    """Compute (or read the kept) figures of ``month`` and write PDF and CSVs to out_root/month/."""
    figures, from_aggregate = month_figures(month, handbook, url=url, now=now)
    period = Period.month(month, handbook.routing.timezone)
    if not from_aggregate and period.end <= (now or dt.datetime.now(dt.timezone.utc)):
        store_aggregate(month, figures, frozen=False, url=url)
    directory = out_root / month
    directory.mkdir(parents=True, exist_ok=True)
    labels = Labels(handbook.kb)
    csvs = write_csvs(directory, figures, handbook, labels)
    pdf = directory / f"qualitaetsbericht-{month}.pdf"
    write_pdf(pdf, month, figures, handbook, labels, from_aggregate)
    log.info("monthly report %s written to %s (%d contacts)", month, directory, figures["contacts"]["total"])
    return ReportFiles(directory, pdf, csvs, from_aggregate)
