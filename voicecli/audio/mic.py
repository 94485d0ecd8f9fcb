"""The capture decision: microphone frames in, barge-ins and network chunks out (pure).

:class:`MicPipeline` runs inside the capture thread (the PortAudio callback, or a file's
pacer): it cuts 16 kHz audio into 20 ms frames, removes the echo of the reply
(:mod:`voicecli.audio.echo`, unless in headphones mode), runs the barge-in detector
(:mod:`voicecli.audio.vad`) and, on a barge-in, holds the playback buffer right there
(silence at once). Only then does it tell the event loop (``on_barge_in``). Each step hands
the next a small result: the canceller a :class:`~voicecli.audio.echo.Captured` (the frame,
whether it is louder than any echo, whether the echo path jumped), the detector whether it
heard the user, which the canceller takes with the next frame. Cancelled frames for the
network leave via ``on_chunk``: the server's own voice detector then does not hear the reply
either (when the microphone hears no echo at all, e.g. a headset, the raw frames go: AEC3
would cut the user's onset). No I/O, no locks but the playback buffer's, no allocation
beyond a frame's.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from voicecli.audio import MIC_RATE
from voicecli.audio.echo import Captured, CapturePath, ReferenceTap
from voicecli.audio.levels import dbfs
from voicecli.audio.playback import PlaybackBuffer
from voicecli.audio.vad import FRAME_MS, FRAME_SAMPLES, BargeInDetector, FrameSplitter

if TYPE_CHECKING:
    from voicecli.audio.engine import Sink

OnChunk = Callable[[bytes], None]
OnBargeIn = Callable[[int | None], None]
RawSpeech = Callable[[np.ndarray, bool], bool]  # (raw frame, echo free) -> speech?

CHUNK_FRAMES = 2  # 2 × 20 ms = 40 ms per message to the server
PLAYING_GRACE_S = 0.15  # a reply counts as playing this long after its last sample
UPSTREAM_HANG_MS = 400  # after speech, keep sending the mic for this long (pauses in words)
ECHO_TAIL_MS = 400  # the echo of a reply lasts this long after its last sample
PREROLL_MS = 300  # mic audio kept while gated, sent when speech starts
CONVERGE_S = 6.0  # AEC3 needs 1–6 s of playback to converge: be strict meanwhile


class MicPipeline:
    """16 kHz capture → echo canceller → barge-in decision → network chunks.

    Runs in the capture thread. ``capture``: the echo canceller's capture side (None in
    headphones mode). ``half_duplex``: send silence while the assistant speaks.
    ``speech_ms``: voiced audio heard since the last barge-in (the event loop reads it to
    tell a real interruption from a cough). With a canceller, the server gets silence while
    the reply plays and nobody talks (see ``_gate_upstream``).
    """

    def __init__(self, playback: PlaybackBuffer, detector: BargeInDetector | None,
                 on_chunk: OnChunk, on_barge_in: OnBargeIn,
                 capture: CapturePath | None = None, half_duplex: bool = False,
                 raw_speech: RawSpeech | None = None) -> None:
        self.playback = playback
        self.detector = detector
        self.raw_speech = raw_speech  # the speech test on the raw microphone (see _raw_speech)
        self.on_chunk = on_chunk
        self.on_barge_in = on_barge_in
        self.capture = capture
        self.half_duplex = half_duplex
        self.muted = False
        self.level_dbfs = -120.0
        self.speech_ms = 0
        self._xrun = False
        self._talk_ms = 0
        self._echo_tail_ms = 0
        self._preroll: deque[bytes] = deque(maxlen=PREROLL_MS // FRAME_MS)
        self._splitter = FrameSplitter(FRAME_SAMPLES)
        self._pending: list[bytes] = []
        self._heard = False  # the detector heard the user in the latest frame it judged

    def note_xrun(self) -> None:
        """A device over/underran: the echo path may have moved (any thread)."""
        self._xrun = True

    def process(self, samples: np.ndarray, t: float | None = None) -> None:
        """``samples`` (16 kHz int16) whose first sample was captured at ``t`` (monotonic)."""
        frames = self._splitter.split(samples)
        t_end = (time.monotonic() if t is None else t + len(samples) / MIC_RATE)
        left = self._splitter.buffered
        for j, raw in enumerate(frames):
            self.level_dbfs = dbfs(raw)  # read by the live view's meter
            captured = None
            if self.capture is not None:
                end_t = t_end - (left + (len(frames) - 1 - j) * FRAME_SAMPLES) / MIC_RATE
                captured = self.capture.process(raw, end_t, self._heard)
                if captured.discontinuity:
                    self._xrun = True
            self._frame(raw, captured)

    def _gate_upstream(self, playing: bool, det: BargeInDetector | None) -> bool:
        """Send silence instead of the mic while the reply plays and nobody talks.

        Whatever echo the canceller leaves (a transient after an xrun, a delay jump) would
        otherwise reach the server's voice detector, and the server would interrupt its own
        reply. The last 300 ms are kept and sent as soon as the local detector hears speech,
        so the server still gets the user's first syllable.
        """
        if self.capture is None or det is None:
            return False
        if det.last_speech:
            self._talk_ms = UPSTREAM_HANG_MS
        else:
            self._talk_ms = max(0, self._talk_ms - FRAME_MS)
        if playing:
            self._echo_tail_ms = ECHO_TAIL_MS
        else:
            self._echo_tail_ms = max(0, self._echo_tail_ms - FRAME_MS)
        return self._echo_tail_ms > 0 and self._talk_ms == 0

    def _raw_speech(self, raw: np.ndarray, captured: Captured | None) -> bool:
        """Speech on the raw mic, louder than any echo: asked for (and its Silero run) only
        while the detector is guarded or the mic hears no echo (see BargeInDetector)."""
        det, test = self.detector, self.raw_speech
        if det is None or captured is None or test is None or not captured.loud \
                or not (det.guarded or captured.echo_free):
            return False
        return test(raw, captured.echo_free)

    def _frame(self, raw: np.ndarray, captured: Captured | None) -> None:
        frame = raw if captured is None else captured.frame
        playing = self.playback.is_playing(PLAYING_GRACE_S)
        # Half duplex stays muted until the reply's echo has died away, not just its samples.
        muted = self.muted or (self.half_duplex
                               and self.playback.is_playing(ECHO_TAIL_MS / 1000))
        # The mic hears no echo (a headset): AEC3, with no echo to learn, would still cut
        # the user's first 100–150 ms during a reply (see BargeInDetector.process), so the
        # raw mic goes to the server and counts for barge-in too.
        echo_free = captured is not None and captured.echo_free
        det = self.detector
        if det is not None and not muted:
            if self._xrun:
                self._xrun = False
                det.guard()
            loud = captured is None or captured.loud
            fired = det.process(frame, playing, self._raw_speech(raw, captured), loud,
                                echo_free, residual=captured is not None and captured.residual)
            self._heard = det.last_speech
            if fired:
                self.speech_ms = det.config.min_speech_ms
                turn = self.playback.hold()
                if turn is not None:
                    self.on_barge_in(turn)
            elif det.last_speech:
                self.speech_ms += FRAME_MS
        upstream = raw if echo_free else frame
        if muted:
            self._pending.append(bytes(FRAME_SAMPLES * 2))
        elif self._gate_upstream(playing, det):
            self._preroll.append(upstream.tobytes())
            self._pending.append(bytes(FRAME_SAMPLES * 2))
        else:
            self._pending.extend(self._preroll)  # the onset the server has not heard yet
            self._preroll.clear()
            self._pending.append(upstream.tobytes())
        if len(self._pending) >= CHUNK_FRAMES:
            self.on_chunk(b"".join(self._pending))
            self._pending.clear()


def build_mic(playback: PlaybackBuffer, sink: Sink, mode: str, barge_in: bool,
              on_chunk: OnChunk, on_barge_in: OnBargeIn) -> MicPipeline:
    """The capture pipeline for an echo ``mode`` (aec | headphones | half_duplex).

    In "aec" mode the sink gets a reference tap and the canceller is created now, so a
    missing package fails before the session starts (never a silent fallback).
    """
    from voicecli.audio.echo import EchoCanceller
    from voicecli.audio.vad import BargeInConfig, default_is_speech

    capture = None
    if mode == "aec":
        tap = ReferenceTap()
        capture = CapturePath(EchoCanceller(sink.rate), tap)
        sink.reference = tap
    detector = None
    raw_speech = None
    if barge_in and mode != "half_duplex":  # half duplex: the mic is muted during replies
        config = BargeInConfig(converge_s=CONVERGE_S if capture is not None else 0.0)
        test = default_is_speech(capture is not None)
        detector = BargeInDetector(test, config, voiced_run=test)
        raw_speech = test.raw
    return MicPipeline(playback, detector, on_chunk, on_barge_in, capture,
                       half_duplex=mode == "half_duplex", raw_speech=raw_speech)
