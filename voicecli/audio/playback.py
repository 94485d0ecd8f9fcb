"""The playback (jitter) buffer between the session and the speaker.

Reply audio arrives in bursts, sometimes faster and sometimes slower than real time. The
session pushes chunks tagged with their assistant turn; the output callback pulls exactly
what the device asks for. Three threads touch it: the event loop (push), the output
callback (read) and the input callback (flush on barge-in), so every method holds one lock
for a few list operations and a copy at most: nothing here allocates large or blocks long.

Flushing marks the turn that was playing as dropped: audio of that turn that still arrives
afterwards is discarded, never played.

A local barge-in HOLDS instead of flushing: the speaker goes silent at once, but the queued
audio stays and pushes for the turn are still accepted, so a false barge-in (a cough, a
door) can ``resume`` the reply where it stopped; a real one ``discard``s it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from voicecli.audio.pcm import from_bytes
from voicecli.audio.resample import StreamResampler


@dataclass
class PlaybackStats:
    frames_played: int = 0
    frames_dropped: int = 0
    underruns: int = 0
    flushes: int = 0


class PlaybackBuffer:
    """A FIFO of int16 mono chunks at the device rate, organised by assistant turn.

    ``prebuffer_frames``: after running dry mid-turn, wait for this much audio (or for the
    turn's end) before playing again, so bursty arrival does not stutter.
    """

    def __init__(self, rate: int, prebuffer_ms: float = 60.0) -> None:
        self.rate = rate
        self.prebuffer_frames = int(rate * prebuffer_ms / 1000)
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._offset = 0  # read position inside _chunks[0]
        self._buffered = 0
        self._last_turn: int | None = None
        self._dropped_turn = -1
        self._ended_turn = -1
        self._waiting = True  # True while (re)filling the prebuffer
        self._last_sound = 0.0  # time.monotonic() of the last real sample handed out
        self._held = False
        self.stats = PlaybackStats()

    # -- event loop side -------------------------------------------------------------
    def push(self, samples: np.ndarray, turn: int) -> bool:
        """Queue ``samples`` of assistant turn ``turn``; False if that turn was flushed."""
        with self._lock:
            if turn <= self._dropped_turn:
                self.stats.frames_dropped += len(samples)
                return False
            if samples.size:
                self._chunks.append(samples)
                self._buffered += len(samples)
            self._last_turn = turn
            return True

    def end_turn(self, turn: int) -> None:
        """No more audio will come for ``turn``: play out what is left without prebuffering."""
        with self._lock:
            self._ended_turn = max(self._ended_turn, turn)

    # -- any thread ------------------------------------------------------------------
    def flush(self) -> int | None:
        """Drop everything queued; audio of the flushed turn arriving later is dropped too.

        Returns the turn that was flushed, or None if nothing was queued or playing.
        """
        with self._lock:
            had_audio = self._buffered > 0
            turn = self._last_turn
            self.stats.frames_dropped += self._buffered
            self._chunks.clear()
            self._offset = 0
            self._buffered = 0
            self._waiting = True
            self._held = False
            if turn is not None:
                self._dropped_turn = max(self._dropped_turn, turn)
            if had_audio:
                self.stats.flushes += 1
                return turn
            return None

    def hold(self) -> int | None:
        """Go silent now but keep the audio (see the module docstring).

        Returns the turn that was playing (or still arriving), or None if there is none or it
        is already held.
        """
        with self._lock:
            turn = self._last_turn
            arriving = turn is not None and turn > max(self._ended_turn, self._dropped_turn)
            if self._held or turn is None or not (self._buffered or arriving):
                return None
            self._held = True
            return self._last_turn

    def resume(self) -> None:
        """Play the held audio from where it stopped (prebuffering as after an underrun)."""
        with self._lock:
            self._held = False

    def discard(self) -> int | None:
        """The hold was a real barge-in: drop the held turn, as :meth:`flush` does."""
        return self.flush()

    @property
    def held(self) -> bool:
        return self._held

    def drop_turn(self, turn: int) -> None:
        """Discard any audio of ``turn`` from now on (e.g. the server said it was interrupted)."""
        with self._lock:
            self._dropped_turn = max(self._dropped_turn, turn)

    @property
    def buffered_frames(self) -> int:
        return self._buffered

    def is_playing(self, within_s: float = 0.0) -> bool:
        """True if audio is queued (not held), or real audio was handed out in the last
        ``within_s``."""
        if self._buffered > 0 and not self._held:
            return True
        return within_s > 0 and time.monotonic() - self._last_sound < within_s

    @property
    def current_turn(self) -> int | None:
        return self._last_turn

    # -- output callback side --------------------------------------------------------
    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` (int16, 1-D) with queued audio, zero-padding the rest.

        Returns how many real frames were written.
        """
        n = len(out)
        written = 0
        with self._lock:
            if self._held:
                out[:] = 0
                return 0
            if self._waiting:
                turn_ended = self._last_turn is not None and self._ended_turn >= self._last_turn
                if self._buffered >= self.prebuffer_frames or (turn_ended and self._buffered):
                    self._waiting = False
            if not self._waiting:
                while written < n and self._chunks:
                    head = self._chunks[0]
                    take = min(n - written, len(head) - self._offset)
                    out[written:written + take] = head[self._offset:self._offset + take]
                    written += take
                    self._offset += take
                    if self._offset >= len(head):
                        self._chunks.popleft()
                        self._offset = 0
                self._buffered -= written
                if written < n:
                    # Ran dry: count an underrun only in the middle of a turn.
                    turn_ended = (self._last_turn is not None
                                  and self._ended_turn >= self._last_turn)
                    if written and not turn_ended:
                        self.stats.underruns += 1
                    self._waiting = True
            if written:
                self._last_sound = time.monotonic()
                self.stats.frames_played += written
        if written < n:
            out[written:] = 0
        return written


class Player:
    """The output half: reply PCM → (resample to the sink's rate) → playback buffer."""

    def __init__(self, out_rate: int) -> None:
        self.out_rate = out_rate
        self.playback = PlaybackBuffer(out_rate)
        self._resamplers: dict[int, StreamResampler] = {}

    def play(self, pcm: bytes, rate: int, turn: int) -> None:
        samples = from_bytes(pcm)
        if rate != self.out_rate:
            rs = self._resamplers.get(rate)
            if rs is None:
                rs = self._resamplers[rate] = StreamResampler(rate, self.out_rate)
            samples = rs.process(samples)
        self.playback.push(samples, turn)
