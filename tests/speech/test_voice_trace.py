"""The gateway's measurement trace (``ASSISTANT_VOICE_TRACE_DIR``) and the RTP source
allow-list (``ASSISTANT_VOICE_RTP_ALLOWED_SOURCES``): settings and rules, without a call
(the calls themselves are in test_voice_gateway.py)."""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

from servicecenter.settings import SettingsError, get_voice_settings
from speech.events import EventType, PipelineEvent


@pytest.fixture(autouse=True)
def fresh_voice_settings():
    get_voice_settings.cache_clear()
    yield
    get_voice_settings.cache_clear()


def test_the_trace_holds_event_times_and_call_ids_but_nothing_that_was_said(tmp_path):
    from servicecenter.voice.trace import TraceFile

    trace = TraceFile(tmp_path / "trace")
    trace.call_started("c0ffee", "127.0.0.1:40002")
    for event in [
        PipelineEvent(EventType.STT_ENDPOINT, {"reason": "silence"}),
        PipelineEvent(EventType.STT_END, {"text": "Erika Mustermann 02831 4711", "words": 4}),
        PipelineEvent(EventType.DIALOGUE_START, {"text": "Erika Mustermann 02831 4711"}),
        PipelineEvent(EventType.DIALOGUE_END, {"replies": ["Guten Tag, Frau Mustermann."], "count": 1}),
        PipelineEvent(EventType.ERROR, {"code": "tts-failed", "stage": "tts", "message": "Frau Mustermann"}),
    ]:
        trace("c0ffee", event)
    trace.close()
    text = trace.path.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["event"] for r in records] == ["call-start", "stt-vad-end", "stt-end", "dialogue-start",
                                             "dialogue-end", "error"]
    assert {r["call"] for r in records} == {"c0ffee"}
    assert all(abs(r["t"] - time.time()) < 60 for r in records)  # wall-clock seconds
    assert records[1]["reason"] == "silence" and records[2]["words"] == 4 and records[5]["code"] == "tts-failed"
    assert "Mustermann" not in text and "4711" not in text


def test_a_malformed_rtp_allow_list_stops_the_gateway_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("ASSISTANT_VOICE_RTP_ALLOWED_SOURCES", "192.0.2.10, pbx.example.org")
    with pytest.raises(SettingsError, match="ASSISTANT_VOICE_RTP_ALLOWED_SOURCES: must be comma-separated IP"):
        get_voice_settings()


def test_configured_networks_replace_the_callers_own_addresses(monkeypatch):
    from servicecenter.voice.gateway import RtpSources, address_host

    caller = [address_host("192.0.2.10:4000"), address_host("198.51.100.7:5060")]
    default = RtpSources([], caller)
    assert default.allows(address_host("192.0.2.10:4002")) and default.allows(address_host("198.51.100.7:9"))
    assert not default.allows(address_host("203.0.113.5:4000"))
    monkeypatch.setenv("ASSISTANT_VOICE_RTP_ALLOWED_SOURCES", "203.0.113.0/28, 2001:db8::1")
    sbc = RtpSources(get_voice_settings().rtp_allowed_networks, caller)
    assert sbc.allows(address_host("203.0.113.5:4000")) and sbc.allows(address_host("[2001:db8::1]:4000"))
    assert not sbc.allows(address_host("192.0.2.10:4000")) and not sbc.allows(address_host("203.0.113.16:4000"))
    assert address_host("0.0.0.0:0") is None and address_host("") is None  # nothing received yet
    assert address_host("[::1]:4000") == ipaddress.ip_address("::1")
