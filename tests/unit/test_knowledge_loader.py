"""Validation of the knowledge-base YAML: complete, consistent, and clear about errors."""

import shutil
from pathlib import Path

import pytest
import yaml

from servicecenter import PROJECT_ROOT
from servicecenter.knowledge.loader import KnowledgeError, load_knowledge

KB_DIR = PROJECT_ROOT / "knowledge" / "geldern"


def test_every_catalogue_service_has_an_entry_with_its_responsible_office(knowledge):
    catalogue = yaml.safe_load((KB_DIR / "catalogue.yml").read_text())
    assert len(catalogue["services"]) == 43
    for item in catalogue["services"]:
        entry = knowledge.services[item["slug"]]
        assert entry.responsible == item["responsible"]
        assert entry.teaser and entry.text and entry.synonyms
        assert entry.fees or entry.fee_note, f"{item['slug']}: no fee and no referral"


def test_every_catalogue_office_has_an_entry(knowledge):
    catalogue = yaml.safe_load((KB_DIR / "catalogue.yml").read_text())
    expected = set(catalogue["departments"]) | set(catalogue["external_bodies"])
    assert expected == set(knowledge.organisations)


@pytest.fixture()
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "geldern"
    shutil.copytree(KB_DIR, target)
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def test_schema_error_names_file_entry_and_field(kb_copy):
    _edit(kb_copy / "services" / "hundesteuer.yml", lambda d: d["fees"][0].update(amount_eur="zweiundsiebzig"))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(kb_copy)
    message = str(err.value)
    assert "services/hundesteuer.yml" in message
    assert "entry 'hundesteuer'" in message
    assert "fees.0.amount_eur" in message


def test_unknown_department_is_an_error(kb_copy):
    _edit(kb_copy / "services" / "reisepass.yml", lambda d: d.update(responsible="passamt"))
    with pytest.raises(KnowledgeError, match="field 'responsible': unknown department 'passamt'"):
        load_knowledge(kb_copy)


def test_missing_catalogue_service_is_an_error(kb_copy):
    (kb_copy / "services" / "sperrmuell.yml").unlink()
    with pytest.raises(KnowledgeError, match="services/sperrmuell.yml: entry 'sperrmuell'.*catalogue service has no entry"):
        load_knowledge(kb_copy)


def test_a_synonym_may_point_to_one_service_only(kb_copy):
    _edit(kb_copy / "services" / "kinderreisepass.yml", lambda d: d["synonyms"].append("Reisepass"))
    with pytest.raises(KnowledgeError, match="'Reisepass' is also a synonym of '(kinder)?reisepass'"):
        load_knowledge(kb_copy)


def test_all_problems_are_reported_together(kb_copy):
    _edit(kb_copy / "services" / "reisepass.yml", lambda d: d.pop("teaser"))
    _edit(kb_copy / "services" / "wohngeld.yml", lambda d: d.update(location="mond"))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(kb_copy)
    assert len(err.value.problems) == 2
    assert "unknown location 'mond'" in str(err.value)
