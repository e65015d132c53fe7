"""Custom actions driven with a Tracker and a CollectingDispatcher, as Rasa calls them."""

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions import (
    ActionAnswerService,
    ActionEmergency,
    ActionFallback,
    ActionHandoff,
    ActionSessionStart,
    ActionSmalltalk,
)
from servicecenter.db import session_scope
from servicecenter.models import Ticket

FIXTURES = Path(__file__).parent / "fixtures"
SENDER = "a3f1c2d4e5b6a7980f1e2d3c4b5a6978"


def tracker(
    text: str,
    intent: str,
    confidence: float = 0.95,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    channel: str = "socketio",
    ranking: Optional[List[Dict[str, Any]]] = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
    }
    events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    return Tracker(SENDER, slots or {}, latest, events, False, None, {}, "action_listen")


def run(action, tr: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tr, {}))
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return dispatcher.messages, slots


def test_tracker_fixture_from_json_runs_like_rasa(use_db):
    data = json.loads((FIXTURES / "tracker_fee_question.json").read_text())
    tr = Tracker.from_dict(data)
    messages, slots = run(ActionAnswerService(), tr)
    assert slots["outcome"] == "answer" and slots["service"] == "reisepass"
    assert "70,00 €" in messages[0]["text"]


def test_service_question_is_answered_with_fee_and_source(use_db):
    messages, slots = run(ActionAnswerService(), tracker("Was kostet ein Reisepass?", "svc_reisepass"))
    assert slots["outcome"] == "answer"
    assert slots["service"] == slots["topic"] == "reisepass"
    assert slots["aspect"] == "fee"
    assert "70,00 €" in messages[0]["text"] and "Quelle:" in messages[0]["text"]


def test_follow_up_uses_the_service_under_discussion(use_db):
    messages, slots = run(
        ActionAnswerService(),
        tracker("Und welche Unterlagen brauche ich?", "ask_documents", slots={"topic": "wohnsitz-anmelden"}),
    )
    assert slots["service"] == "wohnsitz-anmelden" and slots["aspect"] == "documents"
    assert "Wohnungsgeberbestätigung" in messages[0]["text"]


def test_follow_up_without_topic_asks_which_service(use_db):
    messages, slots = run(ActionAnswerService(), tracker("Was kostet das?", "ask_fee"))
    assert slots["outcome"] == "clarify"
    assert messages[0]["response"] == "utter_which_service"


def test_unsure_between_two_services_offers_buttons(use_db):
    ranking = [{"name": "svc_wohnsitz_anmelden", "confidence": 0.26}, {"name": "svc_wohnsitz_ummelden", "confidence": 0.22}]
    messages, slots = run(
        ActionAnswerService(), tracker("Ich ziehe um", "svc_wohnsitz_anmelden", 0.26, ranking=ranking)
    )
    assert slots["outcome"] == "clarify"
    assert slots["candidates"] == ["wohnsitz-anmelden", "wohnsitz-ummelden"]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == ["/svc_wohnsitz_anmelden", "/svc_wohnsitz_ummelden"]


def test_picking_a_button_answers_the_original_question(use_db):
    _, slots = run(
        ActionAnswerService(),
        tracker("/svc_wohnsitz_ummelden", "svc_wohnsitz_ummelden", 1.0, slots={"pending": "clarify", "aspect": "fee"}),
    )
    assert slots["service"] == "wohnsitz-ummelden" and slots["aspect"] == "fee"


def test_voice_answer_has_no_links(use_db):
    messages, _ = run(ActionAnswerService(), tracker("was kostet ein reisepass", "svc_reisepass", channel="voice"))
    assert "http" not in messages[0]["text"] and "siebzig Euro" in messages[0]["text"]


def test_case_status_is_handed_to_the_responsible_department_and_recorded(use_db):
    entities = [{"entity": "service", "value": "bauantrag"}]
    messages, slots = run(ActionHandoff(), tracker("Wie weit ist mein Bauantrag?", "case_status", entities=entities))
    assert slots["outcome"] == "handoff" and slots["department"] == "bauordnung"
    assert slots["handoff_reason"] == "case_status"
    assert messages[0]["response"] == "utter_handoff"
    with session_scope(use_db) as session:
        row = session.execute(
            select(Ticket).where(Ticket.conversation_id == SENDER).order_by(Ticket.created_at.desc())
        ).scalars().first()
    assert row.department_slug == "bauordnung" and row.reason == "case_status"


def test_human_wish_names_the_office_of_the_current_topic(use_db):
    _, slots = run(ActionHandoff(), tracker("Ich möchte mit jemandem sprechen", "human", slots={"topic": "hundesteuer"}))
    assert slots["department"] == "steueramt"


def test_complaint_goes_to_the_named_office_or_the_switchboard(use_db):
    _, slots = run(ActionHandoff(), tracker("Ich will mich beschweren", "complaint", slots={"topic": "reisepass"}))
    assert slots["department"] == "zentrale" and slots["service"] is None
    ents = [{"entity": "department", "value": "ordnungsamt"}]
    _, slots = run(ActionHandoff(), tracker("Beschwerde über das Ordnungsamt", "complaint", entities=ents))
    assert slots["department"] == "ordnungsamt"


def test_emergency_words_override_any_intent(use_db):
    messages, slots = run(ActionHandoff(), tracker("Hilfe es brennt bei uns im Haus", "human"))
    assert slots["outcome"] == "emergency"
    assert messages[0]["response"] == "utter_emergency"
    _, slots = run(ActionEmergency(), tracker("Unfall", "emergency"))
    assert slots["outcome"] == "emergency"


def test_two_misunderstandings_offer_a_human_and_yes_hands_over(use_db):
    _, first = run(ActionFallback(), tracker("blorp", "nlu_fallback", 0.3))
    assert first["outcome"] == "fallback" and first["misunderstandings"] == 1
    messages, second = run(ActionFallback(), tracker("blarg", "nlu_fallback", 0.3, slots={"misunderstandings": 1}))
    assert second["pending"] == "offer_handoff" and messages[0]["response"] == "utter_offer_handoff"
    _, third = run(ActionSmalltalk(), tracker("ja bitte", "affirm", slots={"pending": "offer_handoff"}))
    assert third["outcome"] == "handoff" and third["handoff_reason"] == "repeated_fallback"


def test_session_start_discloses_the_automated_assistant():
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionSessionStart().run(dispatcher, tracker("", "greet"), {}))
    assert dispatcher.messages[0]["response"] == "utter_disclosure"
    assert events[0]["event"] == "session_started"


def test_disclosure_text_says_automated_and_no_personal_data():
    import yaml

    from servicecenter import PROJECT_ROOT

    responses = yaml.safe_load((PROJECT_ROOT / "bot" / "domain" / "responses.yml").read_text())["responses"]
    chat = responses["utter_disclosure"][0]["text"]
    assert "automatisiert" in chat and "keine persönlichen Daten" in chat
    voice = next(v for v in responses["utter_disclosure"] if v.get("channel") == "voice")["text"]
    assert "Computer" in voice and "keine persönlichen Daten" in voice


@pytest.mark.parametrize("intent", ["greet", "thanks", "bot_challenge", "goodbye"])
def test_small_talk_has_outcome_smalltalk(use_db, intent):
    messages, slots = run(ActionSmalltalk(), tracker("hallo", intent))
    assert slots["outcome"] == "smalltalk" and messages


def test_handoff_opens_one_ticket_with_summary_and_due_time_even_if_retried(use_db):
    from servicecenter.models import Ticket

    events = [
        {"event": "user", "text": "Was kostet ein Reisepass?", "timestamp": 1795600000.0,
         "parse_data": {"intent": {"name": "svc_reisepass", "confidence": 0.9}}, "input_channel": "socketio"},
        {"event": "slot", "name": "topic", "value": "reisepass"},
        {"event": "slot", "name": "answered", "value": ["reisepass:fee"]},
        {"event": "user", "text": "Ich möchte mit jemandem sprechen", "timestamp": 1795600060.0,
         "parse_data": {"intent": {"name": "human", "confidence": 0.9}}, "input_channel": "socketio"},
    ]
    latest = {"text": "Ich möchte mit jemandem sprechen", "intent": {"name": "human", "confidence": 0.9},
              "entities": [], "intent_ranking": []}
    sender = "c0ffee00c0ffee00c0ffee00c0ffee00"
    tr = Tracker(sender, {"topic": "reisepass", "answered": ["reisepass:fee"]}, latest, events, False, None, {}, "action_listen")
    run(ActionHandoff(), tr)
    run(ActionHandoff(), tr)  # Rasa retries the action: no second ticket
    with session_scope(use_db) as session:
        tickets = session.execute(select(Ticket).where(Ticket.conversation_id == sender)).scalars().all()
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket.department_slug == "buergerbuero" and ticket.status == "new"
    assert ticket.summary["service"] == "reisepass"
    assert "Was kostet ein Reisepass?" in ticket.summary["open_question"]
    assert ticket.due_at is not None and ticket.due_at > ticket.created_at


def test_a_service_outside_the_current_takeover_stage_goes_straight_to_its_department(use_db, tmp_path, monkeypatch):
    import shutil

    import yaml

    from servicecenter import PROJECT_ROOT
    from servicecenter.settings import get_settings

    town = tmp_path / "geldern"
    shutil.copytree(PROJECT_ROOT / "knowledge" / "geldern", town)
    routing = yaml.safe_load((town / "routing.yml").read_text())
    routing["takeover_stage"] = 1
    (town / "routing.yml").write_text(yaml.safe_dump(routing, allow_unicode=True))
    monkeypatch.setenv("ASSISTANT_KNOWLEDGE_DIR", str(town))
    get_settings.cache_clear()

    messages, slots = run(ActionAnswerService(), tracker("Was kostet die Hundesteuer?", "svc_hundesteuer"))
    assert slots["outcome"] == "handoff" and slots["department"] == "steueramt"
    assert slots["handoff_reason"] == "outside_stage"
    _, slots = run(ActionAnswerService(), tracker("Wann ist Abfuhr?", "svc_abfallkalender"))
    assert slots["outcome"] == "answer"  # stage 1 includes the waste calendar
