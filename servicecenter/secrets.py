"""The project's secret key and the tokens derived from it, one per purpose.

The key is ``ASSISTANT_SECRET_KEY`` or, if that is unset, a key generated once into
``var/secret.key`` (mode 0600); it is never logged. Each process derives the same token from
the same key, so nothing but the key has to be distributed; a token for one purpose never
works for another.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Dict, Optional

from servicecenter.settings import Settings, get_settings

log = logging.getLogger(__name__)

SECRET_FILE = "secret.key"

_secret_cache: Dict[str, bytes] = {}


def _secret_from_file(path: Path) -> bytes:
    key = str(path)
    if key in _secret_cache:
        return _secret_cache[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="utf-8").strip()
        if not value:
            raise RuntimeError(f"the secret key file {path} is empty; delete it to generate a new one") from None
    else:
        value = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        log.info("generated a new secret key in %s", path)
    _secret_cache[key] = value.encode("utf-8")
    return _secret_cache[key]


def secret_key(settings: Optional[Settings] = None) -> bytes:
    """The HMAC key: ASSISTANT_SECRET_KEY, else the generated key in var/secret.key."""
    settings = settings or get_settings()
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured.encode("utf-8")
    return _secret_from_file(Path(settings.var_dir) / SECRET_FILE)


def derived_token(purpose: str, settings: Optional[Settings] = None) -> str:
    """A stable hex token for ``purpose`` from the secret key."""
    settings = settings or get_settings()
    return hmac.new(secret_key(settings), b"token|" + purpose.encode("utf-8"), hashlib.sha256).hexdigest()


def rasa_api_token(settings: Optional[Settings] = None) -> str:
    """The token of Rasa's HTTP API: ASSISTANT_RASA_API_TOKEN, else derived from the secret key."""
    settings = settings or get_settings()
    configured = settings.rasa_api_token.get_secret_value()
    return configured or derived_token("rasa-api", settings)
