"""Audio: the pure core (buffers, resampling, barge-in decisions) and the device shell.

Rates are fixed by the Live API: microphone audio goes out as 16 kHz mono s16le, reply audio
arrives as 24 kHz mono s16le.
"""

MIC_RATE = 16_000
SPEAKER_RATE = 24_000
