"""Answers from the knowledge base: right content, source, and channel-aware rendering."""

import re

from servicecenter.knowledge import aspects as A
from servicecenter.knowledge.answers import CHAT, VOICE, AnswerComposer


def test_fee_answer_in_chat_lists_amounts_and_links_the_source(knowledge):
    answer = AnswerComposer(knowledge).answer("reisepass", A.FEE, CHAT)
    assert "70,00 €" in answer.text and "37,50 €" in answer.text
    source = str(knowledge.services["reisepass"].provenance.source_url)
    assert f"]({source})" in answer.text
    assert "Mitarbeiter" in answer.text  # a human route in every answer


def test_fee_answer_for_voice_speaks_amounts_without_links(knowledge):
    answer = AnswerComposer(knowledge).answer("reisepass", A.FEE, VOICE)
    assert "siebzig Euro" in answer.text
    assert "siebenunddreißig Euro fünfzig" in answer.text
    assert "http" not in answer.text and "www." not in answer.text
    assert not re.search(r"\d", answer.text), answer.text


def test_hours_are_written_out_for_voice(knowledge):
    answer = AnswerComposer(knowledge).answer("personalausweis", A.HOURS, VOICE)
    assert "acht bis siebzehn Uhr" in answer.text
    assert "montags bis donnerstags" in answer.text


def test_hours_in_chat_are_compact(knowledge):
    answer = AnswerComposer(knowledge).answer("personalausweis", A.HOURS, CHAT)
    assert "Mo–Do 08:00–17:00 Uhr" in answer.text


def test_unknown_fee_refers_to_who_can_tell(knowledge):
    no_fee = [s for s in knowledge.services.values() if not s.fees]
    assert no_fee, "expected some services without a sourced fee"
    answer = AnswerComposer(knowledge).answer(no_fee[0].slug, A.FEE, CHAT)
    assert no_fee[0].fee_note in answer.text
    assert "€" not in answer.text.split("Quelle")[0]


def test_external_body_answer_says_the_town_is_not_responsible(knowledge):
    answer = AnswerComposer(knowledge).answer("kfz-zulassung", A.GENERAL, CHAT)
    assert "Kreis Kleve" in answer.text
    assert "nicht die Stadt Geldern zuständig" in answer.text
    assert knowledge.organisations["kreis-kleve"].phone in answer.text


def test_documents_answer_lists_documents(knowledge):
    answer = AnswerComposer(knowledge).answer("wohnsitz-anmelden", A.DOCUMENTS, CHAT)
    assert "Wohnungsgeberbestätigung" in answer.text
    assert answer.text.count("\n- ") >= 2


def test_location_answer_gives_the_address(knowledge):
    answer = AnswerComposer(knowledge).answer("reisepass", A.LOCATION, CHAT)
    assert "Issumer Tor 36" in answer.text


def test_every_service_answers_every_aspect_on_both_channels(knowledge):
    composer = AnswerComposer(knowledge)
    for slug in knowledge.services:
        for aspect in A.ASPECTS:
            for channel in (CHAT, VOICE):
                text = composer.answer(slug, aspect, channel).text
                assert len(text) > 40, (slug, aspect, channel)
                if channel == VOICE:
                    assert "http" not in text and "](" not in text, (slug, aspect)
