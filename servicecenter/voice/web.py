"""What the console needs to know about browser voice (no PJSIP or Vosk imported here)."""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlparse

from servicecenter.settings import Settings


def browser_voice_url(settings: Settings) -> Optional[str]:
    """The chat page's voice socket URL, or None when voice is off (no model, no port)."""
    from servicecenter.settings import get_voice_settings
    from speech.models import find_model

    try:
        voice = get_voice_settings()
    except Exception:  # an invalid voice setting must not take the chat page down
        return None
    if not voice.ws_port or find_model(settings.models_dir, voice.vosk_model) is None:
        return None
    return voice.browser_voice_url


def socket_origin(url: Optional[str]) -> str:
    """The CSP source for ``url`` (scheme://host:port), or '' for None."""
    if not url:
        return ""
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"
