"""One place for configuration: environment variables (prefix ``ASSISTANT_``) and ``.env``.

Settings are validated when first read; a wrong value fails fast with a message that
names the variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic import BaseSettings, Field, SecretStr, ValidationError, validator

from servicecenter import PROJECT_ROOT


class SettingsError(RuntimeError):
    """Raised when the configuration is invalid; the message names the variable."""


class Settings(BaseSettings):
    database_url: str = Field(
        "", description="SQLAlchemy URL; default: SQLite file var/assistant.db"
    )
    knowledge_dir: Path = PROJECT_ROOT / "knowledge" / "geldern"
    catalogue_file: Optional[Path] = None
    models_dir: Path = PROJECT_ROOT / "models"
    var_dir: Path = PROJECT_ROOT / "var"

    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    rasa_public_url: str = ""
    actions_host: str = "127.0.0.1"
    actions_port: int = 5055
    console_host: str = "127.0.0.1"
    console_port: int = 8000
    # Minutes without a request after which a console session ends.
    console_idle_minutes: int = 30
    # Where citizens' browsers reach the console (links in chat replies); default: localhost.
    console_public_url: str = ""
    # Signs the callback links; if empty, one is generated once into var/secret.key.
    secret_key: SecretStr = SecretStr("")
    # Token of Rasa's HTTP API (conversation control, model swap); default: derived from
    # the secret key. The API is never started without it.
    rasa_api_token: SecretStr = SecretStr("")

    # Department e-mail (ticket notifications). Empty host: nothing is sent, the console says so.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_timeout: float = 20.0
    mail_from: str = "buergerservice@geldern.invalid"
    # The console process sends queued e-mail; off only for processes that must not send.
    outbox_enabled: bool = True
    # Retention: the console purges expired conversations daily at this local time
    # (Europe/Berlin); false leaves it to cron/systemd calling `assistant purge`.
    purge_scheduled: bool = True
    purge_at: str = "03:00"
    # Token the voice gateway or PBX sends to GET /api/calls/<id>/route; default: derived.
    telephony_token: SecretStr = SecretStr("")

    log_level: str = "INFO"
    # Confidence below which a service intent is not trusted on its own.
    clarify_margin: float = 0.15

    class Config:
        env_prefix = "ASSISTANT_"
        env_file = str(PROJECT_ROOT / ".env")

    @validator("rasa_port", "actions_port", "console_port", "smtp_port")
    def _port_range(cls, value: int) -> int:  # noqa: N805
        if not 1 <= value <= 65535:
            raise ValueError("must be a TCP port between 1 and 65535")
        return value

    @validator("console_idle_minutes")
    def _idle(cls, value: int) -> int:  # noqa: N805
        if value < 1:
            raise ValueError("must be at least 1 minute")
        return value

    @validator("purge_at")
    def _purge_at(cls, value: str) -> str:  # noqa: N805
        import datetime as _dt

        try:
            _dt.time.fromisoformat(value)
        except ValueError as err:
            raise ValueError("must be a local time HH:MM, e.g. 03:00") from err
        return value

    @validator("log_level")
    def _level(cls, value: str) -> str:  # noqa: N805
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value

    @validator("clarify_margin")
    def _margin(cls, value: float) -> float:  # noqa: N805
        if not 0.0 <= value < 1.0:
            raise ValueError("must be between 0 and 1")
        return value

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read and validate the settings once per process."""
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(
            f"ASSISTANT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in err.errors()
        )
        raise SettingsError(f"Invalid configuration: {problems}") from err
