"""A JSON-lines trace of the gateway's calls for measurements (``ASSISTANT_VOICE_TRACE_DIR``).

One file per gateway process (``voice-trace-<pid>.jsonl``); each line is one pipeline event
with its wall-clock time (``time.time()``, comparable with what another process on the same
machine records), the call id and the event's numbers. Nothing a caller said or the
assistant answered is written: no transcript, reply or prompt text, no caller number.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional

from speech.events import PipelineEvent

# Text fields that name a cause, not content.
_LABELS = {"reason", "code", "stage"}


def _public(data: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in data.items()
            if (isinstance(v, (int, float)) and not isinstance(v, bool)) or (k in _LABELS and isinstance(v, str))}


class TraceFile:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"voice-trace-{os.getpid()}.jsonl"
        self._lock = threading.Lock()
        self._out: Optional[Any] = open(self.path, "a", encoding="utf-8", buffering=1)

    def _write(self, record: Dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            if self._out is not None:
                self._out.write(line)

    def call_started(self, call_id: str, remote_rtp: str) -> None:
        """The call's media is up; ``remote_rtp`` is the RTP address from the caller's SDP."""
        self._write({"t": time.time(), "call": call_id, "event": "call-start", "remote_rtp": remote_rtp})

    def __call__(self, call_id: str, event: PipelineEvent) -> None:
        # Events carry monotonic timestamps: moved onto the wall clock at the time of writing.
        wall = time.time() - (time.monotonic() - event.timestamp)
        self._write({"t": round(wall, 6), "call": call_id, "event": event.type.value, **_public(event.data)})

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None
