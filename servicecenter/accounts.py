"""Console accounts and sessions: argon2 password hashes, server-side sessions with CSRF tokens.

The cookie carries a random token; the database stores only its SHA-256, so a leaked
``sessions`` table does not let anyone sign in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import List, Optional, Tuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servicecenter.db import session_scope, use_session
from servicecenter.models import ConsoleSession, KbOrganisation, User

log = logging.getLogger(__name__)

ROLES: Tuple[str, ...] = ("agent", "department", "trainer", "supervisor", "admin")
MIN_PASSWORD_LENGTH = 12
# Usernames end up in ticket actors ("agent:<username>"), so they follow that pattern.
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures take about as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A user cannot be created or changed; the message says why (English, for operators)."""


class DuplicateUser(AccountError):
    pass


class UnknownUser(AccountError):
    pass


@dataclass(frozen=True)
class Account:
    """A signed-in user as the console sees it."""

    id: int
    username: str
    role: str
    department_slug: Optional[str]

    @property
    def actor(self) -> str:
        """The actor recorded in ticket events."""
        if self.role == "department":
            return f"department:{self.department_slug}"
        return f"agent:{self.username}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _account(user: User) -> Account:
    return Account(id=user.id, username=user.username, role=user.role, department_slug=user.department_slug)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_user(username: str, password: str, role: str, department_slug: Optional[str]) -> None:
    if not _USERNAME_RE.match(username):
        raise AccountError(
            "invalid username: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    if role not in ROLES:
        raise AccountError(f"unknown role '{role}' (one of: {', '.join(ROLES)})")
    if role == "department" and not department_slug:
        raise AccountError("a user with the role 'department' needs --department SLUG")
    if role != "department" and department_slug:
        raise AccountError("--department is only given for the role 'department'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters are required")


def department_exists(slug: str, url: Optional[str] = None) -> bool:
    with session_scope(url) as session:
        return session.get(KbOrganisation, slug) is not None


def department_slugs(url: Optional[str] = None, session: Optional[Session] = None) -> List[str]:
    """The organisations of the imported knowledge base (departments and external bodies)."""
    with use_session(session, url) as work:
        return list(work.execute(select(KbOrganisation.slug).order_by(KbOrganisation.slug)).scalars())


def add_user(
    username: str, password: str, role: str, department_slug: Optional[str] = None, url: Optional[str] = None
) -> Account:
    """Create an active user; nothing is written when any check fails."""
    check_new_user(username, password, role, department_slug)
    if department_slug and not department_exists(department_slug, url):
        raise AccountError(f"unknown department '{department_slug}': not an organisation of the knowledge base")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        department_slug=department_slug,
        active=True,
        created_at=_now(),
    )
    try:
        with session_scope(url) as session:
            if session.execute(select(User.id).where(User.username == username)).first() is not None:
                raise DuplicateUser(f"user '{username}' already exists")
            session.add(user)
    except IntegrityError as err:
        raise DuplicateUser(f"user '{username}' already exists") from err
    log.info("console user %s created with role %s", username, role)
    return _account(user)


def list_users(url: Optional[str] = None) -> List[User]:
    with session_scope(url) as session:
        return list(session.execute(select(User).order_by(User.username)).scalars())


def disable_user(username: str, url: Optional[str] = None) -> None:
    """Deactivate a user and end all their sessions."""
    with session_scope(url) as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise UnknownUser(f"no user '{username}'")
        user.active = False
        session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    log.info("console user %s disabled", username)


def authenticate(username: str, password: str, url: Optional[str] = None,
                 session: Optional[Session] = None) -> Optional[Account]:
    """The account for a correct username and password of an active user, else None."""
    with use_session(session, url) as work:
        user = work.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None or not user.active:
            _verify(_DUMMY_HASH, password)
            return None
        if not _verify(user.password_hash, password):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return _account(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(user_id: int, previous_token: Optional[str] = None, url: Optional[str] = None,
                  session: Optional[Session] = None) -> Tuple[str, str]:
    """A fresh session (token, csrf token); the previous one, if any, is ended (no fixation)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = _now()
    with use_session(session, url) as work:
        if previous_token:
            work.execute(delete(ConsoleSession).where(ConsoleSession.id == _token_id(previous_token)))
        work.add(ConsoleSession(id=_token_id(token), user_id=user_id, csrf_token=csrf, created_at=now, last_seen_at=now))
    return token, csrf


def resume_session(token: str, idle_minutes: int, url: Optional[str] = None,
                   session: Optional[Session] = None) -> Optional[Tuple[Account, str]]:
    """(account, csrf token) of a live session; an idle or orphaned session is removed."""
    if not token:
        return None
    now = _now()
    with use_session(session, url) as work:
        row = work.get(ConsoleSession, _token_id(token))
        if row is None:
            return None
        user = work.get(User, row.user_id)
        if user is None or not user.active or now - row.last_seen_at > dt.timedelta(minutes=idle_minutes):
            work.delete(row)
            return None
        row.last_seen_at = now
        return _account(user), row.csrf_token


def end_session(token: str, url: Optional[str] = None, session: Optional[Session] = None) -> None:
    with use_session(session, url) as work:
        work.execute(delete(ConsoleSession).where(ConsoleSession.id == _token_id(token)))
