"""The citizens' chat page in a real browser (Debian's Chromium) against the running stack.

Needs the session fixture ``stack`` from tests/conftest.py (Rasa, action server, console)
and, for the accessibility check, ``npm ci --prefix web`` (axe-core).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, List

import pytest

from servicecenter import PROJECT_ROOT
from tests.e2e.chat_page import ChatPage, open_chat

if TYPE_CHECKING:
    from playwright import sync_api

AXE_SCRIPT = PROJECT_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

pytestmark = pytest.mark.e2e


@pytest.fixture
def chat(browser: "sync_api.Browser", stack) -> Iterator[ChatPage]:  # type: ignore[no-untyped-def]
    yield from open_chat(browser, stack.console_url)


def test_first_message_says_automated_assistant_and_warns_about_personal_data(chat: ChatPage) -> None:
    chat.wait_until_connected()
    chat.wait_for_bot_messages(1)
    first = chat.bot_messages.first.locator(".msg__body").inner_text().lower()
    assert "automatisiert" in first or "digitaler assistent" in first, first
    assert "persönlichen daten" in first or "persönliche daten" in first, first
    assert chat.page.locator("#chat-status-text").inner_text() == "Verbunden"
    assert chat.csp_violations() == []
    assert chat.errors == []


def test_passport_question_is_answered_with_fee_and_source_link(chat: ChatPage) -> None:
    chat.wait_for_bot_messages(1)
    answer = chat.say("Was kostet ein Reisepass?")
    text = " ".join(answer.all_inner_texts())
    assert "70,00 €" in text, text
    links = answer.locator('a[href^="https://"]')
    assert links.count() >= 1, text
    assert "noopener" in (links.first.get_attribute("rel") or "")
    # The citizen's own message is shown as typed.
    assert chat.page.locator("#chat-log .msg--user").last.inner_text().endswith("Was kostet ein Reisepass?")
    assert chat.csp_violations() == []


def test_typed_html_is_shown_as_text_and_never_rendered(chat: ChatPage) -> None:
    chat.wait_for_bot_messages(1)
    attack = "<img src=x onerror=alert(1)>"
    chat.say(attack)
    own = chat.page.locator("#chat-log .msg--user .msg__body").last
    assert own.inner_text() == attack
    assert chat.page.locator("#chat-log img").count() == 0
    assert chat.page.locator("#chat-log script").count() == 0
    assert chat.dialogs == []


def test_keyboard_alone_reaches_input_send_and_human_button(chat: ChatPage) -> None:
    chat.wait_until_connected()
    chat.wait_for_bot_messages(1)
    chat.page.locator("body").click(position={"x": 1, "y": 1})  # start from the top

    order: List[str] = []
    for _ in range(40):
        chat.page.keyboard.press("Tab")
        focused = chat.page.evaluate("document.activeElement && document.activeElement.id")
        if focused:
            order.append(focused)
        if focused == "chat-input":
            outline = chat.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", "the focused input shows no focus ring"
        if "chat-human" in order:
            break
    for wanted in ("chat-input", "chat-send", "chat-human"):
        assert wanted in order, f"Tab never reached #{wanted}: {order}"
    assert order.index("chat-input") < order.index("chat-send") < order.index("chat-human")

    # Typing and Enter send a message without a mouse.
    before = chat.bot_messages.count()
    chat.page.focus("#chat-input")
    chat.page.keyboard.type("Hallo")
    chat.page.keyboard.press("Enter")
    chat.wait_for_bot_messages(before + 1)
    assert chat.page.locator("#chat-log .msg--user .msg__body").last.inner_text() == "Hallo"


def test_human_button_shows_its_label_and_gets_an_answer(chat: ChatPage) -> None:
    chat.wait_for_bot_messages(1)
    before = chat.bot_messages.count()
    chat.page.click("#chat-human")
    chat.wait_for_bot_messages(before + 1)
    own = chat.page.locator("#chat-log .msg--user .msg__body").last.inner_text()
    assert own == "Mit einem Menschen sprechen"


def test_empty_message_is_not_sent(chat: ChatPage) -> None:
    chat.wait_until_connected()
    chat.wait_for_bot_messages(1)
    chat.page.fill("#chat-input", "   ")
    chat.page.press("#chat-input", "Enter")
    assert chat.page.locator("#chat-log .msg--user").count() == 0
    assert chat.page.locator("#chat-feedback").inner_text() != ""


def test_reload_continues_the_conversation(chat: ChatPage) -> None:
    chat.wait_for_bot_messages(1)
    chat.say("Was kostet ein Reisepass?")
    session = chat.page.evaluate("sessionStorage.getItem('geldern-chat:session')")
    shown = chat.page.locator("#chat-log .msg").count()
    chat.page.reload()
    chat.wait_until_connected()
    assert chat.page.evaluate("sessionStorage.getItem('geldern-chat:session')") == session
    assert chat.page.locator("#chat-log .msg").count() == shown


@pytest.mark.skipif(not AXE_SCRIPT.exists(), reason="axe-core missing: run `npm ci --prefix web`")
def test_axe_finds_no_wcag_21_aa_violations_after_a_conversation(browser, stack) -> None:  # type: ignore[no-untyped-def]
    # Playwright injects axe as an inline script, which the page's CSP rightly forbids;
    # this one context bypasses the CSP, the other tests run with it enforced.
    for chat in open_chat(browser, stack.console_url, bypass_csp=True):
        chat.wait_for_bot_messages(1)
        chat.say("Hallo")
        chat.say("Was kostet ein Reisepass?")
        chat.page.add_script_tag(path=str(AXE_SCRIPT))
        violations = chat.page.evaluate(
            """async tags => {
                const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(' ')),
                }));
            }""",
            AXE_TAGS,
        )
        assert violations == [], violations
