"""Registration as an extension of a PBX: REGISTER with digest authentication (PJSIP).

PJSIP sends the REGISTER, answers the registrar's 401/407 challenge with the configured
credentials, refreshes ``delayBeforeRefreshSec`` before the expiry the registrar granted and
retries transient failures; this module configures that and turns PJSIP's state reports into
log lines an operator can act on. The password never reaches a log line or an error text.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Any

from servicecenter.settings import VoiceSettings

log = logging.getLogger("servicecenter.voice.gateway")

RETRY_SECONDS = 60  # after a timeout or 5xx/6xx; PJSIP's default (300) leaves the extension dead too long
UNREGISTER_WAIT_MS = 2000

CREDENTIALS_HINT = "check ASSISTANT_VOICE_SIP_USERNAME/ASSISTANT_VOICE_SIP_PASSWORD"
RESTART = "not retried: fix the setting and restart the voice gateway"
HINTS = {
    401: f"the registrar did not accept the credentials; {CREDENTIALS_HINT} and ASSISTANT_VOICE_SIP_AUTH_REALM "
         f"({RESTART})",
    403: f"the registrar refused the extension; {CREDENTIALS_HINT} ({RESTART})",
    404: "the registrar does not know this extension; check ASSISTANT_VOICE_SIP_USERNAME and "
         f"ASSISTANT_VOICE_SIP_EXTENSION_DOMAIN ({RESTART})",
    407: f"the proxy did not accept the credentials; {CREDENTIALS_HINT} and ASSISTANT_VOICE_SIP_AUTH_REALM "
         f"({RESTART})",
    408: "no answer from the registrar; check ASSISTANT_VOICE_SIP_REGISTRAR and that the PBX is reachable over UDP",
    423: "the registrar wants a longer expiry; raise ASSISTANT_VOICE_SIP_REGISTER_SECONDS",
}


def hint(code: int) -> str:
    if code in HINTS:
        return HINTS[code]
    if code >= 500:
        return f"the registrar or the way to it has a problem (retried about every {RETRY_SECONDS} s); " \
               "check ASSISTANT_VOICE_SIP_REGISTRAR and the PBX"
    return "see the PBX's log for this extension"


@dataclass(frozen=True)
class RegistrationStatus:
    """What the gateway last heard from the registrar."""

    state: str  # "off" (not configured), "registering", "registered", "failed", "unregistered"
    registrar: str = ""
    code: int = 0
    reason: str = ""
    expires: int = 0  # seconds the registrar granted (registered only)

    @property
    def ok(self) -> bool:
        """False only when registration is configured and has failed."""
        return self.state != "failed"


class Registration:
    """The account's registration: PJSIP configuration in, operator log lines out."""

    def __init__(self, settings: VoiceSettings) -> None:
        self.settings = settings
        self.enabled = bool(settings.sip_registrar)
        self.host = settings.registrar_host
        self._lock = threading.Lock()
        self._status = RegistrationStatus("registering" if self.enabled else "off", self.host)
        self._stopping = False

    @property
    def status(self) -> RegistrationStatus:
        with self._lock:
            return self._status

    def configure(self, acc: Any, pj: Any) -> None:
        """Fill ``acc`` (a pjsua2 AccountConfig) with the registrar, expiry and credentials."""
        if not self.enabled:
            return
        s = self.settings
        acc.idUri = s.extension_uri
        reg = acc.regConfig
        reg.registrarUri = s.sip_registrar
        reg.registerOnAdd = True
        reg.timeoutSec = s.sip_register_seconds
        reg.retryIntervalSec = RETRY_SECONDS
        reg.firstRetryIntervalSec = 10
        reg.unregWaitMsec = UNREGISTER_WAIT_MS
        reg.dropCallsOnFail = False  # calls in progress keep running if a refresh fails
        password = s.sip_password.get_secret_value()
        if password:
            acc.sipConfig.authCreds.append(pj.AuthCredInfo("digest", s.sip_auth_realm, s.sip_username, 0, password))
        else:
            log.warning("SIP registration at %s without a password (ASSISTANT_VOICE_SIP_PASSWORD is empty)", self.host)
        log.info("SIP registration: extension %s at %s, expiry %d s", s.sip_username, self.host,
                 s.sip_register_seconds)

    def stopping(self) -> None:
        self._stopping = True

    def changed(self, code: int, reason: str, expiration: int) -> None:
        """PJSIP's onRegState (PJSIP thread): log transitions, keep the status."""
        with self._lock:
            before = self._status
            if 200 <= code < 300 and expiration > 0:
                status = RegistrationStatus("registered", self.host, code, reason, expiration)
            elif 200 <= code < 300:
                status = RegistrationStatus("unregistered", self.host, code, reason)
            elif self._stopping:  # the contact expires at the registrar on its own
                status = RegistrationStatus("unregistered", self.host, code, reason)
                log.info("SIP unregistration at %s not confirmed (%d %s); the contact expires there",
                         self.host, code, reason)
            else:
                status = RegistrationStatus("failed", self.host, code, reason)
            self._status = status
        if status.state == "registered":
            if before.state != "registered":
                log.info("SIP registration active: extension %s at %s, expires in %d s",
                         self.settings.sip_username, self.host, expiration)
            else:
                log.debug("SIP registration at %s refreshed (expires in %d s)", self.host, expiration)
        elif status.state == "unregistered":
            if before.state != "unregistered" and 200 <= code < 300:
                log.info("SIP registration at %s removed", self.host)
        elif replace(before, expires=0) != status:  # a new failure, not the same one again
            log.warning("SIP registration at %s failed: %d %s; %s", self.host, code, reason, hint(code))
        else:
            log.debug("SIP registration at %s still failing: %d %s", self.host, code, reason)
