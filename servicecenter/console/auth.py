"""Console sign-in: login and logout pages, the session cookie, CSRF checks and role checks.

Other console routers use the dependencies :func:`signed_in`, :func:`require_roles` and
:func:`csrf_protect` (a router dependency: every POST carries the session's CSRF token).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Dict, Mapping, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from servicecenter import accounts
from servicecenter.accounts import Account
from servicecenter.console.deps import DbSession, SettingsDep
from servicecenter.db import session_scope

log = logging.getLogger(__name__)

SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
COOKIE_PATH = "/console"
LOGIN_PATH = "/console/login"
NO_STORE = {"Cache-Control": "no-store"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"

LOGIN_FAILED = "Benutzername oder Passwort ist falsch."
CSRF_FAILED = (
    "Die Anfrage konnte nicht bestätigt werden. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal."
)
ROLE_LABELS = {
    "agent": "Servicecenter",
    "department": "Fachbereich",
    "trainer": "Training",
    "supervisor": "Teamleitung",
    "admin": "Administration",
}


@dataclass(frozen=True)
class SignedIn:
    account: Account
    csrf_token: str


class LoginRequired(Exception):
    """No (live) session: the browser is sent to the login page."""


class ConsoleError(Exception):
    """Shown as a German error page with ``status_code``."""

    def __init__(self, status_code: int, message: str, title: str = "Nicht möglich") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.title = title


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    status_code: int = 200,
    signed: Optional[SignedIn] = None,
) -> Response:
    templates: Jinja2Templates = request.app.state.console_templates
    ctx: Dict[str, Any] = {"signed": signed, "role_labels": ROLE_LABELS}
    ctx.update(context)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=dict(NO_STORE))


def signed_in(request: Request, session: DbSession, settings: SettingsDep) -> SignedIn:
    """Dependency: the live session of this request, or a redirect to the login page."""
    token = request.cookies.get(SESSION_COOKIE, "")
    resumed = accounts.resume_session(token, settings.console_idle_minutes, session=session) if token else None
    # The sign-in bookkeeping (last activity, removal of an expired session) is committed on its
    # own: it stands whatever the handler does, and it holds no write lock while the handler runs.
    session.commit()
    if resumed is None:
        raise LoginRequired()
    account, csrf = resumed
    return SignedIn(account=account, csrf_token=csrf)


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def require_roles(*roles: str):  # type: ignore[no-untyped-def]
    """Dependency factory: the signed-in user, if their role is one of ``roles`` (else 403).

    Create it once per set of roles and use that object everywhere (router dependency and
    handler parameter), so that it runs once per request."""

    def dependency(signed: SignedInDep) -> SignedIn:
        if signed.account.role not in roles:
            raise ConsoleError(403, "Für diese Seite fehlt Ihnen die Berechtigung.", "Kein Zugriff")
        return signed

    return dependency


def _same(a: Optional[str], b: Optional[str]) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode("utf-8"), str(b).encode("utf-8"))


async def posted_form(request: Request) -> FormData:
    """Dependency: the submitted form (parsed once per request)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


async def csrf_protect(request: Request, signed: SignedInDep) -> None:
    """Router dependency: a POST carries the session's CSRF token (else 403, nothing done).

    The console's own scripts send JSON with the token in ``X-CSRF-Token``; forms send it in
    the field ``csrf_token``."""
    if request.method in SAFE_METHODS:
        return
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        if not _same(header, signed.csrf_token):
            log.warning("console: CSRF header missing or wrong on %s %s", request.method, request.url.path)
            raise ConsoleError(403, CSRF_FAILED, "Anfrage abgelehnt")
        return
    form = await request.form()
    if not _same(form.get("csrf_token"), signed.csrf_token):  # type: ignore[arg-type]
        log.warning("console: CSRF token missing or wrong on %s %s", request.method, request.url.path)
        raise ConsoleError(403, CSRF_FAILED, "Anfrage abgelehnt")


async def login_csrf(request: Request) -> None:
    """Route dependency of the login form: its token must match the login cookie."""
    form = await request.form()
    if not _same(form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):  # type: ignore[arg-type]
        log.warning("console: login form without a valid CSRF token")
        raise ConsoleError(403, CSRF_FAILED, "Anfrage abgelehnt")


def _start_page(account: Account) -> str:
    return "/console/" if account.role == "trainer" else "/console/inbox"


def _login_page(request: Request, message: Optional[str] = None, notice: Optional[str] = None,
                username: str = "", status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "console/login.html",
        {"csrf_token": token, "error": message, "notice": notice, "username": username},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_is_https(request)
    )
    return response


router = APIRouter(prefix="/console")


@router.get("/login", response_class=HTMLResponse, name="console_login")
async def login_form(request: Request) -> Response:
    notice = "Sie wurden abgemeldet." if request.query_params.get("abgemeldet") else None
    return _login_page(request, notice=notice)


@router.post("/login", name="console_login_submit", dependencies=[Depends(login_csrf)])
def login(request: Request, form: FormDep, session: DbSession) -> Response:
    # A plain function: argon2 and the database run in the thread pool, not on the event loop.
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")
    account = accounts.authenticate(username, password, session=session) if username and password else None
    if account is None:
        client = request.client.host if request.client else "-"
        log.warning("console: failed login for username %r from %s", username, client)
        return _login_page(request, message=LOGIN_FAILED, username=username, status_code=401)
    token, _ = accounts.start_session(account.id, previous_token=request.cookies.get(SESSION_COOKIE), session=session)
    log.info("console: %s signed in", account.username)
    response = RedirectResponse(_start_page(account), status_code=303, headers=dict(NO_STORE))
    response.set_cookie(
        SESSION_COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_is_https(request)
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout", name="console_logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request, signed: SignedInDep, session: DbSession) -> Response:
    accounts.end_session(request.cookies.get(SESSION_COOKIE, ""), session=session)
    log.info("console: %s signed out", signed.account.username)
    response = RedirectResponse(f"{LOGIN_PATH}?abgemeldet=1", status_code=303, headers=dict(NO_STORE))
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


@router.get("/", response_class=HTMLResponse, name="console_home")
def home(request: Request, signed: SignedInDep) -> Response:
    return render(request, "console/home.html", {}, signed=signed)


async def login_required_handler(request: Request, exc: Exception) -> Response:
    """Exception handler: no (live) session, so the browser goes to the login page."""
    return RedirectResponse(LOGIN_PATH, status_code=303, headers=dict(NO_STORE))


def _signed_or_none(request: Request) -> Optional[SignedIn]:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    settings = request.app.state.settings
    with session_scope(settings.db_url) as session:
        resumed = accounts.resume_session(token, settings.console_idle_minutes, session=session)
    return SignedIn(account=resumed[0], csrf_token=resumed[1]) if resumed else None


async def console_error_handler(request: Request, exc: Exception) -> Response:
    """Exception handler: a :class:`ConsoleError` as the German error page."""
    assert isinstance(exc, ConsoleError)
    signed = await run_in_threadpool(_signed_or_none, request)
    return render(
        request, "console/error.html", {"title": exc.title, "message": exc.message},
        status_code=exc.status_code, signed=signed,
    )
