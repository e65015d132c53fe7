"""Voice in the browser: Debian's Chromium with a fake microphone (a WAV that espeak-ng made,
in Korean because the test model is the Korean one from PyPI) speaks into the chat page;
the audio reaches the real gateway's pipeline and real Rasa, and the page plays the answer."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from benchmarks.sip_harness import korean_model_path, running_gateway, stack_env
from servicecenter.stack import free_port, start_console
from tests.speech.conftest import silence

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.speech,
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


def _wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm)
    return path


@pytest.fixture()
def voice_page(stack, tmp_path, monkeypatch):
    """A console that offers the microphone, and the gateway serving its voice socket."""
    ws_port = free_port()
    monkeypatch.setenv("ASSISTANT_VOICE_VOSK_MODEL", str(korean_model_path()))
    monkeypatch.setenv("ASSISTANT_VOICE_WS_PORT", str(ws_port))
    console_port = free_port()
    console = start_console(stack.settings.copy(update={"console_port": console_port}), console_port,
                            stack.rasa_port, tmp_path)
    env = stack_env(stack, ASSISTANT_CONSOLE_PORT=str(console_port), ASSISTANT_VOICE_WS_PORT=str(ws_port))
    try:
        with running_gateway(tmp_path, korean_model_path(), **env) as gateway:
            yield f"http://localhost:{console_port}/", gateway
    finally:
        console.popen.terminate()
        console.popen.wait(15)


def _browser(playwright, audio: Path, allow: bool = True):
    args = ARGS + ["--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={audio}"]
    if allow:
        args.append("--use-fake-ui-for-media-stream")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)


def test_a_spoken_question_is_transcribed_answered_and_spoken_back(voice_page, espeak, tmp_path):
    url, gateway = voice_page
    audio = _wav(tmp_path / "question.wav", silence(0.5) + espeak("안녕하세요") + silence(3.0))
    with sync_api.sync_playwright() as playwright:
        browser = _browser(playwright, audio)
        context = browser.new_context(locale="de-DE")
        context.grant_permissions(["microphone"])
        page = context.new_page()
        page.goto(url)
        mic = page.locator("#voice-mic")
        mic.wait_for(state="visible")
        mic.click()
        chat = page.locator("#chat[data-voice-done]")  # set when the server ends the turn
        chat.wait_for(state="attached", timeout=90_000)  # audio frames arrive before the end message
        done = chat.get_attribute("data-voice-done")
        audio_bytes = int(chat.get_attribute("data-voice-audio-bytes") or 0)
        user_messages = page.locator(".msg--user").all_inner_texts()
        bot_messages = page.locator(".msg--bot").all_inner_texts()
        browser.close()
    assert done == "ok", gateway.log()[-2000:]
    assert user_messages, "the transcript was not shown in the chat"
    assert len(bot_messages) >= 1
    assert audio_bytes > 16000  # more than half a second of spoken answer reached the page
    assert "browser stt-end" in gateway.log()  # the audio went through speech-to-text


def test_a_denied_microphone_gives_a_clear_message(voice_page, tmp_path):
    url, _ = voice_page
    audio = _wav(tmp_path / "silence.wav", silence(1.0))
    with sync_api.sync_playwright() as playwright:
        browser = _browser(playwright, audio, allow=False)
        context = browser.new_context(locale="de-DE")  # no permission granted: the request is denied
        page = context.new_page()
        page.goto(url)
        page.locator("#voice-mic").click()
        feedback = page.locator("#chat-feedback")
        feedback.filter(has_text="Mikrofon").wait_for(timeout=20_000)
        text = feedback.inner_text()
        browser.close()
    assert "Zugriff auf das Mikrofon wurde nicht erlaubt" in text
