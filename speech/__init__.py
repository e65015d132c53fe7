"""Voice: audio formats, speech-to-text (Vosk), text-to-speech (pyttsx3), the voice pipeline.

The text assistant already renders answers for the ``voice`` channel (see
``servicecenter.knowledge.answers``); the telephone and browser voice endpoints come next.
"""
