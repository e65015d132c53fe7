"""The chat's rating control in Chromium against the running stack: offered after an answer,
stored with the conversation, and refused input explained."""

from __future__ import annotations

from typing import Iterator

import pytest
from sqlalchemy import select

from servicecenter.db import session_scope
from servicecenter.reports.models import Feedback
from tests.e2e.chat_page import ChatPage, open_chat

pytestmark = pytest.mark.e2e


@pytest.fixture
def chat(browser, stack) -> Iterator[ChatPage]:  # type: ignore[no-untyped-def]
    yield from open_chat(browser, stack.console_url)


def test_citizen_rates_an_answer_with_a_comment_and_it_is_stored(chat: ChatPage, session_db) -> None:
    chat.wait_until_connected()
    chat.wait_for_bot_messages(1)
    rating = chat.page.locator("#chat-rating")
    assert rating.is_hidden()  # nothing to rate after the greeting alone
    chat.say("Was kostet ein Reisepass?")
    rating.wait_for(state="visible")
    chat.page.click("#rating-send")
    assert "zuerst" in chat.page.locator("#rating-status").inner_text()
    chat.page.click("#rating-down")
    assert chat.page.get_attribute("#rating-down", "aria-pressed") == "true"
    comment = "Die Expressgebühr hätte mich noch interessiert – danke!"
    chat.page.fill("#rating-comment", comment)
    chat.page.click("#rating-send")
    chat.page.locator("#rating-done").wait_for(state="visible")
    assert chat.page.locator("#rating-done").inner_text() == "Vielen Dank für Ihre Rückmeldung!"
    assert chat.page.locator("#rating-form").is_hidden()
    session_id = chat.page.evaluate("() => sessionStorage.getItem('geldern-chat:session')")
    with session_scope(session_db) as session:
        rows = list(session.execute(select(Feedback).where(Feedback.conversation_id == session_id)).scalars())
    assert [(r.rating, r.comment, r.channel) for r in rows] == [("down", comment, "chat")]
    # After a reload the conversation is still rated: no second offer.
    chat.page.reload()
    chat.page.locator("#rating-done").wait_for(state="visible")
    assert chat.csp_violations() == []
    assert chat.errors == []
