"""The callback request: signed links, form validation, the /rueckruf pages and the chat link."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import uuid
from typing import Dict, Optional

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from servicecenter import secrets as project_secrets
from servicecenter.console.app import create_app
from servicecenter.db import session_scope
from servicecenter.handoff import callback as cb
from servicecenter.handoff.tickets import create_ticket, get_ticket, ticket_events
from servicecenter.models import Ticket
from servicecenter.settings import Settings

SECRET = "test-secret-for-callback-links-0123456789"
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.timezone.utc)
# Tuesday, 1 December 2026, 12:00 in Geldern (CET = UTC+1).
DUE = dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.timezone.utc)


@pytest.fixture()
def settings(use_db: str, monkeypatch, tmp_path) -> Settings:
    monkeypatch.setenv("ASSISTANT_SECRET_KEY", SECRET)
    monkeypatch.setenv("ASSISTANT_VAR_DIR", str(tmp_path))
    return Settings(database_url=use_db, secret_key=SECRET, var_dir=tmp_path)


@pytest.fixture()
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


def new_ticket(url: str, due_at: Optional[dt.datetime] = DUE) -> str:
    key = f"test-callback:{uuid.uuid4()}"
    ticket = create_ticket(
        idempotency_key=key, conversation_id=key, reason="human", department_slug="buergerbuero",
        channel="chat", summary={"anliegen": "Frage zum Reisepass"}, due_at=due_at, url=url,
    )
    return ticket.id


def link(settings: Settings, ticket_id: str) -> str:
    return f"/rueckruf/{cb.callback_token(ticket_id, settings=settings)}"


def form_csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def submit(client: TestClient, path: str, data: Dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": form_csrf(client, path), **data})


GOOD = {"name": "Erika Mustermann", "phone": "02831 12345", "preferred_time": "vormittags", "consent": "ja"}


# ---------------------------------------------------------------- tokens


def test_token_round_trip(settings: Settings) -> None:
    ticket_id = str(uuid.uuid4())
    token = cb.callback_token(ticket_id, NOW, settings=settings)
    assert cb.verify_callback_token(token, NOW + dt.timedelta(days=6), settings=settings) == ticket_id


def test_tampered_and_expired_tokens_are_rejected(settings: Settings) -> None:
    ticket_id = str(uuid.uuid4())
    token = cb.callback_token(ticket_id, NOW, settings=settings)
    tid, expires, sig = token.split(".")
    other = str(uuid.uuid4())
    for bad in (
        f"{other}.{expires}.{sig}",
        f"{tid}.{int(expires) + 86400}.{sig}",
        f"{tid}.{expires}.{sig[:-2]}AA",
        "kaputt", "", f"{tid}.{expires}",
    ):
        with pytest.raises(cb.InvalidCallbackToken):
            cb.verify_callback_token(bad, NOW, settings=settings)
    with pytest.raises(cb.InvalidCallbackToken):
        cb.verify_callback_token(token, NOW + dt.timedelta(days=7, seconds=1), settings=settings)
    other_key = Settings(secret_key="another-secret", var_dir=settings.var_dir)
    with pytest.raises(cb.InvalidCallbackToken):
        cb.verify_callback_token(token, NOW, settings=other_key)


def test_without_configured_key_one_is_generated_private_and_reused(tmp_path) -> None:
    settings = Settings(secret_key="", var_dir=tmp_path / "var")
    token = cb.callback_token("abc-123", NOW, settings=settings)
    path = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    project_secrets._secret_cache.clear()  # as in a new process: read back from the file
    assert cb.verify_callback_token(token, NOW, settings=settings) == "abc-123"
    assert cb.callback_token("abc-123", NOW, settings=settings) == token


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0283139800", "+49283139800"),
        ("02831 398-0", "+4928313980"),
        ("02831/398-0", "+4928313980"),
        ("+49 2831 3980", "+4928313980"),
        ("0049 (2831) 3980", "+4928313980"),
        ("0151 23456789", "+4915123456789"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    request, errors = cb.validate_callback({**GOOD, "phone": raw})
    assert errors == {} and request is not None
    assert request.phone == expected


@pytest.mark.parametrize("raw", ["abc", "123", "0800-HILFE-JETZT-SOFORT-BITTE", "+49 1"])
def test_garbage_phone_numbers_get_a_german_field_message(raw: str) -> None:
    request, errors = cb.validate_callback({**GOOD, "phone": raw})
    assert request is None and "Telefonnummer" in errors["phone"]


def test_phone_or_email_name_time_length_and_consent_are_checked() -> None:
    _, errors = cb.validate_callback({"name": "", "preferred_time": "nachts", "concern": "x" * 1001})
    assert set(errors) == {"name", "phone", "preferred_time", "concern", "consent"}
    _, errors = cb.validate_callback({**GOOD, "name": "x" * 101})
    assert "name" in errors
    _, errors = cb.validate_callback({**GOOD, "phone": "", "email": "keine-adresse"})
    assert "E-Mail" in errors["email"]
    request, errors = cb.validate_callback({**GOOD, "phone": "", "email": "erika@example.org"})
    assert errors == {} and request is not None and request.email == "erika@example.org" and request.phone is None
    assert request.concern == ""


def test_due_time_is_worded_in_german_local_time() -> None:
    assert cb.german_due(DUE) == "Dienstag, 1. Dezember, 12:00 Uhr"
    assert cb.german_due(dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.timezone.utc)) == "Mittwoch, 1. Juli, 10:30 Uhr"


# ---------------------------------------------------------------- pages


def test_form_is_german_with_labels_and_csrf(client: TestClient, settings: Settings, use_db: str) -> None:
    page = client.get(link(settings, new_ticket(use_db)))
    assert page.status_code == 200 and 'lang="de"' in page.text
    assert 'name="csrf_token"' in page.text and "callback_csrf" in page.headers["set-cookie"]
    for field in ("name", "phone", "email", "concern", "consent"):
        assert f'for="callback-{field}"' in page.text
    assert "<script" not in page.text and "style=" not in page.text


def test_bad_or_expired_link_shows_a_german_404(client: TestClient, settings: Settings, use_db: str) -> None:
    assert "nicht (mehr) gültig" in client.get("/rueckruf/kaputt").text
    assert client.get("/rueckruf/kaputt").status_code == 404
    old = cb.callback_token(new_ticket(use_db), dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8),
                            settings=settings)
    assert client.get(f"/rueckruf/{old}").status_code == 404
    assert client.post(f"/rueckruf/{old}", data=GOOD).status_code == 404
    # a valid signature for a ticket that does not exist
    assert client.get(link(settings, str(uuid.uuid4()))).status_code == 404


def test_missing_csrf_token_is_refused(client: TestClient, settings: Settings, use_db: str) -> None:
    ticket_id = new_ticket(use_db)
    path = link(settings, ticket_id)
    response = client.post(path, data=GOOD)
    assert response.status_code == 403
    client.get(path)  # cookie set, but the form field is wrong
    assert client.post(path, data={**GOOD, "csrf_token": "falsch"}).status_code == 403
    assert get_ticket(ticket_id, url=use_db).contact is None


def test_without_consent_nothing_personal_is_stored(client: TestClient, settings: Settings, use_db: str) -> None:
    ticket_id = new_ticket(use_db)
    data = {k: v for k, v in GOOD.items() if k != "consent"}
    response = submit(client, link(settings, ticket_id), data)
    assert response.status_code == 200
    assert "Ohne Ihre Einwilligung speichern wir keine Kontaktdaten" in response.text
    assert "02831 398-0" in response.text and "info@geldern.de" in response.text
    ticket = get_ticket(ticket_id, url=use_db)
    assert ticket.contact is None and ticket.consent is False
    assert [e.note for e in ticket_events(ticket_id, url=use_db)] == ["created"]


def test_with_consent_contact_is_stored_and_due_time_shown(client: TestClient, settings: Settings, use_db: str) -> None:
    ticket_id = new_ticket(use_db)
    response = submit(client, link(settings, ticket_id), GOOD)
    assert response.status_code == 200
    assert "bis Dienstag, 1. Dezember, 12:00 Uhr" in response.text
    ticket = get_ticket(ticket_id, url=use_db)
    assert ticket.consent is True
    assert ticket.contact["name"] == "Erika Mustermann" and ticket.contact["phone"] == "+49283112345"
    assert ticket.contact["preferred_time"] == "vormittags"
    notes = [e.note for e in ticket_events(ticket_id, url=use_db)]
    assert notes == ["created", "callback requested"]


def test_second_submission_updates_the_same_ticket(client: TestClient, settings: Settings, use_db: str) -> None:
    ticket_id = new_ticket(use_db)
    path = link(settings, ticket_id)
    submit(client, path, GOOD)
    response = submit(client, path, {**GOOD, "phone": "", "email": "erika@example.org"})
    assert response.status_code == 200 and "E-Mail" in response.text
    ticket = get_ticket(ticket_id, url=use_db)
    assert ticket.contact["email"] == "erika@example.org" and ticket.contact["phone"] is None
    notes = [e.note for e in ticket_events(ticket_id, url=use_db)]
    assert notes == ["created", "callback requested", "callback requested"]
    with session_scope(use_db) as session:
        count = session.execute(select(func.count(Ticket.id)).where(Ticket.id == ticket_id)).scalar_one()
    assert count == 1


def test_errors_keep_the_entered_values(client: TestClient, settings: Settings, use_db: str) -> None:
    ticket_id = new_ticket(use_db)
    response = submit(
        client, link(settings, ticket_id),
        {**GOOD, "phone": "abc", "concern": "Bitte wegen <Termin> anrufen", "preferred_time": "nachmittags"},
    )
    assert response.status_code == 422
    assert 'value="Erika Mustermann"' in response.text and 'value="abc"' in response.text
    assert "Bitte wegen &lt;Termin&gt; anrufen" in response.text
    assert 'aria-describedby="callback-contact-hint callback-phone-error"' in response.text
    assert 'id="callback-phone-error"' in response.text
    assert 'value="nachmittags" checked' in response.text
    assert get_ticket(ticket_id, url=use_db).contact is None


# ---------------------------------------------------------------- the chat link


def test_handoff_chat_reply_links_the_form_and_voice_does_not(settings: Settings, monkeypatch) -> None:
    from bot.actions import ActionHandoff
    from servicecenter.settings import get_settings
    from tests.unit.test_actions import run, tracker

    monkeypatch.setenv("ASSISTANT_CONSOLE_PUBLIC_URL", "https://service.example.org/")
    get_settings.cache_clear()
    messages, _ = run(ActionHandoff(), tracker("Ich möchte mit jemandem sprechen", "human"))
    match = re.search(r"\[Rückruf anfordern\]\(https://service\.example\.org/rueckruf/([^)\s]+)\)",
                      messages[0]["next_step"])
    assert match
    ticket_id = cb.verify_callback_token(match.group(1), settings=settings)
    assert get_ticket(ticket_id, url=settings.db_url).channel == "chat"

    messages, _ = run(ActionHandoff(), tracker("Ich möchte mit jemandem sprechen", "human", channel="voice"))
    assert "rueckruf" not in messages[0]["next_step"] and "http" not in messages[0]["next_step"]
