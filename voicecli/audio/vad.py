"""Barge-in decisions: is the user talking over the reply?

Pure logic over 16 kHz int16 frames. It runs inside the input callback, next to the audio,
so the playback buffer is flushed the moment the user starts talking, without waiting for
the event loop or the server. The voice detector is injected, so tests can drive it with a
fake; the default is webrtcvad plus an energy floor (webrtcvad alone fires on faint noise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicecli.audio import MIC_RATE

FRAME_MS = 20
FRAME_SAMPLES = MIC_RATE * FRAME_MS // 1000  # 320

IsSpeech = Callable[[np.ndarray], bool]


def webrtc_is_speech(mode: int = 3, floor_dbfs: float = -45.0) -> IsSpeech:
    """A speech test for one 20 ms frame: webrtcvad (``mode`` 0–3) above an energy floor."""
    try:
        import webrtcvad
    except ImportError as exc:  # fail loudly: a silently missing VAD means no barge-in
        raise RuntimeError(
            "webrtcvad is not importable; install the 'webrtcvad-wheels' package"
        ) from exc
    vad = webrtcvad.Vad(mode)
    floor = (10 ** (floor_dbfs / 20) * 32768) ** 2

    def is_speech(frame: np.ndarray) -> bool:
        x = frame.astype(np.float32)
        if float(np.dot(x, x)) / len(x) < floor:
            return False
        return bool(vad.is_speech(frame.tobytes(), MIC_RATE))

    return is_speech


@dataclass
class BargeInConfig:
    min_speech_ms: int = 60  # voiced audio needed before we cut the reply
    release_ms: int = 300  # silence that re-arms the detector after a trigger


class BargeInDetector:
    """Fires once when the user speaks for ``min_speech_ms`` while a reply is playing."""

    def __init__(self, is_speech: IsSpeech, config: BargeInConfig | None = None) -> None:
        self.is_speech = is_speech
        self.config = config or BargeInConfig()
        self._voiced = 0
        self._silent = 0
        self._armed = True

    def reset(self) -> None:
        self._voiced = self._silent = 0
        self._armed = True

    def process(self, frame: np.ndarray, playing: bool) -> bool:
        """Feed one 20 ms frame; True exactly when a barge-in starts."""
        speech = self.is_speech(frame)
        if speech:
            self._voiced += FRAME_MS
            self._silent = 0
        else:
            self._silent += FRAME_MS
            # A short gap inside a word does not reset the onset count.
            if self._silent >= 60:
                self._voiced = 0
            if self._silent >= self.config.release_ms:
                self._armed = True
        if self._armed and playing and self._voiced >= self.config.min_speech_ms:
            self._armed = False
            return True
        return False


class FrameSplitter:
    """Cut a stream of arbitrary-length chunks into fixed frames without large allocations."""

    def __init__(self, frame: int = FRAME_SAMPLES) -> None:
        self.frame = frame
        self._buf = np.zeros(frame, dtype=np.int16)
        self._fill = 0

    def split(self, chunk: np.ndarray) -> list[np.ndarray]:
        frames: list[np.ndarray] = []
        pos = 0
        while pos < len(chunk):
            take = min(self.frame - self._fill, len(chunk) - pos)
            self._buf[self._fill:self._fill + take] = chunk[pos:pos + take]
            self._fill += take
            pos += take
            if self._fill == self.frame:
                frames.append(self._buf.copy())
                self._fill = 0
        return frames
