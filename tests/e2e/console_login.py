"""Signing in to the console in Chromium, as an agent, trainer or supervisor would."""

from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple

SIGNED_IN = re.compile(r".*/console/(?!login).*")


def signed_in(browser: Any, console_url: str, username: str, password: str, *,
              console_errors: bool = True, dialogs: bool = False,
              viewport: Optional[dict] = None) -> Tuple[Any, Any, List[str]]:
    """A new browser context signed in as ``username``: (context, page, errors).

    ``errors`` collects uncaught page errors, and with ``console_errors`` the page's console
    errors, with ``dialogs`` every alert/confirm (dismissed), for the test to assert on.
    """
    options: dict = {"locale": "de-DE"}
    if viewport:
        options["viewport"] = viewport
    context = browser.new_context(**options)
    page = context.new_page()
    errors: List[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    if console_errors:
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    if dialogs:
        page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto(f"{console_url}/console/login")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("button[type=submit]")
    page.wait_for_url(SIGNED_IN)
    return context, page, errors
