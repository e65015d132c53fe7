"""The browser for the e2e tests: Debian's Chromium driven by Playwright, one per module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, playwright_sync_api

if TYPE_CHECKING:
    from playwright import sync_api


@pytest.fixture(scope="module")
def browser() -> Iterator["sync_api.Browser"]:
    api = playwright_sync_api()
    with api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
