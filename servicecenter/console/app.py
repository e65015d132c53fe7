"""The console web app (FastAPI, server-rendered Jinja2 pages).

It serves the citizens' chat page (which talks to Rasa's socket.io channel directly from
the browser), the agents' inbox, the callback form, the quality dashboard, the telephony
route API and the trainer workbench. Each module defines its ``router`` at module level;
:func:`create_app` includes them, keeps settings and templates in ``app.state`` and runs the
background work (department e-mail, retention purge) in the app's ``lifespan``.

Run with ``uvicorn --factory servicecenter.console.app:create_app``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import AsyncIterator, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicecenter import PROJECT_ROOT
from servicecenter.console import auth as console_auth
from servicecenter.console import callback as console_callback
from servicecenter.console import calls as console_calls
from servicecenter.console import dashboard as console_dashboard
from servicecenter.console import feedback as console_feedback
from servicecenter.console import inbox as console_inbox
from servicecenter.console import trainer as console_trainer
from servicecenter.handoff.notifications import Outbox
from servicecenter.reports import schedule as purge_schedule
from servicecenter.settings import Settings, get_settings
from servicecenter.voice.web import browser_voice_url, socket_origin

logger = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = CONSOLE_DIR / "templates"
STATIC_DIR = CONSOLE_DIR / "static"
WEB_MODULES_DIR = PROJECT_ROOT / "web" / "node_modules"

# Only these files from web/node_modules are reachable, under /static/vendor/<name>.
VENDOR_FILES: Dict[str, str] = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
    "socket.io.min.js.map": "socket.io-client/dist/socket.io.min.js.map",
}
# Served only when a test asks for it (create_app(serve_test_vendor=True)).
TEST_VENDOR_FILES: Dict[str, str] = {"axe.min.js": "axe-core/axe.min.js"}

# What the chat page sends on its own: the opening of a new conversation (the bot answers
# with its greeting and privacy note) and the "talk to a human" button.
CHAT_INIT_PAYLOAD = "/greet"
HUMAN_PAYLOAD = "/human"
MAX_MESSAGE_LENGTH = 1000
SOCKETIO_PATH = "/socket.io"


class ConsoleConfigError(ValueError):
    """Raised when a setting cannot be used by the console; the message names it."""


def rasa_endpoint(browser_rasa_url: str) -> Tuple[str, str]:
    """Split the browser's Rasa URL into (origin, socket.io path); a path prefix is kept."""
    parts = urlsplit(browser_rasa_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConsoleConfigError(
            f"ASSISTANT_RASA_PUBLIC_URL: must be an absolute http(s) URL, got {browser_rasa_url!r}"
        )
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin, parts.path.rstrip("/") + SOCKETIO_PATH


def build_csp(browser_rasa_url: str) -> str:
    """A strict Content-Security-Policy: own scripts and styles, sockets only to Rasa."""
    origin, _ = rasa_endpoint(browser_rasa_url)
    socket_origin = "wss" + origin[5:] if origin.startswith("https") else "ws" + origin[4:]
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        f"connect-src 'self' {socket_origin} {origin}",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def security_headers(csp: str) -> Dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (pure ASGI, no body buffering)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.raw if k not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


@lru_cache(maxsize=None)
def _file_digest(path: Path, mtime_ns: int) -> str:
    # mtime_ns is only part of the cache key: an edited file gets a fresh hash.
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    """URL of one of the console's own static files, with a content hash against stale caches."""
    path = STATIC_DIR / name
    try:
        version = _file_digest(path, path.stat().st_mtime_ns)
    except OSError:
        logger.warning("Static asset %s is missing", name)
        return f"/static/{name}"
    return f"/static/{name}?v={version}"


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "*/*" in accept or not accept


chat_router = APIRouter()


@chat_router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, name="chat")
async def chat_page(request: Request) -> Response:
    templates: Jinja2Templates = request.app.state.console_templates
    return templates.TemplateResponse(
        request, "chat.html", dict(request.app.state.chat_page), headers={"Cache-Control": "no-cache"}
    )


system_router = APIRouter()


@system_router.get("/healthz", name="healthz")
async def healthz() -> Dict[str, str]:
    return {"status": "ok"}


vendor_router = APIRouter()


@vendor_router.get("/static/vendor/{name}", name="vendor")
async def vendor_file(name: str, request: Request) -> FileResponse:
    """One of a whitelist of third-party browser files from web/node_modules."""
    path: Optional[Path] = request.app.state.vendor_files.get(name)
    if path is None or not path.is_file():
        raise StarletteHTTPException(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


def _vendor_paths(web_modules_dir: Path, files: Mapping[str, str]) -> Dict[str, Path]:
    paths = {name: web_modules_dir / rel for name, rel in files.items()}
    missing: List[str] = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        logger.warning(
            "Vendor files missing under %s (%s); run `npm ci --prefix web`",
            web_modules_dir,
            ", ".join(missing),
        )
    return paths


def _chat_page_context(settings: Settings, voice_url: Optional[str]) -> Dict[str, object]:
    rasa_origin, socket_path = rasa_endpoint(settings.browser_rasa_url)
    return {
        "rasa_url": rasa_origin,
        "socket_path": socket_path,
        "init_payload": CHAT_INIT_PAYLOAD,
        "human_payload": HUMAN_PAYLOAD,
        "max_length": MAX_MESSAGE_LENGTH,
        "voice_url": voice_url or "",
    }


def _install_error_pages(app: FastAPI, templates: Jinja2Templates, headers: Mapping[str, str]) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and _wants_html(request):
            return templates.TemplateResponse(request, "404.html", {}, status_code=404)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        # Runs outside the middleware stack, so the security headers are added here.
        logger.exception("Unhandled error on %s %s", request.method, request.url.path)
        if _wants_html(request):
            return templates.TemplateResponse(
                request, "error.html", {}, status_code=500, headers=dict(headers)
            )
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500, headers=dict(headers))

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work of the console process while it serves: department e-mail
    (handoff.notifications) and the daily retention purge (reports.schedule)."""
    settings: Settings = app.state.settings
    tasks: List[asyncio.Task] = []
    if settings.outbox_enabled:
        tasks.append(asyncio.create_task(Outbox(settings).run_forever()))
    if settings.purge_scheduled:
        tasks.append(asyncio.create_task(purge_schedule.run_forever(settings)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def create_app(
    settings: Optional[Settings] = None,
    *,
    web_modules_dir: Optional[Path] = None,
    serve_test_vendor: bool = False,
) -> FastAPI:
    """Build the console app; settings default to :func:`get_settings`."""
    settings = settings or get_settings()
    csp = build_csp(settings.browser_rasa_url)
    voice_url = browser_voice_url(settings)
    if voice_url:  # the chat page's microphone streams to the voice gateway's socket
        csp = csp.replace("connect-src 'self'", f"connect-src 'self' {socket_origin(voice_url)}", 1)
    headers = security_headers(csp)
    if voice_url:
        headers["Permissions-Policy"] = headers["Permissions-Policy"].replace("microphone=()", "microphone=(self)")

    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals["asset"] = asset_url

    app = FastAPI(
        title="Bürgerservice Geldern – Konsole",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.console_templates = templates
    app.state.chat_page = _chat_page_context(settings, voice_url)
    vendor_files = dict(VENDOR_FILES)
    if serve_test_vendor:
        vendor_files.update(TEST_VENDOR_FILES)
    app.state.vendor_files = _vendor_paths(web_modules_dir or WEB_MODULES_DIR, vendor_files)

    # The vendor route must come before the /static mount, which would otherwise shadow it.
    app.include_router(vendor_router)
    app.include_router(system_router)
    app.include_router(chat_router)
    # Agent console: sign-in, then the ticket inbox (both under /console).
    app.include_router(console_auth.router)
    app.include_router(console_inbox.router)
    # Citizens' callback form, reached through the signed link in a handoff reply.
    app.include_router(console_callback.router)
    # The chat's feedback API, the quality dashboard and monthly report (supervisors).
    app.include_router(console_feedback.router)
    app.include_router(console_dashboard.router)
    # The voice gateway's question: where to transfer this call.
    app.include_router(console_calls.router)
    # Trainer workbench: NLU inbox, conversation review, knowledge editor, retraining.
    app.include_router(console_trainer.router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    app.add_exception_handler(console_auth.LoginRequired, console_auth.login_required_handler)
    app.add_exception_handler(console_auth.ConsoleError, console_auth.console_error_handler)
    _install_error_pages(app, templates, headers)
    app.add_middleware(SecurityHeadersMiddleware, headers=headers)
    return app


__all__ = [
    "ConsoleConfigError",
    "build_csp",
    "create_app",
    "rasa_endpoint",
]
