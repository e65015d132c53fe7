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
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Optional

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from servicecenter.reports import charts
from servicecenter.reports.aggregates import month_figures, store_aggregate
from servicecenter.reports.config import TO_BE_AGREED, QualityHandbook
from servicecenter.reports.period import Period
from servicecenter.reports.quality import (
    Labels,
    de_eur,
    de_share,
    month_title,
    quality_rows,
    reimbursement,
    volume_rows,
)
from servicecenter.text import format_number

log = logging.getLogger(__name__)

CSV_FILES = ("kennzahlen.csv", "kontakte_nach_tag.csv", "themen.csv", "kostenerstattung.csv")
A4 = (8.27, 11.69)


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
    lines = [[i.label, format_number(i.quantity, 2 if i.key == "voice_minute" else 0), i.unit,
              TO_BE_AGREED if i.tariff is None else format_number(i.tariff, 4 if i.tariff != i.tariff.quantize(Decimal("0.01")) else 2),
              de_eur(i.amount).replace(" €", "")] for i in items]
    lines.append(["Summe", "", "", "", "nicht berechenbar: Tarife noch zu vereinbaren" if total is None
                  else format_number(total, 2)])
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
                   [[i.label[:55], f"{format_number(i.quantity, 2 if i.key == 'voice_minute' else 0)} {i.unit}",
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
