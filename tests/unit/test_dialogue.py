"""Which service a message is about, when to ask back, where a handoff goes."""

from servicecenter.dialogue import (
    handoff_target,
    intent_for,
    recover_from_fallback,
    resolve_service,
    slug_for,
)
from servicecenter.knowledge.aspects import detect_aspect


def test_intent_names_map_to_catalogue_slugs():
    assert intent_for("wohnsitz-anmelden") == "svc_wohnsitz_anmelden"
    assert slug_for("svc_ausweis_status") == "ausweis-status"
    assert slug_for("greet") is None


def test_confident_service_intent_decides(knowledge):
    r = resolve_service(knowledge, "svc_reisepass", 0.9, [], [], None)
    assert r.service == "reisepass" and not r.needs_clarification


def test_a_mention_does_not_beat_a_confident_intent(knowledge):
    r = resolve_service(knowledge, "svc_ausweis_verlust", 0.8, [], ["reisepass"], None)
    assert r.service == "ausweis-verlust"


def test_a_named_service_beats_an_unsure_intent(knowledge):
    r = resolve_service(knowledge, "svc_personalausweis", 0.15, [], ["hundesteuer"], None)
    assert r.service == "hundesteuer"


def test_two_close_unsure_services_are_offered_as_choices(knowledge):
    ranking = [
        {"name": "svc_wohnsitz_anmelden", "confidence": 0.27},
        {"name": "svc_wohnsitz_ummelden", "confidence": 0.22},
        {"name": "greet", "confidence": 0.05},
    ]
    r = resolve_service(knowledge, "svc_wohnsitz_anmelden", 0.27, ranking, [], None)
    assert r.needs_clarification
    assert r.candidates == ["wohnsitz-anmelden", "wohnsitz-ummelden"]


def test_follow_up_refers_to_the_topic_under_discussion(knowledge):
    r = resolve_service(knowledge, "ask_fee", 0.9, [], [], "hundesteuer")
    assert r.service == "hundesteuer" and r.source == "context"


def test_follow_up_without_topic_resolves_nothing(knowledge):
    r = resolve_service(knowledge, "ask_fee", 0.9, [], [], None)
    assert r.service is None and not r.needs_clarification


def test_fallback_recovers_a_named_service_or_offers_the_two_best(knowledge):
    assert recover_from_fallback(knowledge, [], ["muelltonne"]).service == "muelltonne"
    ranking = [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "svc_sperrmuell", "confidence": 0.2},
               {"name": "svc_wertstoffhof", "confidence": 0.18}]
    assert recover_from_fallback(knowledge, ranking, []).candidates == ["sperrmuell", "wertstoffhof"]
    assert recover_from_fallback(knowledge, [{"name": "svc_sperrmuell", "confidence": 0.1}], []).service is None


def test_handoff_goes_to_named_office_then_service_owner_then_switchboard(knowledge):
    assert handoff_target(knowledge, ["standesamt"], "reisepass") == "standesamt"
    assert handoff_target(knowledge, [], "bauantrag") == "bauordnung"
    assert handoff_target(knowledge, [], "kfz-zulassung") == "kreis-kleve"
    assert handoff_target(knowledge, [], None) == "zentrale"
    assert handoff_target(knowledge, ["polizei-notruf"], None) == "zentrale"


def test_aspects_are_detected_from_words():
    assert detect_aspect("Was kostet ein Reisepass?") == "fee"
    assert detect_aspect("welche unterlagen brauch ich") == "documents"
    assert detect_aspect("Geht das auch online?") == "online"
    assert detect_aspect("Wie lange dauert das?") == "duration"
    assert detect_aspect("Wo ist das Bürgerbüro?") == "location"
    assert detect_aspect("Wann hat das Bürgerbüro geöffnet?") == "hours"
    assert detect_aspect("Ich brauche einen Reisepass") == "general"
    assert detect_aspect("egal", intent="ask_hours") == "hours"


def test_a_question_that_points_back_stays_on_topic_unless_the_model_is_sure(knowledge):
    r = resolve_service(knowledge, "svc_rathaus_kontakt", 0.5, [], [], "kfz-zulassung",
                        text="Geht das auch im Rathaus in Geldern?")
    assert r.service == "kfz-zulassung"
    r = resolve_service(knowledge, "svc_hundesteuer", 0.9, [], [], "kfz-zulassung",
                        text="Und was ist mit der Hundesteuer für das Tier?")
    assert r.service == "hundesteuer"


def test_own_case_status_is_recognised():
    from servicecenter.dialogue import is_own_case

    assert is_own_case("Ich habe vor drei Wochen Sperrmüll angemeldet und noch nichts gehört")
    assert is_own_case("Wie weit ist mein Bauantrag?")
    assert is_own_case("wo bleibt die tonne")
    assert not is_own_case("Wie melde ich Sperrmüll an?")
    assert not is_own_case("Was kostet ein Reisepass?")


def test_service_names_are_found_despite_typos(knowledge):
    from servicecenter.knowledge.mentions import fuzzy_mentions

    assert fuzzy_mentions(knowledge, "Kann ich Eltergeld online beantragen?") == ["elterngeld"]
    assert fuzzy_mentions(knowledge, "Fuehrungszeugniss kosten") == ["fuehrungszeugnis"]
    assert fuzzy_mentions(knowledge, "Wann hat das Rathaus auf") == []


def test_switchboard_requests_are_recognised():
    from servicecenter.dialogue import wants_connection

    assert wants_connection("bitte einmal die friedhofsverwaltung", ["friedhof"])
    assert wants_connection("Standesamt bitte", ["standesamt"])
    assert wants_connection("Verbinden Sie mich mit dem Bürgerbüro", ["buergerbuero"])
    assert not wants_connection("Wann hat das Bürgerbüro am Freitag geöffnet?", ["buergerbuero"])
    assert not wants_connection("bitte einmal die friedhofsverwaltung", [])
