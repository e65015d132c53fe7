"""Knowledge editor: drafts validated like the import, supervisor approval, versions with diffs,
write-back with comments kept, and the running actions' cache picking up the change."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from test_trainer_support import client_for, csrf_of, knowledge_copy, scratch_db, settings_for

from servicecenter.knowledge.repository import KnowledgeRepository
from servicecenter.trainer import knowledge_editor as editor

NEW_TEASER = (
    "Einen Reisepass beantragen Sie persönlich im Bürgerbüro der Stadt Geldern. Er kostet 70 Euro ab "
    "24 Jahren und 37,50 Euro für Jüngere; wenn es eilt, gibt es den Expresspass."
)


@pytest.fixture()
def env(tmp_path):
    url = scratch_db(tmp_path)
    return settings_for(url, tmp_path, knowledge_copy(tmp_path))


def _form(settings, slug: str, **changes: str) -> dict:
    values = editor.current_values(settings, slug)
    form = {k: v for k, v in values.items() if k not in {"approved_by", "approved_on"}}
    form.update(changes)
    return form


def test_unchanged_files_round_trip_byte_for_byte(env):
    for path in sorted((env.knowledge_dir / "services").glob("*.yml")):
        source = path.read_text(encoding="utf-8")
        assert editor.apply_fields(source, {}) == source, path.name


def test_draft_then_approval_writes_back_reimports_and_keeps_comments(env):
    path = env.knowledge_dir / "services" / "reisepass.yml"
    before = path.read_text(encoding="utf-8")
    trainer = client_for(env, "trainer")
    token = csrf_of(trainer, "/console/trainer/knowledge/reisepass")
    response = trainer.post("/console/trainer/knowledge/reisepass",
                            data={**_form(env, "reisepass", teaser=NEW_TEASER), "csrf_token": token,
                                  "note": "Expresspass erwähnt"}, follow_redirects=True)
    assert response.status_code == 200
    assert "Entwurf" in response.text and "wartet auf die Freigabe" in response.text
    assert "<ins>+  ab 24 Jahren und 37,50 Euro für Jüngere; wenn es eilt, gibt es den Expresspass.</ins>" in response.text
    assert "<del>-  70 Euro ab 24 Jahren und 37,50 Euro für Jüngere.</del>" in response.text
    assert path.read_text(encoding="utf-8") == before  # nothing live before approval
    draft_url = str(response.url).replace(str(trainer.base_url), "")
    assert trainer.post(f"{draft_url}/approve", data={"csrf_token": token}).status_code == 403

    supervisor = client_for(env, "supervisor")
    page = supervisor.get(draft_url)
    assert 'id="draft-approve"' in page.text
    approved = supervisor.post(f"{draft_url}/approve", data={"csrf_token": csrf_of(supervisor, draft_url)},
                               follow_redirects=True)
    assert approved.status_code == 200
    assert "freigegeben" in approved.text

    after = path.read_text(encoding="utf-8")
    assert after.startswith("# Wissensdatenbank Geldern: Leistungsbeschreibung (XZuFi/FIM-Module)\n")
    data = yaml.safe_load(after)
    assert " ".join(data["teaser"].split()) == NEW_TEASER
    assert data["provenance"]["approved_by"] == supervisor.username
    assert data["provenance"]["approved_on"] == dt.date.today()
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert len(changed) <= 4, changed  # teaser lines and the approval fields only
    kb = KnowledgeRepository(env.db_url, check_every=0).get()
    assert kb.services["reisepass"].teaser == NEW_TEASER
    assert kb.services["reisepass"].provenance.approved_by == supervisor.username


def test_a_running_repository_sees_the_approved_change(env):
    repo = KnowledgeRepository(env.db_url, check_every=0)
    assert "Reisedokument" not in repo.get().services["reisepass"].synonyms
    synonyms = editor.current_values(env, "reisepass")["synonyms"] + "\nReisedokument"
    draft = editor.propose(env, "reisepass", {"synonyms": synonyms}, "trainer-a")
    editor.approve(env, draft.id, "chefin", "chefin")
    assert "Reisedokument" in repo.get().services["reisepass"].synonyms


@pytest.mark.parametrize("changes,expected", [
    ({"name": ""}, "„Bezeichnung“ darf nicht leer sein."),
    ({"synonyms": "Personalausweis"},
     "Datei services/reisepass.yml, Eintrag „reisepass“, Feld „Synonyme“ (synonyms): "
     "„Personalausweis“ ist schon ein Synonym von „personalausweis“"),
    ({"synonyms": ""},
     "Datei services/reisepass.yml, Eintrag „reisepass“, Feld „Synonyme“ (synonyms): "
     "mindestens ein Synonym ist nötig"),
    ({"provenance_source_url": "keine-url"},
     "Datei services/reisepass.yml, Eintrag „reisepass“, Feld „Quelle“ (provenance.source_url): "
     "ist keine gültige Internetadresse (sie muss mit https:// beginnen)"),
    ({"provenance_sources": "https://www.geldern.de/\nftp//kaputt"},
     "Feld „Alle Quellen“ (provenance.sources.1): ist keine gültige Internetadresse"),
])
def test_invalid_changes_are_refused_with_the_reason_in_german_and_no_draft(env, changes, expected):
    trainer = client_for(env, "trainer")
    token = csrf_of(trainer, "/console/trainer/knowledge/reisepass")
    response = trainer.post("/console/trainer/knowledge/reisepass",
                            data={**_form(env, "reisepass", **changes), "csrf_token": token})
    assert response.status_code == 400
    assert expected in response.text
    for english in ("synonym of", "is required", "URL scheme", "field required", "Prüfmeldung"):
        assert english not in response.text
    assert editor.history(env, slug="reisepass") == []


def test_validation_findings_are_listed_under_the_german_heading(env):
    trainer = client_for(env, "trainer")
    token = csrf_of(trainer, "/console/trainer/knowledge/reisepass")
    response = trainer.post("/console/trainer/knowledge/reisepass",
                            data={**_form(env, "reisepass", synonyms="", provenance_source_url="keine-url"),
                                  "csrf_token": token})
    assert response.status_code == 400
    box = response.text.split('id="knowledge-error"', 1)[1].split("</div>", 1)[0]
    assert "<p>Die Änderung besteht die Prüfung nicht:</p>" in box
    assert box.count("<li>") == 2
    assert "mindestens ein Synonym ist nötig" in box and "keine gültige Internetadresse" in box


@pytest.mark.parametrize("message,german", [
    ("field required", "fehlt, ist aber Pflicht"),
    ("none is not an allowed value", "darf nicht leer sein"),
    ("ensure this value has at most 200 characters", "darf höchstens 200 Zeichen lang sein"),
    ("value is not a valid list", "muss eine Liste sein (ein Eintrag pro Zeile)"),
    ("extra fields not permitted", "ist kein bekanntes Feld"),
    ("invalid date format", "ist kein gültiges Datum (JJJJ-MM-TT)"),
    ("unknown location 'rathaus-nord'", "„rathaus-nord“ ist kein bekannter Standort"),
    ("catalogue says 'buergerbuero'", "laut Leistungskatalog ist „buergerbuero“ zuständig"),
    ("no fees given: add 'fees' or a 'fee_note' that says who names the fee",
     "keine Gebühren angegeben: bitte Gebühren eintragen oder im „Hinweis zu Gebühren“ sagen, wer die Gebühr nennt"),
    ("'8-12' on mo is not 'HH:MM-HH:MM'", "„8-12“ am mo hat nicht die Form HH:MM-HH:MM"),
    ("a message nobody has seen before", "Prüfmeldung: a message nobody has seen before"),
])
def test_the_imports_messages_read_in_german(message, german):
    assert editor.german_message(message) == german


def test_every_message_the_import_writes_itself_has_a_german_text():
    """The loader's and schema's own messages (not pydantic's) all have a translation."""
    import re

    from servicecenter import PROJECT_ROOT

    sources = ""
    for name in ("loader.py", "schema.py"):
        sources += (PROJECT_ROOT / "servicecenter" / "knowledge" / name).read_text(encoding="utf-8")
    messages = re.findall(r'(?:Problem\([^)]*?|ValueError\(\s*)f?"([^"]+)"\s*\)', sources)
    assert len(messages) >= 15
    for message in messages:
        sample = re.sub(r"\{[^}]*\}", "x", message)
        assert not editor.german_message(sample).startswith("Prüfmeldung"), message


def test_nothing_changed_is_not_a_draft(env):
    with pytest.raises(editor.EditorError, match="nichts geändert"):
        editor.propose(env, "reisepass", _form(env, "reisepass"), "trainer-a")


def test_every_version_is_kept_and_a_stale_draft_cannot_be_approved(env):
    first = editor.propose(env, "fundbuero", {"contact_note": "Bitte vorher anrufen."}, "trainer-a")
    second = editor.propose(env, "fundbuero", {"contact_note": "Fundsachen werden sechs Monate aufbewahrt."},
                            "trainer-b")
    assert (first.version, second.version) == (1, 2)
    editor.approve(env, second.id, "chefin", "chefin")
    versions = {d.version: d.status for d in editor.history(env, slug="fundbuero")}
    assert versions == {1: "superseded", 2: "approved"}
    third = editor.propose(env, "fundbuero", {"contact_note": "Neu."}, "trainer-a")
    path = env.knowledge_dir / "services" / "fundbuero.yml"
    path.write_text(path.read_text(encoding="utf-8") + "# edited by hand\n", encoding="utf-8")
    with pytest.raises(editor.EditorError, match="seit diesem Entwurf geändert"):
        editor.approve(env, third.id, "chefin", "chefin")


def test_unknown_or_malicious_slugs_are_404(env):
    client = client_for(env, "trainer")
    assert client.get("/console/trainer/knowledge/gibt-es-nicht").status_code == 404
    assert client.get("/console/trainer/knowledge/..%2Fcatalogue").status_code == 404
    with pytest.raises(editor.EditorError):
        editor.service_path(env, "../catalogue")
