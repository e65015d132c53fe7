"""quality.yml: the handbook's targets load, and every mistake names the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from servicecenter import PROJECT_ROOT
from servicecenter.knowledge.loader import KnowledgeError
from servicecenter.reports.config import TARIFF_KEYS, load_quality

KB_DIR = PROJECT_ROOT / "knowledge" / "geldern"


def test_the_towns_handbook_has_the_115_service_promise(knowledge):
    handbook = load_quality(KB_DIR, knowledge)
    assert handbook.targets.first_contact_resolution == 0.65
    assert (handbook.targets.takeover_share, handbook.targets.takeover_within_seconds) == (0.75, 30)
    # The reply promise is routing.yml's, not a second copy.
    assert handbook.reply_within_service_hours == 24
    assert "rathaus-kontakt" in handbook.stage_services(1) and "personalausweis" not in handbook.stage_services(1)
    assert "personalausweis" in handbook.stage_services(2)
    assert handbook.stage_label(3).startswith("Stufe 3")


def test_no_tariff_is_invented_every_amount_is_to_be_agreed(knowledge):
    handbook = load_quality(KB_DIR, knowledge)
    assert set(handbook.tariffs) == set(TARIFF_KEYS)
    assert all(t.amount is None and not t.agreed for t in handbook.tariffs.values())
    assert handbook.targets.satisfaction is None


def edited(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "kb"
    shutil.copytree(KB_DIR, folder)
    data = yaml.safe_load((folder / "quality.yml").read_text(encoding="utf-8"))
    change(data)
    (folder / "quality.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d["targets"].update(first_contact_resolution=65), "targets.first_contact_resolution", "share between 0 and 1"),
        (lambda d: d["targets"].update(takeover_within_seconds=0), "targets.takeover_within_seconds", "between 1 and 3600"),
        (lambda d: d["reimbursement"]["tariffs"].pop("handoff"), "reimbursement.tariffs", "missing tariff(s) handoff"),
        (lambda d: d["reimbursement"]["tariffs"].update(fax={"label": "x", "unit": "y"}), "reimbursement.tariffs", "unknown tariff(s) fax"),
        (lambda d: d["reimbursement"]["tariffs"]["voice_minute"].update(amount=-1), "reimbursement.tariffs.voice_minute.amount", "non-negative"),
        (lambda d: d["service_spectrum"]["labels"].update({4: "Stufe 4"}), "service_spectrum.labels.4", "no such stage"),
        (lambda d: d["service_spectrum"].update(stages_from="stages.yml"), "service_spectrum.stages_from", "routing.yml"),
        (lambda d: d.update(retention_days=5), "retention_days", "longer than repeat_contact_days"),
        (lambda d: d.update(colour="blau"), "colour", "extra fields not permitted"),
    ],
)
def test_mistakes_name_file_and_field(knowledge, tmp_path, change, field, message):
    with pytest.raises(KnowledgeError) as info:
        load_quality(edited(tmp_path, change), knowledge)
    problem = next(p for p in info.value.problems if p.field == field)
    assert problem.file == "quality.yml" and message in problem.message
    assert "quality.yml" in str(info.value) and field in str(info.value)


def test_a_missing_handbook_is_reported(knowledge, tmp_path):
    folder = edited(tmp_path, lambda d: None)
    (folder / "quality.yml").unlink()
    with pytest.raises(KnowledgeError, match="quality.yml.*file is missing"):
        load_quality(folder, knowledge)


def test_agreed_tariffs_are_read_as_exact_amounts(knowledge, tmp_path):
    folder = edited(tmp_path, lambda d: d["reimbursement"]["tariffs"]["handoff"].update(amount="1.25"))
    assert str(load_quality(folder, knowledge).tariffs["handoff"].amount) == "1.25"
