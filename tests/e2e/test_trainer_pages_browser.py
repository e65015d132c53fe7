"""The trainer workbench's pages in Chromium on a 1280 px wide screen: nothing scrolls
sideways, tables get the width they need, the knowledge diff is monospace, wraps long lines
and colours added/removed lines, and the strict CSP reports nothing (no inline styles).
A real console process; no Rasa needed."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from typing import Iterator

import pytest

from servicecenter import PROJECT_ROOT, accounts
from servicecenter.db import get_engine, session_scope
from servicecenter.knowledge.loader import load_knowledge
from servicecenter.knowledge.store import import_knowledge
from servicecenter.rasa_tables import RASA_EVENTS, create_events_table
from servicecenter.settings import Settings
from servicecenter.stack import free_port, start_console
from servicecenter.training import upgrade_database
from tests.e2e.console_login import signed_in

pytestmark = pytest.mark.e2e
PASSWORD = "richtig-langes-Passwort-1"
LONG_URL = "https://www.geldern.de/" + "sehr-langer-pfad-" * 18 + "ende"
LONG_MESSAGE = ("Guten Tag, ich wollte fragen wie das mit dem Reisepass ist, wenn man im Sommer verreisen "
                "möchte und der alte Pass schon abgelaufen ist, und ob ich dafür " + "wirklich " * 20 + "einen Termin brauche.")


def _user_event(sender: str, text: str, ts: float) -> dict:
    data = {"event": "user", "timestamp": ts, "text": text, "input_channel": "socketio",
            "parse_data": {"text": text, "intent": {"name": "svc_reisepass", "confidence": 0.42}, "entities": [],
                           "intent_ranking": [{"name": "svc_reisepass", "confidence": 0.42}]}}
    return {"sender_id": sender, "type_name": "user", "timestamp": ts, "intent_name": "svc_reisepass",
            "action_name": None, "data": json.dumps(data)}


@pytest.fixture(scope="module")
def console(tmp_path_factory):  # type: ignore[no-untyped-def]
    from servicecenter.trainer import knowledge_editor as editor

    work = tmp_path_factory.mktemp("trainer-pages-e2e")
    knowledge = work / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge" / "geldern", knowledge)
    url = f"sqlite:///{work / 'console.db'}"
    upgrade_database(url)
    with session_scope(url) as session:
        import_knowledge(session, load_knowledge(knowledge))
    engine = get_engine(url)
    create_events_table(engine)
    with engine.begin() as conn:
        conn.execute(RASA_EVENTS.insert(), [_user_event(uuid.uuid4().hex, LONG_MESSAGE, time.time())])
    settings = Settings(database_url=url, var_dir=work, knowledge_dir=knowledge, models_dir=work / "models")
    sources = editor.current_values(settings, "reisepass")["provenance_sources"] + "\n" + LONG_URL
    draft = editor.propose(settings, "reisepass", {"provenance_sources": sources,
                                                   "contact_note": "Bitte vorher einen Termin buchen."}, "trainer-a")
    process = start_console(settings, free_port(), free_port(), work / "log")
    port = int(process.popen.args[process.popen.args.index("--port") + 1])  # type: ignore[union-attr]
    yield {"url": f"http://127.0.0.1:{port}", "db": url, "draft": draft.id}
    process.popen.terminate()
    process.popen.wait(timeout=15)


@pytest.fixture(scope="module")
def page(console, browser) -> Iterator[tuple]:  # type: ignore[no-untyped-def]
    username = f"trainer-{uuid.uuid4().hex[:8]}"
    accounts.add_user(username, PASSWORD, "trainer", None, url=console["db"])
    context, page, errors = signed_in(browser, console["url"], username, PASSWORD,
                                      viewport={"width": 1280, "height": 800})
    yield page, errors
    context.close()


def _no_sideways_scrolling(page) -> None:  # type: ignore[no-untyped-def]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"page is {width}px wide"


@pytest.mark.parametrize("path", ["/console/trainer", "/console/trainer/intents", "/console/trainer/models",
                                  "/console/trainer/knowledge"])
def test_workbench_pages_fit_a_1280px_screen_and_use_its_width(console, page, path):
    page, errors = page
    errors.clear()
    page.goto(console["url"] + path)
    page.wait_for_load_state()
    _no_sideways_scrolling(page)
    main_width = page.evaluate("document.querySelector('main').getBoundingClientRect().width")
    assert main_width > 1000, f"content column only {main_width}px wide"
    current = page.locator(".trainer-nav a[aria-current=page]")
    assert current.count() == 1
    assert current.evaluate("el => getComputedStyle(el).fontWeight") == "700"
    assert errors == []  # CSP violations (inline styles or scripts) show up here


def test_inbox_table_wraps_a_long_message_inside_the_screen(console, page):
    page, errors = page
    page.goto(console["url"] + "/console/trainer")
    table = page.locator("#trainer-inbox")
    assert "wirklich wirklich" in table.inner_text()
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280
    assert table.evaluate("el => getComputedStyle(el.querySelector('thead th')).whiteSpace") == "nowrap"


def test_knowledge_diff_is_monospace_wrapped_and_coloured(console, page):
    page, errors = page
    errors.clear()
    page.goto(f"{console['url']}/console/trainer/knowledge/drafts/{console['draft']}")
    diff = page.locator("#draft-diff")
    assert "mono" in diff.evaluate("el => getComputedStyle(el).fontFamily").lower()
    assert diff.evaluate("el => getComputedStyle(el).whiteSpace") == "pre-wrap"
    # The 300-character URL wraps: the diff box does not scroll sideways and the page neither.
    assert diff.evaluate("el => el.scrollWidth <= el.clientWidth")
    _no_sideways_scrolling(page)
    added = page.locator("#draft-diff ins").filter(has_text="sehr-langer-pfad")
    assert added.count() == 1
    assert added.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(223, 243, 228)"
    assert added.evaluate("el => getComputedStyle(el).color") == "rgb(11, 74, 31)"
    removed = page.locator("#draft-diff del").first
    assert removed.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(251, 228, 228)"
    assert removed.evaluate("el => getComputedStyle(el).color") == "rgb(125, 22, 22)"
    assert removed.evaluate("el => getComputedStyle(el).textDecorationLine") == "none"
    assert errors == []
