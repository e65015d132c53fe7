"""The one audio format inside the voice pipeline; conversion happens at the boundary only."""

SAMPLE_RATE = 16_000  # Hz, what Vosk models expect
SAMPLE_WIDTH = 2  # bytes: 16-bit signed PCM
CHANNELS = 1  # mono
TELEPHONE_SAMPLE_RATE = 8_000  # G.711 at the SIP/RTP boundary
