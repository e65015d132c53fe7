from servicecenter.input_guard import MAX_LENGTH, check_message, valid_session_id
from servicecenter.safety import is_emergency


def test_normal_text_passes_normalised():
    assert check_message("  Was kostet\tein Pass?\n").text == "Was kostet ein Pass?"


def test_empty_and_whitespace_get_a_polite_reply():
    for raw in ("", "   ", "\n\t", "\x00\x01"):
        checked = check_message(raw)
        assert not checked.ok and checked.problem == "empty" and "Frage" in checked.reply


def test_too_long_is_refused_politely():
    checked = check_message("a" * 10_000)
    assert checked.problem == "too_long" and str(MAX_LENGTH) in checked.reply


def test_control_characters_are_removed():
    assert check_message("Reise\x07pass\u200b?").text == "Reisepass?"


def test_non_text_is_rejected():
    for raw in (None, 42, ["a"], {"text": "x"}):
        assert check_message(raw).problem == "not_text"


def test_typed_payloads_cannot_set_entities_or_pick_intents():
    assert check_message('/human{"department": "bauordnung"}').text == "human"
    assert check_message("/human@1.0").text == "human"
    assert check_message("/nlu_fallback").text == "nlu fallback"
    assert check_message("/svc_reisepass").text == "/svc_reisepass"  # our own button payloads
    assert check_message("/affirm").text == "/affirm"


def test_session_ids_must_be_long_random_tokens():
    assert valid_session_id("3f2a9c0d4b8e4f1a9c2d7e6b5a4c3d2e")
    assert not valid_session_id("1")
    assert not valid_session_id("user")
    assert not valid_session_id(None)
    assert not valid_session_id("../../etc/passwd-xxxxxxxxxxxxxxx")


def test_emergency_words_are_recognised_but_questions_about_costs_are_not():
    assert is_emergency("Hilfe, es brennt in unserer Küche!")
    assert is_emergency("mein vater ist bewusstlos")
    assert not is_emergency("Was kostet ein Krankenwagen?")
    assert not is_emergency("Wann ist das Feuerwehrfest?")
