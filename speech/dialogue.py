"""The dialogue stage: the same Rasa assistant as the chat, through its ``voice`` channel.

Rasa's ``voice`` input channel (bot/channels.py) picks the responses' ``channel: voice``
variants and the knowledge answers rendered for speech, so what comes back is ready to speak.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, List, Optional, Protocol

import aiohttp

from speech.error import DialogueError


class Dialogue(Protocol):
    async def respond(self, conversation_id: str, text: str) -> List[str]:
        """The assistant's answers (texts to speak) to ``text`` in ``conversation_id``."""


def texts_of(messages: Any) -> List[str]:
    """Spoken texts from Rasa's REST answer (a JSON list of messages); images/buttons dropped."""
    if not isinstance(messages, list):
        raise DialogueError("dialogue-bad-answer", "Rasa's answer is not a list of messages")
    return [m["text"] for m in messages if isinstance(m, dict) and isinstance(m.get("text"), str) and m["text"]]


class RasaVoiceDialogue:
    """POST {rasa}/webhooks/voice/webhook; one HTTP session per process."""

    def __init__(self, rasa_url: str, timeout: float = 15.0) -> None:
        self.url = rasa_url.rstrip("/") + "/webhooks/voice/webhook"
        self.timeout = timeout
        self._session: Optional[aiohttp.ClientSession] = None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def respond(self, conversation_id: str, text: str) -> List[str]:
        session = await self._client()
        try:
            async with session.post(self.url, json={"sender": conversation_id, "message": text}) as resp:
                body = await resp.text()
                if resp.status != 200:
                    raise DialogueError(f"dialogue-http-{resp.status}", f"Rasa answered HTTP {resp.status}")
        except asyncio.TimeoutError as err:
            raise DialogueError("dialogue-timeout", f"Rasa did not answer within {self.timeout:g} s") from err
        except aiohttp.ClientError as err:
            raise DialogueError("dialogue-unavailable", f"Rasa is not reachable at {self.url}") from err
        try:
            return texts_of(json.loads(body))
        except ValueError as err:
            raise DialogueError("dialogue-bad-answer", "Rasa's answer is not JSON") from err

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
