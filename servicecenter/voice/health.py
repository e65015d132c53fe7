"""Is the gateway answering SIP? One OPTIONS request over UDP (used by the stack to wait for it)."""

from __future__ import annotations

import socket
import uuid


def sip_options_ok(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when ``host:port`` answers a SIP OPTIONS with a final response."""
    tag = uuid.uuid4().hex[:10]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind(("127.0.0.1", 0))
        local_port = sock.getsockname()[1]
        request = (
            f"OPTIONS sip:assistant@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{tag};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:health@127.0.0.1>;tag={tag}\r\n"
            f"To: <sip:assistant@{host}:{port}>\r\n"
            f"Call-ID: {tag}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            sock.sendto(request.encode("ascii"), (host, port))
            data, _ = sock.recvfrom(4096)
        except OSError:
            return False
    return data.startswith(b"SIP/2.0 ") and not data.startswith(b"SIP/2.0 1")
