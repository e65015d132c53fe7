"""One place for configuration: environment variables and ``.env``, in three sections.

- ``Settings`` (prefix ``ASSISTANT_``): database, folders, ports, e-mail, secrets, logging.
- ``VoiceSettings`` (prefix ``ASSISTANT_VOICE_``): the SIP/RTP gateway and speech.
- ``TrainerSettings`` (prefix ``ASSISTANT_TRAINER_``): the trainer workbench.

Each section is validated when first read (``get_settings``, ``get_voice_settings``,
``get_trainer_settings``); a wrong value fails fast with a ``SettingsError`` that names the
variable and what it must be. Limits are declared on the fields (constrained types), the
message is derived from them. Units are part of the names (``_SECONDS``, ``_MS``,
``_MINUTES``). ``child_environment`` is the one list of what child processes inherit.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Type, TypeVar, Union

from pydantic import (
    BaseModel,
    BaseSettings,
    Field,
    SecretStr,
    ValidationError,
    confloat,
    conint,
    constr,
    validator,
)
from pydantic.fields import SHAPE_SINGLETON, ModelField

from servicecenter import PROJECT_ROOT

ENV_FILE = str(PROJECT_ROOT / ".env")

# Constrained types shared by the sections.
Port = conint(ge=1, le=65535)
PortOrOff = conint(ge=0, le=65535)
Fraction = confloat(ge=0.0, le=1.0)
PositiveSeconds = confloat(gt=0)

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
SIP_HOST = re.compile(rf"^{_HOST}$")
SIP_URI = re.compile(rf"^sip:(?:[^@\s:;]+@)?(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?(?:;[^\s]*)?$")
SIP_USER = r"^[^\s@:;<>\"]+$"

# Variables that were renamed: setting the old name is an error that names the new one
# (an ignored setting, e.g. a SIP address, would otherwise go unnoticed).
RENAMED: Dict[str, str] = {
    "ASSISTANT_SMTP_TIMEOUT": "ASSISTANT_SMTP_TIMEOUT_SECONDS",
    "ASSISTANT_VOSK_MODEL": "ASSISTANT_VOICE_VOSK_MODEL",
    "ASSISTANT_VOSK_GRAMMAR": "ASSISTANT_VOICE_VOSK_GRAMMAR",
    "ASSISTANT_SIP_HOST": "ASSISTANT_VOICE_SIP_HOST",
    "ASSISTANT_SIP_PORT": "ASSISTANT_VOICE_SIP_PORT",
    "ASSISTANT_SIP_PUBLIC_ADDRESS": "ASSISTANT_VOICE_SIP_PUBLIC_ADDRESS",
    "ASSISTANT_SIP_REGISTRAR": "ASSISTANT_VOICE_SIP_REGISTRAR",
    "ASSISTANT_SIP_USERNAME": "ASSISTANT_VOICE_SIP_USERNAME",
    "ASSISTANT_SIP_PASSWORD": "ASSISTANT_VOICE_SIP_PASSWORD",
    "ASSISTANT_SIP_AUTH_REALM": "ASSISTANT_VOICE_SIP_AUTH_REALM",
    "ASSISTANT_SIP_REGISTER_SECONDS": "ASSISTANT_VOICE_SIP_REGISTER_SECONDS",
    "ASSISTANT_SIP_EXTENSION_DOMAIN": "ASSISTANT_VOICE_SIP_EXTENSION_DOMAIN",
    "ASSISTANT_RTP_PORT": "ASSISTANT_VOICE_RTP_PORT",
    "ASSISTANT_RTP_PORT_RANGE": "ASSISTANT_VOICE_RTP_PORT_RANGE",
    "ASSISTANT_MAX_CALLS": "ASSISTANT_VOICE_MAX_CALLS",
    "ASSISTANT_MAX_CALL_SECONDS": "ASSISTANT_VOICE_MAX_CALL_SECONDS",
    "ASSISTANT_SILENCE_SECONDS": "ASSISTANT_VOICE_SILENCE_SECONDS",
    "ASSISTANT_TURN_TIMEOUT": "ASSISTANT_VOICE_TURN_TIMEOUT_SECONDS",
    "ASSISTANT_TTS_VOICE": "ASSISTANT_VOICE_TTS_VOICE",
    "ASSISTANT_TTS_RATE": "ASSISTANT_VOICE_TTS_WORDS_PER_MINUTE",
    "ASSISTANT_TTS_WORKERS": "ASSISTANT_VOICE_TTS_WORKERS",
    "ASSISTANT_ROUTE_LOOKUP": "ASSISTANT_VOICE_ROUTE_LOOKUP",
}


class SettingsError(RuntimeError):
    """Raised when the configuration is invalid; the message names the variable."""


# --- general ---------------------------------------------------------------------------------
class Settings(BaseSettings):
    database_url: str = Field(
        "", description="SQLAlchemy URL; default: SQLite file var/assistant.db"
    )
    knowledge_dir: Path = PROJECT_ROOT / "knowledge" / "geldern"
    # The service catalogue (intents and service slugs); default: <knowledge_dir>/catalogue.yml.
    catalogue_file: Optional[Path] = None
    models_dir: Path = PROJECT_ROOT / "models"
    var_dir: Path = PROJECT_ROOT / "var"

    rasa_host: str = "127.0.0.1"
    rasa_port: Port = 5005
    rasa_public_url: str = ""
    actions_host: str = "127.0.0.1"
    actions_port: Port = 5055
    console_host: str = "127.0.0.1"
    console_port: Port = 8000
    # Minutes without a request after which a console session ends.
    console_idle_minutes: conint(ge=1) = 30  # type: ignore[valid-type]
    # Where citizens' browsers reach the console (links in chat replies); default: localhost.
    console_public_url: str = ""
    # Signs the callback links; if empty, one is generated once into var/secret.key.
    secret_key: SecretStr = SecretStr("")
    # Token of Rasa's HTTP API (conversation control, model swap); default: derived from
    # the secret key. The API is never started without it.
    rasa_api_token: SecretStr = SecretStr("")

    # Department e-mail (ticket notifications). Empty host: nothing is sent, the console says so.
    smtp_host: str = ""
    smtp_port: Port = 25
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_timeout_seconds: PositiveSeconds = 20.0  # type: ignore[valid-type]
    mail_from: str = "buergerservice@geldern.invalid"
    # The console process sends queued e-mail; off only for processes that must not send.
    outbox_enabled: bool = True
    # Retention: the console purges expired conversations daily at this local time
    # (Europe/Berlin); false leaves it to cron/systemd calling `assistant purge`.
    purge_scheduled: bool = True
    purge_at: str = Field("03:00", hint="a local time HH:MM, e.g. 03:00")
    # Token the voice gateway or PBX sends to GET /api/calls/<id>/route; default: derived.
    telephony_token: SecretStr = SecretStr("")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Confidence below which a service intent is not trusted on its own.
    clarify_margin: confloat(ge=0.0, lt=1.0) = 0.15  # type: ignore[valid-type]

    class Config:
        env_prefix = "ASSISTANT_"
        env_file = ENV_FILE

    @validator("purge_at")
    def _purge_at(cls, value: str) -> str:  # noqa: N805
        try:
            dt.time.fromisoformat(value)
        except ValueError as err:
            raise ValueError("must be a local time HH:MM, e.g. 03:00") from err
        return value

    @validator("log_level", pre=True)
    def _upper(cls, value: object) -> object:  # noqa: N805
        return value.upper() if isinstance(value, str) else value

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'assistant.db'}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def browser_rasa_url(self) -> str:
        """Where the browser's chat widget reaches Rasa's socket.io channel."""
        return self.rasa_public_url or f"http://localhost:{self.rasa_port}"

    @property
    def browser_console_url(self) -> str:
        """The console's public base URL (no trailing slash), used in links sent to citizens."""
        return (self.console_public_url or f"http://localhost:{self.console_port}").rstrip("/")

    @property
    def actions_url(self) -> str:
        return f"http://{self.actions_host}:{self.actions_port}/webhook"

    @property
    def rasa_model_dir(self) -> Path:
        return self.models_dir / "rasa"

    @property
    def spacy_model_dir(self) -> Path:
        return self.models_dir / "spacy" / "de_geldern"

    @property
    def catalogue_path(self) -> Path:
        if self.catalogue_file:
            return self.catalogue_file
        return self.knowledge_dir / "catalogue.yml"


# --- voice -----------------------------------------------------------------------------------
class VoiceSettings(BaseSettings):
    # Folder of a Vosk model; default: the downloaded German model under models/vosk/.
    vosk_model: Optional[Path] = None
    # Restrict recognition to the domain's vocabulary (knowledge base + training data).
    vosk_grammar: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: Port = 5060  # type: ignore[valid-type]
    # Address written into SDP when the gateway sits behind NAT; default: sip_host.
    sip_public_address: str = ""
    # Registration as an extension of a PBX (README "Voice"). Empty registrar: no REGISTER, the
    # PBX routes calls to sip_host:sip_port directly (trunk).
    sip_registrar: str = ""  # SIP URI of the registrar, e.g. sip:pbx.example.org:5060
    sip_username: str = ""  # the extension; also the digest user name
    sip_password: SecretStr = SecretStr("")
    # "*": answer any realm the registrar challenges with.
    sip_auth_realm: constr(strip_whitespace=True, min_length=1, regex=r'^[^"]+$') = Field(  # type: ignore[valid-type]
        "*", hint="the registrar's digest realm, or * for any realm"
    )
    # Expiry asked for; refreshed before it runs out.
    sip_register_seconds: conint(ge=60, le=86400) = Field(  # type: ignore[valid-type]
        300, hint="PBXes commonly accept 60 to 3600"
    )
    # Domain of the extension's address; default: the registrar's host.
    sip_extension_domain: constr(strip_whitespace=True, regex=rf"^(?:{_HOST})?$") = Field(  # type: ignore[valid-type]
        "", hint="a host name or IP address (no 'sip:', no port), e.g. pbx.example.org"
    )
    rtp_port: Port = 40000  # type: ignore[valid-type]
    # RTP ports per worker process (from rtp_port on).
    rtp_port_range: conint(ge=2, le=65535) = 400  # type: ignore[valid-type]
    # More than 4 runs several worker processes (see servicecenter.voice.__main__).
    max_calls: conint(ge=1, le=64) = 8  # type: ignore[valid-type]
    # Ringing before the gateway answers (180 Ringing first): a caller or PBX that gives up in
    # this window CANCELs cleanly (200 for the CANCEL, 487 for the INVITE). 0 answers at once.
    answer_delay_ms: conint(ge=0, le=10000) = 300  # type: ignore[valid-type]
    max_call_seconds: PositiveSeconds = 1800.0  # type: ignore[valid-type]
    silence_seconds: PositiveSeconds = 8.0  # type: ignore[valid-type]
    turn_timeout_seconds: PositiveSeconds = 30.0  # type: ignore[valid-type]
    tts_voice: str = "gmw/de"
    tts_words_per_minute: conint(ge=80, le=450) = 165  # type: ignore[valid-type]
    tts_workers: conint(ge=1, le=16) = 2  # type: ignore[valid-type]
    # WebSocket for the chat page's microphone (0: off) and where browsers reach it.
    ws_port: PortOrOff = Field(5070, hint="0 turns the browser microphone off")  # type: ignore[valid-type]
    public_url: str = ""
    # Where the transfer target of a call comes from: the console's route API, or the
    # database directly (single-machine installs without the console).
    route_lookup: Literal["console", "database"] = "console"
    # Where a call's RTP may come from (comma-separated addresses or CIDR networks); RTP from
    # anywhere else stops the call's audio and ends the call. Empty: the IP address in the
    # caller's SDP and the IP address the call's SIP came from.
    rtp_allowed_sources: str = ""
    # A folder for a JSON-lines pipeline trace per gateway process (benchmarks); empty: off.
    trace_dir: Optional[Path] = None

    class Config:
        env_prefix = "ASSISTANT_VOICE_"
        env_file = ENV_FILE

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
        if value and not re.match(SIP_USER, value):
            raise ValueError("must be the extension's user name without spaces, '@' or ':' (e.g. 4711)")
        if not value and values.get("sip_registrar"):
            raise ValueError("is required when ASSISTANT_VOICE_SIP_REGISTRAR is set: the extension to register as")
        return value

    @validator("rtp_allowed_sources")
    def _rtp_sources(cls, value: str) -> str:  # noqa: N805
        try:
            rtp_source_networks(value)
        except ValueError:
            raise ValueError("must be comma-separated IP addresses or networks, e.g. "
                             "192.0.2.10,198.51.100.0/24 (empty: the caller's own addresses)") from None
        return value.strip()

    @property
    def registrar_host(self) -> str:
        """The registrar's host (no port, no parameters), '' when not registering."""
        match = SIP_URI.match(self.sip_registrar)
        return match.group("host") if match else ""

    @property
    def extension_uri(self) -> str:
        """The address of record the gateway registers (``sip:<extension>@<domain>``)."""
        return f"sip:{self.sip_username}@{self.sip_extension_domain or self.registrar_host}"

    @property
    def browser_voice_url(self) -> str:
        return (self.public_url or f"ws://localhost:{self.ws_port}").rstrip("/") + "/voice"

    @property
    def rtp_allowed_networks(self) -> List[IPNetwork]:
        return rtp_source_networks(self.rtp_allowed_sources)


def rtp_source_networks(value: str) -> List[IPNetwork]:
    """``"192.0.2.10, 198.51.100.0/24"`` -> networks; ValueError for anything else."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]


# --- trainer ---------------------------------------------------------------------------------
class TrainerSettings(BaseSettings):
    # A candidate is not activated when any intent's F1 (or the service accuracy) on the
    # held-out set drops by more than this, unless a supervisor overrides with a reason.
    gate_margin: Fraction = 0.02  # type: ignore[valid-type]
    # Epochs of the DIET classifier for console-started training; empty: as in config.yml.
    epochs: Optional[conint(ge=1, le=1000)] = None  # type: ignore[valid-type]
    # Messages below this confidence count as "unsure" in the inbox filter.
    low_confidence: Fraction = 0.5  # type: ignore[valid-type]
    # A training run that takes longer is stopped.
    train_timeout_minutes: conint(ge=1) = 60  # type: ignore[valid-type]
    # Cross-validation of the candidate's NLU data after the held-out comparison (folds; 0: off).
    # Each fold trains an NLU model: 3 folds add about three training runs to a job.
    cross_validation_folds: int = 3
    # Training data folder (nlu/, rules/ ...); accepted examples go to <data_dir>/nlu/curated.yml.
    # Empty: the project's bot/data.
    data_dir: Optional[Path] = None

    class Config:
        env_prefix = "ASSISTANT_TRAINER_"
        env_file = ENV_FILE

    @validator("cross_validation_folds")
    def _folds(cls, value: int) -> int:  # noqa: N805
        if value != 0 and not 2 <= value <= 10:
            raise ValueError("must be 0 (off) or between 2 and 10")
        return value

    @property
    def training_data_dir(self) -> Path:
        return self.data_dir or PROJECT_ROOT / "bot" / "data"


SECTIONS = (Settings, VoiceSettings, TrainerSettings)
S = TypeVar("S", bound=BaseSettings)


# --- reading and errors ----------------------------------------------------------------------
def env_name(section: Type[BaseSettings], field: str) -> str:
    """The environment variable of ``field`` in ``section`` (e.g. ``ASSISTANT_VOICE_SIP_PORT``)."""
    return f"{section.__config__.env_prefix}{field}".upper()


def env_names(section: Type[BaseSettings]) -> List[str]:
    return [env_name(section, name) for name in section.__fields__]


_UNITS = (("_seconds", "seconds"), ("_ms", "milliseconds"), ("_minutes", "minutes"), ("_hours", "hours"),
          ("_days", "days"))


def _unit(field: ModelField) -> str:
    unit = field.field_info.extra.get("unit")
    if unit is None:
        unit = next((word for suffix, word in _UNITS if field.name.endswith(suffix)), "")
    return f" {unit}" if unit else ""


def _limits(field: ModelField) -> str:
    """What a number field must be, from its declared limits."""
    kind = field.type_
    low, high = getattr(kind, "ge", None), getattr(kind, "le", None)
    above, below = getattr(kind, "gt", None), getattr(kind, "lt", None)
    unit = _unit(field)
    if low is not None and high is not None:
        return f"must be between {low} and {high}{unit}"
    parts = []
    if low is not None:
        parts.append(f"at least {low}")
    if above is not None:
        parts.append(f"more than {above}")
    if high is not None:
        parts.append(f"at most {high}")
    if below is not None:
        parts.append(f"less than {below}")
    if unit and parts == ["at least 1"]:
        unit = unit.rstrip("s")
    return "must be " + " and ".join(parts) + unit if parts else "must be a number"


def _field_at(model: Type[BaseModel], loc: Sequence[Union[int, str]]) -> Optional[ModelField]:
    """The field an error location points to, through nested models, mappings and lists."""
    field: Optional[ModelField] = None
    current: Any = model
    key_follows = False
    for part in loc:
        if key_follows:  # the key or index into a mapping or list field
            key_follows = False
            continue
        fields = getattr(current, "__fields__", None)
        field = fields.get(str(part)) if fields else None
        if field is None:
            return None
        current = field.type_
        key_follows = field.shape != SHAPE_SINGLETON
    return field


def error_message(model: Type[BaseModel], error: Mapping[str, Any]) -> str:
    """The message of one pydantic error: a validator's own text, else what the field's
    declared limits or ``hint`` say it must be, else pydantic's text."""
    message = str(error["msg"])
    field = _field_at(model, error["loc"])
    if field is None or error["type"] == "value_error":  # a validator's message is already specific
        return message
    hint = field.field_info.extra.get("hint")
    if error["type"].startswith("value_error.number"):
        return _limits(field) + (f" ({hint})" if hint else "")
    return f"must be {hint}" if hint else message


def _problem(section: Type[BaseSettings], error: dict) -> str:
    return f"{env_name(section, str(error['loc'][0]))}: {error_message(section, error)}"


def _renamed(section: Type[BaseSettings]) -> List[str]:
    names = set(env_names(section))
    return [f"{old} was renamed: set {new} instead" for old, new in RENAMED.items()
            if new in names and old in os.environ]


def load(section: Type[S], **values: object) -> S:
    """Read and validate one section; any problem becomes a ``SettingsError`` naming the variable."""
    problems = _renamed(section)
    if not problems:
        try:
            return section(**values)
        except ValidationError as err:
            problems = [_problem(section, e) for e in err.errors()]
    raise SettingsError("Invalid configuration: " + "; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read and validate the settings once per process."""
    return load(Settings)


@lru_cache(maxsize=1)
def get_voice_settings() -> VoiceSettings:
    return load(VoiceSettings)


@lru_cache(maxsize=1)
def get_trainer_settings() -> TrainerSettings:
    return load(TrainerSettings)


# --- child processes -------------------------------------------------------------------------
def section_environment(section: BaseSettings) -> Dict[str, Optional[str]]:
    """Every field of ``section`` as its environment variable (None: not set)."""
    result: Dict[str, Optional[str]] = {}
    for name in type(section).__fields__:
        value = getattr(section, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, bool):
            value = "true" if value else "false"
        result[env_name(type(section), name)] = None if value is None else str(value)
    return result


def child_environment(
    settings: Optional[Settings] = None,
    *,
    voice: Optional[VoiceSettings] = None,
    trainer: Optional[TrainerSettings] = None,
    extra: Optional[Mapping[str, str]] = None,
    base: Optional[Mapping[str, str]] = None,
) -> Dict[str, str]:
    """The environment of a child process: ``base`` (default: this process's environment) with
    the given settings sections written out in full, so the child reads exactly the
    configuration the parent holds (ports chosen at run time included); then ``extra``."""
    env = dict(os.environ if base is None else base)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    for section in (settings, voice, trainer):
        if section is None:
            continue
        for key, value in section_environment(section).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
    env.update(extra or {})
    return env
