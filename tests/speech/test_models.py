"""``assistant models download`` and what happens without a model. alphacephei.com is not
reachable here: a local HTTP server stands in for it, serving a model-shaped zip."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import os
import subprocess
import sys
import threading
import zipfile
from contextlib import contextmanager

import pytest

from servicecenter import PROJECT_ROOT
from speech.models import MODELS, ModelError, download, find_model

NAME = "vosk-model-small-de-0.15"


def model_zip(entries=None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in (entries or {f"{NAME}/am/final.mdl": b"am", f"{NAME}/conf/model.conf": b"--x"}).items():
            zf.writestr(path, data)
    return buf.getvalue()


@contextmanager
def stand_in_for_alphacephei(folder, payload: bytes):
    (folder / f"{NAME}.zip").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{NAME}.zip"
    finally:
        server.shutdown()


def test_the_german_models_have_recorded_checksums_and_other_bytes_are_refused(tmp_path):
    assert all(len(MODELS[name].sha256 or "") == 64 for name in ("vosk-model-small-de-0.15", "vosk-model-de-0.21"))
    payload = model_zip()  # the stand-in's archive is not the published one
    with stand_in_for_alphacephei(tmp_path, payload) as url:
        with pytest.raises(ModelError) as info:
            download(NAME, tmp_path / "models", url=url, progress=lambda *a: None)
    assert "mismatch" in str(info.value) and hashlib.sha256(payload).hexdigest() in str(info.value)
    assert "--sha256" in str(info.value)
    assert find_model(tmp_path / "models") is None


def test_an_archive_without_recorded_checksum_is_not_unpacked_and_its_digest_is_shown(tmp_path, monkeypatch):
    monkeypatch.setitem(MODELS, NAME, dataclasses.replace(MODELS[NAME], sha256=None))
    payload = model_zip()
    with stand_in_for_alphacephei(tmp_path, payload) as url:
        with pytest.raises(ModelError) as info:
            download(NAME, tmp_path / "models", url=url, progress=lambda *a: None)
    assert "no SHA-256 is recorded" in str(info.value)
    assert hashlib.sha256(payload).hexdigest() in str(info.value)
    assert "--sha256" in str(info.value)
    assert find_model(tmp_path / "models") is None


def test_a_verified_archive_is_unpacked_under_models_vosk(tmp_path):
    payload = model_zip()
    with stand_in_for_alphacephei(tmp_path, payload) as url:
        path = download(NAME, tmp_path / "models", sha256=hashlib.sha256(payload).hexdigest(), url=url,
                        progress=lambda *a: None)
    assert path == tmp_path / "models" / "vosk" / NAME
    assert find_model(tmp_path / "models") == path


def test_a_checksum_mismatch_or_an_escaping_archive_unpacks_nothing(tmp_path):
    with stand_in_for_alphacephei(tmp_path, model_zip()) as url:
        with pytest.raises(ModelError, match="mismatch"):
            download(NAME, tmp_path / "models", sha256="0" * 64, url=url, progress=lambda *a: None)
    evil = model_zip({"../../evil.txt": b"x"})
    with stand_in_for_alphacephei(tmp_path, evil) as url:
        with pytest.raises(ModelError, match="outside"):
            download(NAME, tmp_path / "models", sha256=hashlib.sha256(evil).hexdigest(), url=url,
                     progress=lambda *a: None)
    assert not (tmp_path / "evil.txt").exists() and find_model(tmp_path / "models") is None


def test_the_command_line_reports_an_unreachable_address_clearly(tmp_path):
    env = dict(os.environ, ASSISTANT_MODELS_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "servicecenter.cli", "models", "download",
                           "--url", "http://127.0.0.1:9/none.zip"], env=env, capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=60)
    assert proc.returncode == 1
    assert "could not download" in proc.stderr and "Traceback" not in proc.stderr


def test_without_a_model_voice_is_disabled_with_one_line_naming_the_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_VOICE_VOSK_MODEL"}
    env.update(ASSISTANT_MODELS_DIR=str(tmp_path), ASSISTANT_VAR_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "servicecenter.voice"], env=env, capture_output=True,
                          text=True, cwd=PROJECT_ROOT, timeout=60)
    assert proc.returncode == 3
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "assistant models download" in lines[0] and "Voice disabled" in lines[0]


@pytest.mark.speech
def test_if_missing_keeps_a_model_that_is_there_without_downloading(tmp_path):
    from benchmarks.sip_harness import korean_model_path

    env = dict(os.environ, ASSISTANT_MODELS_DIR=str(tmp_path), ASSISTANT_VOICE_VOSK_MODEL=str(korean_model_path()))
    proc = subprocess.run([sys.executable, "-m", "servicecenter.cli", "models", "download", "--if-missing",
                           "--url", "http://127.0.0.1:9/none.zip"], env=env, capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Vosk model ready" in proc.stdout and "Downloading" not in proc.stderr
