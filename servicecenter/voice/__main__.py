"""``python -m servicecenter.voice``: run the voice gateway until SIGTERM/SIGINT.

Without a Vosk model the gateway logs one line that names the command to fetch one and
exits with code 3; the stack then runs without voice and text chat is unaffected.

The PJSIP build on PyPI allows 4 calls per process (its compile-time PJSUA_MAX_CALLS), so
for more calls the gateway runs several worker processes on consecutive SIP ports
(``ASSISTANT_VOICE_SIP_PORT``, +1, ...); the PBX spreads calls over them (trunk group or
failover on 486), each worker loads the model once and serves up to 4 calls.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import subprocess
import sys
import time
from typing import List, Optional

from servicecenter.settings import (
    Settings,
    SettingsError,
    VoiceSettings,
    child_environment,
    get_settings,
    get_voice_settings,
)

log = logging.getLogger("servicecenter.voice")
NO_MODEL = 3
CALLS_PER_PROCESS = 4  # PJSUA_MAX_CALLS of the pjsua2-python wheel
DISABLED_MESSAGE = (
    "Voice disabled: no Vosk model found in {where}; run 'assistant models download' "
    "(or set ASSISTANT_VOICE_VOSK_MODEL to a model folder). Text chat is not affected."
)


def model_path(settings: Settings, voice: VoiceSettings):  # type: ignore[no-untyped-def]
    from speech.models import find_model

    return find_model(settings.models_dir, voice.vosk_model)


def build_services(settings: Settings, voice: VoiceSettings, model):  # type: ignore[no-untyped-def]
    from servicecenter.secrets import derived_token
    from servicecenter.voice.call import VoiceServices
    from servicecenter.voice.routes import ConsoleRoutes, DatabaseRoutes, Knowledge
    from speech.dialogue import RasaVoiceDialogue
    from speech.stt import SttSettings, VoskEngine
    from speech.tts import Synthesizer, TtsSettings

    grammar = None
    if voice.vosk_grammar:
        from servicecenter import PROJECT_ROOT
        from speech.vocabulary import domain_vocabulary

        grammar = domain_vocabulary(settings.knowledge_dir, PROJECT_ROOT / "bot" / "data" / "nlu")
    engine = VoskEngine(model, grammar, SttSettings(no_speech_timeout=voice.silence_seconds))
    engine.prepare()
    tts = Synthesizer(TtsSettings(voice=voice.tts_voice, rate=voice.tts_words_per_minute, workers=voice.tts_workers))
    knowledge = Knowledge(settings.knowledge_dir)  # one copy for routes, fallback and callback mail
    if voice.route_lookup == "database":
        routes = DatabaseRoutes(settings.db_url, knowledge)
    else:
        token = settings.telephony_token.get_secret_value() or derived_token("telephony", settings)
        routes = ConsoleRoutes(f"http://127.0.0.1:{settings.console_port}", token)  # type: ignore[assignment]
    return VoiceServices(
        stt=engine, tts=tts, dialogue=RasaVoiceDialogue(settings.rasa_url), routes=routes,
        fallback=fallback_target(knowledge), callback_email=callback_email(knowledge),
        silence_seconds=voice.silence_seconds, turn_timeout=voice.turn_timeout_seconds,
        max_call_seconds=voice.max_call_seconds, db_url=settings.db_url,
    )


FALLBACK_DEPARTMENT = "zentrale"  # the ServiceCenter's own agent queue (routing.yml)


def fallback_target(knowledge):  # type: ignore[no-untyped-def]
    """A function giving the ServiceCenter queue's SIP URI while it is staffed, else None."""

    def target() -> Optional[str]:
        _, routing = knowledge.current()
        return routing.transfer_uri(FALLBACK_DEPARTMENT) if routing.is_open() else None

    return target


def callback_email(knowledge):  # type: ignore[no-untyped-def]
    """A function giving the department's address for a callback notice (see routing.yml)."""

    def address(department: str) -> Optional[str]:
        kb, routing = knowledge.current()
        return routing.callback_email(department, kb)

    return address


async def serve(settings: Settings, voice: VoiceSettings, model) -> None:  # type: ignore[no-untyped-def]
    from servicecenter.voice import prompts
    from servicecenter.voice.gateway import Gateway
    from speech.const import TELEPHONE_SAMPLE_RATE

    services = build_services(settings, voice, model)
    await services.tts.prepare()
    for text in prompts.CACHED:  # fixed prompts are ready before the first call
        await services.tts.synthesize(text, TELEPHONE_SAMPLE_RATE, cache=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(voice, services)
    gateway.start(loop)
    browser_server = None
    if voice.ws_port:
        from servicecenter.voice.browser import BrowserVoice, allowed_origins

        origins = allowed_origins(settings.browser_console_url, settings.console_port)
        try:
            browser_server = await BrowserVoice(services, origins, voice.max_calls).serve(
                voice.sip_host, voice.ws_port)
            log.info("browser voice on ws://%s:%d/voice", voice.sip_host, voice.ws_port)
        except OSError as err:  # the phone keeps working without the browser socket
            log.error("browser voice disabled: cannot listen on port %d (%s); set ASSISTANT_VOICE_WS_PORT",
                      voice.ws_port, err.strerror)
    log.info("voice gateway ready (model %s)", model.name)
    try:
        await stop.wait()
    finally:
        if browser_server is not None:
            browser_server.close()
        for session in list(gateway.sessions.values()):
            session.stop()
        await loop.run_in_executor(None, gateway.stop)
        services.tts.close()
        services.stt.close()
        close = getattr(services.dialogue, "close", None)
        if close is not None:
            await close()


def workers_needed(voice: VoiceSettings) -> int:
    return max(1, math.ceil(voice.max_calls / CALLS_PER_PROCESS))


def worker_settings(voice: VoiceSettings, index: int) -> VoiceSettings:
    """The voice settings worker ``index`` runs with."""
    return voice.copy(update={
        "sip_port": voice.sip_port + index,
        "rtp_port": voice.rtp_port + index * voice.rtp_port_range,
        "max_calls": min(CALLS_PER_PROCESS, voice.max_calls - index * CALLS_PER_PROCESS),
        # The browser voice socket runs in the first worker only.
        "ws_port": voice.ws_port if index == 0 else 0,
        # So does the registration as an extension (README "Voice": PBXes ring every contact
        # of an extension at once, so several registered workers would all answer each call).
        "sip_registrar": voice.sip_registrar if index == 0 else "",
    })


def worker_env(voice: VoiceSettings, index: int) -> dict:
    """The environment of worker ``index``: the supervisor's, with the worker's voice settings."""
    return child_environment(voice=worker_settings(voice, index))


def supervise(voice: VoiceSettings, count: int, module: str = "servicecenter.voice") -> int:
    """Run ``count`` worker processes (``python -m module --worker``) on consecutive ports;
    restart one that dies."""
    stopping = False

    def spawn(index: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", module, "--worker"], env=worker_env(voice, index))

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers: List[subprocess.Popen] = [spawn(i) for i in range(count)]
    log.info("voice gateway: %d worker processes on SIP ports %d-%d", count, voice.sip_port,
             voice.sip_port + count - 1)
    if voice.sip_registrar:
        log.info("SIP registration: the worker on port %d registers the extension (up to %d calls through "
                 "it); ports %d-%d take calls the PBX routes to them directly", voice.sip_port,
                 CALLS_PER_PROCESS, voice.sip_port + 1, voice.sip_port + count - 1)
    while not stopping:
        time.sleep(0.5)
        for index, proc in enumerate(workers):
            code = proc.poll()
            if code is not None and not stopping:
                if code == NO_MODEL:
                    stopping = True
                    break
                log.error("voice worker %d exited with code %s; restarting it", index, code)
                workers[index] = spawn(index)
    for proc in workers:
        if proc.poll() is None:
            proc.terminate()
    for proc in workers:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


def main(argv: Optional[list] = None, worker_module: str = "servicecenter.voice") -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
        voice = get_voice_settings()
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(settings.log_level)
    model = model_path(settings, voice)
    if model is None:
        log.warning(DISABLED_MESSAGE.format(where=voice.vosk_model or settings.models_dir / "vosk"))
        return NO_MODEL
    count = workers_needed(voice)
    if count > 1 and "--worker" not in argv:
        return supervise(voice, count, worker_module)
    asyncio.run(serve(settings, voice, model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
