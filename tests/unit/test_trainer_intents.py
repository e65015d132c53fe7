"""A trainer adds and renames intents: the training data, the domain and the rules change as a
person would change them (comments kept), personal data never lands in the files, conflicts
and names the program relies on are refused in German, and every change is logged.

All writes go to a temporary copy of bot/; the real folder is checked to stay untouched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Dict

import pytest
import yaml
from test_trainer_support import client_for, csrf_of, scratch_db, settings_for

from servicecenter import PROJECT_ROOT
from servicecenter.trainer import intents
from servicecenter.trainer.redaction import Redactor

REAL_BOT = PROJECT_ROOT / "bot"
PARKING = "Wo kann ich in der Innenstadt parken\nGibt es freie Parkplätze am Markt\nWann hat das Parkhaus geöffnet"


def _digest(folder: Path) -> Dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.yml"))}


@pytest.fixture(scope="module")
def real_bot_before():
    return _digest(REAL_BOT)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(PROJECT_ROOT / "models" / "spacy" / "de_geldern")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trainer-intents")
    url = scratch_db(folder)
    return url, folder


@pytest.fixture()
def bot(tmp_path, real_bot_before) -> intents.BotFiles:
    target = tmp_path / "bot"
    shutil.copytree(REAL_BOT, target, ignore=shutil.ignore_patterns("__pycache__"))
    yield intents.BotFiles.under(target, code_dirs=(target, PROJECT_ROOT / "servicecenter"))
    assert _digest(REAL_BOT) == real_bot_before, "the real bot/ folder was changed"


def _files(bot: intents.BotFiles) -> Dict[str, bytes]:
    return {bot.relative(p): p.read_bytes() for p in bot.yaml_files()}


def _added_lines(before: bytes, after: bytes):
    old, new = before.decode().splitlines(), after.decode().splitlines()
    import difflib

    diff = list(difflib.ndiff(old, new))
    return [d[2:] for d in diff if d.startswith("+ ")], [d[2:] for d in diff if d.startswith("- ")]


def test_a_new_intent_lands_in_curated_domain_and_rule_and_nothing_else_changes(bot, db, redactor):
    url, _ = db
    before = _files(bot)
    result = intents.add_intent("frage_parken", PARKING, "trainer-anna", "answer", files=bot, url=url,
                                redactor=redactor)
    after = _files(bot)
    assert result.files == ["data/nlu/curated.yml", "domain/intents.yml", "data/rules/rules.yml"]
    # The domain file: exactly one line added after the last intent, every comment still there.
    added, removed = _added_lines(before["domain/intents.yml"], after["domain/intents.yml"])
    assert added == ["  - frage_parken"] and removed == []
    domain = yaml.safe_load(after["domain/intents.yml"])
    assert domain["intents"][-1] == "frage_parken"
    # The rule: the intent joins the rule that answers from the knowledge base.
    added, removed = _added_lines(before["data/rules/rules.yml"], after["data/rules/rules.yml"])
    assert added == ["    - intent: frage_parken"] and removed == []
    rules = yaml.safe_load(after["data/rules/rules.yml"])["rules"]
    answer_rule = next(r for r in rules if r["steps"][-1] == {"action": "action_answer_service"})
    assert {"intent": "frage_parken"} in answer_rule["steps"][0]["or"]
    # The examples, one per line, under the new intent in curated.yml (which Rasa reads).
    curated = yaml.safe_load(after["data/nlu/curated.yml"])
    entry = next(i for i in curated["nlu"] if i["intent"] == "frage_parken")
    assert entry["examples"].splitlines() == ["- " + line for line in PARKING.splitlines()]
    unchanged = {k for k in before if before[k] == after.get(k)}
    assert unchanged == set(before) - {"domain/intents.yml", "data/rules/rules.yml"}
    # Logged with who and what.
    change = intents.history(url)[0]
    assert (change.kind, change.intent, change.changed_by, change.examples, change.reaction) == \
        ("add", "frage_parken", "trainer-anna", 3, "answer")
    assert change.changed_at is not None


def test_without_a_reaction_no_rule_changes(bot, db, redactor):
    url, _ = db
    rules_before = (bot.rules_dir / "rules.yml").read_bytes()
    intents.add_intent("frage_laerm_baustelle", "Baustelle macht nachts Lärm\nBaulärm am Sonntag erlaubt?\n"
                       "Wie laut darf eine Baustelle sein", "trainer-anna", "", files=bot, url=url, redactor=redactor)
    assert (bot.rules_dir / "rules.yml").read_bytes() == rules_before
    assert "frage_laerm_baustelle" in intents.domain_intents(bot)


def test_a_single_intent_rule_becomes_an_or_rule(bot, db, redactor):
    url, _ = db
    intents.add_intent("frage_kinoprogramm", "Welche Filme laufen heute im Kino am Markt\n"
                       "Kinoprogramm für Samstagabend\nGibt es Karten für die Spätvorstellung", "trainer-anna", "out_of_scope", files=bot, url=url,
                       redactor=redactor)
    rules = yaml.safe_load((bot.rules_dir / "rules.yml").read_text(encoding="utf-8"))["rules"]
    rule = next(r for r in rules if r["steps"][-1] == {"action": "action_out_of_scope"})
    assert rule["steps"][0] == {"or": [{"intent": "out_of_scope"}, {"intent": "frage_kinoprogramm"}]}


def test_personal_data_in_new_examples_never_reaches_the_files(bot, db, redactor):
    url, _ = db
    examples = ("Ich heiße Peter Müller und suche einen Parkplatz am Rathaus\n"
                "Parkausweis für die Kapuzinerstraße 7, meine Nummer ist 0151 23456789\n"
                "Wo parke ich mit Wohnmobil\nParkscheibe nötig am Markt?")
    result = intents.add_intent("frage_parken", examples, "trainer-anna", "", files=bot, url=url, redactor=redactor)
    text = (bot.nlu_dir / "curated.yml").read_text(encoding="utf-8")
    for secret in ("Peter", "Müller", "Kapuzinerstraße 7", "0151", "23456789"):
        assert secret not in text
    assert "[NAME]" in text and "[TELEFON]" in text
    assert result.redacted == 2


@pytest.mark.parametrize("name,message", [
    ("Frage-Parken", "Kleinbuchstaben"),
    ("frageParken", "Kleinbuchstaben"),
    ("frage__parken", "Kleinbuchstaben"),
    ("_parken", "Kleinbuchstaben"),
    ("ab", "3 bis 64 Zeichen"),
    ("svc_parken", "Leistungen des Katalogs vorbehalten"),
    ("greet", "gibt es schon"),
    ("nlu_fallback", "Rasa selbst"),
])
def test_bad_names_are_refused_in_german_and_nothing_is_written(bot, db, redactor, name, message):
    url, _ = db
    before = _files(bot)
    with pytest.raises(intents.IntentError) as err:
        intents.add_intent(name, PARKING, "trainer-anna", "answer", files=bot, url=url, redactor=redactor)
    assert message in err.value.message
    assert _files(bot) == before


def test_too_few_or_conflicting_examples_are_refused_and_nothing_is_written(bot, db, redactor):
    url, _ = db
    before = _files(bot)
    with pytest.raises(intents.IntentError, match="mindestens 3 verschiedene"):
        intents.add_intent("frage_parken", "Parken am Markt\nparken am markt!\n\n", "t", "", files=bot, url=url,
                           redactor=redactor)
    with pytest.raises(intents.IntentError) as err:
        intents.add_intent("frage_parken", PARKING + "\nHallo zusammen.", "t", "", files=bot, url=url,
                           redactor=redactor)
    assert "„Hallo zusammen.“ steht schon als Beispiel für „greet“" in err.value.message
    assert err.value.status_code == 409
    assert _files(bot) == before


def test_a_failed_write_puts_every_file_back(bot, db, redactor, monkeypatch):
    url, _ = db
    before = _files(bot)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(intents, "_add_to_rule", broken)
    with pytest.raises(OSError):
        intents.add_intent("frage_parken", PARKING, "t", "answer", files=bot, url=url, redactor=redactor)
    assert _files(bot) == before
    assert not (bot.nlu_dir / "curated.yml").exists()


def test_rename_replaces_the_name_everywhere_and_is_logged(bot, db, redactor):
    url, _ = db
    intents.add_intent("frage_parken", PARKING, "trainer-anna", "answer", files=bot, url=url, redactor=redactor)
    # A button that sends the intent as payload (domain) must follow the rename too.
    (bot.domain_dir / "extra.yml").write_text(
        'version: "3.1"\n# a hand-written extra response\nresponses:\n  utter_parken_frage:\n'
        '    - text: "Geht es ums Parken?"\n      buttons:\n        - title: "Ja"\n'
        '          payload: /frage_parken\n', encoding="utf-8")
    before = _files(bot)
    result = intents.rename_intent("frage_parken", "parken_innenstadt", "trainer-ben", files=bot, url=url)
    after = _files(bot)
    assert sorted(result.files) == ["data/nlu/curated.yml", "data/rules/rules.yml", "domain/extra.yml",
                                    "domain/intents.yml"]
    for name, content in after.items():
        assert b"frage_parken" not in content, name
        if name not in result.files:
            assert content == before[name], name
    for name in result.files:
        added, removed = _added_lines(before[name], after[name])
        assert [line.replace("frage_parken", "parken_innenstadt") for line in removed] == added, name
    assert "# a hand-written extra response" in after["domain/extra.yml"].decode()
    assert "parken_innenstadt" in intents.domain_intents(bot)
    assert intents.example_counts(bot)["parken_innenstadt"] == 3
    change = intents.history(url)[0]
    assert (change.kind, change.previous_name, change.intent, change.changed_by) == \
        ("rename", "frage_parken", "parken_innenstadt", "trainer-ben")


@pytest.mark.parametrize("old,message", [
    ("svc_reisepass", "Leistungs-Anliegen"),
    ("human", "bot/actions/handoff.py"),
    ("ask_fee", "servicecenter/knowledge/aspects.py"),
    ("gibt_es_nicht", "vorhandenes Anliegen"),
])
def test_rename_of_names_the_program_uses_is_refused(bot, db, old, message):
    url, _ = db
    before = _files(bot)
    with pytest.raises(intents.IntentError) as err:
        intents.rename_intent(old, "neuer_name", "t", files=bot, url=url)
    assert message in err.value.message
    assert _files(bot) == before


def test_rename_to_an_existing_name_is_refused(bot, db, redactor):
    url, _ = db
    intents.add_intent("frage_parken", PARKING, "t", "", files=bot, url=url, redactor=redactor)
    with pytest.raises(intents.IntentError, match="gibt es schon"):
        intents.rename_intent("frage_parken", "greet", "t", files=bot, url=url)


# --------------------------------------------------------------------------- console


@pytest.fixture()
def console(bot, db, monkeypatch):
    url, folder = db
    monkeypatch.setattr(intents, "bot_files", lambda: bot)
    return settings_for(url, folder), bot


@pytest.mark.parametrize("role", ["agent", "department"])
def test_other_roles_cannot_see_or_change_intents(console, role):
    settings, bot = console
    before = _files(bot)
    client = client_for(settings, role, "standesamt" if role == "department" else None)
    assert client.get("/console/trainer/intents").status_code == 403
    token = csrf_of(client, "/console/inbox")
    assert client.post("/console/trainer/intents", data={"csrf_token": token, "name": "frage_parken",
                                                         "examples": PARKING}).status_code == 403
    assert client.post("/console/trainer/intents/rename", data={"csrf_token": token, "old": "greet",
                                                                "new": "hallo"}).status_code == 403
    assert _files(bot) == before


def test_a_post_without_csrf_token_changes_nothing(console):
    settings, bot = console
    before = _files(bot)
    client = client_for(settings, "trainer")
    response = client.post("/console/trainer/intents", data={"name": "frage_parken", "examples": PARKING})
    assert response.status_code == 403
    assert _files(bot) == before


@pytest.mark.parametrize("role", ["trainer", "supervisor", "admin"])
def test_trainer_roles_add_and_rename_in_the_console(console, role):
    settings, bot = console
    client = client_for(settings, role)
    page = client.get("/console/trainer/intents")
    assert page.status_code == 200 and 'href="/console/trainer/intents"' in page.text
    token = csrf_of(client, "/console/trainer/intents")
    response = client.post("/console/trainer/intents", data={
        "csrf_token": token, "name": "frage_parken", "reaction": "answer",
        "examples": PARKING + "\nMein Name ist Peter Müller, wo darf ich parken"})
    assert response.status_code == 200  # followed the redirect
    assert "Das Anliegen wurde angelegt." in response.text
    assert "In 1 Beispiel wurden persönliche Daten durch Platzhalter ersetzt." in response.text
    assert f"{client.username}: „frage_parken“ angelegt (4 Beispiele" in response.text
    assert "Müller" not in (bot.nlu_dir / "curated.yml").read_text(encoding="utf-8")
    # The new intent can now be chosen when relabelling inbox messages.
    from servicecenter.console.trainer import known_intents

    assert "frage_parken" in known_intents()
    response = client.post("/console/trainer/intents/rename", data={
        "csrf_token": token, "old": "frage_parken", "new": "parken_innenstadt"})
    assert "Das Anliegen wurde umbenannt." in response.text
    assert "„frage_parken“ umbenannt in „parken_innenstadt“" in response.text
    assert "parken_innenstadt" in known_intents() and "frage_parken" not in known_intents()


def test_console_shows_problems_in_german_and_keeps_the_input(console):
    settings, bot = console
    before = _files(bot)
    client = client_for(settings, "trainer")
    token = csrf_of(client, "/console/trainer/intents")
    response = client.post("/console/trainer/intents", data={
        "csrf_token": token, "name": "Frage Parken", "reaction": "answer", "examples": PARKING})
    assert response.status_code == 400
    assert "Kleinbuchstaben" in response.text and "Wann hat das Parkhaus geöffnet" in response.text
    response = client.post("/console/trainer/intents/rename", data={
        "csrf_token": token, "old": "human", "new": "mensch"})
    assert response.status_code == 409
    assert "kann nicht umbenannt werden" in response.text and "handoff.py" in response.text
    response = client.post("/console/trainer/intents", data={
        "csrf_token": token, "name": "frage_parken", "reaction": "irgendwas", "examples": PARKING})
    assert response.status_code == 400 and "Reaktion aus der Liste" in response.text
    assert _files(bot) == before
