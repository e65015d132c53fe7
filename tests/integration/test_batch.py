"""`assistant batch`: the evaluation interface, with the trained model and real actions."""

import json
import os
import subprocess
import sys

import pytest

from servicecenter import PROJECT_ROOT

pytestmark = pytest.mark.integration
FIELDS = {"text", "intent", "confidence", "service", "candidates", "outcome", "department", "reply"}


@pytest.fixture(scope="module")
def batch_results(trained_model, session_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    cases = [
        {"id": "fee", "turns": ["Was kostet ein Reisepass?"], "channel": "chat", "extra": "ignored"},
        {"id": "follow", "turns": ["Ich brauche einen neuen Personalausweis", "Und was kostet das?", "Wo muss ich hin?"], "channel": "chat"},
        {"id": "switch", "turns": ["Wie hoch ist die Hundesteuer?", "Und wie melde ich Sperrmüll an?"], "channel": "chat"},
        {"id": "voice", "turns": ["äh ja was kostet denn so ein reisepass"], "channel": "voice"},
        {"id": "fire", "turns": ["Hilfe, es brennt bei uns im Keller!"], "channel": "chat"},
        {"id": "human", "turns": ["Ich möchte mit einem Mitarbeiter vom Standesamt sprechen"], "channel": "chat"},
        {"id": "case", "turns": ["Wie weit ist mein Bauantrag?"], "channel": "chat"},
        {"id": "oos", "turns": ["Kannst du mir einen Witz erzählen?"], "channel": "chat"},
        {"id": "kreis", "turns": ["Wo melde ich mein Auto an?"], "channel": "chat"},
        {"id": "hello", "turns": ["Hallo"]},
    ]
    infile, outfile = folder / "in.jsonl", folder / "out.jsonl"
    infile.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n")
    env = {**os.environ, "ASSISTANT_DATABASE_URL": session_db}
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "assistant"), "batch", "--in", str(infile), "--out", str(outfile)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {r["id"]: r for r in map(json.loads, outfile.read_text().splitlines())}


def test_every_case_and_turn_has_the_specified_fields(batch_results):
    assert len(batch_results) == 10
    for record in batch_results.values():
        assert set(record) == {"id", "turns"}
        for turn in record["turns"]:
            assert set(turn) == FIELDS
            assert turn["outcome"] in {"answer", "clarify", "handoff", "emergency", "out_of_scope", "fallback", "smalltalk"}
            assert isinstance(turn["candidates"], list) and 0.0 <= turn["confidence"] <= 1.0


def test_fee_question_is_answered_with_amount_and_source(batch_results):
    turn = batch_results["fee"]["turns"][0]
    assert (turn["service"], turn["outcome"], turn["department"]) == ("reisepass", "answer", None)
    assert "70,00 €" in turn["reply"] and "https://" in turn["reply"]


def test_follow_ups_refer_back_to_the_service_under_discussion(batch_results):
    turns = batch_results["follow"]["turns"]
    assert [t["service"] for t in turns] == ["personalausweis"] * 3
    assert "46,00 €" in turns[1]["reply"]
    assert "Issumer Tor" in turns[2]["reply"]


def test_topic_switch(batch_results):
    assert [t["service"] for t in batch_results["switch"]["turns"]] == ["hundesteuer", "sperrmuell"]


def test_voice_reply_is_spoken_text(batch_results):
    reply = batch_results["voice"]["turns"][0]["reply"]
    assert "siebzig Euro" in reply and "http" not in reply and "€" not in reply


def test_emergency_gets_110_and_112_at_once(batch_results):
    turn = batch_results["fire"]["turns"][0]
    assert turn["outcome"] == "emergency" and "112" in turn["reply"] and "110" in turn["reply"]


def test_handoffs_name_the_department(batch_results):
    assert batch_results["human"]["turns"][0]["outcome"] == "handoff"
    assert batch_results["human"]["turns"][0]["department"] == "standesamt"
    case = batch_results["case"]["turns"][0]
    assert (case["outcome"], case["department"]) == ("handoff", "bauordnung")


def test_out_of_scope_and_small_talk(batch_results):
    assert batch_results["oos"]["turns"][0]["outcome"] == "out_of_scope"
    assert batch_results["hello"]["turns"][0]["outcome"] == "smalltalk"


def test_external_body_service_names_the_competent_body(batch_results):
    turn = batch_results["kreis"]["turns"][0]
    assert turn["service"] == "kfz-zulassung" and "Kreis Kleve" in turn["reply"]


def test_malformed_input_is_rejected_with_line_numbers_and_writes_nothing(tmp_path, trained_model):
    infile, outfile = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    infile.write_text('{"id": "ok", "turns": ["Hallo"]}\nnot json\n{"id": 5, "turns": "x", "channel": "fax"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "servicecenter.cli", "batch", "--in", str(infile), "--out", str(outfile)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "in.jsonl:2: not valid JSON" in result.stderr
    assert "in.jsonl:3: field 'id'" in result.stderr and "field 'channel'" in result.stderr
    assert not outfile.exists()
