"""The stack starts the voice gateway only when a Vosk model is there."""

from __future__ import annotations

import pytest

from benchmarks.sip_harness import free_udp_port, korean_model_path
from servicecenter.settings import Settings, get_voice_settings
from servicecenter.stack import StackError
from servicecenter.voice.health import sip_options_ok

pytestmark = pytest.mark.speech


@pytest.fixture(autouse=True)
def fresh_voice_settings():
    get_voice_settings.cache_clear()
    yield
    get_voice_settings.cache_clear()


def test_without_a_model_the_stack_runs_without_voice_or_refuses_when_voice_is_required(tmp_path, monkeypatch, caplog):
    from servicecenter.voice.process import start_voice

    monkeypatch.delenv("ASSISTANT_VOICE_VOSK_MODEL", raising=False)
    settings = Settings(models_dir=tmp_path, var_dir=tmp_path)
    assert start_voice(settings, tmp_path) is None
    assert [r.message for r in caplog.records if "Voice disabled" in r.message][0].count("assistant models download") == 1
    with pytest.raises(StackError, match="assistant models download"):
        start_voice(settings, tmp_path, required=True)


def test_with_a_model_the_stack_starts_the_gateway_and_it_answers_sip(tmp_path, monkeypatch):
    from servicecenter.voice.process import start_voice

    port = free_udp_port()
    monkeypatch.setenv("ASSISTANT_VOICE_VOSK_MODEL", str(korean_model_path()))
    monkeypatch.setenv("ASSISTANT_VOICE_SIP_PORT", str(port))
    monkeypatch.setenv("ASSISTANT_VOICE_MAX_CALLS", "4")
    monkeypatch.setenv("ASSISTANT_VOICE_WS_PORT", "0")
    process = start_voice(Settings(var_dir=tmp_path), tmp_path / "log")
    try:
        assert process is not None and process.name == "voice"
        assert sip_options_ok("127.0.0.1", port)
    finally:
        process.popen.terminate()
        process.popen.wait(20)
    assert process.popen.returncode == 0  # clean shutdown on SIGTERM
