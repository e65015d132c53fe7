"""The quality dashboard in Chromium, per role, against a real console process (no Rasa
needed: the figures come from a generated month in the test's own database)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from servicecenter import accounts
from servicecenter.db import get_engine, session_scope
from servicecenter.knowledge.store import import_knowledge
from servicecenter.reports.sample_data import BERLIN, Writer
from servicecenter.settings import Settings
from servicecenter.stack import free_port, start_console
from servicecenter.training import upgrade_database
from tests.e2e.console_login import signed_in

pytestmark = pytest.mark.e2e
PASSWORD = "richtig-langes-Passwort-1"


@pytest.fixture(scope="module")
def console(tmp_path_factory, knowledge):  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("dashboard-e2e")
    url = f"sqlite:///{work / 'console.db'}"
    upgrade_database(url)
    with session_scope(url) as session:
        import_knowledge(session, knowledge)
    w = Writer(get_engine(url))
    start = dt.datetime.now(BERLIN).replace(day=1, hour=8, minute=30, second=0, microsecond=0)
    senders = []
    for i, (service, outcome) in enumerate((("reisepass", "answer"), ("hundesteuer", "answer"),
                                           ("sperrmuell", "handoff"))):
        sender = uuid.uuid4().hex
        ts = start.timestamp() + 60 * i
        w.session(sender, ts - 1)
        w.turn(sender, ts, "socketio", "svc_" + service, outcome, service,
               reason="human" if outcome == "handoff" else None, department="zentrale" if outcome == "handoff" else None)
        senders.append(sender)
    w.flush(force=True)
    settings = Settings(database_url=url, var_dir=work)
    process = start_console(settings, free_port(), free_port(), work / "log")
    port = int(process.popen.args[process.popen.args.index("--port") + 1])  # type: ignore[union-attr]
    yield {"url": f"http://127.0.0.1:{port}", "db": url, "senders": senders}
    process.popen.terminate()
    process.popen.wait(timeout=15)


def signed_in_page(browser, console, role: str):  # type: ignore[no-untyped-def]
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    accounts.add_user(username, PASSWORD, role, None, url=console["db"])
    return signed_in(browser, console["url"], username, PASSWORD)


def test_supervisor_sees_figures_charts_and_drills_down_to_a_conversation(browser, console) -> None:
    context, page, errors = signed_in_page(browser, console, "supervisor")
    page.click("text=Qualität")
    page.wait_for_url(re.compile(r"/console/dashboard$"))
    fcr = page.locator('#dashboard-targets tr[data-key="fcr"]')
    assert "66,7 %" in fcr.inner_text() and "65,0 %" in fcr.inner_text() and "nicht erfüllt" not in fcr.inner_text()
    images = page.locator(".dashboard-chart img")
    assert images.count() == 6
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=images.nth(i).element_handle())
    page.locator("#dashboard-reasons a").first.click()
    rows = page.locator("#contacts-table tbody tr")
    assert rows.count() == 1 and console["senders"][2] in rows.first.inner_text()
    rows.first.locator("a").click()
    assert "Beispielfrage" in page.locator("#conversation-lines").inner_text()
    assert [e for e in errors if "Content Security Policy" in e] == [] and errors == []
    context.close()


def test_admin_sees_the_list_without_message_text_and_agent_is_refused(browser, console) -> None:
    context, page, _ = signed_in_page(browser, console, "admin")
    page.goto(f"{console['url']}/console/dashboard/kontakte?kennzahl=contacts")
    assert page.locator("#contacts-table tbody tr").count() == 3
    assert page.locator("#contacts-table a").count() == 0
    context.close()
    context, page, _ = signed_in_page(browser, console, "agent")
    assert page.locator("text=Qualität").count() == 0
    response = page.goto(f"{console['url']}/console/dashboard")
    assert response is not None and response.status == 403
    assert "Berechtigung" in page.content()
    context.close()
