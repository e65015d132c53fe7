"""The one audio format inside the voice pipeline; conversion happens at the boundary only."""

SAMPLE_RATE = 16_000  # Hz, what Vosk models expect
SAMPLE_WIDTH = 2  # bytes: 16-bit signed PCM
CHANNELS = 1  # mono
TELEPHONE_SAMPLE_RATE = 8_000  # G.711 at the SIP/RTP boundary

FRAME_MS = 20  # one RTP packet of G.711
TELEPHONE_FRAME_BYTES = TELEPHONE_SAMPLE_RATE * SAMPLE_WIDTH * FRAME_MS // 1000  # 320 bytes of PCM
# Audio is handed to the recogniser in blocks of this length: fewer, larger calls into Kaldi.
STT_BLOCK_MS = 100
STT_BLOCK_BYTES = SAMPLE_RATE * SAMPLE_WIDTH * STT_BLOCK_MS // 1000

# Default timeouts in seconds (overridable in speech.pipeline.PipelineSettings).
TURN_TIMEOUT = 30.0  # one caller utterance, its answer and the spoken reply
NO_SPEECH_TIMEOUT = 8.0  # silence before the caller is asked whether they are still there
MAX_UTTERANCE = 20.0  # longest single utterance before the recogniser is forced to finish
TTS_TIMEOUT = 10.0  # one sentence of speech synthesis

# Vosk endpoint delays (seconds of trailing silence), used where the installed Vosk can set them.
ENDPOINT_DELAY_SHORT = 0.5
ENDPOINT_DELAY_LONG = 1.0
ENDPOINT_DELAY_MAX = 20.0
