"""The citizens' chat page as a test drives it in Chromium."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterator, List

if TYPE_CHECKING:
    from playwright import sync_api

# The first answers of a freshly started Rasa can take a while (model warm-up).
REPLY_TIMEOUT_MS = 60_000
# Rasa sends a long answer as several bot messages; the burst is over after this quiet time.
SETTLE_SECONDS = 1.5


class ChatPage:
    """The chat page as a citizen uses it, plus what the browser reported meanwhile."""

    def __init__(self, page: "sync_api.Page") -> None:
        self.page = page
        self.errors: List[str] = []
        self.dialogs: List[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: "sync_api.Dialog") -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    @property
    def bot_messages(self) -> "sync_api.Locator":
        return self.page.locator("#chat-log .msg--bot")

    def wait_for_bot_messages(self, count: int) -> None:
        """Wait until at least `count` bot messages are shown and no more are arriving."""
        self.page.wait_for_function(
            "n => document.querySelectorAll('#chat-log .msg--bot').length >= n",
            arg=count,
            timeout=REPLY_TIMEOUT_MS,
        )
        seen = self.bot_messages.count()
        while True:
            time.sleep(SETTLE_SECONDS)
            now = self.bot_messages.count()
            if now == seen:
                return
            seen = now

    def wait_until_connected(self) -> None:
        self.page.wait_for_selector('#chat-status[data-state="connected"]', timeout=REPLY_TIMEOUT_MS)

    def say(self, text: str) -> "sync_api.Locator":
        """Type a message, press Enter, and return the bodies of the bot messages answering it."""
        before = self.bot_messages.count()
        self.page.fill("#chat-input", text)
        self.page.press("#chat-input", "Enter")
        self.wait_for_bot_messages(before + 1)
        position = self._log_position(before)
        return self.page.locator(f"#chat-log .msg--bot:nth-child(n+{position}) .msg__body")

    def _log_position(self, bot_index: int) -> int:
        """1-based position in the log of the bot message after the first `bot_index` ones."""
        return int(
            self.page.evaluate(
                """i => {
                    const items = [...document.querySelectorAll('#chat-log > .msg')];
                    const bots = items.filter(el => el.classList.contains('msg--bot'));
                    return items.indexOf(bots[i]) + 1;
                }""",
                bot_index,
            )
        )

    def csp_violations(self) -> List[str]:
        return [e for e in self.errors if "Content Security Policy" in e]


def open_chat(browser: "sync_api.Browser", url: str, **context_options: object) -> Iterator[ChatPage]:
    # A new context per test: its own sessionStorage, so its own conversation.
    context = browser.new_context(locale="de-DE", **context_options)
    page = context.new_page()
    chat = ChatPage(page)
    page.goto(url)
    yield chat
    context.close()
