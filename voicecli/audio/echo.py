"""Acoustic echo cancellation: WebRTC AEC3 fed with exactly what went to the speaker.

Why AEC3 from ``livekit`` (``livekit.rtc.AudioProcessingModule``): it is the only AEC3 with
wheels (no C++ build), it found echo delays of 20–350 ms by itself, and it passed the
clipping/drift/long-delay sets where Speex failed (shared notes, barge-in research). Cost
measured here: ~100 µs per 10 ms (1 % of one core).

Three pieces:

* :class:`ReferenceTap` — the output callback's only extra work: append the block it just
  handed to the speaker, with the time its first sample reaches the DAC, to a deque
  (``append``/``popleft`` are atomic in CPython: no lock, no waiting).
* :class:`ReferenceAligner` — capture side, pure: puts those blocks on one timeline and
  releases them in 10 ms frames up to a given capture time, so the canceller always gets the
  reference *before* the capture it may have echoed into (AEC3 copes with any delay from
  there, but not with a reference that arrives late). Gaps and jumps in the timeline (an
  xrun, a device change) are reported as discontinuities.
* :class:`EchoCanceller` — the canceller itself: ``process_reverse`` (10 ms of what was
  played) and ``process_capture`` (10 ms of microphone at 16 kHz, cancelled in place).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicecli.audio import MIC_RATE
from voicecli.audio.levels import dbfs
from voicecli.errors import ConfigError

CAPTURE_FRAME = MIC_RATE // 100  # 10 ms at 16 kHz
# Echo this far below the loudest of what was just played stays under the barge-in
# detector's -45 dBFS floor for any reply quieter than -5 dBFS.
NEGLIGIBLE_ECHO_DB = 40.0
# AEC3 lets a voice it hears as the user's through nearly whole, and leaves of the echo
# 15 dB and more under the microphone: a "voice" cut this deep, on a mic no louder than the
# echo could be, is left-over echo (the burst behind a simulated self-interruption: -41 dBFS
# out of -23 in).
RESIDUAL_CUT_DB = 15.0
# A mic this much louder while the reply plays than in quiet hears an echo.
NOISE_ONLY_DB = 3.0
NO_AEC_HINT = ("the echo canceller needs the 'livekit' package (pip install livekit); "
               "with headphones, run with --headphones instead")


class EchoCanceller:
    """One WebRTC AEC3 instance for the whole session (it keeps what it has learnt)."""

    def __init__(self, reverse_rate: int) -> None:
        try:
            from livekit import rtc
        except ImportError:
            raise ConfigError(NO_AEC_HINT) from None
        if reverse_rate % 100:
            raise ValueError(f"reference rate {reverse_rate} Hz has no whole 10 ms frame")
        self._rtc = rtc
        self.reverse_rate = reverse_rate
        self.reverse_frame = reverse_rate // 100
        # High-pass: removes DC and rumble the canceller cannot model. No noise suppression
        # or gain control: they would change the user's level under the VAD's feet.
        self._apm: Any = rtc.AudioProcessingModule(echo_cancellation=True,
                                                   high_pass_filter=True)
        self._buf = bytearray(CAPTURE_FRAME * 2)

    def process_reverse(self, frame: np.ndarray) -> None:
        """10 ms of exactly what the speaker played (int16 at ``reverse_rate``)."""
        self._apm.process_reverse_stream(self._rtc.AudioFrame(
            frame.astype(np.int16, copy=False).tobytes(), self.reverse_rate, 1,
            self.reverse_frame))

    def process_capture(self, frame: np.ndarray) -> np.ndarray:
        """10 ms of 16 kHz microphone (int16) → the same with the echo removed."""
        self._buf[:] = frame.astype(np.int16, copy=False).tobytes()
        audio = self._rtc.AudioFrame(self._buf, MIC_RATE, 1, CAPTURE_FRAME)
        self._apm.process_stream(audio)  # in place, into self._buf
        return np.frombuffer(self._buf, dtype=np.int16).copy()


class ReferenceTap:
    """What the speaker played, handed from the output callback to the capture thread."""

    def __init__(self, max_blocks: int = 200) -> None:
        # Bounded: if the capture side stalls, the oldest blocks go (the aligner sees a gap).
        self._blocks: deque[tuple[np.ndarray, float]] = deque(maxlen=max_blocks)
        self.xruns = 0

    def write(self, block: np.ndarray, dac_time: float, xrun: bool = False) -> None:
        """Output callback: ``block`` was just handed to the device, playing at ``dac_time``."""
        if xrun:
            self.xruns += 1
        self._blocks.append((block.copy(), dac_time))

    def drain(self) -> list[tuple[np.ndarray, float]]:
        """Capture thread: everything written since the last call, oldest first."""
        out = []
        try:
            while True:
                out.append(self._blocks.popleft())
        except IndexError:
            return out


class ReferenceAligner:
    """The played audio on one timeline, released in 10 ms frames up to a capture time.

    ``lead_s``: release reference this much ahead of the capture time, so that errors in the
    devices' reported latencies never make the reference late (a late reference cannot be
    cancelled; an early one only shifts the delay AEC3 estimates).
    """

    def __init__(self, rate: int, lead_s: float = 0.03, max_gap_s: float = 0.5,
                 jitter_s: float = 0.02, follow: float = 0.02) -> None:
        self.rate = rate
        self.follow = follow  # how much of the stamps' word each block takes (smoothing)
        self.jitter_s = jitter_s
        self.frame = rate // 100
        self.lead_s = lead_s
        self.max_gap_s = max_gap_s
        self._pending: deque[np.ndarray] = deque()
        self._head = np.zeros(0, dtype=np.int16)  # partial frame being assembled
        self._next_t: float | None = None  # timeline time of the next sample to append
        self._released_t: float | None = None  # timeline time of the next frame to release
        self.discontinuities = 0

    def add(self, block: np.ndarray, t: float) -> bool:
        """Append one played block that starts at ``t``; True on a discontinuity."""
        jump = False
        if self._next_t is not None:
            gap = t - self._next_t
            # Consecutive blocks are contiguous in samples; the reported DAC times jitter by
            # several ms (seen: 5-6 ms on PulseAudio), which is no reason to re-align.
            slack = self.jitter_s
            if gap > slack and gap < self.max_gap_s:
                self._append(np.zeros(round(gap * self.rate), dtype=np.int16))
            elif abs(gap) > slack:
                jump = True  # overlap or a long gap: the clocks moved; start over
                self.reset()
        if self._next_t is None:
            self._next_t = self._released_t = t
        self._append(block)
        self._next_t = t + len(block) / self.rate
        # Counting samples alone drifts with the DAC's clock (166-204 ppm measured on the
        # virtual speaker: the reference came 25 ms late after 5 minutes), so the release
        # timeline follows the stamps, smoothed: each one jitters by several ms.
        queued = (len(self._pending) * self.frame + len(self._head)) / self.rate
        assert self._released_t is not None
        self._released_t += (self._next_t - queued - self._released_t) * self.follow
        if jump:
            self.discontinuities += 1
        return jump

    def _append(self, samples: np.ndarray) -> None:
        head = np.concatenate([self._head, samples]) if len(self._head) else samples
        n = len(head) // self.frame * self.frame
        for i in range(0, n, self.frame):
            self._pending.append(head[i:i + self.frame])
        self._head = head[n:].copy()

    def release(self, capture_end_t: float) -> list[np.ndarray]:
        """The 10 ms frames that started playing before ``capture_end_t`` (+ lead)."""
        out: list[np.ndarray] = []
        if self._released_t is None:
            return out
        limit = capture_end_t + self.lead_s
        while self._pending and self._released_t < limit:
            out.append(self._pending.popleft())
            self._released_t += 0.01
        return out

    def reset(self) -> None:
        self._pending.clear()
        self._head = np.zeros(0, dtype=np.int16)
        self._next_t = self._released_t = None


class RollingValues:
    """The last ``n`` values, also kept sorted, so a percentile costs no sort: these run on
    every 20 ms frame in the capture callback (np.percentile took ~10 % of its time)."""

    def __init__(self, n: int) -> None:
        self._fifo: deque[float] = deque(maxlen=n)
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._fifo)

    def append(self, value: float) -> None:
        if len(self._fifo) == self._fifo.maxlen:
            del self._sorted[bisect_left(self._sorted, self._fifo[0])]
        self._fifo.append(value)
        insort(self._sorted, value)

    def percentile(self, q: float) -> float:
        """Like ``np.percentile(values, q)`` (linear interpolation); needs a value."""
        s = self._sorted
        pos = (len(s) - 1) * q / 100
        lo = int(pos)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class EchoGate:
    """Is the raw microphone louder than the echo of what is playing could be?

    Used while the canceller converges, when AEC3 still suppresses the user along with the
    echo. The echo return loss (played level − heard level) is learnt from recent frames;
    a low percentile keeps the estimate on the loud-echo side when the user talks too.
    """

    def __init__(self, margin_db: float = 10.0, history: int = 150,
                 silent_db: float = -60.0, percentile: float = 5.0) -> None:
        self.margin_db = margin_db
        self.silent_db = silent_db
        self.percentile = percentile
        self._loss = RollingValues(history)

    def update(self, ref_db: float, mic_db: float) -> None:
        if ref_db > self.silent_db:
            self._loss.append(ref_db - mic_db)

    def loss_db(self) -> float | None:
        """How far below what is played the loudest echo is (dB; the ``percentile`` of the
        history); None: not known yet."""
        if len(self._loss) < 40:
            return None  # the first 0.8 s of playback
        return self._loss.percentile(self.percentile)

    def passes(self, ref_db: float, mic_db: float) -> bool:
        if ref_db <= self.silent_db:
            return True  # nothing played lately: nothing to echo
        loss = self.loss_db()
        return loss is not None and mic_db > ref_db - loss + self.margin_db


@dataclass(frozen=True)
class Captured:
    """One microphone frame after the canceller, and what the barge-in detector should know
    of it: ``discontinuity`` (the reference timeline jumped: an xrun, a delay change),
    ``loud`` (the raw frame is louder than any echo could be, see :class:`EchoGate`),
    ``residual`` (see :attr:`CapturePath.residual`) and ``echo_free`` (see
    :attr:`CapturePath.echo_negligible`)."""

    frame: np.ndarray
    discontinuity: bool
    loud: bool
    residual: bool
    echo_free: bool


class CapturePath:
    """Capture-thread side of echo cancellation: aligns the reference, cancels 10 ms at a time.

    ``process(frame, end_t, user_heard)`` takes 16 kHz int16 microphone audio (a whole number
    of 10 ms frames) whose last sample was captured at ``end_t`` and returns it with the echo
    removed, as a :class:`Captured`. ``user_heard``: the barge-in detector heard the user in
    the previous frame (so the echo is not learnt from their voice).
    """

    def __init__(self, canceller: EchoCanceller, tap: ReferenceTap | None) -> None:
        self.canceller = canceller
        self.tap = tap
        self.aligner = ReferenceAligner(canceller.reverse_rate)
        self.played_s = 0.0  # seconds of non-silent reference the canceller has seen
        self._xruns_seen = 0
        self._ref_db: deque[float] = deque([-120.0] * 40, maxlen=40)  # last 400 ms
        self.gate = EchoGate()
        self.raw_passes_gate = False  # the latest raw frame is louder than any echo
        self.cut_db = 0.0  # how much quieter the canceller made the latest frame
        # The echo level learnt from every frame the user was not heard in (see
        # echo_negligible). Its 20th percentile: a user's first syllables, before the
        # detector calls them speech, must not tip it (seen with the 5th after 0.8 s).
        self.echo_heard = EchoGate(percentile=20)
        # The mic's level (not the user) while nothing has played for 400 ms, and while
        # something has: no louder then means no echo, however noisy the room (a -50 dBFS
        # room is only 30 dB under a -20 dBFS reply, so the loss test alone misses it).
        self._quiet_db = RollingValues(250)
        self._playing_db = RollingValues(100)

    def feed_reference(self, frame: np.ndarray) -> None:
        if np.any(frame):
            self.played_s += 0.01
        self._ref_db.append(dbfs(frame))
        self.canceller.process_reverse(frame)

    def process(self, frame: np.ndarray, end_t: float, user_heard: bool = False) -> Captured:
        discontinuity = False
        if self.tap is not None:
            if self.tap.xruns != self._xruns_seen:
                self._xruns_seen = self.tap.xruns
                discontinuity = True
            for block, t in self.tap.drain():
                if self.aligner.add(block, t):
                    discontinuity = True
        out = np.empty_like(frame)
        n = len(frame) // CAPTURE_FRAME
        for i in range(n):
            part_end = end_t - (n - 1 - i) * 0.01
            for ref in self.aligner.release(part_end):
                self.feed_reference(ref)
            sl = slice(i * CAPTURE_FRAME, (i + 1) * CAPTURE_FRAME)
            out[sl] = self.canceller.process_capture(frame[sl])
        # Echo heard now was played up to 400 ms ago: compare with the loudest of that.
        ref_db, mic_db = max(self._ref_db), dbfs(frame)
        self.cut_db = mic_db - dbfs(out)
        self.raw_passes_gate = self.gate.passes(ref_db, mic_db)
        if not self.raw_passes_gate:  # learn the echo from echo, not from the user's voice
            self.gate.update(ref_db, mic_db)
        if not user_heard:
            self.echo_heard.update(ref_db, mic_db)
            playing = ref_db > self.echo_heard.silent_db
            (self._playing_db if playing else self._quiet_db).append(mic_db)
        return Captured(out, discontinuity, self.raw_passes_gate, self.residual,
                        self.echo_negligible)

    @property
    def residual(self) -> bool:
        """The canceller cut the latest frame by RESIDUAL_CUT_DB or more and the raw mic
        was no louder than the echo could be: whatever voice is left in it is what remains
        of the echo. (A user it still suppresses, 10–17 dB at an onset on the virtual
        devices, is louder than the echo gate, or soon is.)"""
        return self.cut_db >= RESIDUAL_CUT_DB and not self.raw_passes_gate

    @property
    def echo_negligible(self) -> bool:
        """The microphone heard (almost) nothing of what was played over the last 3 s: no
        echo path (a headset, a muted speaker), so nothing for an unconverged canceller to
        leave behind. Learnt from every frame the detector did not call speech, so a user it
        missed counts as echo (the safe side), and a louder echo (the volume went up) turns
        this off within 1.5 s. Also when the mic is no louder while the reply plays than
        while nothing does (within NOISE_ONLY_DB): a noisy room, no echo."""
        loss = self.echo_heard.loss_db()
        if loss is not None and loss >= NEGLIGIBLE_ECHO_DB:
            return True
        if len(self._quiet_db) < 50 or len(self._playing_db) < 40:
            return False
        # The loud end (80th percentile): an echo is not always loud, the room noise is.
        return (self._playing_db.percentile(80)
                <= self._quiet_db.percentile(80) + NOISE_ONLY_DB)
