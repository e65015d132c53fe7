"""The console web app: chat page markup, security headers, vendor files, error pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from fastapi.testclient import TestClient

from servicecenter.console.app import (
    WEB_MODULES_DIR,
    ConsoleConfigError,
    build_csp,
    create_app,
    rasa_endpoint,
)
from servicecenter.settings import Settings

Attrs = Dict[str, Optional[str]]


class _Collector(HTMLParser):
    """Records every start tag with its attributes, and the text of <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: List[Tuple[str, Attrs]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def by_id(page: _Collector, element_id: str) -> Tuple[str, Attrs]:
    for tag, attrs in page.tags:
        if attrs.get("id") == element_id:
            return tag, attrs
    raise AssertionError(f"no element with id {element_id!r}")


@pytest.fixture
def settings() -> Settings:
    return Settings(rasa_port=5005, rasa_public_url="")


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


@pytest.fixture
def page(client: TestClient) -> _Collector:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return parse(response.text)


def test_chat_page_is_german_with_the_agreed_title(page: _Collector) -> None:
    html_tag = next(attrs for tag, attrs in page.tags if tag == "html")
    assert html_tag.get("lang") == "de"
    assert page.title.strip() == "Bürgerservice Geldern – Chat"
    assert any(tag == "h1" for tag, _ in page.tags)


def test_conversation_log_is_a_polite_live_region(page: _Collector) -> None:
    tag, attrs = by_id(page, "chat-log")
    assert attrs.get("role") == "log"
    assert attrs.get("aria-live") == "polite"
    assert attrs.get("aria-labelledby")


def test_message_input_is_labelled_and_limited_to_1000_characters(page: _Collector) -> None:
    _, field = by_id(page, "chat-input")
    assert field.get("maxlength") == "1000"
    labels = [attrs for tag, attrs in page.tags if tag == "label"]
    assert any(label.get("for") == "chat-input" for label in labels)
    _, send = by_id(page, "chat-send")
    assert send.get("type") == "submit"


def test_human_button_and_rasa_config_come_from_data_attributes(page: _Collector) -> None:
    _, human = by_id(page, "chat-human")
    assert human.get("type") == "button"
    _, root = by_id(page, "chat")
    assert root.get("data-rasa-url") == "http://localhost:5005"
    assert root.get("data-socket-path") == "/socket.io"
    assert root.get("data-human-payload") == "/human"


def test_page_has_no_inline_script_or_style(page: _Collector) -> None:
    for tag, attrs in page.tags:
        assert tag != "style"
        assert "style" not in attrs, f"inline style on <{tag}>"
        assert not any(name.startswith("on") for name in attrs), f"event handler on <{tag}>"
        if tag == "script":
            assert attrs.get("src"), "inline <script> would be blocked by the CSP"


def test_html_responses_carry_a_strict_csp_and_security_headers(client: TestClient) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip())
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"].split() == [
        "'self'",
        "ws://localhost:5005",
        "http://localhost:5005",
    ]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_csp_follows_a_public_https_rasa_url_with_path_prefix() -> None:
    assert rasa_endpoint("https://chat.example.org/rasa/") == (
        "https://chat.example.org",
        "/rasa/socket.io",
    )
    assert "connect-src 'self' wss://chat.example.org https://chat.example.org" in build_csp(
        "https://chat.example.org/rasa"
    )


def test_unusable_rasa_url_fails_fast_naming_the_variable() -> None:
    with pytest.raises(ConsoleConfigError, match="ASSISTANT_RASA_PUBLIC_URL"):
        create_app(Settings(rasa_public_url="localhost:5005"))


def test_page_assets_are_served_with_a_version(client: TestClient) -> None:
    html = client.get("/").text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert any(a.startswith("/static/js/chat.js?v=") for a in assets)
    assert any(a.startswith("/static/css/console.css?v=") for a in assets)
    for asset in assets:
        if asset.startswith("/static/vendor/"):
            continue  # needs web/node_modules; checked below
        assert client.get(asset).status_code == 200, asset
    assert client.get("/static/js/format.js").status_code == 200


@pytest.mark.skipif(
    not (WEB_MODULES_DIR / "socket.io-client").is_dir(),
    reason="web/node_modules missing: run `npm ci --prefix web`",
)
def test_vendor_socketio_client_is_served_from_node_modules(client: TestClient) -> None:
    response = client.get("/static/vendor/socket.io.min.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert b"io" in response.content[:2000]


def test_vendor_route_serves_only_whitelisted_files(settings: Settings, tmp_path: Path) -> None:
    dist = tmp_path / "socket.io-client" / "dist"
    dist.mkdir(parents=True)
    (dist / "socket.io.min.js").write_text("/* client */")
    (tmp_path / "axe-core").mkdir()
    (tmp_path / "axe-core" / "axe.min.js").write_text("/* axe */")
    (tmp_path / "package.json").write_text("{}")

    client = TestClient(create_app(settings, web_modules_dir=tmp_path))
    assert client.get("/static/vendor/socket.io.min.js").text == "/* client */"
    assert client.get("/static/vendor/axe.min.js").status_code == 404
    assert client.get("/static/vendor/..%2F..%2Fpackage.json").status_code == 404
    assert client.get("/static/vendor/package.json").status_code == 404

    with_tests = TestClient(create_app(settings, web_modules_dir=tmp_path, serve_test_vendor=True))
    assert with_tests.get("/static/vendor/axe.min.js").text == "/* axe */"


def test_healthz_reports_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/gibt-es-nicht", "/static/nope.css", "/static/vendor/nope.js"])
def test_unknown_path_renders_a_german_404_page(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert 'lang="de"' in response.text
    assert "Diese Seite gibt es nicht" in response.text
    assert "content-security-policy" in response.headers


def test_unknown_path_answers_json_to_api_clients(client: TestClient) -> None:
    response = client.get("/api/nope", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_unexpected_error_shows_a_polite_500_page(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaputt")

    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/boom", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert "kaputt" not in response.text
    assert "technischer Fehler" in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
