"""Accepted examples land in the NLU YAML exactly as a person would add them (temp copies only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from servicecenter import PROJECT_ROOT
from servicecenter.trainer.nlu_writer import (
    CURATED_HEADER,
    ExampleConflict,
    ExampleRejected,
    append_example,
    example_index,
    find_conflicts,
)

REAL_NLU = PROJECT_ROOT / "bot" / "data" / "nlu"

COMMENTED = '''version: "3.1"
# Curated examples (hand-kept header comment).
nlu:
# --- fees -------------------------------------------------------------
- intent: ask_fee
  examples: |
    - Was kostet das bei Ihnen eigentlich genau?
    - "preis?" ist auch eine Frage
# --- passports: a comment between two intents ---------------------------
- intent: svc_reisepass   # trailing comment on the intent line
  examples: |
    - Ich will einen Reisepass, bitte mit Expresszuschlag

# closing comment
'''


@pytest.fixture()
def nlu_copy(tmp_path) -> Path:
    """A copy of bot/data/nlu plus a commented curated.yml; the real folder is never touched."""
    target = tmp_path / "nlu"
    shutil.copytree(REAL_NLU, target)
    (target / "curated.yml").write_text(COMMENTED, encoding="utf-8")
    return target


def _snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.yml"))}


def test_a_file_with_comments_is_unchanged_except_the_added_example(nlu_copy):
    before = (nlu_copy / "curated.yml").read_text(encoding="utf-8")
    result = append_example("svc_reisepass", "Mein Pass ist in [DATUM] abgelaufen, was nun", nlu_dir=nlu_copy)
    after = (nlu_copy / "curated.yml").read_text(encoding="utf-8")
    assert result.written
    expected = before.replace(
        "    - Ich will einen Reisepass, bitte mit Expresszuschlag\n",
        "    - Ich will einen Reisepass, bitte mit Expresszuschlag\n"
        "    - Mein Pass ist in [DATUM] abgelaufen, was nun\n",
    )
    assert after == expected


def test_a_new_intent_is_appended_at_the_end_and_other_files_stay_byte_identical(nlu_copy):
    others_before = {k: v for k, v in _snapshot(nlu_copy).items() if k != "curated.yml"}
    append_example("svc_hundesteuer", "Muss ich für meinen Welpen schon zahlen", nlu_dir=nlu_copy)
    others_after = {k: v for k, v in _snapshot(nlu_copy).items() if k != "curated.yml"}
    assert others_after == others_before
    data = yaml.safe_load((nlu_copy / "curated.yml").read_text(encoding="utf-8"))
    assert data["nlu"][-1] == {"intent": "svc_hundesteuer", "examples": "- Muss ich für meinen Welpen schon zahlen\n"}
    assert "# closing comment" in (nlu_copy / "curated.yml").read_text(encoding="utf-8")


def test_the_same_text_is_not_added_twice(nlu_copy):
    assert append_example("svc_reisepass", "Pass verloren im Urlaub, was tun", nlu_dir=nlu_copy).written
    content = (nlu_copy / "curated.yml").read_text(encoding="utf-8")
    again = append_example("svc_reisepass", "  pass verloren im urlaub – was tun?  ", nlu_dir=nlu_copy)
    assert not again.written
    assert (nlu_copy / "curated.yml").read_text(encoding="utf-8") == content


def test_a_text_under_another_intent_in_any_file_is_refused(nlu_copy):
    # "Was kostet das?" is an ask_fee example in dialogue.yml.
    before = _snapshot(nlu_copy)
    with pytest.raises(ExampleConflict) as err:
        append_example("svc_reisepass", "was kostet das", nlu_dir=nlu_copy)
    assert err.value.other_intent == "ask_fee"
    assert err.value.file == "dialogue.yml"
    assert "ask_fee" in err.value.message
    assert _snapshot(nlu_copy) == before


def test_the_marked_service_span_becomes_an_annotation(nlu_copy):
    text = "Brauche ich für den Kinderpass ein Foto"
    start = text.index("Kinderpass")
    result = append_example("svc_reisepass", text, nlu_dir=nlu_copy, span=(start, start + len("Kinderpass")),
                            entity_value="reisepass")
    assert result.line == 'Brauche ich für den [Kinderpass]{"entity": "service", "value": "reisepass"} ein Foto'
    data = yaml.safe_load((nlu_copy / "curated.yml").read_text(encoding="utf-8"))
    assert result.line in data["nlu"][1]["examples"]


def test_a_missing_curated_file_is_created_with_its_header(tmp_path):
    folder = tmp_path / "nlu"
    folder.mkdir()
    append_example("ask_fee", "Was muss ich an Gebühren einplanen", nlu_dir=folder)
    content = (folder / "curated.yml").read_text(encoding="utf-8")
    assert content.startswith(CURATED_HEADER.split("nlu:")[0])
    assert yaml.safe_load(content)["nlu"] == [{"intent": "ask_fee", "examples": "- Was muss ich an Gebühren einplanen\n"}]


@pytest.mark.parametrize("intent,text", [
    ("Reisepass!", "gültiger Text"),
    ("svc_reisepass", "   "),
    ("svc_reisepass", "x" * 501),
])
def test_bad_input_is_rejected_and_nothing_written(nlu_copy, intent, text):
    before = _snapshot(nlu_copy)
    with pytest.raises(ExampleRejected):
        append_example(intent, text, nlu_dir=nlu_copy)
    assert _snapshot(nlu_copy) == before


def test_an_unknown_intent_is_rejected(nlu_copy):
    with pytest.raises(ExampleRejected, match="gibt es im Modell nicht"):
        append_example("svc_mondlandung", "Flug zum Mond", nlu_dir=nlu_copy, known_intents=["svc_reisepass"])


def test_placeholders_stay_plain_text_for_rasa(nlu_copy):
    result = append_example("ask_fee", "Ich bin [NAME][TELEFON] und frage nach Kosten", nlu_dir=nlu_copy)
    assert result.line == "Ich bin [NAME] [TELEFON] und frage nach Kosten"


def test_the_projects_training_data_has_no_text_under_two_intents():
    assert find_conflicts(REAL_NLU) == []
    assert len(example_index(REAL_NLU)) > 1000
