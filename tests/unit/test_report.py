"""The monthly report: PDF (text checked with pdftotext) and CSV files with the figures against
the targets and the cost reimbursement; no personal data; kept aggregates after a purge."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from servicecenter import PROJECT_ROOT
from servicecenter.cli import main
from servicecenter.db import get_engine
from servicecenter.reports.aggregates import store_aggregate
from servicecenter.reports.config import load_quality
from servicecenter.reports.quality import reimbursement
from servicecenter.reports.report import CSV_FILES, write_report
from servicecenter.reports.sample_data import generate_month
from servicecenter.training import upgrade_database

KB_DIR = PROJECT_ROOT / "knowledge" / "geldern"
NOW = dt.datetime(2026, 12, 5, 12, tzinfo=dt.timezone.utc)
pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")


@pytest.fixture(scope="module")
def handbook(knowledge):
    return load_quality(KB_DIR, knowledge)


@pytest.fixture(scope="module")
def month_db(tmp_path_factory, handbook):
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'report.db'}"
    upgrade_database(url)
    truth = generate_month(get_engine(url), "2026-11", 500, handbook.routing.calendar, seed=5)
    return url, truth


def read_csv(path: Path) -> list:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_report_pdf_shows_the_figures_against_the_handbook_targets(tmp_path, handbook, month_db):
    url, truth = month_db
    files = write_report("2026-11", handbook, tmp_path, url=url, now=NOW)
    text = pdf_text(files.pdf)
    assert "Qualitäts- und Abrechnungsbericht November 2026" in text
    assert "Zeitraum: 01.11.2026 – 30.11.2026" in text
    share = f"{100 * truth.resolved / truth.total:.1f} %".replace(".", ",")
    fcr_line = next(line for line in text.splitlines() if "Abschließend beim Erstkontakt" in line)
    assert share in fcr_line and "65,0 %" in fcr_line
    assert ("nicht erfüllt" in fcr_line) == (truth.resolved / truth.total < 0.65)
    takeover_line = next(line for line in text.splitlines() if "innerhalb von 30 Sekunden" in line)
    assert "75,0 %" in takeover_line
    assert f"{truth.total:,}".replace(",", ".") in text
    # Charts are in the PDF (their titles are text) and the reimbursement page says what is open.
    for title in ("Kontakte je Tag", "Kontakte nach Uhrzeit", "Häufigste Anliegen", "Übergaben nach Grund",
                  "Kostenerstattung"):
        assert title in text
    assert "Summe: nicht berechenbar, Tarife noch zu vereinbaren" in text
    assert files.pdf.name == "qualitaetsbericht-2026-11.pdf" and files.directory == tmp_path / "2026-11"


def test_report_csv_files_parse_and_hold_the_true_quantities(tmp_path, handbook, month_db):
    url, truth = month_db
    files = write_report("2026-11", handbook, tmp_path, url=url, now=NOW)
    assert [p.name for p in files.csv] == list(CSV_FILES)
    figures = {row[0]: row for row in read_csv(tmp_path / "2026-11" / "kennzahlen.csv")[1:]}
    assert figures["Kontakte gesamt"][1] == f"{truth.total:,}".replace(",", ".")
    assert figures["Abschließend beim Erstkontakt beantwortet"][2] == "65,0 %"
    assert figures["Zufriedenheit (positive Bewertungen)"][2] == "noch zu vereinbaren"
    days = read_csv(tmp_path / "2026-11" / "kontakte_nach_tag.csv")
    assert days[0] == ["Datum", "Chat", "Telefon", "Gesamt"]
    assert sum(int(row[3]) for row in days[1:]) == truth.total
    costs = read_csv(tmp_path / "2026-11" / "kostenerstattung.csv")
    by_label = {row[0]: row for row in costs[1:]}
    assert by_label["Bearbeiteter Kontakt, Chat"][1] == f"{truth.contacts['chat']:,}".replace(",", ".")
    assert by_label["Monatliche Grundpauschale"][1:4] == ["1", "Monat", "noch zu vereinbaren"]
    assert costs[-1][0] == "Summe" and "noch zu vereinbaren" in costs[-1][4]


def test_no_personal_data_in_any_report_file(tmp_path, handbook, month_db):
    url, _ = month_db
    files = write_report("2026-11", handbook, tmp_path, url=url, now=NOW)
    everything = pdf_text(files.pdf) + "".join(p.read_text(encoding="utf-8-sig") for p in files.csv)
    for private in ("Beispielfrage", "Beispielantwort", "Beispielkommentar", "+49 2831", "Beispiel;"):
        assert private not in everything


def test_example_tariffs_give_line_items_and_a_total(tmp_path, knowledge, month_db):
    """EXAMPLE tariffs of this test only, not agreed values."""
    folder = tmp_path / "kb"
    shutil.copytree(KB_DIR, folder)
    data = yaml.safe_load((folder / "quality.yml").read_text(encoding="utf-8"))
    example = {"contact_chat": "0.50", "contact_voice": "1.20", "voice_minute": "0.10", "handoff": "2.00",
               "monthly_base": "100.00"}
    for key, amount in example.items():
        data["reimbursement"]["tariffs"][key]["amount"] = amount
    (folder / "quality.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    handbook = load_quality(folder, knowledge)
    figures = {"contacts": {"by_channel": {"chat": 10, "voice": 3}}, "voice": {"minutes": 12.35},
               "handoff": {"handoffs": 4}}
    items, total = reimbursement(figures, handbook)
    assert [(i.key, i.quantity, i.amount) for i in items] == [
        ("contact_chat", Decimal(10), Decimal("5.00")), ("contact_voice", Decimal(3), Decimal("3.60")),
        ("voice_minute", Decimal("12.35"), Decimal("1.24")), ("handoff", Decimal(4), Decimal("8.00")),
        ("monthly_base", Decimal(1), Decimal("100.00"))]
    assert total == Decimal("117.84")
    url, _ = month_db
    files = write_report("2026-11", handbook, tmp_path / "out", url=url, now=NOW)
    costs = read_csv(files.directory / "kostenerstattung.csv")
    lines = {row[0]: row for row in costs[1:]}
    assert lines["Monatliche Grundpauschale"][3:] == ["100,00", "100,00"]
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2}", costs[-1][4])
    assert f"Summe: {costs[-1][4]} €" in pdf_text(files.pdf)


def test_a_frozen_aggregate_is_used_once_the_month_was_purged(tmp_path, handbook):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade_database(url)
    kept = {"period": {"start": "", "end": "", "label": "01.10.2026 – 31.10.2026"},
            "contacts": {"total": 4321, "by_channel": {"chat": 4000, "voice": 321}, "by_day": {}, "by_hour": {}},
            "first_contact_resolution": {"contacts": 4321, "answered": 3500, "resolved": 3000, "repeated": 10,
                                         "share": 0.6943, "repeat_window_days": 7},
            "handoff": {"handoffs": 500, "share": 0.1157, "by_reason": {}, "by_department": {}},
            "fallback": {"turns": 9000, "fallback_turns": 300, "share": 0.0333},
            "takeover": {"live_handoffs": 0, "taken": 0, "within_limit": 0, "limit_seconds": 30, "share": None,
                         "median_seconds": None},
            "reply_promise": {"service_hours": 24, "forwarded": {"total": 0, "in_time": 0, "pending": 0},
                              "callbacks": {"total": 0, "in_time": 0, "pending": 0}, "total": 0, "in_time": 0,
                              "share": None},
            "satisfaction": {"ratings": 0, "rated_conversations": 0, "up": 0, "down": 0, "with_comment": 0,
                             "share": None},
            "top_services": [], "top_unanswered": [], "voice": {"seconds": 0, "minutes": 0, "calls": 0}}
    store_aggregate("2026-10", kept, frozen=True, url=url)
    files = write_report("2026-10", handbook, tmp_path, url=url, now=NOW)
    assert files.from_aggregate
    text = pdf_text(files.pdf)
    assert "4.321" in text and "69,4 %" in text and "aufbewahrten Monatsaggregat" in text


def test_cli_report_writes_pdf_and_csv(tmp_path, month_db, monkeypatch, capsys):
    url, _ = month_db
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", url)
    from servicecenter.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["report", "--month", "2026-11", "--out", str(tmp_path)]) == 0
        assert main(["report", "--month", "2026-1", "--out", str(tmp_path)]) == 2
        assert main(["report", "--month", "2999-01", "--out", str(tmp_path)]) == 2
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert f"wrote {tmp_path / '2026-11' / 'qualitaetsbericht-2026-11.pdf'}" in out.out
    assert "month must look like 2026-11" in out.err and "has not begun" in out.err
    assert sorted(p.name for p in (tmp_path / "2026-11").iterdir()) == sorted(
        ["qualitaetsbericht-2026-11.pdf", *CSV_FILES])
