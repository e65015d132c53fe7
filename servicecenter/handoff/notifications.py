"""E-mail to departments about their tickets: a transactional outbox and its sender.

A notification row is written in the same transaction as the ticket (or the forwarding), so
a crash loses neither without the other. The console process runs :class:`Outbox`, which
claims due rows with a compare-and-set (several console workers never send one twice),
sends them over SMTP and retries failures with growing pauses; after ``MAX_ATTEMPTS`` a
notification is marked failed and shown in the console, where an agent can send it again.
The message is built at sending time from the ticket; only the SMTP error is stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import List, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from servicecenter.db import session_scope, use_session
from servicecenter.handoff.callback import german_due
from servicecenter.handoff.summary import ticket_lines
from servicecenter.models import Notification, Ticket
from servicecenter.settings import Settings, get_settings

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
KIND = "department_email"
MAX_ATTEMPTS = 8
# Pause after the n-th failed attempt (seconds); the last value repeats.
BACKOFF = (30, 120, 600, 1800, 3600)
LEASE = dt.timedelta(seconds=120)
STATUS_LABELS = {
    PENDING: "wartet auf Versand",
    SENDING: "wird gesendet",
    SENT: "gesendet",
    FAILED: "fehlgeschlagen",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def enqueue_department_mail(session: Session, ticket: Ticket, department: str, recipient: str, event: str,
                            now: Optional[dt.datetime] = None) -> None:
    """Queue an e-mail about ``ticket`` to ``recipient`` in the caller's transaction.

    ``event`` ("created", "forwarded:<n>") makes the key: the same event never queues twice.
    """
    now = now or _now()
    session.add(Notification(
        id=str(uuid.uuid4()),
        dedupe_key=f"{ticket.id}:{event}:{department}",
        ticket_id=ticket.id,
        conversation_id=ticket.conversation_id,
        kind=KIND,
        department_slug=department,
        recipient=recipient,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    ))


def notifications_for(ticket_id: str, url: Optional[str] = None,
                      session: Optional[Session] = None) -> List[Notification]:
    with use_session(session, url) as work:
        return list(work.execute(
            select(Notification).where(Notification.ticket_id == ticket_id).order_by(Notification.created_at)
        ).scalars())


def failed_count(department: Optional[str] = None, url: Optional[str] = None,
                 session: Optional[Session] = None) -> int:
    query = select(Notification.id).where(Notification.status == FAILED)
    if department:
        query = query.where(Notification.department_slug == department)
    with use_session(session, url) as work:
        return len(work.execute(query).all())


def retry(notification_id: str, url: Optional[str] = None, session: Optional[Session] = None) -> bool:
    """Send a failed notification again (from the console); False if it is not failed."""
    with use_session(session, url) as work:
        changed = work.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == FAILED)
            .values(status=PENDING, attempts=0, next_attempt_at=_now(), last_error=None)
            .execution_options(synchronize_session=False)
        ).rowcount
    return changed == 1


def build_message(notification: Notification, ticket: Ticket, settings: Settings) -> EmailMessage:
    """The e-mail: the summary an agent reads, the due time and the link to the ticket."""
    reference = ticket.id.split("-")[0].upper()
    topic = (ticket.summary or {}).get("topic") or ticket.service_slug or "Anliegen"
    message = EmailMessage()
    kind = "Rückrufbitte" if ":callback:" in notification.dedupe_key else "Neues Anliegen"
    message["Subject"] = f"{kind} {reference}: {topic}"
    message["From"] = formataddr(("Bürgerservice Geldern", settings.mail_from))
    message["To"] = notification.recipient
    message["Message-ID"] = make_msgid(idstring=notification.id.split("-")[0], domain="geldern.assistant")
    lines = [
        "Guten Tag,",
        "",
        f"der Bürgerservice hat ein Anliegen für Sie aufgenommen (Nummer {reference}).",
        "",
        *ticket_lines(ticket),
    ]
    if ticket.due_at:
        lines += ["", f"Antwort fällig bis: {german_due(ticket.due_at)} (Serviceversprechen)"]
    lines += [
        "",
        f"Zum Vorgang: {settings.browser_console_url}/console/tickets/{ticket.id}",
        "",
        "Diese Nachricht wurde automatisch erstellt. Bitte antworten Sie nicht auf diese E-Mail.",
    ]
    message.set_content("\n".join(lines))
    return message


def send_mail(message: EmailMessage, settings: Settings) -> None:
    """Deliver one message over SMTP (STARTTLS and login when configured)."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        user = settings.smtp_user
        if user:
            smtp.login(user, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


class Outbox:
    """Sends due notifications; ``run_once`` is one pass, ``run_forever`` the console's task."""

    def __init__(self, settings: Optional[Settings] = None, url: Optional[str] = None,
                 poll_seconds: float = 2.0) -> None:
        self.settings = settings or get_settings()
        self.url = url or self.settings.db_url
        self.poll_seconds = poll_seconds
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.settings.smtp_host)

    def _claim(self, now: dt.datetime) -> List[Notification]:
        claimed: List[Notification] = []
        with session_scope(self.url) as session:
            due = list(session.execute(
                select(Notification)
                .where(Notification.status.in_((PENDING, SENDING)), Notification.next_attempt_at <= now)
                .order_by(Notification.next_attempt_at)
                .limit(20)
            ).scalars())
        for row in due:
            with session_scope(self.url) as session:
                # Compare-and-set on the attempt count: only one worker wins a row.
                won = session.execute(
                    update(Notification)
                    .where(Notification.id == row.id, Notification.attempts == row.attempts,
                           Notification.status.in_((PENDING, SENDING)))
                    .values(status=SENDING, attempts=row.attempts + 1, next_attempt_at=now + LEASE)
                    .execution_options(synchronize_session=False)
                ).rowcount
            if won == 1:
                row.attempts += 1
                claimed.append(row)
        return claimed

    def _finish(self, row: Notification, error: Optional[str], now: dt.datetime) -> None:
        if error is None:
            values = dict(status=SENT, sent_at=now, last_error=None)
        elif row.attempts >= MAX_ATTEMPTS:
            values = dict(status=FAILED, last_error=error)
        else:
            pause = BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
            values = dict(status=PENDING, last_error=error, next_attempt_at=now + dt.timedelta(seconds=pause))
        with session_scope(self.url) as session:
            session.execute(
                update(Notification).where(Notification.id == row.id, Notification.status == SENDING)
                .values(**values).execution_options(synchronize_session=False)
            )

    def run_once(self, now: Optional[dt.datetime] = None) -> int:
        """Send what is due; the number of messages delivered."""
        if not self.enabled:
            if not self._warned:
                log.warning("department e-mail is not sent: set ASSISTANT_SMTP_HOST (and ASSISTANT_MAIL_FROM)")
                self._warned = True
            return 0
        now = now or _now()
        delivered = 0
        for row in self._claim(now):
            with session_scope(self.url) as session:
                ticket = session.get(Ticket, row.ticket_id)
            if ticket is None:  # erased in the meantime
                self._finish(row, None, now)
                continue
            try:
                send_mail(build_message(row, ticket, self.settings), self.settings)
            except (OSError, smtplib.SMTPException) as err:
                error = f"{type(err).__name__}: {err}"[:300]
                log.warning("notification %s for ticket %s failed (attempt %d): %s",
                            row.id, row.ticket_id, row.attempts, type(err).__name__)
                self._finish(row, error, now)
                continue
            self._finish(row, None, now)
            delivered += 1
            log.info("notification %s for ticket %s sent to department %s", row.id, row.ticket_id, row.department_slug)
        return delivered

    async def run_forever(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except asyncio.CancelledError:
                raise
            except Exception:  # the outbox must survive a database hiccup
                log.exception("outbox pass failed")
            await asyncio.sleep(self.poll_seconds)


__all__ = [
    "FAILED", "Outbox", "PENDING", "SENT", "STATUS_LABELS", "build_message", "enqueue_department_mail",
    "failed_count", "notifications_for", "retry", "send_mail",
]
