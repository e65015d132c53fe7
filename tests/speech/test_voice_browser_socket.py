"""Bad input on the browser voice socket is refused cleanly (the real server, in process)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from benchmarks.sip_harness import free_udp_port as free_port
from servicecenter.voice.browser import BrowserVoice
from servicecenter.voice.call import VoiceServices

pytestmark = pytest.mark.speech

ORIGIN = "http://localhost:8000"


async def _exchange(korean_engine, path: str, first=None, origin: str = ORIGIN):
    services = VoiceServices(stt=korean_engine, tts=None, dialogue=None, routes=None)  # type: ignore[arg-type]
    port = free_port()
    server = await BrowserVoice(services, [ORIGIN]).serve("127.0.0.1", port)
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}{path}", origin=origin) as ws:
            if first is not None:
                await ws.send(first)
            try:
                return json.loads(await asyncio.wait_for(ws.recv(), 10))
            except websockets.ConnectionClosed as closed:
                return {"closed": closed.code}
    finally:
        server.close()
        await server.wait_closed()


SESSION = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("first", [
    json.dumps({"type": "start", "rate": 5}),
    json.dumps({"type": "start"}),
    "not json",
    b"\x00\x01 audio before the start message",
])
def test_a_wrong_sample_rate_or_format_ends_the_turn_with_bad_format(korean_engine, first):
    answer = asyncio.run(_exchange(korean_engine, f"/voice?session={SESSION}", first))
    assert answer == {"type": "done", "error": "bad-format"}


@pytest.mark.parametrize("path", ["/voice?session=short", "/voice", f"/other?session={SESSION}"])
def test_a_missing_or_invalid_session_is_refused(korean_engine, path):
    assert asyncio.run(_exchange(korean_engine, path)) == {"closed": 4400}


def test_a_page_from_another_origin_is_refused(korean_engine):
    with pytest.raises(websockets.InvalidStatusCode) as info:
        asyncio.run(_exchange(korean_engine, f"/voice?session={SESSION}", origin="http://evil.example"))
    assert info.value.status_code == 403
