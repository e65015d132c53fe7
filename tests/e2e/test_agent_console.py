"""Handoff end to end in two Chromium contexts: a citizen in the chat widget and an agent in
the console, against the running stack (Rasa, action server, console, local SMTP server).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Iterator, Tuple

import pytest

from servicecenter import accounts
from tests.conftest import core_hours
from tests.e2e.chat_page import REPLY_TIMEOUT_MS, ChatPage
from tests.e2e.console_login import signed_in

if TYPE_CHECKING:
    from playwright import sync_api

pytestmark = pytest.mark.e2e

PASSWORD = "richtig-langes-Passwort-1"
ATTACK = '<img src=x onerror="window.__pwned=1"> [x](javascript:alert(1)) Hallo'


@pytest.fixture
def citizen(browser, stack) -> Iterator[ChatPage]:  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="de-DE")
    chat = ChatPage(context.new_page())
    chat.page.goto(stack.console_url)
    chat.wait_until_connected()
    chat.wait_for_bot_messages(1)
    yield chat
    context.close()


@pytest.fixture
def agent(browser, stack, session_db) -> Iterator[Tuple["sync_api.Page", str]]:  # type: ignore[no-untyped-def]
    username = f"agent-{uuid.uuid4().hex[:8]}"
    accounts.add_user(username, PASSWORD, "agent", None, url=session_db)
    context, page, errors = signed_in(browser, stack.console_url, username, PASSWORD,
                                      console_errors=False, dialogs=True)
    page.wait_for_url(re.compile(r"/console/inbox$"))
    yield page, username
    assert errors == [], errors
    context.close()


def test_agent_takes_over_a_chat_live_and_hands_it_back(citizen: ChatPage, agent, stack) -> None:
    page, username = agent
    with core_hours(stack.knowledge_dir, staffed=True):
        citizen.say("Was kostet ein Reisepass?")
        before = citizen.bot_messages.count()
        citizen.page.click("#chat-human")
        citizen.wait_for_bot_messages(before + 1)
        banner = citizen.page.locator("#chat-handoff")
        banner.wait_for(state="visible", timeout=REPLY_TIMEOUT_MS)
        assert re.search(r"Position \d+, voraussichtlich etwa (eine Minute|\d+ Minuten)", banner.inner_text())

        reference = re.search(r"Vorgangsnummer: ([0-9A-F]{8})", banner.inner_text()).group(1)
        # The agent's inbox, opened before the request, shows it without a reload.
        card = page.locator(".ticket-card--live", has_text=f"Nr. {reference}")
        card.wait_for(timeout=15_000)
        assert "Live-Chat" in card.inner_text() and "reisepass" in card.inner_text()
        card.locator("a").click()
        page.click("form[action$='/claim'] button[type=submit]")
        page.wait_for_selector("#live-chat-form", timeout=REPLY_TIMEOUT_MS)

        # The citizen sees who took over; the bot is silent from now on.
        citizen.page.wait_for_selector("#chat-log .msg--notice >> text=ist jetzt für Sie da", timeout=REPLY_TIMEOUT_MS)
        assert username in banner.inner_text()
        bots_before = citizen.bot_messages.count()
        citizen.page.fill("#chat-input", ATTACK)
        citizen.page.press("#chat-input", "Enter")

        # The agent reads it live, as inert text.
        log = page.locator("#live-chat-log")
        log.locator(".live-chat__msg--citizen", has_text="Hallo").wait_for(timeout=15_000)
        assert ATTACK in log.inner_text()
        assert log.locator("img").count() == 0 and log.locator("a").count() == 0
        assert page.evaluate("window.__pwned === undefined")

        # A canned response, edited and sent, arrives in the widget in real time.
        page.click("button[data-canned] >> text=Einen Moment")
        assert page.input_value("#live-chat-input").startswith("Einen Moment bitte")
        page.fill("#live-chat-input", "Einen Moment bitte, ich sehe nach.")
        page.click("#live-chat-send")
        agent_msg = citizen.page.locator("#chat-log .msg--agent").last
        agent_msg.wait_for(timeout=15_000)
        assert "Einen Moment bitte, ich sehe nach." in agent_msg.inner_text()
        assert username in agent_msg.inner_text()
        assert citizen.bot_messages.count() == bots_before

        # Close with a resolution code: the bot is back.
        page.select_option("#close-resolution", "answered")
        page.click("form[action$='/close'] button[type=submit]")
        page.wait_for_selector("#ticket-status >> text=Abgeschlossen", timeout=REPLY_TIMEOUT_MS)
        citizen.page.wait_for_selector("#chat-log .msg--notice >> text=wieder für Sie da", timeout=REPLY_TIMEOUT_MS)
        assert banner.is_hidden()
        answer = citizen.say("Was kostet ein Personalausweis?")
        assert "€" in " ".join(answer.all_inner_texts())
    assert citizen.dialogs == [] and citizen.csp_violations() == []
    assert citizen.page.evaluate("window.__pwned === undefined")


def test_outside_core_hours_a_callback_ticket_is_mailed_to_the_department(citizen: ChatPage, stack, mail_sink) -> None:
    with core_hours(stack.knowledge_dir, staffed=False):
        citizen.say("Was kostet ein Reisepass?")
        reply = " ".join(citizen.say("Ich möchte mit einem Mitarbeiter sprechen").all_inner_texts())
    assert "nicht besetzt" in reply, reply
    banner = citizen.page.locator("#chat-handoff")
    assert "vermerkt" in banner.inner_text() and "spätestens" in banner.inner_text()
    reference = re.search(r"Nummer ([0-9A-F]{8})", reply).group(1)

    link = citizen.page.locator("#chat-log a", has_text="Rückruf anfordern").last
    form = citizen.page.context.new_page()
    form.goto(link.get_attribute("href").replace("localhost", "127.0.0.1"))
    form.fill("#callback-name", "Erika Mustermann")
    form.fill("#callback-phone", "02831 1234567")
    form.fill("#callback-concern", "Ich brauche den Pass schnell für eine Reise.")
    form.check("#callback-consent")
    form.click("button[type=submit]")
    form.wait_for_selector("h1 >> text=Rückrufbitte ist angekommen")
    assert re.search(r"Wir rufen Sie zurück, spätestens bis \S", form.inner_text("main")), form.inner_text("main")

    recipients, message = mail_sink.wait_for(
        lambda rcpt, msg: reference in str(msg["Subject"]) and "Rückrufbitte" in str(msg["Subject"]))
    assert recipients == ["info@geldern.de"]
    body = message.get_content()
    assert "Bürgerbüro" in body or "buergerbuero" in body
    assert "+492831" in body.replace(" ", "")  # the consented callback number, for the department


def test_markup_in_the_citizens_question_stays_inert_in_inbox_and_ticket_view(citizen: ChatPage, agent, stack) -> None:
    page, _ = agent
    question = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> Wie ist der Stand meines Bauantrags?'
    citizen.say(question)
    # Found by its markup, which only this test's question has (other tests ask the same question).
    card = page.locator(".ticket-card", has_text='<img src=x onerror="window.__pwned=1">').first
    card.wait_for(timeout=15_000)  # arrives through the live refresh
    assert '<img src=x onerror="window.__pwned=1">' in card.inner_text()
    assert page.locator("#inbox-list img, #inbox-list script").count() == 0
    card.locator("a").click()
    summary = page.locator("#ticket-summary")
    assert "<script>window.__pwned=2</script>" in summary.inner_text()
    assert page.locator("main img, #ticket-summary script").count() == 0
    assert page.evaluate("window.__pwned === undefined")
