"""Voice: audio formats, speech-to-text (Vosk), text-to-speech (pyttsx3), the voice pipeline.

Stages in their own modules (``stt``, ``dialogue``, ``tts``), joined by ``pipeline`` and
reporting through ``events``; audio conversion at the boundary in ``audio``. The telephone
(SIP/RTP) and the browser socket that run the pipeline live in ``servicecenter.voice``.
"""
