"""The quality dashboard per role: supervisors and admins see figures, charts and the
conversations behind a figure; only supervisors read messages; others get 403 or the login."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from servicecenter import accounts
from servicecenter.console.app import create_app
from servicecenter.db import get_engine, session_scope
from servicecenter.knowledge.store import import_knowledge
from servicecenter.reports.sample_data import BERLIN, Writer
from servicecenter.settings import Settings
from servicecenter.training import upgrade_database

PASSWORD = "richtig-langes-Passwort-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TODAY = dt.datetime.now(BERLIN)
PERIOD = f"von={TODAY.date().replace(day=1).isoformat()}&bis={TODAY.date().isoformat()}"


@pytest.fixture(scope="module")
def db(tmp_path_factory, knowledge):
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'dash.db'}"
    upgrade_database(url)
    with session_scope(url) as session:
        import_knowledge(session, knowledge)
    return url


@pytest.fixture(scope="module")
def conversations(db):
    """Three contacts of this month: answered (chat), handed over (phone), not understood."""
    w = Writer(get_engine(db))
    start = TODAY.replace(day=1, hour=9, minute=0, second=0, microsecond=0)
    ids = {"answered": uuid.uuid4().hex, "handoff": uuid.uuid4().hex, "fallback": uuid.uuid4().hex}
    ts = start.timestamp()
    w.session(ids["answered"], ts - 1)
    w.turn(ids["answered"], ts, "socketio", "svc_reisepass", "answer", "reisepass")
    w.session(ids["handoff"], ts + 59)
    w.turn(ids["handoff"], ts + 60, "voice", "human", "handoff", "hundesteuer", reason="human", department="zentrale")
    w.session(ids["fallback"], ts + 119)
    w.turn(ids["fallback"], ts + 120, "socketio", "nlu_fallback", "fallback", guess="svc_briefwahl")
    w.flush(force=True)
    return ids


def client_for(url: str, role: str, tmp_path, department=None) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(Settings(database_url=url)))
    client.app.state.reports_dir = tmp_path / "reports"
    if role == "anonymous":
        return client
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    accounts.add_user(username, PASSWORD, role, department, url=url)
    token = _CSRF.search(client.get("/console/login").text).group(1)  # type: ignore[union-attr]
    response = client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    return client


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_see_figures_against_targets(db, conversations, tmp_path, role):
    page = client_for(db, role, tmp_path).get(f"/console/dashboard?{PERIOD}")
    assert page.status_code == 200
    html = page.text
    assert "Qualität und Abrechnung" in html
    fcr = re.search(r'data-key="fcr">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "33,3 %" in fcr and "65,0 %" in fcr and "nicht erfüllt" in fcr
    assert "noch zu vereinbaren" in html  # satisfaction target not agreed
    assert "Reisepass beantragen" in html or "Reisepass" in html
    assert "Unsicher erkannt" in html  # unanswered by topic, never the message text
    assert "Beispielfrage" not in html and "Beispielantwort" not in html
    assert 'href="/console/dashboard"' in html  # navigation link


@pytest.mark.parametrize("role", ["agent", "trainer"])
def test_other_roles_are_refused(db, tmp_path, role):
    client = client_for(db, role, tmp_path)
    for path in (f"/console/dashboard?{PERIOD}", "/console/dashboard/charts/targets.png",
                 "/console/dashboard/kontakte?kennzahl=contacts"):
        response = client.get(path)
        assert response.status_code == 403
        assert "Berechtigung" in response.text


def test_department_users_are_refused(db, tmp_path):
    assert client_for(db, "department", tmp_path, department="standesamt").get("/console/dashboard").status_code == 403


def test_not_signed_in_goes_to_the_login(db, tmp_path):
    response = client_for(db, "anonymous", tmp_path).get("/console/dashboard", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"


def test_charts_are_png_images(db, conversations, tmp_path):
    client = client_for(db, "supervisor", tmp_path)
    for name in ("targets", "contacts_by_day", "contacts_by_hour", "handoff_reasons", "top_services",
                 "top_unanswered"):
        response = client.get(f"/console/dashboard/charts/{name}.png?{PERIOD}")
        assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/console/dashboard/charts/passwords.png").status_code == 404


def test_bad_period_is_refused_in_german(db, tmp_path):
    client = client_for(db, "supervisor", tmp_path)
    for query in ("von=gestern", "von=2026-11-30&bis=2026-11-01", "von=2020-01-01&bis=2026-01-01"):
        response = client.get(f"/console/dashboard?{query}")
        assert response.status_code == 400 and "gültigen Zeitraum" in response.text


def test_drill_down_lists_the_conversations_behind_a_figure(db, conversations, tmp_path):
    client = client_for(db, "supervisor", tmp_path)
    page = client.get(f"/console/dashboard/kontakte?kennzahl=handoff&{PERIOD}")
    assert page.status_code == 200
    assert conversations["handoff"] in page.text and conversations["answered"] not in page.text
    assert "Telefon" in page.text and "übergeben" in page.text
    assert "Gespräche zur Kennzahl: An Menschen übergeben" in page.text
    assert f'href="/console/dashboard/gespraeche/{conversations["handoff"]}"' in page.text
    page = client.get(f"/console/dashboard/kontakte?kennzahl=resolved&{PERIOD}")
    assert conversations["answered"] in page.text and conversations["fallback"] not in page.text
    assert client.get(f"/console/dashboard/kontakte?kennzahl=nonsense&{PERIOD}").status_code == 400


def test_only_supervisors_open_the_messages(db, conversations, tmp_path):
    supervisor = client_for(db, "supervisor", tmp_path)
    page = supervisor.get(f"/console/dashboard/gespraeche/{conversations['answered']}")
    assert page.status_code == 200 and "Beispielfrage" in page.text and "Beispielantwort" in page.text
    assert supervisor.get(f"/console/dashboard/gespraeche/{'e' * 32}").status_code == 404
    admin = client_for(db, "admin", tmp_path)
    listing = admin.get(f"/console/dashboard/kontakte?kennzahl=contacts&{PERIOD}")
    assert conversations["answered"] in listing.text and "/console/dashboard/gespraeche/" not in listing.text
    refused = admin.get(f"/console/dashboard/gespraeche/{conversations['answered']}")
    assert refused.status_code == 403 and "Beispielfrage" not in refused.text


def test_report_button_creates_pdf_and_csv_for_download(db, conversations, tmp_path):
    client = client_for(db, "supervisor", tmp_path)
    page = client.get("/console/dashboard")
    token = _CSRF.findall(page.text)[-1]
    month = TODAY.strftime("%Y-%m")
    assert client.post("/console/dashboard/bericht", data={"monat": month}).status_code == 403  # no CSRF token
    response = client.post("/console/dashboard/bericht", data={"monat": month, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert f"Der Bericht für {month} wurde erstellt." in page.text
    pdf = client.get(f"/console/berichte/{month}/qualitaetsbericht-{month}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    csv_file = client.get(f"/console/berichte/{month}/kennzahlen.csv")
    assert csv_file.status_code == 200 and "Kennzahl;Wert;Ziel" in csv_file.text
    assert client.get(f"/console/berichte/{month}/..%2F..%2Fsecret.key").status_code == 404
    assert client.post("/console/dashboard/bericht", data={"monat": "1999-01", "csrf_token": token}).status_code == 400
