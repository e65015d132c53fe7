"""Test stand-in for the German speech model: the real gateway process
(``python -m servicecenter.voice``) in which the caller's first question enters as a German
transcript at the speech-to-text boundary, as DTMF 0 enters its request. The German Vosk
model cannot be downloaded here; SIP, RTP, DTMF, Rasa, the actions, the speech synthesis and
the database are real.

Run as ``python -m tests.speech.transcript_gateway`` with TEST_CALLER_TRANSCRIPT set.
"""

from __future__ import annotations

import os
import sys

from servicecenter.voice import __main__ as gateway_main
from servicecenter.voice.call import CallSession

TRANSCRIPT = os.environ["TEST_CALLER_TRANSCRIPT"]
_start = CallSession.start


def _start_with_transcript(self: CallSession):  # type: ignore[no-untyped-def]
    self._pending_text = TRANSCRIPT  # what the caller says after the greeting
    return _start(self)


CallSession.start = _start_with_transcript  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(gateway_main.main())
