"""Where in the output stream each received sample of reply audio was played.

:class:`PlayoutClock` wraps the read side of a :class:`~voicecli.audio.playback.PlaybackBuffer`
(sinks call ``read_into`` on it instead). It counts every frame handed to the sink, sound and
silence alike (the output stream's clock: the position in a ``--output`` WAV, or since the
speaker opened), and every real frame (the position in the received audio). Each time audio
resumes after silence it notes one anchor, so a received position maps exactly to an output
position: subtitles take their cue times from it.

The output callback does a few integer operations and, on a resumption only, one list append.
"""

from __future__ import annotations

import bisect
import threading
from typing import Protocol

import numpy as np


class Readable(Protocol):
    rate: int

    def read_into(self, out: np.ndarray) -> int: ...


class PlayoutClock:
    """Counts output frames and remembers where each run of real audio began."""

    def __init__(self, playback: Readable) -> None:
        self.playback = playback
        self.rate = playback.rate
        self._lock = threading.Lock()
        self._clock = 0  # frames handed to the sink, sound and silence
        self._consumed = 0  # real frames handed out
        self._starts: list[int] = []  # consumed count where a run began ...
        self._clocks: list[int] = []  # ... and the clock at that moment
        self._dry = True

    # -- output callback side --------------------------------------------------------
    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` from the playback buffer (see PlaybackBuffer.read_into) and count."""
        n = self.playback.read_into(out)
        with self._lock:
            if n and self._dry:  # read_into resumes at the block's start after running dry
                self._starts.append(self._consumed)
                self._clocks.append(self._clock)
            self._dry = n < len(out)
            self._consumed += n
            self._clock += len(out)
        return n

    # -- any thread ------------------------------------------------------------------
    @property
    def position_s(self) -> float:
        """Seconds of output stream so far."""
        return self._clock / self.rate

    @property
    def played_s(self) -> float:
        """Seconds of received audio played so far."""
        return self._consumed / self.rate

    def played_at(self, received_s: float, end: bool = False) -> float | None:
        """Output-stream seconds at which received second ``received_s`` played; None if it
        has not played yet. ``end``: ``received_s`` is an exclusive end (the position just
        after the last sample of a run, not the start of the next run)."""
        frame = round(received_s * self.rate)
        with self._lock:
            if frame > self._consumed or not self._starts:
                return None
            return self._locate(frame, end) / self.rate

    def estimate(self, received_s: float, end: bool = False) -> float:
        """Like :meth:`played_at`, but for audio not played yet: where it would play if it
        followed what is playing now without a gap."""
        frame = round(received_s * self.rate)
        with self._lock:
            if frame <= self._consumed and self._starts:
                return self._locate(frame, end) / self.rate
            return (self._clock + frame - self._consumed) / self.rate

    def _locate(self, frame: int, end: bool) -> int:
        if end and frame > 0:
            return self._locate(frame - 1, False) + 1
        i = max(0, bisect.bisect_right(self._starts, frame) - 1)
        return self._clocks[i] + frame - self._starts[i]
