"""Personal data never reaches the trainer's inbox: realistic German messages, redacted."""

from __future__ import annotations

import pytest

from servicecenter import PROJECT_ROOT
from servicecenter.evaluation.dataset import heldout_texts
from servicecenter.trainer.redaction import Redactor, iban_valid

# Every value in these messages is invented; each must disappear from the redacted text.
MESSAGES = [
    (
        "Guten Tag, mein Name ist Anna-Lena Schmitz, geb. 12.03.1985, wohnhaft Bahnhofstr. 12a, "
        "47608 Geldern. Ich brauche einen neuen Reisepass.",
        ["Anna-Lena", "Schmitz", "12.03.1985", "Bahnhofstr", "12a", "47608"],
        {"NAME", "DATUM", "ADRESSE"},
    ),
    (
        "Sie erreichen mich unter Tel. 0151 23456789 oder per Mail an anna.schmitz@web.de. "
        "Die Gebühr bitte von IBAN DE89 3704 0044 0532 0130 00 abbuchen.",
        ["0151", "23456789", "anna.schmitz", "web.de", "DE89", "3704 0044", "0130 00"],
        {"TELEFON", "E-MAIL", "IBAN"},
    ),
    (
        "Ich habe einen Bescheid bekommen, Kassenzeichen 1234.5678.9012, Aktenzeichen 32-123/2024, "
        "und meine Steuernummer ist 119/815/08150. Meine Steuer-ID ist 12 345 678 901.",
        ["1234.5678.9012", "32-123/2024", "119/815/08150", "12 345 678 901"],
        {"AKTENZEICHEN"},
    ),
    (
        "Hallo, ich heiße Peter Müller und wohne in der Kapuzinerstraße 7 in Geldern. "
        "Rückruf bitte unter 02831/398-123, danke. Viele Grüße, Klaus van der Berg",
        ["Peter", "Müller", "Kapuzinerstraße 7", "02831/398-123", "Klaus", "van der Berg"],
        {"NAME", "ADRESSE", "TELEFON"},
    ),
    (
        "äh ja hallo hier spricht günther schulz ich bin am 3. März 1961 geboren und wohne "
        "an der Gelderner Straße 14 47608 Geldern meine nummer ist null eins fünf",
        ["günther", "schulz", "3. März 1961", "Gelderner Straße 14"],
        {"NAME", "DATUM", "ADRESSE"},
    ),
    (
        "Mein Sohn Jonas ist am 14.5. geboren, brauche ich trotzdem einen Kinderreisepass? "
        "Personalausweisnummer L01X00T47, Geburtsdatum der Mutter: 1. Januar 1970",
        ["Jonas", "14.5", "L01X00T47", "1. Januar 1970"],
        {"NAME", "DATUM", "AKTENZEICHEN"},
    ),
    (
        "Mein Auto mit dem Kennzeichen KLE-AB 123 wurde vor dem Haus An der Kirche 5 abgeschleppt, "
        "Überweisung ging am 01/02/2024 an DE02120300000000202051. Gruß Frau Kowalski",
        ["KLE-AB 123", "Kirche 5", "01/02/2024", "DE02120300000000202051", "Kowalski"],
        {"AKTENZEICHEN", "ADRESSE", "DATUM", "IBAN", "NAME"},
    ),
    (
        "Kundennummer 4711-0815: die Tonne in der Hauptstraße 3 wurde nicht geleert. "
        "Erreichbar unter +49 (0) 2831 12345 oder hans.meier@t-online.de, Postfach 1234",
        ["4711-0815", "Hauptstraße 3", "2831 12345", "hans.meier", "Postfach 1234"],
        {"AKTENZEICHEN", "ADRESSE", "TELEFON", "E-MAIL"},
    ),
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(PROJECT_ROOT / "models" / "spacy" / "de_geldern")


@pytest.mark.parametrize("text,secrets,labels", MESSAGES, ids=[f"message-{i}" for i in range(len(MESSAGES))])
def test_personal_data_is_replaced_by_placeholders(redactor, text, secrets, labels):
    result = redactor.redact(text)
    for secret in secrets:
        assert secret not in result.text, f"{secret!r} survived: {result.text}"
    for label in labels:
        assert f"[{label}]" in result.text
    assert set(result.labels) >= labels


def test_the_question_itself_survives(redactor):
    result = redactor.redact(
        "Hallo, ich heiße Peter Müller und wohne in der Kapuzinerstraße 7. Was kostet ein Reisepass?"
    )
    assert result.text == "Hallo, ich heiße [NAME] und wohne in der [ADRESSE]. Was kostet ein Reisepass?"


@pytest.mark.parametrize("text", [
    "Was kostet ein Reisepass für Erwachsene? Ich bin 30 Jahre alt.",
    "Ich bin Rentner und brauche einen neuen Perso",
    "Wann ist der Ring 3 Wochen gesperrt?",
    "Darf ich auf dem Grab meiner Frau Blumen pflanzen?",
    "Die Werkstatt meines verstorbenen Vaters wird geschlossen.",
    "Wie hoch ist die Hundesteuer für 2 Hunde?",
    "Wo ist das Bürgerbüro und hat es am Samstag auf?",
])
def test_ordinary_questions_are_left_alone(redactor, text):
    assert redactor.redact(text).text == text


def test_training_and_heldout_texts_are_almost_never_touched(redactor):
    """Over-redaction would damage training data: fewer than 1 in 200 real questions may change."""
    texts = heldout_texts()
    changed = [t for t in texts if redactor.redact(t).text != t]
    assert len(changed) <= len(texts) / 200, changed


def test_iban_check_digits():
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert iban_valid("DE02120300000000202051")
    assert not iban_valid("DE89 3704 0044 0532 0130 01")
    assert not iban_valid("DE12")


def test_an_invalid_iban_like_code_is_still_not_left_as_is_when_labelled(redactor):
    # Not a valid IBAN, but announced as a file number: it goes as [AKTENZEICHEN].
    result = redactor.redact("Vorgangsnummer DE123456789012345")
    assert "DE123456789012345" not in result.text


# --------------------------------------------------------------------------- names in family and chat style

FAMILY_AND_CHAT = [
    ("Hallo, meine Frau Anna braucht einen neuen Personalausweis, geht das ohne Termin?",
     "Hallo, meine Frau [NAME] braucht einen neuen Personalausweis, geht das ohne Termin?"),
    ("Mein Mann Peter Schulz ist letzte Woche verstorben. Wo bekomme ich die Sterbeurkunde?",
     "Mein Mann [NAME] ist letzte Woche verstorben. Wo bekomme ich die Sterbeurkunde?"),
    ("guten tag mein mann peter schulz ist verstorben was muss ich jetzt machen",
     "guten tag mein mann [NAME] ist verstorben was muss ich jetzt machen"),
    ("meine tochter lea braucht einen kinderreisepass", "meine tochter [NAME] braucht einen kinderreisepass"),
    ("Für meinen Sohn Jonas Becker brauche ich einen Kinderreisepass.",
     "Für meinen Sohn [NAME] brauche ich einen Kinderreisepass."),
    ("ich hab mit Herrn Dr. med. Becker vom Gesundheitsamt gesprochen",
     "ich hab mit Herrn Dr. med. [NAME] vom Gesundheitsamt gesprochen"),
    ("Frau Dr. Anna Schmitz-Weber hat mir gesagt, ich soll hier anrufen",
     "Frau Dr. [NAME] hat mir gesagt, ich soll hier anrufen"),
    ("herr schulz vom ordnungsamt hat gesagt ich soll mich melden",
     "herr [NAME] vom ordnungsamt hat gesagt ich soll mich melden"),
    ("frau van der heide hat mich hierher geschickt", "frau [NAME] hat mich hierher geschickt"),
    ("Sehr geehrte Frau Kowalski, anbei die Unterlagen. Mit freundlichen Grüßen Hr. Nowak",
     "Sehr geehrte Frau [NAME], anbei die Unterlagen. Mit freundlichen Grüßen Hr. [NAME]"),
    ("hallo ich bin anna schmitz und brauche einen neuen reisepass",
     "hallo ich bin [NAME] und brauche einen neuen reisepass"),
    ("ich bin jürgen und mein hund muss angemeldet werden", "ich bin [NAME] und mein hund muss angemeldet werden"),
    ("mein name ist peter müller ich wohne in geldern", "mein name ist [NAME] ich wohne in geldern"),
]


@pytest.mark.parametrize("text,expected", FAMILY_AND_CHAT, ids=[f"family-{i}" for i in range(len(FAMILY_AND_CHAT))])
def test_names_after_relatives_titles_and_ich_bin_are_removed_and_the_rest_stays(redactor, text, expected):
    assert redactor.redact(text).text == expected


@pytest.mark.parametrize("text", [
    "Darf meine Frau den Antrag für mich abholen?",
    "Darf meine Frau Blumen auf das Grab stellen?",
    "ich bin umgezogen und muss mich ummelden",
    "ich bin alleinerziehend, bekomme ich Wohngeld?",
    "ich bin seit drei Wochen in Geldern",
    "ich bin schwerbehindert und brauche einen Parkausweis",
    "ich bin selbstständig und will ein gewerbe anmelden",
    "ich bin hundehalter und frage wegen der steuer",
    "ich bin student und brauche wohngeld",
    "ich bin gestern umgezogen",
    "ich bin erstwähler wie geht briefwahl",
    "mein mann braucht einen neuen pass",
    "mein sohn möchte seinen führerschein umschreiben",
    "meine tochter wird sechzehn braucht sie einen personalausweis",
    "die frau am telefon hat gesagt ich soll online einen termin machen",
    "ich bin mir nicht sicher ob ich zuständig bin",
    "meine mutter kann nicht mehr laufen, gibt es einen Behindertenparkausweis?",
    "mein kind kita platz wann",
    "meine frau und ich wollen heiraten",
    "ja hallo ich möchte eine grabstelle für meine mutter kaufen",
])
def test_family_words_and_ich_bin_without_a_name_are_left_alone(redactor, text):
    assert redactor.redact(text).text == text


def _nlu_texts() -> list:
    import yaml

    from servicecenter.trainer.nlu_writer import _examples_of, plain_text

    texts = []
    for path in sorted((PROJECT_ROOT / "bot" / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if isinstance(item, dict) and "intent" in item:
                texts += [plain_text(e) for e in _examples_of(item.get("examples"))]
    return texts


def test_training_examples_are_almost_never_touched(redactor):
    texts = _nlu_texts()
    assert len(texts) > 1000
    changed = [t for t in texts if redactor.redact(t).text != t]
    assert len(changed) <= len(texts) / 200, changed


def test_word_rules_alone_leave_service_words_alone(tmp_path):
    """Without the training vocabulary (an empty folder) the word rules by themselves must not
    take service words for names: the training examples and the held-out questions stay as
    they are."""
    bare = Redactor(PROJECT_ROOT / "models" / "spacy" / "de_geldern", vocabulary_dir=tmp_path)
    texts = _nlu_texts() + heldout_texts()
    changed = [t for t in texts if bare.redact(t).text != t]
    assert len(changed) <= len(texts) / 200, changed
    # ... and still catch the lower-case names.
    assert bare.redact("ich bin anna schmitz").text == "ich bin [NAME]"
    assert bare.redact("meine frau anna braucht einen pass").text == "meine frau [NAME] braucht einen pass"
