"""Voice gateway settings (environment prefix ``ASSISTANT_``), validated at start."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Union

from pydantic import BaseSettings, SecretStr, ValidationError, validator

from servicecenter import PROJECT_ROOT
from servicecenter.settings import SettingsError

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
SIP_HOST = re.compile(rf"^{_HOST}$")
SIP_URI = re.compile(rf"^sip:(?:[^@\s:;]+@)?(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?(?:;[^\s]*)?$")
SIP_USER = re.compile(r"^[^\s@:;<>\"]+$")


class VoiceSettings(BaseSettings):
    # Folder of a Vosk model; default: the downloaded German model under models/vosk/.
    vosk_model: Optional[Path] = None
    # Restrict recognition to the domain's vocabulary (knowledge base + training data).
    vosk_grammar: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    # Address written into SDP when the gateway sits behind NAT; default: sip_host.
    sip_public_address: str = ""
    # Registration as an extension of a PBX (README "Voice"). Empty registrar: no REGISTER, the
    # PBX routes calls to sip_host:sip_port directly (trunk).
    sip_registrar: str = ""  # SIP URI of the registrar, e.g. sip:pbx.example.org:5060
    sip_username: str = ""  # the extension; also the digest user name
    sip_password: SecretStr = SecretStr("")
    sip_auth_realm: str = "*"  # "*": answer any realm the registrar challenges with
    sip_register_seconds: int = 300  # expiry asked for; refreshed before it runs out
    sip_extension_domain: str = ""  # domain of the extension's address; default: registrar host
    rtp_port: int = 40000
    rtp_port_range: int = 400
    max_calls: int = 8  # more than 4 runs several worker processes (see __main__)
    # Ringing before the gateway answers (180 Ringing first): a caller or PBX that gives up in
    # this window CANCELs cleanly (200 for the CANCEL, 487 for the INVITE). 0 answers at once.
    voice_answer_delay_ms: int = 300
    max_call_seconds: float = 1800.0
    silence_seconds: float = 8.0
    turn_timeout: float = 30.0
    tts_voice: str = "gmw/de"
    tts_rate: int = 165
    tts_workers: int = 2
    # WebSocket for the chat page's microphone (0: off) and where browsers reach it.
    voice_ws_port: int = 5070
    voice_public_url: str = ""
    # Where the transfer target of a call comes from: the console's route API, or the
    # database directly (single-machine installs without the console).
    route_lookup: str = "console"
    # Where a call's RTP may come from (comma-separated addresses or CIDR networks); RTP from
    # anywhere else stops the call's audio and ends the call. Empty: the IP address in the
    # caller's SDP and the IP address the call's SIP came from.
    voice_rtp_allowed_sources: str = ""
    # A folder for a JSON-lines pipeline trace per gateway process (benchmarks); empty: off.
    voice_trace_dir: Optional[Path] = None

    class Config:
        env_prefix = "ASSISTANT_"
        env_file = str(PROJECT_ROOT / ".env")
        extra = "ignore"

    @validator("sip_port", "rtp_port")
    def _port(cls, value: int) -> int:  # noqa: N805
        if not 1 <= value <= 65535:
            raise ValueError("must be a UDP port between 1 and 65535")
        return value

    @validator("sip_registrar")
    def _registrar(cls, value: str) -> str:  # noqa: N805
        value = value.strip()
        if value and not SIP_URI.match(value):
            raise ValueError("must be the SIP URI of the PBX's registrar, e.g. sip:pbx.example.org or "
                             "sip:192.0.2.10:5060 (empty: no registration)")
        if re.search(r";transport=(?!udp\b)", value, re.IGNORECASE):
            raise ValueError("must use UDP: the gateway speaks SIP over UDP only (drop ';transport=...')")
        return value

    @validator("sip_username", always=True)
    def _username(cls, value: str, values: dict) -> str:  # noqa: N805
        value = value.strip()
        if value and not SIP_USER.match(value):
            raise ValueError("must be the extension's user name without spaces, '@' or ':' (e.g. 4711)")
        if not value and values.get("sip_registrar"):
            raise ValueError("is required when ASSISTANT_SIP_REGISTRAR is set: the extension to register as")
        return value

    @validator("sip_auth_realm")
    def _realm(cls, value: str) -> str:  # noqa: N805
        value = value.strip()
        if not value or '"' in value:
            raise ValueError("must be the registrar's digest realm, or * for any realm")
        return value

    @validator("sip_register_seconds")
    def _register_seconds(cls, value: int) -> int:  # noqa: N805
        if not 60 <= value <= 86400:
            raise ValueError("must be between 60 and 86400 seconds (PBXes commonly accept 60 to 3600)")
        return value

    @validator("sip_extension_domain")
    def _domain(cls, value: str) -> str:  # noqa: N805
        value = value.strip()
        if value and not SIP_HOST.match(value):
            raise ValueError("must be a host name or IP address (no 'sip:', no port), e.g. pbx.example.org")
        return value

    @property
    def registrar_host(self) -> str:
        """The registrar's host (no port, no parameters), '' when not registering."""
        match = SIP_URI.match(self.sip_registrar)
        return match.group("host") if match else ""

    @property
    def extension_uri(self) -> str:
        """The address of record the gateway registers (``sip:<extension>@<domain>``)."""
        return f"sip:{self.sip_username}@{self.sip_extension_domain or self.registrar_host}"

    @validator("voice_answer_delay_ms")
    def _answer_delay(cls, value: int) -> int:  # noqa: N805
        if not 0 <= value <= 10000:
            raise ValueError("must be between 0 and 10000 milliseconds")
        return value

    @validator("voice_ws_port")
    def _ws_port(cls, value: int) -> int:  # noqa: N805
        if not 0 <= value <= 65535:
            raise ValueError("must be 0 (off) or a TCP port")
        return value

    @property
    def browser_voice_url(self) -> str:
        return (self.voice_public_url or f"ws://localhost:{self.voice_ws_port}").rstrip("/") + "/voice"

    @validator("max_calls")
    def _calls(cls, value: int) -> int:  # noqa: N805
        if not 1 <= value <= 64:
            raise ValueError("must be between 1 and 30")
        return value

    @validator("max_call_seconds", "silence_seconds", "turn_timeout")
    def _positive(cls, value: float) -> float:  # noqa: N805
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value

    @validator("route_lookup")
    def _lookup(cls, value: str) -> str:  # noqa: N805
        if value not in ("console", "database"):
            raise ValueError("must be 'console' or 'database'")
        return value

    @validator("voice_rtp_allowed_sources")
    def _rtp_sources(cls, value: str) -> str:  # noqa: N805
        try:
            rtp_source_networks(value)
        except ValueError:
            raise ValueError("must be comma-separated IP addresses or networks, e.g. "
                             "192.0.2.10,198.51.100.0/24 (empty: the caller's own addresses)") from None
        return value.strip()

    @property
    def rtp_allowed_networks(self) -> List[IPNetwork]:
        return rtp_source_networks(self.voice_rtp_allowed_sources)


def rtp_source_networks(value: str) -> List[IPNetwork]:
    """``"192.0.2.10, 198.51.100.0/24"`` -> networks; ValueError for anything else."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]


@lru_cache(maxsize=1)
def get_voice_settings() -> VoiceSettings:
    try:
        return VoiceSettings()
    except ValidationError as err:
        problems = "; ".join(
            f"ASSISTANT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in err.errors()
        )
        raise SettingsError(f"Invalid voice configuration: {problems}") from err
