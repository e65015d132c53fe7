"""Derived secrets: one configured (or generated) secret key, one token per purpose.

Each process derives the same token from the same key, so nothing but the key has to be
distributed; a token for one purpose never works for another.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional

from servicecenter.settings import Settings, get_settings


def derived_token(purpose: str, settings: Optional[Settings] = None) -> str:
    """A stable hex token for ``purpose`` from the secret key (see handoff.callback.secret_key)."""
    from servicecenter.handoff.callback import secret_key

    settings = settings or get_settings()
    return hmac.new(secret_key(settings), b"token|" + purpose.encode("utf-8"), hashlib.sha256).hexdigest()


def rasa_api_token(settings: Optional[Settings] = None) -> str:
    """The token of Rasa's HTTP API: ASSISTANT_RASA_API_TOKEN, else derived from the secret key."""
    settings = settings or get_settings()
    configured = settings.rasa_api_token.get_secret_value()
    return configured or derived_token("rasa-api", settings)
