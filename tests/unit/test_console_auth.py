"""Console sign-in: login/logout, session renewal, idle timeout, CSRF, the `users` CLI."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from servicecenter import PROJECT_ROOT, accounts
from servicecenter.console.app import create_app
from servicecenter.db import session_scope
from servicecenter.models import ConsoleSession, User
from servicecenter.settings import Settings

PASSWORD = "richtig-langes-Passwort-1"
WRONG_LOGIN = "Benutzername oder Passwort ist falsch."
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def new_user(url: str, role: str = "agent", department: str | None = None) -> str:
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    accounts.add_user(username, PASSWORD, role, department, url=url)
    return username


def csrf_from(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    match = _CSRF.search(response.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf_from(client, "/console/login")
    return client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


@pytest.fixture
def client(use_db: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=use_db)))


def session_count(url: str, username: str) -> int:
    with session_scope(url) as session:
        user_id = session.execute(select(User.id).where(User.username == username)).scalar_one()
        return session.execute(
            select(func.count()).select_from(ConsoleSession).where(ConsoleSession.user_id == user_id)
        ).scalar_one()


def test_login_page_is_a_german_form_with_csrf_field(client: TestClient) -> None:
    response = client.get("/console/login")
    assert response.status_code == 200
    assert 'lang="de"' in response.text
    assert "Anmeldung zur Konsole" in response.text
    assert 'for="login-username"' in response.text and 'for="login-password"' in response.text
    assert _CSRF.search(response.text)
    assert "<script" not in response.text and "style=" not in response.text
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]


def test_agent_logs_in_reaches_inbox_and_logs_out(client: TestClient, use_db: str) -> None:
    username = new_user(use_db)
    response = login(client, username)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/inbox"
    cookie = response.headers["set-cookie"]
    assert "console_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain http (tests, local runs)

    inbox = client.get("/console/inbox")
    assert inbox.status_code == 200
    assert f"Angemeldet als <strong>{username}</strong>" in inbox.text

    token = _CSRF.search(inbox.text).group(1)  # type: ignore[union-attr]
    out = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get(out.headers["location"]).text.count("Sie wurden abgemeldet.") == 1
    after = client.get("/console/inbox", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"] == "/console/login"
    assert session_count(use_db, username) == 0


def test_session_cookie_is_secure_over_https(use_db: str) -> None:
    username = new_user(use_db)
    client = TestClient(create_app(Settings(database_url=use_db)), base_url="https://testserver")
    response = login(client, username)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_login_issues_a_new_session_id_each_time(client: TestClient, use_db: str) -> None:
    username = new_user(use_db)
    login(client, username)
    first = client.cookies.get("console_session")
    login(client, username)
    second = client.cookies.get("console_session")
    assert first and second and first != second
    # The old session is gone: a copied pre-login cookie is worthless.
    assert session_count(use_db, username) == 1
    stale = TestClient(client.app)
    stale.cookies.set("console_session", first, path="/console")
    assert stale.get("/console/inbox", follow_redirects=False).status_code == 303


def test_idle_session_expires(client: TestClient, use_db: str) -> None:
    username = new_user(use_db)
    login(client, username)
    assert client.get("/console/inbox").status_code == 200
    with session_scope(use_db) as session:
        user_id = session.execute(select(User.id).where(User.username == username)).scalar_one()
        session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.user_id == user_id)
            .values(last_seen_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=31))
        )
    response = client.get("/console/inbox", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert session_count(use_db, username) == 0


def test_idle_timeout_follows_the_setting(use_db: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from servicecenter.settings import get_settings

    monkeypatch.setenv("ASSISTANT_CONSOLE_IDLE_MINUTES", "5")
    get_settings.cache_clear()
    assert get_settings().console_idle_minutes == 5
    assert Settings().console_idle_minutes == 5
    monkeypatch.delenv("ASSISTANT_CONSOLE_IDLE_MINUTES")
    assert Settings().console_idle_minutes == 30


def test_wrong_password_and_unknown_user_get_the_same_message(
    client: TestClient, use_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    username = new_user(use_db)
    caplog.set_level(logging.WARNING)
    wrong_password = login(client, username, "falsches-Passwort-123")
    unknown_user = login(client, "niemand-" + uuid.uuid4().hex[:6], "falsches-Passwort-123")
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert WRONG_LOGIN in response.text
        assert "console_session" not in response.headers.get("set-cookie", "")
    assert "falsches-Passwort-123" not in caplog.text
    assert "failed login" in caplog.text


def test_disabled_user_cannot_log_in(client: TestClient, use_db: str) -> None:
    username = new_user(use_db)
    accounts.disable_user(username, url=use_db)
    response = login(client, username)
    assert response.status_code == 401
    assert WRONG_LOGIN in response.text


def test_login_without_csrf_token_is_refused(client: TestClient, use_db: str) -> None:
    username = new_user(use_db)
    client.get("/console/login")
    response = client.post(
        "/console/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Anfrage abgelehnt" in response.text
    assert session_count(use_db, username) == 0


def test_logout_with_wrong_csrf_token_changes_nothing(client: TestClient, use_db: str) -> None:
    username = new_user(use_db)
    login(client, username)
    for data in ({}, {"csrf_token": "geraten"}):
        response = client.post("/console/logout", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert "konnte nicht bestätigt werden" in response.text
    assert client.get("/console/inbox").status_code == 200
    assert session_count(use_db, username) == 1


def test_passwords_are_stored_as_argon2_hashes(use_db: str) -> None:
    username = new_user(use_db)
    with session_scope(use_db) as session:
        stored = session.execute(select(User.password_hash).where(User.username == username)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_department_user_needs_a_known_department(use_db: str) -> None:
    with pytest.raises(accounts.AccountError, match="unknown department"):
        accounts.add_user("abt-" + uuid.uuid4().hex[:6], PASSWORD, "department", "gibt-es-nicht", url=use_db)
    with pytest.raises(accounts.AccountError, match="needs --department"):
        accounts.add_user("abt-" + uuid.uuid4().hex[:6], PASSWORD, "department", None, url=use_db)
    assert new_user(use_db, "department", "standesamt")


# --- the `assistant users` command -------------------------------------------------------


def run_cli(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, ASSISTANT_DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "servicecenter.cli", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
    )


def user_count(url: str) -> int:
    with session_scope(url) as session:
        return session.execute(select(func.count()).select_from(User)).scalar_one()


def test_cli_adds_a_user_who_can_then_log_in(use_db: str) -> None:
    username = "cli-" + uuid.uuid4().hex[:8]
    done = run_cli(use_db, "add", username, "--role", "department", "--department", "buergerbuero",
                   "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert f"user {username} created" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr

    listed = run_cli(use_db, "list")
    assert listed.returncode == 0
    assert re.search(rf"^{username}\tdepartment\tbuergerbuero\tactive$", listed.stdout, re.M)

    client = TestClient(create_app(Settings(database_url=use_db)))
    assert login(client, username).status_code == 303

    disabled = run_cli(use_db, "disable", username)
    assert disabled.returncode == 0
    assert client.get("/console/inbox", follow_redirects=False).status_code == 303


def test_cli_refuses_a_short_password(use_db: str) -> None:
    before = user_count(use_db)
    done = run_cli(use_db, "add", "kurz-" + uuid.uuid4().hex[:6], "--role", "agent", "--password-stdin",
                   stdin="zu-kurz\n")
    assert done.returncode == 2
    assert "at least 12 characters" in done.stderr
    assert user_count(use_db) == before


def test_cli_refuses_a_duplicate_username(use_db: str) -> None:
    username = new_user(use_db)
    before = user_count(use_db)
    done = run_cli(use_db, "add", username, "--role", "supervisor", "--password-stdin",
                   stdin="anderes-langes-Passwort\n")
    assert done.returncode == 2
    assert f"user '{username}' already exists" in done.stderr
    assert user_count(use_db) == before
    with session_scope(use_db) as session:
        assert session.execute(select(User.role).where(User.username == username)).scalar_one() == "agent"
