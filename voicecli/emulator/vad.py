"""Server-side voice activity detection on 16 kHz mono s16le audio (pure, no I/O).

A 20 ms frame is *voiced* when webrtcvad says so AND its RMS level is above an energy
floor, so digital silence and faint noise never count. Speech starts after ``start_ms`` of
consecutive voiced frames (onset = first of them) and ends after ``silence_ms`` of
consecutive unvoiced frames. The setup's ``automaticActivityDetection`` maps onto
:class:`VadSettings` through :func:`vad_settings`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

RATE = 16000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2


@dataclass(frozen=True)
class VadSettings:
    """Tuning of :class:`VoiceActivityDetector`."""

    aggressiveness: int = 2  # webrtcvad mode 0..3
    start_ms: int = 80  # voiced audio needed to commit a speech start
    silence_ms: int = 500  # unvoiced audio that ends speech
    energy_floor_dbfs: float = -48.0  # frames quieter than this are never speech
    preroll_ms: int = 100  # audio kept before the onset in a segment's PCM


def vad_settings(
    *,
    silence_duration_ms: int | None,
    prefix_padding_ms: int | None,
    start_sensitivity: str | None,
    end_sensitivity: str | None,
    default_silence_ms: int = 500,
) -> VadSettings:
    """Map the Live API's activity-detection options onto :class:`VadSettings`.

    * start sensitivity HIGH/LOW -> webrtcvad mode 1/3 and 60/100 ms to commit a start
      (default: mode 2, 80 ms); ``prefixPaddingMs`` (the API's "speech needed before
      start-of-speech is committed") overrides the duration, at least one frame;
    * end sensitivity HIGH/LOW -> 0.6x / 2x the default silence (only when
      ``silenceDurationMs`` is not given).
    """
    aggressiveness, start_ms = 2, 80
    if start_sensitivity == "START_SENSITIVITY_HIGH":
        aggressiveness, start_ms = 1, 60
    elif start_sensitivity == "START_SENSITIVITY_LOW":
        aggressiveness, start_ms = 3, 100
    if prefix_padding_ms is not None:
        start_ms = max(FRAME_MS, prefix_padding_ms)
    silence = silence_duration_ms
    if silence is None:
        factor = {"END_SENSITIVITY_HIGH": 0.6, "END_SENSITIVITY_LOW": 2.0}.get(
            end_sensitivity or "", 1.0)
        silence = int(default_silence_ms * factor)
    return VadSettings(aggressiveness=aggressiveness, start_ms=start_ms,
                       silence_ms=max(FRAME_MS, silence))


@dataclass(frozen=True)
class VadEvent:
    """A speech boundary; ``sample`` counts 16 kHz samples since the stream began."""

    kind: str  # "start" or "end"
    sample: int  # "start": the onset; "end": just after the last voiced frame
    audio: bytes = b""  # for "end": the segment's PCM (preroll + speech, no trailing silence)
    onset: int = 0  # for "end": where the speech began

    @property
    def duration_ms(self) -> float:
        """For "end": the speech's length from onset to its last voiced frame."""
        return (self.sample - self.onset) * 1000 / RATE


def frame_dbfs(frame: bytes) -> float:
    """RMS level of an s16le frame in dBFS (-inf for digital silence)."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return -math.inf
    rms = math.sqrt(float(np.mean(samples * samples)))
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


class VoiceActivityDetector:
    """Incremental speech start/end detector; feed it PCM of any length."""

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._start_frames = max(1, self.settings.start_ms // FRAME_MS)
        self._silence_frames = max(1, self.settings.silence_ms // FRAME_MS)
        preroll = self.settings.preroll_ms // FRAME_MS
        self._recent: deque[bytes] = deque(maxlen=preroll + self._start_frames)
        self._pending = bytearray()
        self._segment = bytearray()
        self._voiced_run = 0
        self._silent_run = 0
        self._last_voiced_len = 0
        self._last_voiced_sample = 0
        self.samples = 0  # samples processed (whole frames)
        self.onset: int | None = None  # first sample of the current speech, if in speech

    @property
    def in_speech(self) -> bool:
        """True between a start and its end."""
        return self.onset is not None

    @property
    def speech_ms(self) -> float:
        """Duration of the current speech so far (0 when not in speech)."""
        return 0.0 if self.onset is None else (self.samples - self.onset) * 1000 / RATE

    @property
    def voiced_ms(self) -> float:
        """From the onset to the end of the last voiced frame (0 when not in speech)."""
        return 0.0 if self.onset is None else (self._last_voiced_sample - self.onset) * 1000 / RATE

    def is_voiced(self, frame: bytes) -> bool:
        """Whether one 20 ms frame counts as speech."""
        if frame_dbfs(frame) < self.settings.energy_floor_dbfs:
            return False
        return self._vad.is_speech(frame, RATE)

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Process ``pcm`` and return the speech boundaries found in it."""
        self._pending += pcm
        events: list[VadEvent] = []
        while len(self._pending) >= FRAME_BYTES:
            frame = bytes(self._pending[:FRAME_BYTES])
            del self._pending[:FRAME_BYTES]
            event = self._frame(frame)
            if event is not None:
                events.append(event)
        return events

    def _frame(self, frame: bytes) -> VadEvent | None:
        voiced = self.is_voiced(frame)
        self.samples += FRAME_SAMPLES
        if self.onset is None:
            self._recent.append(frame)
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run < self._start_frames:
                return None
            self.onset = self.samples - self._voiced_run * FRAME_SAMPLES
            self._segment = bytearray(b"".join(self._recent))
            self._recent.clear()
            self._last_voiced_len = len(self._segment)
            self._last_voiced_sample = self.samples
            self._silent_run = 0
            return VadEvent("start", self.onset)
        self._segment += frame
        if voiced:
            self._silent_run = 0
            self._last_voiced_len = len(self._segment)
            self._last_voiced_sample = self.samples
            return None
        self._silent_run += 1
        if self._silent_run >= self._silence_frames:
            return self._end()
        return None

    def flush(self) -> VadEvent | None:
        """End the current speech now (e.g. on ``audioStreamEnd``); None if not in speech."""
        self._pending.clear()
        self._voiced_run = 0
        return self._end() if self.onset is not None else None

    def _end(self) -> VadEvent:
        event = VadEvent("end", self._last_voiced_sample,
                         bytes(self._segment[: self._last_voiced_len]), self.onset or 0)
        self.onset = None
        self._segment = bytearray()
        self._voiced_run = self._silent_run = 0
        return event
