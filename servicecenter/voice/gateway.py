"""The SIP endpoint: PJSIP (pjsua2) answers calls, carries G.711 RTP and transfers with REFER.

Threads: one "pjsip" thread owns the PJSIP endpoint (it polls SIP events and runs every
PJSIP call the conversation asks for); PJSIP's media clock calls the per-call audio port;
the asyncio loop runs the conversations. Nothing crosses between them except through
``loop.call_soon_threadsafe`` and the gateway's command queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import logging
import queue
import threading
import time
import uuid
import weakref
from typing import Any, Callable, Dict, Optional, Sequence

import pjsua2 as pj

from servicecenter.settings import VoiceSettings
from servicecenter.voice.call import CallSession, VoiceServices
from servicecenter.voice.registration import Registration
from servicecenter.voice.trace import TraceFile
from speech.const import FRAME_MS, TELEPHONE_FRAME_BYTES, TELEPHONE_SAMPLE_RATE

log = logging.getLogger(__name__)

ALLOWED_CODECS = ("PCMU/8000", "PCMA/8000")
_SILENCE = bytes(TELEPHONE_FRAME_BYTES)
RTP_GUARD_INTERVAL = 0.01  # seconds between two looks at where each call's RTP comes from

IPAddress = Any  # ipaddress.IPv4Address | ipaddress.IPv6Address


def address_host(name: str) -> Optional[IPAddress]:
    """The IP address of PJSIP's ``"ip:port"`` / ``"[ipv6]:port"``; None for none or 0.0.0.0."""
    host = name.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address.is_unspecified else address


class RtpSources:
    """Where a call's RTP may come from: the configured networks, or else the caller's SDP
    address and the address its SIP came from."""

    def __init__(self, networks: Sequence[Any], addresses: Sequence[Optional[IPAddress]]) -> None:
        self.networks = list(networks)
        self.addresses = {a for a in addresses if a is not None}

    def allows(self, address: IPAddress) -> bool:
        if self.networks:
            return any(address in network for network in self.networks)
        return address in self.addresses


class _LogWriter(pj.LogWriter):
    def write(self, entry: Any) -> None:  # noqa: A003 (PJSIP's method name)
        message = entry.msg.rstrip()
        # Registration failures are reported once, with a hint, by registration.py.
        warn = entry.level <= 2 and "SIP registration failed" not in message
        log.log(logging.WARNING if warn else logging.DEBUG, "pjsip: %s", message)


class _MediaPort(pj.AudioMediaPort):
    """The call's audio: caller frames go to the session, session frames go to the caller."""

    def __init__(self, session: CallSession) -> None:
        super().__init__()
        self.session = session
        self._silence = pj.ByteVector(_SILENCE)

    def onFrameReceived(self, frame: Any) -> None:  # noqa: N802 (PJSIP's names)
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
            self.session.on_audio(bytes(frame.buf))

    def onFrameRequested(self, frame: Any) -> None:  # noqa: N802
        chunk = self.session.playback.frame()
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(chunk) if chunk is not None else self._silence
        frame.size = TELEPHONE_FRAME_BYTES


class _Call(pj.Call):
    def __init__(self, gateway: "Gateway", account: pj.Account, call_id: int) -> None:
        super().__init__(account, call_id)
        self.gateway = gateway
        self.id = uuid.uuid4().hex  # the conversation id for Rasa and the route API
        self.session: Optional[CallSession] = None
        self.port: Optional[_MediaPort] = None
        self.transfer_result: Optional[concurrent.futures.Future] = None
        self.disconnected = False
        self.signalling_source: Optional[IPAddress] = None  # where the INVITE came from
        self.media_index: Optional[int] = None
        self.rtp_sources: Optional[RtpSources] = None
        self.foreign_rtp = False  # RTP came from elsewhere: audio stopped, call being ended

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True
            log.info("call=%s ended (%s %s)", self.id, info.lastStatusCode, info.lastReason)
            if self.transfer_result is not None and not self.transfer_result.done():
                self.transfer_result.set_result(False)
            self.gateway.ended(self)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            if self.foreign_rtp:
                return
            # Known before the first frame leaves: the SDP (offer, re-INVITE) names the caller.
            self.media_index = index
            self.rtp_sources = self.gateway.rtp_sources(self, index)
            if self.port is None:
                self.gateway.media_ready(self)
            assert self.port is not None
            audio = self.getAudioMedia(index)
            audio.startTransmit(self.port)
            self.port.startTransmit(audio)

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        if self.session is not None:
            self.gateway.to_loop(self.session.on_dtmf, prm.digit)

    def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802
        if prm.finalNotify or prm.statusCode >= 200:
            ok = 200 <= prm.statusCode < 300
            log.info("call=%s transfer %s (%s)", self.id, "accepted" if ok else "failed", prm.statusCode)
            prm.cont = False
            if self.transfer_result is not None and not self.transfer_result.done():
                self.transfer_result.set_result(ok)


class _Account(pj.Account):
    def __init__(self, gateway: "Gateway") -> None:
        super().__init__()
        self.gateway = gateway

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        call = _Call(self.gateway, self, prm.callId)
        call.signalling_source = address_host(prm.rdata.srcAddress)
        self.gateway.incoming(call)

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        self.gateway.registration.changed(prm.code, prm.reason, prm.expiration)


class _Control:
    """What a conversation may do to its call; every action runs in the PJSIP thread."""

    def __init__(self, gateway: "Gateway", call: _Call) -> None:
        self.gateway = gateway
        # Weak: a PJSIP call object must only be destroyed in the PJSIP thread.
        self._call = weakref.ref(call)

    @property
    def call(self) -> _Call:
        call = self._call()
        if call is None:
            raise RuntimeError("the call has ended")
        return call

    def hangup(self) -> None:
        call = self._call()
        if call is not None:
            self.gateway.run_in_pj(self.gateway.hangup, call)

    async def transfer(self, uri: str) -> bool:
        result: concurrent.futures.Future = concurrent.futures.Future()

        def refer() -> None:
            call = self._call()
            if call is None or call.disconnected:
                result.set_result(False)
                return
            call.transfer_result = result
            try:
                call.xfer(uri, pj.CallOpParam(True))
            except pj.Error as err:
                log.warning("call=%s REFER failed: %s", call.id, err.reason)
                result.set_result(False)

        self.gateway.run_in_pj(refer)
        try:
            ok = await asyncio.wait_for(asyncio.wrap_future(result), 30)
        except asyncio.TimeoutError:
            ok = False
        if ok:
            self.hangup()
        return ok


class Gateway:
    """A running SIP endpoint; ``serve`` answers calls until ``stop``."""

    def __init__(self, settings: VoiceSettings, services: VoiceServices) -> None:
        self.settings = settings
        self.services = services
        self.calls: Dict[str, _Call] = {}
        self.sessions: Dict[str, CallSession] = {}
        self._commands: "queue.Queue[Callable[[], None]]" = queue.Queue()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._error: Optional[BaseException] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._garbage: list = []
        self._timers: list = []  # (monotonic deadline, command) run by the PJSIP thread
        self._account: Optional[_Account] = None
        self._rtp_networks = settings.rtp_allowed_networks
        self._next_rtp_check = 0.0
        self.trace = TraceFile(settings.trace_dir) if settings.trace_dir else None
        self.registration = Registration(settings)  # as an extension of a PBX, when configured

    # --- threads ------------------------------------------------------------------------------
    def to_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    def run_in_pj(self, fn: Callable[..., Any], *args: Any) -> None:
        self._commands.put(lambda: fn(*args))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._pj_main, name="pjsip", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"SIP endpoint could not start: {self._error}") from self._error

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(15)
        if self.trace is not None:
            self.trace.close()

    def _pj_main(self) -> None:
        ep = pj.Endpoint()
        try:
            self._setup(ep)
        except BaseException as err:  # reported to start()
            self._error = err if not isinstance(err, pj.Error) else RuntimeError(err.info())
            self._account = None
            ep.libDestroy()
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stopping.is_set():
                ep.libHandleEvents(10)
                while True:
                    try:
                        command = self._commands.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        command()
                    except pj.Error as err:
                        log.warning("pjsip command failed: %s", err.reason)
                self._run_due_timers()
                self._check_rtp_sources()
                self._garbage.clear()  # call objects of ended calls, dropped outside their callbacks
        finally:
            ep.hangupAllCalls()
            for _ in range(20):
                ep.libHandleEvents(10)
            self._unregister(ep)
            # PJSIP objects must die in this (registered) thread, before the library does.
            for call in self.calls.values():
                call.port = None
            self.calls.clear()
            self._timers.clear()
            self._garbage.clear()
            self._account = None
            ep.libDestroy()

    def _unregister(self, ep: pj.Endpoint) -> None:
        """Remove the contact at the registrar (REGISTER with Expires: 0) and wait for its answer."""
        if self._account is None or not self.registration.enabled:
            return
        try:
            if not self._account.getInfo().regIsActive:
                return
            self.registration.stopping()
            self._account.setRegistration(False)
        except pj.Error as err:
            log.warning("SIP unregistration failed: %s", err.reason)
            return
        deadline = time.monotonic() + 2.5
        while self.registration.status.state == "registered" and time.monotonic() < deadline:
            ep.libHandleEvents(10)

    def _run_due_timers(self) -> None:
        if not self._timers:
            return
        now = time.monotonic()
        due = [fn for deadline, fn in self._timers if deadline <= now]
        self._timers = [(deadline, fn) for deadline, fn in self._timers if deadline > now]
        for fn in due:
            try:
                fn()
            except pj.Error as err:
                log.warning("pjsip command failed: %s", err.reason)

    def _setup(self, ep: pj.Endpoint) -> None:
        s = self.settings
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0  # SIP events are polled by this thread
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = s.max_calls + 2  # room to answer "busy" beyond the limit
        cfg.uaConfig.userAgent = "Geldern-Assistant"
        cfg.medConfig.clockRate = TELEPHONE_SAMPLE_RATE
        cfg.medConfig.sndClockRate = TELEPHONE_SAMPLE_RATE
        cfg.medConfig.audioFramePtime = FRAME_MS
        cfg.medConfig.ptime = FRAME_MS
        cfg.medConfig.noVad = True  # send every packet: callers hear comfort noise, not gaps
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.maxMediaPorts = 4 * s.max_calls + 8
        cfg.logConfig.level = 3
        cfg.logConfig.consoleLevel = 3
        cfg.logConfig.msgLogging = 0
        self._writer = _LogWriter()
        cfg.logConfig.writer = self._writer
        cfg.logConfig.decor = 0
        ep.libInit(cfg)
        transport = pj.TransportConfig()
        transport.port = s.sip_port
        transport.boundAddress = s.sip_host
        if s.sip_public_address:
            transport.publicAddress = s.sip_public_address
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        ep.libStart()
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            allowed = any(codec.codecId.startswith(name) for name in ALLOWED_CODECS)
            ep.codecSetPriority(codec.codecId, 255 if codec.codecId.startswith("PCMA") else
                                254 if allowed else 0)
        acc = pj.AccountConfig()
        acc.idUri = f"sip:assistant@{s.sip_public_address or s.sip_host}:{s.sip_port}"
        acc.mediaConfig.transportConfig.port = s.rtp_port
        acc.mediaConfig.transportConfig.portRange = s.rtp_port_range
        acc.mediaConfig.transportConfig.boundAddress = s.sip_host
        if s.sip_public_address:
            acc.mediaConfig.transportConfig.publicAddress = s.sip_public_address
        self.registration.configure(acc, pj)
        self._account = _Account(self)
        self._account.create(acc, True)
        log.info("SIP endpoint listening on %s:%d/udp (G.711 PCMA/PCMU, RTP from %d)",
                 s.sip_host, s.sip_port, s.rtp_port)

    # --- RTP source guard (PJSIP thread) -------------------------------------------------
    def rtp_sources(self, call: _Call, index: int) -> RtpSources:
        sdp = None
        try:
            sdp = address_host(call.getStreamInfo(index).remoteRtpAddress)
        except pj.Error:
            pass
        return RtpSources(self._rtp_networks, [sdp, call.signalling_source])

    def _check_rtp_sources(self) -> None:
        """PJSIP follows RTP to a new source address (symmetric RTP for callers behind NAT):
        while the caller sends nothing, a stranger's first packet redirects the call's audio
        to the stranger. Every RTP_GUARD_INTERVAL, each call's last RTP/RTCP source is checked;
        one outside the allowed sources stops the call's audio at once and ends the call."""
        now = time.monotonic()
        if now < self._next_rtp_check or not self.calls:
            return
        self._next_rtp_check = now + RTP_GUARD_INTERVAL
        for call in list(self.calls.values()):
            if call.media_index is None or call.rtp_sources is None or call.foreign_rtp or call.disconnected:
                continue
            try:
                info = call.getMedTransportInfo(call.media_index)
            except pj.Error:
                continue
            for name in (info.srcRtpName, info.srcRtcpName):
                source = address_host(name)
                if source is not None and not call.rtp_sources.allows(source):
                    self._foreign_rtp(call, source)
                    break

    def _foreign_rtp(self, call: _Call, source: IPAddress) -> None:
        call.foreign_rtp = True
        if call.session is not None:
            call.session.playback.clear()
        if call.port is not None and call.media_index is not None:
            try:
                audio = call.getAudioMedia(call.media_index)
                call.port.stopTransmit(audio)
                audio.stopTransmit(call.port)
            except pj.Error:
                pass
        log.warning("call=%s RTP from an unexpected address %s: audio stopped, call ended", call.id, source)
        self.hangup(call)

    # --- PJSIP thread callbacks -----------------------------------------------------------
    def incoming(self, call: _Call) -> None:
        prm = pj.CallOpParam()
        if len(self.calls) >= self.settings.max_calls:
            prm.statusCode = 486  # Busy Here: the PBX can route the caller elsewhere
            log.warning("call refused: %d calls already", len(self.calls))
            call.answer(prm)
            self._garbage.append(call)
            return
        self.calls[call.id] = call
        log.info("call=%s incoming", call.id)
        delay = self.settings.answer_delay_ms
        if delay <= 0:
            self._answer(call)
            return
        prm.statusCode = 180  # Ringing; a CANCEL now ends the call with 487 (PJSIP's own handling)
        try:
            call.answer(prm)
        except pj.Error as err:  # no common codec: PJSIP has answered 488 already
            self._refused(call, err)
            return
        self._timers.append((time.monotonic() + delay / 1000, lambda: self._answer(call)))

    def _answer(self, call: _Call) -> None:
        if call.disconnected:  # CANCELled while ringing: PJSIP has sent 487 already
            log.info("call=%s cancelled by the caller before it was answered", call.id)
            return
        prm = pj.CallOpParam()
        prm.statusCode = 200
        try:
            call.answer(prm)
        except pj.Error as err:  # no common codec: PJSIP has answered 488 already
            self._refused(call, err)

    def _refused(self, call: _Call, err: pj.Error) -> None:
        log.info("call=%s refused: %s", call.id, err.reason)
        self.calls.pop(call.id, None)
        self._garbage.append(call)

    def media_ready(self, call: _Call) -> None:
        assert self._loop is not None

        caller = call.getInfo().remoteUri
        trace = self.trace
        if trace is not None and call.media_index is not None:
            trace.call_started(call.id, call.getStreamInfo(call.media_index).remoteRtpAddress)

        async def make() -> CallSession:  # a session belongs to the event loop
            return CallSession(call.id, _Control(self, call), self.services, on_event=trace, caller_uri=caller)

        session = asyncio.run_coroutine_threadsafe(make(), self._loop).result(10)
        call.session = session
        port = _MediaPort(session)
        fmt = pj.MediaFormatAudio()
        fmt.type = pj.PJMEDIA_TYPE_AUDIO
        fmt.clockRate = TELEPHONE_SAMPLE_RATE
        fmt.channelCount = 1
        fmt.bitsPerSample = 16
        fmt.frameTimeUsec = FRAME_MS * 1000
        port.createPort(f"call-{call.id[:8]}", fmt)
        call.port = port
        self.to_loop(self._start_session, session)

    def ended(self, call: _Call) -> None:
        self.calls.pop(call.id, None)
        self._garbage.append(call)
        if call.session is not None:
            self.to_loop(self._end_session, call.session)

    def hangup(self, call: _Call) -> None:
        if not call.disconnected and call.isActive():
            call.hangup(pj.CallOpParam(True))

    # --- loop side ------------------------------------------------------------------------
    def _start_session(self, session: CallSession) -> None:
        self.sessions[session.call_id] = session
        session.start()

    def _end_session(self, session: CallSession) -> None:
        session.stop()
        self.sessions.pop(session.call_id, None)
