"""Input channels that check every message before Rasa sees it (servicecenter.input_guard)."""

from __future__ import annotations

import json
import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from servicecenter.input_guard import check_message, valid_session_id

log = logging.getLogger(__name__)

SESSION_ID_HINT = "sender must be a random id of 16-128 characters [A-Za-z0-9_-]"


def _error(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status)


class GuardedRestInput(RestInput):
    """REST channel (`/webhooks/rest/webhook`) with input checks and clear 4xx errors."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        hook = Blueprint(f"guarded_webhook_{type(self).__name__}", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = json.loads(request.body.decode("utf-8"))
            except UnicodeDecodeError:
                return _error(400, "invalid_encoding", "request body must be UTF-8 encoded JSON")
            except ValueError:
                return _error(400, "invalid_json", "request body must be a JSON object")
            if not isinstance(body, dict):
                return _error(400, "invalid_json", "request body must be a JSON object")
            sender = body.get("sender")
            if not valid_session_id(sender):
                return _error(400, "invalid_sender", SESSION_ID_HINT)
            metadata = body.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                return _error(400, "invalid_metadata", "metadata must be a JSON object")
            checked = check_message(body.get("message"))
            if checked.problem == "not_text":
                return _error(400, "invalid_message", "message must be a string")
            if not checked.ok:
                return response.json([{"recipient_id": sender, "text": checked.reply}])
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(checked.text, collector, sender, input_channel=self.name(), metadata=metadata)
                )
            except CancelledError:
                log.error("message handling timed out (channel=%s)", self.name())
                return _error(503, "timeout", "the assistant did not answer in time; please retry")
            return response.json(collector.messages)

        return hook


class VoiceInput(GuardedRestInput):
    """The voice gateway's channel: same checks; answers are rendered for speech."""

    @classmethod
    def name(cls) -> Text:
        return "voice"


class GuardedSocketIOInput(SocketIOInput):
    """socket.io channel for the web chat, with the same checks as REST."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not valid_session_id(session_id):
                await sio.emit("session_error", {"error": "invalid_session", "message": SESSION_ID_HINT}, room=sid)
                return
            if self.session_persistence:
                await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            output = SocketIOOutput(sio, self.bot_message_evt)
            if not isinstance(data, dict):
                await output.send_text_message(sid, "Ich kann nur Textnachrichten verarbeiten.")
                return
            sender = data.get("session_id") if self.session_persistence else sid
            if self.session_persistence and not valid_session_id(sender):
                await sio.emit("session_error", {"error": "invalid_session", "message": SESSION_ID_HINT}, room=sid)
                return
            checked = check_message(data.get("message"))
            if not checked.ok:
                await output.send_text_message(sender, checked.reply or "")
                return
            metadata = data.get(self.metadata_key)
            await on_new_message(
                UserMessage(
                    checked.text, output, sender, input_channel=self.name(),
                    metadata=metadata if isinstance(metadata, dict) else None,
                )
            )

        return hook
