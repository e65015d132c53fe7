"""The gateway as a registered extension of a PBX: SIPp plays the PBX's registrar (digest
challenge checked with verifyauth, refresh, a call to the registered contact, unregistration)
against the real gateway process; settings validation and the log lines an operator reads."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator

import pytest

from benchmarks.sip_harness import (
    SCENARIOS,
    free_udp_port,
    korean_model_path,
    rtp_sink,
    running_gateway,
    sipp,
)
from servicecenter.settings import SettingsError, VoiceSettings, get_voice_settings
from servicecenter.stack import free_port
from servicecenter.voice.__main__ import worker_env
from servicecenter.voice.registration import Registration

PASSWORD = "Rathaus-7-Geheim"


# --- settings -------------------------------------------------------------------------------
@pytest.fixture
def voice_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            monkeypatch.delenv(key)
    monkeypatch.setattr(VoiceSettings.__config__, "env_file", None)  # a developer's .env stays out
    get_voice_settings.cache_clear()

    def load(**env: str) -> VoiceSettings:
        for key, value in env.items():
            monkeypatch.setenv(f"ASSISTANT_VOICE_{key.upper()}", value)
        get_voice_settings.cache_clear()
        return get_voice_settings()

    yield load
    get_voice_settings.cache_clear()


def test_without_a_registrar_nothing_registers(voice_env):
    voice = voice_env()
    assert voice.sip_registrar == ""
    assert Registration(voice).status.state == "off"


def test_registration_settings_give_the_extension_address(voice_env):
    voice = voice_env(sip_registrar="sip:pbx.geldern.example:5080", sip_username="4711",
                      sip_password=PASSWORD, sip_register_seconds="600")
    assert voice.registrar_host == "pbx.geldern.example"
    assert voice.extension_uri == "sip:4711@pbx.geldern.example"
    assert voice.sip_auth_realm == "*"
    assert PASSWORD not in repr(voice) and PASSWORD not in str(voice)
    domain = voice_env(sip_extension_domain="geldern.example")
    assert domain.extension_uri == "sip:4711@geldern.example"


@pytest.mark.parametrize("env,setting,fix", [
    ({"sip_registrar": "pbx.geldern.example", "sip_username": "4711"}, "ASSISTANT_VOICE_SIP_REGISTRAR", "sip:"),
    ({"sip_registrar": "sip:pbx;transport=tcp", "sip_username": "4711"}, "ASSISTANT_VOICE_SIP_REGISTRAR", "UDP"),
    ({"sip_registrar": "sip:pbx.geldern.example"}, "ASSISTANT_VOICE_SIP_USERNAME", "extension to register as"),
    ({"sip_registrar": "sip:pbx", "sip_username": "47 11"}, "ASSISTANT_VOICE_SIP_USERNAME", "without spaces"),
    ({"sip_register_seconds": "10"}, "ASSISTANT_VOICE_SIP_REGISTER_SECONDS", "between 60 and 86400"),
    ({"sip_extension_domain": "sip:geldern.example"}, "ASSISTANT_VOICE_SIP_EXTENSION_DOMAIN", "no 'sip:'"),
    ({"sip_auth_realm": ""}, "ASSISTANT_VOICE_SIP_AUTH_REALM", "* for any realm"),
])
def test_invalid_registration_settings_name_the_setting_and_the_fix(voice_env, env, setting, fix):
    with pytest.raises(SettingsError) as err:
        voice_env(sip_password=PASSWORD, **env)
    assert setting in str(err.value) and fix in str(err.value)
    assert PASSWORD not in str(err.value)


def test_only_the_first_worker_registers_the_extension(voice_env):
    voice = voice_env(sip_registrar="sip:pbx.geldern.example", sip_username="4711", max_calls="12")
    assert [worker_env(voice, i)["ASSISTANT_VOICE_SIP_REGISTRAR"] for i in range(3)] == ["sip:pbx.geldern.example", "", ""]
    assert [worker_env(voice, i)["ASSISTANT_VOICE_SIP_PORT"] for i in range(3)] == ["5060", "5061", "5062"]


# --- what the operator reads ----------------------------------------------------------------
def test_registration_log_lines_success_once_failures_with_code_and_hint(voice_env, caplog):
    registration = Registration(voice_env(sip_registrar="sip:192.0.2.10", sip_username="4711"))
    caplog.set_level(logging.DEBUG, logger="servicecenter.voice.gateway")

    def lines(level: int) -> list:
        return [r.getMessage() for r in caplog.records if r.levelno == level]

    registration.changed(200, "OK", 300)
    registration.changed(200, "OK", 300)  # a refresh: no second INFO line
    assert lines(logging.INFO) == ["SIP registration active: extension 4711 at 192.0.2.10, expires in 300 s"]
    assert registration.status.state == "registered" and registration.status.ok

    registration.changed(403, "Forbidden", 0)
    registration.changed(403, "Forbidden", 0)  # the same failure again: not repeated at WARNING
    assert lines(logging.WARNING) == [
        "SIP registration at 192.0.2.10 failed: 403 Forbidden; the registrar refused the extension; "
        "check ASSISTANT_VOICE_SIP_USERNAME/ASSISTANT_VOICE_SIP_PASSWORD (not retried: fix the setting and restart the "
        "voice gateway)"]
    assert registration.status.state == "failed" and not registration.status.ok

    registration.changed(408, "Request Timeout", 0)
    assert "408 Request Timeout" in lines(logging.WARNING)[-1]
    assert "check ASSISTANT_VOICE_SIP_REGISTRAR" in lines(logging.WARNING)[-1]

    registration.changed(200, "OK", 300)  # recovered: the success is reported again
    assert len(lines(logging.INFO)) == 2
    registration.stopping()
    registration.changed(200, "OK", 0)
    assert lines(logging.INFO)[-1] == "SIP registration at 192.0.2.10 removed"


# --- against SIPp as the PBX's registrar ------------------------------------------------------
@contextmanager
def sipp_registrar(tmp: Path, user: str, password: str, keys: Dict[str, str],
                   duration_ms: int = 3000) -> Iterator[subprocess.Popen]:
    """SIPp in server mode with registrar.xml; ``proc.port`` is where it listens, ``proc.log`` its log."""
    port = free_udp_port()
    log = tmp / f"registrar-{port}.log"
    cmd = ["sipp", "-sf", str(SCENARIOS / "registrar.xml"), "-i", "127.0.0.1", "-p", str(port),
           "-mp", str(free_port() // 2 * 2), "-m", "1", "-d", str(duration_ms), "-timeout", "180s",
           "-nostdin", "-trace_err", "-error_file", str(tmp / f"registrar-{port}-errors.log"),
           "-trace_logs", "-log_file", str(log), "-trace_msg", "-message_file", str(tmp / f"registrar-{port}-messages.log"), "-key", "user", user, "-key", "password", password]
    for key, value in keys.items():
        cmd += ["-key", key, value]
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc.port = port  # type: ignore[attr-defined]
    proc.log = log  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def wait_for(condition, what: str, seconds: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def registrar_env(port: int, password: str) -> Dict[str, str]:
    return {
        "ASSISTANT_VOICE_SIP_REGISTRAR": f"sip:127.0.0.1:{port}",
        "ASSISTANT_VOICE_SIP_USERNAME": "4711",
        "ASSISTANT_VOICE_SIP_PASSWORD": password,
        "ASSISTANT_VOICE_MAX_CALLS": "4",
        "ASSISTANT_RASA_PORT": str(free_port()),  # no Rasa: the call only hears the greeting
    }


@pytest.mark.integration
@pytest.mark.speech
def test_registers_with_digest_auth_refreshes_answers_the_pbx_call_and_unregisters(tmp_path):
    with rtp_sink() as sink, sipp_registrar(tmp_path, "4711", PASSWORD,
                                            {"rtp_port": str(sink.port), "payload": "8", "codec": "PCMA"}) as pbx:
        with running_gateway(tmp_path, korean_model_path(), **registrar_env(pbx.port, PASSWORD)) as gw:
            wait_for(lambda: "call ended" in read(pbx.log) or pbx.poll() is not None,
                     f"the PBX's call did not end:\n{read(pbx.log)}\n{gw.log()}")
            during = gw.log()
        output = pbx.communicate(timeout=60)[0]
        log = gw.log()
    sipp_log = read(pbx.log)
    assert pbx.returncode == 0, output + sipp_log + read(tmp_path / f"registrar-{pbx.port}-errors.log") + log
    # The registrar's verifyauth accepted the digest answer, twice (first REGISTER and refresh).
    assert "auth accepted, contact sip:4711@127.0.0.1:" in sipp_log and "refresh accepted" in sipp_log
    assert "SIP registration active: extension 4711 at 127.0.0.1, expires in 10 s" in during
    assert during.count("SIP registration active") == 1  # the refresh is not logged again
    assert "call answered" in sipp_log
    assert sink.payload_types() == {8}  # answered in the PBX's codec, PCMA
    assert sink.loudest() > 1000, "the PBX's caller heard only silence: no greeting"
    assert "unregistered" in sipp_log  # REGISTER with expiry 0 when the gateway stopped
    assert "SIP registration at 127.0.0.1 removed" in log
    assert PASSWORD not in log


@pytest.mark.integration
@pytest.mark.speech
def test_wrong_password_is_refused_logged_with_a_hint_and_direct_calls_still_work(tmp_path):
    with sipp_registrar(tmp_path, "4711", PASSWORD, {"rtp_port": "9", "payload": "8", "codec": "PCMA"}) as pbx:
        with running_gateway(tmp_path, korean_model_path(), **registrar_env(pbx.port, "Falsches-Passwort")) as gw:
            wait_for(lambda: "SIP registration at 127.0.0.1 failed" in gw.log(), f"no warning:\n{gw.log()}")
            pbx.communicate(timeout=30)
            with rtp_sink() as sink:
                run = sipp("call_and_hang_up.xml", gw.sip_port, tmp_path, duration_ms=2000,
                           keys={"rtp_port": str(sink.port), "payload": "0", "codec": "PCMU"})
            assert gw.process.poll() is None
            log = gw.log()
    assert "auth rejected" in read(pbx.log)  # verifyauth said no: the registrar answered 403
    assert ("WARNING servicecenter.voice.gateway: SIP registration at 127.0.0.1 failed: 403 Forbidden; "
            "the registrar refused the extension; check ASSISTANT_VOICE_SIP_USERNAME/ASSISTANT_VOICE_SIP_PASSWORD") in log
    assert log.count("SIP registration at 127.0.0.1 failed") == 1  # reported once
    assert "SIP registration active" not in log
    assert "Falsches-Passwort" not in log and PASSWORD not in log
    assert run.ok, run.output + log  # a call routed to the gateway directly is answered as before
    assert sink.payload_types() == {0}
