"""Trainer workbench in the console: roles, the NLU inbox with redaction, filters and grouping,
decisions written as training examples, conversation review and tags."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid

import pytest
import yaml
from sqlalchemy import select
from test_trainer_support import (
    client_for,
    conversation,
    csrf_of,
    scratch_db,
    settings_for,
)

from servicecenter import PROJECT_ROOT
from servicecenter.db import session_scope
from servicecenter.trainer import nlu_writer
from servicecenter.trainer.models import TrainerConversationTag, TrainerDecision, TrainerMessage

SECRET_TEXT = (
    "Guten Tag, ich heiße Peter Müller, Telefon 0151 23456789, wohne in der Kapuzinerstraße 7. "
    "Mein Reisepass ist weg, was nun?"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trainer-console")
    url = scratch_db(folder)
    return settings_for(url, folder)


@pytest.fixture()
def nlu_dir(tmp_path, monkeypatch):
    """Decisions write into a temporary copy of bot/data/nlu (the real one is never touched)."""
    target = tmp_path / "nlu"
    shutil.copytree(PROJECT_ROOT / "bot" / "data" / "nlu", target)
    monkeypatch.setattr(nlu_writer, "NLU_DIR", target)
    return target


def _message_for(url: str, conversation_id: str) -> TrainerMessage:
    with session_scope(url) as session:
        return session.execute(
            select(TrainerMessage).where(TrainerMessage.conversation_id == conversation_id)
        ).scalar_one()


@pytest.mark.parametrize("role", ["agent", "department"])
def test_other_roles_get_403_everywhere(env, role):
    client = client_for(env, role, "standesamt" if role == "department" else None)
    for path in ("/console/trainer", "/console/trainer/knowledge", "/console/trainer/models",
                 "/console/trainer/knowledge/reisepass"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Berechtigung" in response.text
    assert "/console/trainer" not in client.get("/console/inbox").text
    token = csrf_of(client, "/console/inbox")
    for path in ("/console/trainer/models/train", "/console/trainer/models/rollback",
                 "/console/trainer/knowledge/reisepass", "/console/trainer/messages/1/decide"):
        response = client.post(path, data={"csrf_token": token, "decision": "discard"})
        assert response.status_code == 403, path


def test_signed_out_visitors_are_sent_to_the_login(env):
    from fastapi.testclient import TestClient

    from servicecenter.console.app import create_app

    response = TestClient(create_app(env)).get("/console/trainer", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


@pytest.mark.parametrize("role", ["trainer", "supervisor", "admin"])
def test_trainer_roles_reach_the_workbench_and_see_the_link(env, role):
    client = client_for(env, role)
    for path in ("/console/trainer", "/console/trainer/knowledge", "/console/trainer/models"):
        assert client.get(path).status_code == 200, path
    assert 'href="/console/trainer"' in client.get("/console/trainer").text


def test_inbox_shows_only_redacted_text_and_stores_nothing_else(env):
    cid = conversation(env.db_url, SECRET_TEXT, "svc_ausweis_verlust", 0.41, service="reisepass")
    page = client_for(env, "trainer").get("/console/trainer").text
    for secret in ("Peter", "Müller", "0151", "23456789", "Kapuzinerstraße"):
        assert secret not in page
    assert "ich heiße [NAME], Telefon [TELEFON], wohne in der [ADRESSE]" in page
    stored = _message_for(env.db_url, cid)
    assert "Müller" not in stored.text and "0151" not in stored.text
    assert stored.redactions == {"NAME": 1, "TELEFON": 1, "ADRESSE": 1}
    assert stored.bot_action == "action_answer_service"


def test_most_useful_first_and_near_duplicates_grouped(env):
    tag = uuid.uuid4().hex[:6]
    sure = conversation(env.db_url, f"Hundesteuer anmelden {tag} bitte", "svc_hundesteuer", 0.98)
    conversation(env.db_url, f"Wie melde ich mein Wohnmobil {tag} an?", "svc_kfz_zulassung", 0.22)
    conversation(env.db_url, f"wie melde ich mein wohnmobil {tag} an", "svc_kfz_zulassung", 0.25, channel="voice")
    client = client_for(env, "trainer")
    page = client.get("/console/trainer").text
    assert page.count(f"ohnmobil {tag}") == 1  # one representative for the two near-duplicates
    assert page.index(f"ohnmobil {tag}") < page.index(f"Hundesteuer anmelden {tag}")
    row = page[page.index(f"ohnmobil {tag}"):]
    assert "<td>2</td>" in row[: row.index("</tr>")]
    assert _message_for(env.db_url, sure).priority < 0.1


def test_filters(env):
    tag = uuid.uuid4().hex[:6]
    conversation(env.db_url, f"Mein Nachbar {tag} grillt jeden Abend", "nlu_fallback", 0.15,
                 action="action_fallback", outcome="fallback")
    conversation(env.db_url, f"Ich will mit einem Menschen {tag} sprechen", "human", 0.95,
                 action="action_handoff", outcome="handoff", channel="voice")
    confident = conversation(env.db_url, f"Wo bekomme ich gelbe Säcke {tag}", "svc_gelbe_saecke", 0.97)
    client = client_for(env, "trainer")

    def shown(query: str) -> set:
        page = client.get(f"/console/trainer?{query}").text
        return {t for t in ("Nachbar", "Menschen", "gelbe Säcke") if f"{t} {tag}" in page}

    assert shown("") == {"Nachbar", "Menschen", "gelbe Säcke"}
    assert shown("low=1") == {"Nachbar"}
    assert shown("fallback=1") == {"Nachbar"}
    assert shown("handoff=1") == {"Menschen"}
    assert shown("channel=voice") == {"Menschen"}
    assert shown("channel=chat") == {"Nachbar", "gelbe Säcke"}
    assert shown("intent=svc_gelbe_saecke") == {"gelbe Säcke"}
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert shown(f"from={tomorrow}") == set()
    assert shown("negative=1") == set()
    from servicecenter.reports.feedback import record_feedback

    record_feedback(confident, "down", "Antwort passte nicht", "chat", url=env.db_url)
    assert shown("negative=1") == {"gelbe Säcke"}
    page = client.get("/console/trainer?from=gestern")
    assert page.status_code == 200
    assert "kein Datum" in page.text


def test_correcting_writes_the_redacted_example_and_records_who(env, nlu_dir):
    text = "Meine Tochter Lena braucht einen Kinderausweis, was kostet der Kinderausweis?"
    cid = conversation(env.db_url, text, "svc_kinderreisepass", 0.31)
    client = client_for(env, "trainer")
    client.get("/console/trainer")
    message = _message_for(env.db_url, cid)
    assert "Lena" not in message.text
    path = f"/console/trainer/messages/{message.id}"
    token = csrf_of(client, path)
    response = client.post(f"{path}/decide", data={
        "csrf_token": token, "decision": "correct", "intent": "svc_personalausweis",
        "service": "personalausweis", "service_words": "Kinderausweis",
    }, follow_redirects=True)
    assert response.status_code == 200
    assert "Trainingsbeispiel" in response.text
    assert client.username in response.text
    curated = yaml.safe_load((nlu_dir / "curated.yml").read_text(encoding="utf-8"))
    examples = next(i["examples"] for i in curated["nlu"] if i["intent"] == "svc_personalausweis")
    assert "Lena" not in examples
    assert '[Kinderausweis]{"entity": "service", "value": "personalausweis"}' in examples
    with session_scope(env.db_url) as session:
        decision = session.execute(select(TrainerDecision).where(TrainerDecision.message_id == message.id)).scalar_one()
    assert (decision.decision, decision.intent, decision.decided_by) == ("correct", "svc_personalausweis",
                                                                         client.username)
    assert decision.conversation_id == cid
    assert decision.decided_at is not None
    assert _message_for(env.db_url, cid).status == "corrected"


def test_a_post_without_csrf_changes_nothing(env, nlu_dir):
    cid = conversation(env.db_url, "Brauche ich für das Standesamt einen Termin?", "svc_eheschliessung", 0.4)
    client = client_for(env, "trainer")
    client.get("/console/trainer")
    message = _message_for(env.db_url, cid)
    response = client.post(f"/console/trainer/messages/{message.id}/decide",
                           data={"decision": "discard", "csrf_token": "falsch"})
    assert response.status_code == 403
    assert _message_for(env.db_url, cid).status == "open"
    assert not (nlu_dir / "curated.yml").exists()


def test_a_text_that_belongs_to_another_intent_is_refused_with_a_message(env, nlu_dir):
    cid = conversation(env.db_url, "Was kostet das?", "svc_reisepass", 0.35)
    client = client_for(env, "trainer")
    client.get("/console/trainer")
    message = _message_for(env.db_url, cid)
    path = f"/console/trainer/messages/{message.id}"
    response = client.post(f"{path}/decide", data={
        "csrf_token": csrf_of(client, path), "decision": "correct", "intent": "svc_reisepass"})
    assert response.status_code == 409
    assert "ask_fee" in response.text
    assert _message_for(env.db_url, cid).status == "open"
    assert not (nlu_dir / "curated.yml").exists()


def test_unknown_intent_and_bad_span_are_rejected(env, nlu_dir):
    cid = conversation(env.db_url, "Ich möchte ein Boot anmelden", "svc_kfz_zulassung", 0.3)
    client = client_for(env, "trainer")
    client.get("/console/trainer")
    message = _message_for(env.db_url, cid)
    path = f"/console/trainer/messages/{message.id}"
    bad_intent = client.post(f"{path}/decide", data={
        "csrf_token": csrf_of(client, path), "decision": "correct", "intent": "svc_bootsfuehrerschein"})
    assert bad_intent.status_code == 400
    bad_span = client.post(f"{path}/decide", data={
        "csrf_token": csrf_of(client, path), "decision": "correct", "intent": "svc_kfz_zulassung",
        "service": "kfz-zulassung", "service_words": "Flugzeug"})
    assert bad_span.status_code == 400
    assert "nicht im Text" in bad_span.text
    assert _message_for(env.db_url, cid).status == "open"


def test_discarding_marks_the_whole_group(env, nlu_dir):
    tag = uuid.uuid4().hex[:6]
    first = conversation(env.db_url, f"test test {tag} hallo", "greet", 0.5)
    second = conversation(env.db_url, f"Test {tag} test hallo!", "greet", 0.5)
    client = client_for(env, "trainer")
    client.get("/console/trainer")
    message = _message_for(env.db_url, first)
    path = f"/console/trainer/messages/{message.id}"
    response = client.post(f"{path}/decide", data={"csrf_token": csrf_of(client, path), "decision": "discard"},
                           follow_redirects=True)
    assert "Verworfen" in response.text
    assert _message_for(env.db_url, second).status == "discarded"
    assert not (nlu_dir / "curated.yml").exists()
    assert f"{tag}" not in client.get("/console/trainer").text


def test_conversation_review_in_order_redacted_with_links_and_tags(env):
    cid = conversation(env.db_url, SECRET_TEXT, "svc_reisepass", 0.52, service="reisepass",
                       reply="Ihr Rückruf an 0151 23456789 ist notiert.")
    client = client_for(env, "trainer")
    client.get("/console/trainer")
    message = _message_for(env.db_url, cid)
    page = client.get(f"/console/trainer/conversations/{cid}")
    assert page.status_code == 200
    assert "0151" not in page.text and "Müller" not in page.text
    assert page.text.index("[NAME]") < page.text.index("Aktion: action_answer_service") < page.text.index("[TELEFON] ist notiert")
    assert f'href="/console/trainer/messages/{message.id}"' in page.text
    assert "svc_reisepass (52 %)" in page.text
    assert f"/console/trainer/conversations/{cid}" in client.get(f"/console/trainer/messages/{message.id}").text
    token = csrf_of(client, f"/console/trainer/conversations/{cid}")
    response = client.post(f"/console/trainer/conversations/{cid}/tags",
                           data={"csrf_token": token, "tag": "missing_knowledge", "note": "Ruf an: 0151 23456789"},
                           follow_redirects=True)
    assert "Wissen fehlt" in response.text
    with session_scope(env.db_url) as session:
        tag = session.execute(select(TrainerConversationTag).where(
            TrainerConversationTag.conversation_id == cid)).scalar_one()
    assert tag.tagged_by == client.username and "0151" not in (tag.note or "")
    twice = client.post(f"/console/trainer/conversations/{cid}/tags",
                        data={"csrf_token": token, "tag": "missing_knowledge"})
    assert twice.status_code == 409
    unknown = client.post(f"/console/trainer/conversations/{cid}/tags", data={"csrf_token": token, "tag": "toll"})
    assert unknown.status_code == 400


def test_unknown_conversation_and_message_are_404(env):
    client = client_for(env, "trainer")
    assert client.get("/console/trainer/conversations/gibt-es-nicht").status_code == 404
    assert client.get("/console/trainer/messages/999999").status_code == 404


def test_no_personal_data_from_real_messages_survives_into_the_training_data(env, nlu_dir):
    from test_redaction import MESSAGES

    from servicecenter.trainer import inbox

    ids = [conversation(env.db_url, text, "svc_reisepass", 0.3) for text, _, _ in MESSAGES]
    inbox.sync(env.db_url)
    for cid in ids:
        message = _message_for(env.db_url, cid)
        assert inbox.decide(message.id, "correct", "trainer-a", intent="svc_reisepass", service="reisepass",
                            nlu_dir=nlu_dir, url=env.db_url).written
    written = "\n".join(p.read_text(encoding="utf-8") for p in nlu_dir.glob("*.yml"))
    assert written.count("svc_reisepass") >= 2  # the data files and the curated examples
    for _, secrets, _ in MESSAGES:
        for secret in secrets:
            assert secret not in written, secret
    with session_scope(env.db_url) as session:
        stored = " ".join(m.text for m in session.execute(select(TrainerMessage)).scalars())
    for _, secrets, _ in MESSAGES:
        for secret in secrets:
            assert secret not in stored, secret


def test_erasing_a_conversation_removes_everything_the_workbench_kept(env, nlu_dir):
    from servicecenter.reports.retention import erase_conversation, remaining_rows
    from servicecenter.trainer import inbox, review

    cid = conversation(env.db_url, "Was brauche ich für die Kfz-Zulassung meines Anhängers?", "svc_kfz_zulassung", 0.4)
    inbox.sync(env.db_url)
    message = _message_for(env.db_url, cid)
    inbox.decide(message.id, "discard", "trainer-a", url=env.db_url)
    review.add_tag(cid, "good", "trainer-a", url=env.db_url)
    removed = erase_conversation(cid, url=env.db_url)
    assert removed["trainer_messages"] == 1
    assert removed["trainer_decisions"] == 1
    assert removed["trainer_conversation_tags"] == 1
    assert not any(remaining_rows(cid, url=env.db_url).values())
