"""The handoff summary built from realistic tracker events."""

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import pytest

from servicecenter.handoff.summary import build_summary, mask_contact_data

T0 = 1_718_000_000.0  # 2024-06-10 06:13:20 UTC


def user(text: str, intent: str, t: float, channel: str = "socketio", confidence: float = 0.9) -> Dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": []},
        "input_channel": channel,
        "timestamp": T0 + t,
    }


def bot(text: str, t: float) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": T0 + t}


def slot(name: str, value: Any, t: float) -> Dict[str, Any]:
    return {"event": "slot", "name": name, "value": value, "timestamp": T0 + t}


def session_start(t: float) -> List[Dict[str, Any]]:
    return [
        {"event": "action", "name": "action_session_start", "timestamp": T0 + t},
        {"event": "session_started", "timestamp": T0 + t},
        {"event": "action", "name": "action_listen", "timestamp": T0 + t},
    ]


def answer_turn(service: str, aspect: str, answered: List[str], t: float) -> List[Dict[str, Any]]:
    return [
        {"event": "action", "name": "action_answer_service", "timestamp": T0 + t},
        bot("(Antwort aus der Wissensbasis)", t),
        slot("outcome", "answer", t),
        slot("service", service, t),
        slot("topic", service, t),
        slot("aspect", aspect, t),
        slot("answered", answered, t),
    ]


def handoff_turn(reason: str, department: str, service: Optional[str], t: float) -> List[Dict[str, Any]]:
    return [
        {"event": "action", "name": "action_handoff", "timestamp": T0 + t},
        bot("Ich gebe Ihr Anliegen weiter.", t),
        slot("outcome", "handoff", t),
        slot("service", service, t),
        slot("department", department, t),
        slot("handoff_reason", reason, t),
    ]


def passport_chat() -> List[Dict[str, Any]]:
    """Greeting, fee question, documents follow-up, then the wish for a person."""
    return [
        *session_start(0),
        user("Hallo", "greet", 5),
        bot("Guten Tag! Wie kann ich helfen?", 6),
        user("Was kostet ein Reisepass?", "svc_reisepass", 20),
        *answer_turn("reisepass", "fee", ["reisepass:fee"], 21),
        user("Und welche Unterlagen muss ich mitbringen?", "ask_documents", 80),
        *answer_turn("reisepass", "documents", ["reisepass:fee", "reisepass:documents"], 81),
        user("Ich möchte mit jemandem sprechen", "human", 200),
        *handoff_turn("human", "buergerbuero", "reisepass", 201),
    ]


def test_chat_after_two_answers_summarises_topic_answers_and_earlier_question(knowledge):
    s = build_summary(passport_chat(), knowledge, "human", "buergerbuero", "chat")

    assert s.topic == "Reisepass beantragen"
    assert s.service == "reisepass"
    assert s.answered == ["Reisepass beantragen: Gebühren", "Reisepass beantragen: Unterlagen"]
    assert s.open_question == "Und welche Unterlagen muss ich mitbringen?"
    assert s.reason == "Wunsch nach einem Menschen"
    assert s.department == "buergerbuero"
    assert s.department_name == "Bürgerbüro der Stadt Geldern"
    assert s.channel == "Chat"
    assert s.language == "de"
    assert s.turns == 4
    assert s.started_at == datetime.fromtimestamp(T0 + 5, tz=timezone.utc)
    assert s.handed_over_at == datetime.fromtimestamp(T0 + 201, tz=timezone.utc)
    assert s.started_at.tzinfo is timezone.utc
    assert s.contact is None


def test_chat_summary_text_is_short_and_names_everything_the_agent_needs(knowledge):
    text = build_summary(passport_chat(), knowledge, "human", "buergerbuero", "chat").to_text()

    assert text.splitlines() == [
        "Anliegen: Reisepass beantragen (reisepass)",
        "Offene Frage: „Und welche Unterlagen muss ich mitbringen?“",
        "Bereits beantwortet: Gebühren, Unterlagen",
        "Grund: Wunsch nach einem Menschen",
        "Zuständig: Bürgerbüro der Stadt Geldern (buergerbuero)",
        "Kanal: Chat · seit 3 Min. · 4 Nachrichten",
    ]


def test_voice_complaint_keeps_the_complaint_words_and_marks_earlier_topic_as_context(knowledge):
    events = [
        *session_start(0),
        user("Wann wird bei uns der Sperrmüll abgeholt", "svc_sperrmuell", 3, channel="voice"),
        *answer_turn("sperrmuell", "general", ["sperrmuell:general"], 4),
        user(
            "ich möchte mich beschweren die Mitarbeiterin am Telefon war gestern sehr unfreundlich",
            "complaint",
            70,
            channel="voice",
        ),
        *handoff_turn("complaint", "zentrale", None, 71),
    ]
    s = build_summary(events, knowledge, "complaint", "zentrale", "voice")

    assert s.channel == "Telefon"
    assert s.reason == "Beschwerde"
    assert s.open_question == (
        "ich möchte mich beschweren die Mitarbeiterin am Telefon war gestern sehr unfreundlich"
    )
    assert s.department_name == "Zentrale der Stadtverwaltung Geldern"
    assert s.service == "sperrmuell" and s.topic == "Sperrmüll anmelden"
    assert s.answered == ["Sperrmüll anmelden: Allgemeines"]
    assert s.turns == 2
    lines = s.to_text().splitlines()
    assert lines[0] == "Zuvor besprochen: Sperrmüll anmelden (sperrmuell)"
    assert lines[3] == "Grund: Beschwerde"
    assert lines[5] == "Kanal: Telefon · seit 1 Min. · 2 Nachrichten"


def test_case_status_as_first_message_has_no_answers_and_the_question_itself(knowledge):
    question = "Ich habe vor drei Wochen Sperrmüll angemeldet, wann wird der denn endlich abgeholt?"
    events = [
        *session_start(0),
        user(question, "case_status", 12),
        *handoff_turn("case_status", "abfall", "sperrmuell", 13),
    ]
    s = build_summary(events, knowledge, "case_status", "abfall", "chat")

    assert s.open_question == question
    assert s.service == "sperrmuell"
    assert s.topic == "Sperrmüll anmelden"
    assert s.answered == []
    assert s.reason == "Frage zum eigenen Vorgang"
    assert s.department_name == "Abfallwirtschaft der Stadt Geldern"
    assert s.turns == 1
    assert s.started_at == datetime.fromtimestamp(T0 + 12, tz=timezone.utc)
    lines = s.to_text().splitlines()
    assert "Bereits beantwortet: noch nichts" in lines
    assert "Kanal: Chat · seit weniger als 1 Min. · 1 Nachricht" in lines


def test_contact_is_kept_only_with_consent(knowledge):
    contact = {"name": "M. Muster", "phone": "0151 00000000"}
    without = build_summary(passport_chat(), knowledge, "human", "buergerbuero", "chat", contact=contact)
    with_consent = build_summary(
        passport_chat(), knowledge, "human", "buergerbuero", "chat", contact=contact, consent=True
    )

    assert without.contact is None
    assert "0151" not in without.to_text() and "Muster" not in json.dumps(without.to_dict())
    assert with_consent.contact == {"name": "M. Muster", "phone": "0151 00000000"}
    assert with_consent.contact is not contact
    assert with_consent.to_text().splitlines()[-1] == (
        "Kontakt (mit Einwilligung): Name M. Muster, Telefon 0151 00000000"
    )


def test_contact_data_typed_into_the_question_is_masked_without_consent(knowledge):
    events = [
        *session_start(0),
        user(
            "Mein Bauantrag liegt seit Monaten bei Ihnen, bitte rufen Sie mich an: 0151 0000 0000 "
            "oder schreiben an m.muster@example.org",
            "case_status",
            10,
        ),
    ]
    masked = build_summary(events, knowledge, "case_status", "bauordnung", "chat")
    kept = build_summary(events, knowledge, "case_status", "bauordnung", "chat", consent=True)

    assert masked.open_question == (
        "Mein Bauantrag liegt seit Monaten bei Ihnen, bitte rufen Sie mich an: [Telefonnummer] "
        "oder schreiben an [E-Mail]"
    )
    assert "0151 0000 0000" in (kept.open_question or "")


def test_masking_leaves_fees_dates_and_short_numbers_alone():
    text = "Kostet das 70 Euro? Mein Termin ist am 12.06.2024 um 10 Uhr, Vorgang 4711."
    assert mask_contact_data(text) == text


def test_button_payloads_and_small_talk_are_not_the_open_question(knowledge):
    events = [
        *session_start(0),
        user("Was brauche ich für den Ausweis?", "svc_personalausweis", 10, confidence=0.25),
        bot("Meinen Sie Personalausweis oder Reisepass?", 11),
        slot("pending", "clarify", 11),
        user("/svc_personalausweis", "svc_personalausweis", 30, confidence=1.0),
        *answer_turn("personalausweis", "documents", ["personalausweis:documents"], 31),
        user("danke", "thanks", 50),
        user("Das hilft mir nicht weiter", "not_helpful", 90),
        *handoff_turn("not_helpful", "buergerbuero", "personalausweis", 91),
    ]
    s = build_summary(events, knowledge, "not_helpful", "buergerbuero", "chat")

    assert s.open_question == "Was brauche ich für den Ausweis?"
    assert s.reason == "Antwort half nicht"
    assert s.topic == "Personalausweis beantragen"
    assert s.answered == ["Personalausweis beantragen: Unterlagen"]
    assert s.turns == 4


def test_after_two_misunderstandings_the_accepting_yes_is_skipped(knowledge):
    events = [
        *session_start(0),
        user("Mein Nachbar hat einen Baum auf unser Grundstück fallen lassen", "nlu_fallback", 10),
        bot("Das habe ich leider nicht verstanden.", 11),
        user("Wer ist für umgestürzte Bäume zuständig", "nlu_fallback", 40),
        bot("Soll ich Sie mit einer Mitarbeiterin oder einem Mitarbeiter verbinden?", 41),
        user("ja", "affirm", 55),
        *handoff_turn("repeated_fallback", "zentrale", None, 56),
    ]
    s = build_summary(events, knowledge, "repeated_fallback", "zentrale", "chat")

    assert s.open_question == "Wer ist für umgestürzte Bäume zuständig"
    assert s.reason == "Zwei Missverständnisse"
    assert s.service is None and s.topic is None
    assert s.to_text().splitlines()[0] == "Anliegen: nicht erkannt"


def test_only_the_request_for_a_person_is_used_when_nothing_came_before(knowledge):
    events = [*session_start(0), user("Friedhofsverwaltung bitte", "human", 4, channel="voice")]
    s = build_summary(events, knowledge, "human", "friedhof", "voice")

    assert s.open_question == "Friedhofsverwaltung bitte"
    assert s.to_text().splitlines()[1] == "Offene Frage: „Friedhofsverwaltung bitte“"


def test_a_new_session_starts_a_new_summary(knowledge):
    events = [
        *session_start(0),
        user("Was kostet ein Reisepass?", "svc_reisepass", 10),
        *answer_turn("reisepass", "fee", ["reisepass:fee"], 11),
        *session_start(7200),
        user("Wann wird die gelbe Tonne geleert?", "svc_abfallkalender", 7210),
        user("Mitarbeiter", "human", 7300),
    ]
    s = build_summary(events, knowledge, "human", "zentrale", "chat")

    assert s.service is None
    assert s.answered == []
    assert s.open_question == "Wann wird die gelbe Tonne geleert?"
    assert s.turns == 2
    assert s.started_at == datetime.fromtimestamp(T0 + 7210, tz=timezone.utc)


def test_answers_for_other_services_are_named_with_their_service(knowledge):
    events = [
        *session_start(0),
        user("Was kostet ein Personalausweis?", "svc_personalausweis", 10),
        *answer_turn("personalausweis", "fee", ["personalausweis:fee"], 11),
        user("Und ein Reisepass, wie lange dauert der?", "svc_reisepass", 40),
        *answer_turn("reisepass", "duration", ["personalausweis:fee", "reisepass:duration"], 41),
        user("Mitarbeiter bitte", "human", 60),
    ]
    s = build_summary(events, knowledge, "human", "buergerbuero", "chat")

    assert s.service == "reisepass"
    assert "Bereits beantwortet: Personalausweis beantragen: Gebühren; Reisepass beantragen: Dauer" in (
        s.to_text().splitlines()
    )


def test_long_question_is_truncated_to_300_characters(knowledge):
    long_text = "Ich habe eine Frage zu meinem Wohngeldantrag, " + "und zwar " * 60 + "Ende"
    events = [*session_start(0), user(long_text, "case_status", 5)]
    s = build_summary(events, knowledge, "case_status", "soziales", "chat")

    assert s.open_question is not None
    assert len(s.open_question) == 300
    assert s.open_question.endswith("…")
    assert s.open_question.startswith("Ich habe eine Frage zu meinem Wohngeldantrag, und zwar")


def test_now_sets_the_handover_time_and_to_dict_is_json(knowledge):
    now = datetime.fromtimestamp(T0 + 300, tz=timezone.utc)
    s = build_summary(passport_chat(), knowledge, "human", "buergerbuero", "chat", now=now)
    data = json.loads(json.dumps(s.to_dict()))

    assert s.handed_over_at - s.started_at == timedelta(seconds=295)
    assert data["handed_over_at"] == "2024-06-10T06:18:20+00:00"
    assert data["started_at"] == "2024-06-10T06:13:25+00:00"
    assert data["reason"] == "Wunsch nach einem Menschen"
    assert data["reason_code"] == "human"
    assert data["answered"] == ["Reisepass beantragen: Gebühren", "Reisepass beantragen: Unterlagen"]
    assert data["contact"] is None
    assert data["language"] == "de"


def test_unknown_reason_and_naive_now_are_rejected(knowledge):
    with pytest.raises(ValueError, match="unknown handoff reason"):
        build_summary(passport_chat(), knowledge, "bored", "zentrale", "chat")
    with pytest.raises(ValueError, match="timezone-aware"):
        build_summary(passport_chat(), knowledge, "human", "zentrale", "chat", now=datetime(2024, 6, 10, 8, 0))
