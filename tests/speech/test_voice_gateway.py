"""The telephone gateway as a caller meets it: SIPp (a real SIP peer) calls the real gateway
process (PJSIP, Vosk with the Korean model from PyPI, pyttsx3/espeak-ng)."""

from __future__ import annotations

import shutil
import socket
import struct
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from benchmarks.sip_harness import korean_model_path, rtp_sink, running_gateway, sipp
from servicecenter import PROJECT_ROOT
from servicecenter.stack import free_port
from servicecenter.voice.health import sip_options_ok
from speech.audio import ulaw_encode
from tests.conftest import core_hours

pytestmark = [pytest.mark.integration, pytest.mark.speech]


def knowledge_copy(folder: Path, staffed: bool):
    """A copy of the knowledge folder whose ServiceCenter is always (or never) staffed."""
    target = folder / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge" / "geldern", target)
    return target, core_hours(target, staffed=staffed)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway")
    # No Rasa here (see test_voice_handoff.py for that), and an unstaffed ServiceCenter, so a
    # question ends with the apology instead of a transfer whatever the time of day.
    knowledge, unstaffed = knowledge_copy(tmp, staffed=False)
    with unstaffed, running_gateway(tmp, korean_model_path(), ASSISTANT_VOICE_MAX_CALLS="4",
                                    ASSISTANT_KNOWLEDGE_DIR=str(knowledge),
                                    ASSISTANT_RASA_PORT=str(free_port())) as running:
        running.tmp = tmp
        yield running


@pytest.mark.parametrize("payload,codec", [("0", "PCMU"), ("8", "PCMA")])
def test_answered_call_hears_the_spoken_greeting_and_ends_with_bye(gateway, payload, codec):
    with rtp_sink() as sink:
        run = sipp("call_and_hang_up.xml", gateway.sip_port, gateway.tmp, duration_ms=4000,
                   keys={"rtp_port": str(sink.port), "payload": payload, "codec": codec})
        time.sleep(0.3)
    assert run.ok, run.output
    assert sink.payload_types() == {int(payload)}  # G.711 in the codec the caller offered
    assert len(sink.packets) > 100  # 20 ms packets for the seconds the call lasted
    assert sink.loudest() > 1000, "only silence arrived: the greeting was not spoken"


def test_a_codec_other_than_g711_is_refused_with_488(gateway):
    run = sipp("unsupported_codec.xml", gateway.sip_port, gateway.tmp, timeout_s=15)
    assert run.ok, run.output


def test_ten_simultaneous_calls_each_hear_the_greeting(tmp_path):
    # PyPI's PJSIP build takes 4 calls per process: 12 configured calls run 3 worker
    # processes on consecutive SIP ports, and the callers (like a PBX trunk group) use all three.
    from concurrent.futures import ThreadPoolExecutor

    with running_gateway(tmp_path, korean_model_path(), ASSISTANT_VOICE_MAX_CALLS="12") as gw, rtp_sink() as sink:
        for port in (gw.sip_port + 1, gw.sip_port + 2):
            deadline = time.monotonic() + 90
            while not sip_options_ok("127.0.0.1", port, timeout=0.5):
                assert time.monotonic() < deadline, gw.log()
        keys = {"rtp_port": str(sink.port), "payload": "0", "codec": "PCMU"}
        with ThreadPoolExecutor(3) as pool:
            runs = list(pool.map(
                lambda job: sipp("call_and_hang_up.xml", job[0], tmp_path, calls=job[1], rate=10,
                                 duration_ms=6000, timeout_s=60, keys=keys),
                [(gw.sip_port, 4), (gw.sip_port + 1, 4), (gw.sip_port + 2, 2)],
            ))
        time.sleep(0.3)
    assert all(run.ok for run in runs), [run.output for run in runs if not run.ok]
    assert len(sink.sources) == 10  # one RTP stream per call, all at the same time
    assert min(sink.sources.values()) > 150
    assert sink.loudest() > 1000


@pytest.mark.parametrize("message", [
    b"\x00\xffnot sip at all\r\n\r\n",
    b"INVITE sip:assistant@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n"
    b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",  # no From, To or Call-ID
    b"OPTIONS sip:assistant@127.0.0.1 SIP/2.0\r\nContent-Length: 40000\r\n\r\n" + b"x" * 40000,  # huge body
])
def test_malformed_sip_is_dropped_and_calls_still_work(gateway, message):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(message, ("127.0.0.1", gateway.sip_port))
    assert gateway.process.poll() is None
    assert sip_options_ok("127.0.0.1", gateway.sip_port, timeout=2)
    with rtp_sink() as sink:
        run = sipp("call_and_hang_up.xml", gateway.sip_port, gateway.tmp, duration_ms=1500,
                   keys={"rtp_port": str(sink.port), "payload": "0", "codec": "PCMU"})
    assert run.ok, run.output


def test_a_silent_caller_is_asked_whether_they_are_still_there_then_the_assistant_hangs_up(tmp_path):
    with running_gateway(tmp_path, korean_model_path(), ASSISTANT_VOICE_SILENCE_SECONDS="2", ASSISTANT_VOICE_MAX_CALLS="4") as gw, rtp_sink() as sink:
        run = sipp("wait_for_bye.xml", gw.sip_port, tmp_path, timeout_s=60,
                   keys={"rtp_port": str(sink.port), "payload": "0", "codec": "PCMU"})
        log = gw.log()
    assert run.ok, run.output  # the assistant sent BYE
    prompts = [line.split("prompt=")[1] for line in log.splitlines() if "prompt=" in line]
    assert prompts == ["greeting", "still-there", "goodbye-silent"]


def test_a_call_longer_than_the_maximum_duration_is_ended_by_the_assistant(tmp_path):
    with running_gateway(tmp_path, korean_model_path(), ASSISTANT_VOICE_MAX_CALL_SECONDS="3",
                         ASSISTANT_VOICE_SILENCE_SECONDS="60", ASSISTANT_VOICE_MAX_CALLS="4") as gw, rtp_sink() as sink:
        run = sipp("wait_for_bye.xml", gw.sip_port, tmp_path, timeout_s=40,
                   keys={"rtp_port": str(sink.port), "payload": "0", "codec": "PCMU"})
        log = gw.log()
    assert run.ok, run.output
    assert "reached the maximum duration" in log
    assert "prompt=max-duration" in log


def test_the_caller_speaking_during_the_greeting_stops_playback(gateway, espeak):
    from benchmarks.sip_harness import write_rtp_pcap
    from speech.audio import resample
    from tests.speech.conftest import silence

    speech = resample(espeak("안녕하세요") + silence(1.0), 16000, 8000)
    write_rtp_pcap(gateway.tmp / "speech.pcap", speech)
    run = sipp("speak_during_greeting.xml", gateway.sip_port, gateway.tmp, duration_ms=4000,
               keys={"payload": "0", "codec": "PCMU"})
    assert run.ok, run.output
    barge = [line for line in gateway.log().splitlines() if "barge-in" in line]
    assert barge, gateway.log()[-2000:]
    dropped_ms = int(barge[-1].split("barge-in: caller spoke, ")[1].split(" ms")[0])
    assert dropped_ms > 3000  # most of the greeting was still to come


def test_hold_and_resume_by_re_invite_keep_the_call_going(gateway):
    with rtp_sink() as sink:
        run = sipp("hold_and_resume.xml", gateway.sip_port, gateway.tmp, timeout_s=30,
                   keys={"rtp_port": str(sink.port), "payload": "8", "codec": "PCMA"})
        time.sleep(0.3)
    assert run.ok, run.output  # 200 OK to both re-INVITEs, then BYE answered
    assert sink.loudest() > 1000


def test_when_the_assistant_cannot_answer_a_staffed_servicecenter_takes_the_call(tmp_path, espeak):
    from benchmarks.sip_harness import write_rtp_pcap
    from speech.audio import resample
    from tests.speech.conftest import silence

    knowledge, staffed = knowledge_copy(tmp_path, staffed=True)
    write_rtp_pcap(tmp_path / "speech.pcap", resample(espeak("안녕하세요") + silence(1.0), 16000, 8000))
    with staffed, running_gateway(tmp_path, korean_model_path(), ASSISTANT_VOICE_MAX_CALLS="4",
                                  ASSISTANT_KNOWLEDGE_DIR=str(knowledge),
                                  ASSISTANT_RASA_PORT=str(free_port())) as gw:  # nothing listens there
        run = sipp("speak_then_transfer.xml", gw.sip_port, tmp_path, timeout_s=60,
                   keys={"payload": "0", "codec": "PCMU", "refer_to": "sip:servicecenter@localhost"})
        log = gw.log()
    assert run.ok, run.output + log[-2000:]
    assert "error code=dialogue-unavailable" in log
    assert "prompt=technical-transfer" in log and "transfer accepted" in log


def test_a_caller_who_hangs_up_while_it_rings_gets_487_and_the_next_call_is_answered(gateway):
    # The gateway rings (180) for ASSISTANT_VOICE_ANSWER_DELAY_MS (default 300 ms) before it
    # answers; SIPp CANCELs right after the 180.
    run = sipp("cancel_while_ringing.xml", gateway.sip_port, gateway.tmp, timeout_s=15)
    assert run.ok, run.output + gateway.log()[-2000:]  # 200 for the CANCEL, 487 for the INVITE
    assert "cancelled by the caller before it was answered" in gateway.log()
    with rtp_sink() as sink:
        run = sipp("call_and_hang_up.xml", gateway.sip_port, gateway.tmp, duration_ms=2500,
                   keys={"rtp_port": str(sink.port), "payload": "0", "codec": "PCMU"})
        time.sleep(0.3)
    assert run.ok, run.output
    assert sink.loudest() > 1000  # the next caller hears the greeting


def _rtp(seq: int, ssrc: int, payload: bytes) -> bytes:
    """One RTP packet (version 2, payload type 0 PCMU, 20 ms of 8 kHz per sequence number)."""
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, ssrc) + payload


LOUD_PCMU = ulaw_encode(struct.pack("<160h", *([12000, -12000] * 80)))


def _spray(source: socket.socket, target, packets: int = 100) -> list:  # type: ignore[no-untyped-def]
    """Send loud RTP from ``source`` to ``target`` every 20 ms; what ``source`` received meanwhile."""
    received = []
    for seq in range(packets):
        source.sendto(_rtp(seq, 0x0BADCAFE, LOUD_PCMU), target)
        time.sleep(0.02)
        try:
            while True:
                received.append(source.recv(2048))
        except BlockingIOError:
            pass
    return received


@contextmanager
def _caller_and_stranger(stranger_host: str):  # type: ignore[no-untyped-def]
    """UDP sockets for the caller's media (20 ms receive timeout) and a stranger (non-blocking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller_media, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        caller_media.bind(("127.0.0.1", 0))
        caller_media.settimeout(0.02)
        stranger.bind((stranger_host, 0))
        stranger.setblocking(False)
        yield caller_media, stranger


def test_rtp_from_an_unexpected_source_does_not_take_over_the_call(gateway):
    """During an answered call in which the caller sends its RTP (20 ms packets, as phones and
    PBXes do), a third party (a plain UDP socket, not the caller) sends loud RTP to the call's
    media port. The assistant's audio keeps going to the address in the caller's SDP, never to
    the intruder; the call ends normally and the next call is served. (PJSIP latches onto a new
    source only after 10 consecutive packets from it with none from the caller in between.)"""
    import threading

    quiet = ulaw_encode(bytes(320))
    with _caller_and_stranger("127.0.0.1") as (caller_media, unexpected_source):
        gateway_media = []
        to_caller = [0]
        done = threading.Event()
        result = {}

        def caller_rtp() -> None:  # receive the assistant's audio; once it flows, send ours
            seq = 0
            while not done.is_set():
                try:
                    _, addr = caller_media.recvfrom(2048)
                    to_caller[0] += 1
                    if not gateway_media:
                        gateway_media.append(addr)
                except socket.timeout:
                    pass
                if gateway_media:
                    caller_media.sendto(_rtp(seq, 0x1234ABCD, quiet), gateway_media[0])
                    seq += 1

        media = threading.Thread(target=caller_rtp, daemon=True)
        media.start()
        caller = threading.Thread(target=lambda: result.update(run=sipp(
            "call_and_hang_up.xml", gateway.sip_port, gateway.tmp, duration_ms=5000,
            keys={"rtp_port": str(caller_media.getsockname()[1]), "payload": "0", "codec": "PCMU"})))
        caller.start()
        deadline = time.monotonic() + 20
        while not gateway_media and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gateway_media, "the call was not answered"
        time.sleep(0.3)  # the caller's RTP is flowing
        received_by_intruder = len(_spray(unexpected_source, gateway_media[0]))  # 2 s of 20 ms packets
        before = to_caller[0]
        time.sleep(1.0)
        still_to_caller = to_caller[0] - before
        caller.join(40)
        done.set()
        media.join(2)
    assert result["run"].ok, result["run"].output  # the caller's BYE was answered with 200
    assert received_by_intruder == 0, "the assistant's audio went to the unexpected source"
    assert still_to_caller > 30  # about 50 packets a second still reach the caller
    assert gateway.process.poll() is None
    with rtp_sink() as sink:
        run = sipp("call_and_hang_up.xml", gateway.sip_port, gateway.tmp, duration_ms=2000,
                   keys={"rtp_port": str(sink.port), "payload": "8", "codec": "PCMA"})
    assert run.ok, run.output


def test_rtp_sprayed_at_a_silent_callers_call_gets_no_assistant_audio_and_ends_the_call(gateway):
    """The caller sends no RTP at all (muted phone, one-way NAT), so PJSIP has no caller address
    to hold on to and would follow the first packet from anywhere. A stranger on another address
    (127.0.0.2, outside the default allowed sources: the caller's SDP and SIP address) sprays loud
    RTP at the call's media port while the greeting plays. The gateway stops the call's audio and
    ends the call with BYE; the stranger gets at most 2 audible packets (40 ms: the frames already
    on their way when its first packet arrived), the log names the call and the stranger's
    address but not the caller's number, and the next call is answered normally."""
    import threading

    from speech.audio import level, ulaw_decode

    warnings_before = gateway.log().count("RTP from an unexpected address")
    with _caller_and_stranger("127.0.0.2") as (caller_media, stranger):
        gateway_media = []
        greeting_heard = threading.Event()
        done = threading.Event()
        result = {}

        def listen() -> None:  # the caller's phone: receives, never sends
            while not done.is_set():
                try:
                    packet, addr = caller_media.recvfrom(2048)
                except socket.timeout:
                    continue
                gateway_media.append(addr)
                if level(ulaw_decode(packet[12:])) > 1000:
                    greeting_heard.set()

        media = threading.Thread(target=listen, daemon=True)
        media.start()
        caller = threading.Thread(target=lambda: result.update(run=sipp(
            "wait_for_bye.xml", gateway.sip_port, gateway.tmp, timeout_s=60,
            keys={"rtp_port": str(caller_media.getsockname()[1]), "payload": "0", "codec": "PCMU"})))
        caller.start()
        assert greeting_heard.wait(20), "the greeting did not reach the caller"
        to_stranger = _spray(stranger, gateway_media[0])  # 2 s of 20 ms packets
        caller.join(60)
        done.set()
        media.join(2)
    assert result["run"].ok, result["run"].output  # the assistant ended the call with BYE
    audible = [p for p in to_stranger if len(p) > 12 and level(ulaw_decode(p[12:])) > 300]
    assert len(audible) <= 2, f"{len(audible)} audible packets of the assistant reached the stranger"
    log = gateway.log()
    warnings = [line for line in log.splitlines() if "RTP from an unexpected address" in line]
    assert len(warnings) == warnings_before + 1
    assert "WARNING" in warnings[-1] and "127.0.0.2" in warnings[-1] and "call=" in warnings[-1]
    assert "02831123456" not in log  # the caller's number (SIP From) is never logged
    assert gateway.process.poll() is None
    with rtp_sink() as sink:
        run = sipp("call_and_hang_up.xml", gateway.sip_port, gateway.tmp, duration_ms=2500,
                   keys={"rtp_port": str(sink.port), "payload": "0", "codec": "PCMU"})
        time.sleep(0.3)
    assert run.ok, run.output
    assert sink.loudest() > 1000  # the next caller hears the greeting
