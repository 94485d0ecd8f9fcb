"""Barge-in decisions: is the user talking over the reply?

Pure logic over 16 kHz int16 frames. It runs inside the input callback, next to the audio,
so the playback is silenced the moment the user starts talking, without waiting for the
event loop or the server. The voice detector is injected, so tests can drive it with a fake.

Which detector (measured, see benchmarks/bargein.py and the shared barge-in notes): on the
echo-cancelled signal, webrtcvad (mode 3, above an energy floor) AND Silero (p >= 0.1).
webrtcvad is fast but fires on keyboard clicks; Silero ignores clicks but is slow on
canceller output; requiring both is fast and robust. Two guards make the decision stricter
(longer speech needed): while the canceller converges (the first seconds of playback) and
for a short time after an xrun or a device change, when the echo path moved under it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voicecli.audio import MIC_RATE
from voicecli.audio.levels import floor_power, mean_square

FRAME_MS = 20
FRAME_SAMPLES = MIC_RATE * FRAME_MS // 1000  # 320

IsSpeech = Callable[[np.ndarray], bool]


class VoicedRun(Protocol):
    """A speech test that knows how long the voice it hears has gone on (onset credit)."""

    run_ms: int
# Silero's threshold on a microphone that hears no echo (headphones mode; a headset in the
# default mode): 0.1 let a fan through.
NO_ECHO_THRESHOLD = 0.3


def webrtc_is_speech(mode: int = 3, floor_dbfs: float = -45.0) -> IsSpeech:
    """A speech test for one 20 ms frame: webrtcvad (``mode`` 0–3) above an energy floor."""
    try:
        import webrtcvad
    except ImportError as exc:  # fail loudly: a silently missing VAD means no barge-in
        raise RuntimeError(
            "webrtcvad is not importable; install the 'webrtcvad-wheels' package"
        ) from exc
    vad = webrtcvad.Vad(mode)
    floor = floor_power(floor_dbfs)

    def is_speech(frame: np.ndarray) -> bool:
        if mean_square(frame) < floor:
            return False
        return bool(vad.is_speech(frame.tobytes(), MIC_RATE))

    return is_speech


class DualVad:
    """webrtcvad AND Silero: speech only when both agree (see the module docstring)."""

    def __init__(self, webrtc: IsSpeech, silero: Any, threshold: float = 0.1,
                 raw_silero: Any = None, skip_quiet: bool = False,
                 floor_dbfs: float = -45.0) -> None:
        self.webrtc = webrtc
        self.silero = silero
        self.threshold = threshold
        # ``skip_quiet``: below webrtcvad's energy floor nothing is speech, so Silero is not
        # run there (it catches up on the next loud frame, see SileroVad.skip). Saves most of
        # its CPU in a quiet room; only used without a canceller: on canceller output the
        # catch-up's fresh state after long quiet measurably raised self-interruptions.
        self.skip_quiet = skip_quiet
        self.floor = floor_power(floor_dbfs)
        # The raw mic hears the echo too (only its level is gated): be stricter, unless it
        # hears no echo at all (then it is what headphones mode hears).
        self.raw_threshold = 0.5
        # Created up front: building an onnxruntime session takes ~30 ms, far too long for
        # the audio callback.
        self.raw_silero = raw_silero
        # Frames webrtcvad called voiced in a row, up to now. Silero lags by up to a 32 ms
        # chunk, so once it agrees, that whole run counts as speech (onset credit).
        self.run_ms = 0

    def raw(self, frame: np.ndarray, echo_free: bool = False) -> bool:
        """The same test on the raw microphone (behind an echo gate, while the canceller
        converges or when the mic hears no echo), with its own Silero state; it runs
        (costs CPU) only then."""
        if self.raw_silero is None:
            return self.webrtc(frame)
        p = self.raw_silero.process(frame)
        threshold = NO_ECHO_THRESHOLD if echo_free else self.raw_threshold
        return p >= threshold and self.webrtc(frame)

    def __call__(self, frame: np.ndarray) -> bool:
        if self.skip_quiet and mean_square(frame) < self.floor:
            self.run_ms = 0
            self.silero.skip(frame)
            return False
        p = self.silero.process(frame)
        voiced = self.webrtc(frame)
        self.run_ms = self.run_ms + FRAME_MS if voiced else 0
        return voiced and p >= self.threshold

    def reset(self) -> None:
        self.silero.reset()


def default_is_speech(echo_cancelled: bool = True) -> DualVad:
    """The app's speech test: webrtcvad mode 3 AND Silero (needs onnxruntime + the model).

    ``echo_cancelled``: it listens to a canceller's output (and gets a second Silero for
    the raw microphone); otherwise (headphones) Silero skips quiet frames."""
    from voicecli.audio.silero import SileroVad

    if echo_cancelled:
        return DualVad(webrtc_is_speech(3), SileroVad(), raw_silero=SileroVad())
    # No canceller artefacts to see through: a stricter Silero.
    return DualVad(webrtc_is_speech(3), SileroVad(), threshold=NO_ECHO_THRESHOLD,
                   skip_quiet=True)


@dataclass
class BargeInConfig:
    min_speech_ms: int = 40  # voiced audio needed before we cut the reply
    release_ms: int = 300  # silence that re-arms the detector after a trigger
    guarded_min_speech_ms: int = 160  # the same while a guard is up
    converge_s: float = 0.0  # playback time an echo canceller gets to converge (0: none)
    xrun_guard_s: float = 2.0  # guard after an xrun, a delay jump or a device change


class BargeInDetector:
    """Fires once when the user speaks for ``min_speech_ms`` while a reply is playing.

    ``min_speech_ms`` becomes ``guarded_min_speech_ms`` during the first ``converge_s`` of
    playback and for ``xrun_guard_s`` after :meth:`guard` is called.
    """

    def __init__(self, is_speech: IsSpeech, config: BargeInConfig | None = None,
                 voiced_run: VoicedRun | None = None) -> None:
        self.is_speech = is_speech
        self.config = config or BargeInConfig()
        self.voiced_run = voiced_run  # the speech test's own run of voiced frames, if any
        self._voiced = 0
        self._silent = 0
        self._armed = True
        self._played_ms = 0
        self._guard_ms = 0
        self.last_speech = False  # the speech test's answer for the latest frame

    def reset(self) -> None:
        self._voiced = self._silent = 0
        self._armed = True

    def guard(self, seconds: float | None = None) -> None:
        """Be strict for a while: the echo path just changed (xrun, delay jump, new device)."""
        ms = int(1000 * (self.config.xrun_guard_s if seconds is None else seconds))
        self._guard_ms = max(self._guard_ms, ms)

    @property
    def guarded(self) -> bool:
        return self._guard_ms > 0 or self._played_ms < 1000 * self.config.converge_s

    def process(self, frame: np.ndarray, playing: bool, raw_speech: bool = False,
                loud: bool = True, echo_free: bool = False, residual: bool = False) -> bool:
        """Feed one 20 ms frame; True exactly when a barge-in starts.

        While guarded, two more inputs from the raw microphone: ``loud`` (it is louder than
        any echo could be, see ``echo.EchoGate``) is required, since an unconverged
        canceller leaves echo behind; ``raw_speech`` (speech on the raw mic) is enough,
        since an unconverged canceller may also suppress the user along with the echo.
        ``echo_free``: the microphone hears next to nothing of the reply (a headset), so
        the guard needs no longer speech (it still needs ``loud``), and after the guard
        ``raw_speech`` still counts: with no echo to learn from, AEC3 keeps suppressing a
        user as if the echo were as loud as the reply (traced on the devices: the
        cancelled signal 30–60 dB under the raw mic for the first 100–150 ms of speech).
        ``residual``: the canceller cut this frame deeply (``echo.RESIDUAL_CUT_DB``) while
        the raw mic was no louder than the echo could be, so a voice in it is left-over
        echo; after the guard it is not speech.
        """
        guarded = self.guarded
        speech = self.is_speech(frame)  # always run: the detectors keep state
        if guarded:
            speech = loud and (speech or raw_speech)
        else:
            speech = speech and not residual
            if echo_free:
                speech = speech or (loud and raw_speech)
        self.last_speech = speech
        self._guard_ms = max(0, self._guard_ms - FRAME_MS)
        if playing:
            self._played_ms += FRAME_MS
        strict = guarded and not echo_free
        need = self.config.guarded_min_speech_ms if strict else self.config.min_speech_ms
        if speech:
            credit = self.voiced_run.run_ms if self.voiced_run is not None else 0
            self._voiced = max(self._voiced + FRAME_MS, credit)
            self._silent = 0
        else:
            self._silent += FRAME_MS
            # A short gap inside a word does not reset the onset count.
            if self._silent >= 60:
                self._voiced = 0
            if self._silent >= self.config.release_ms:
                self._armed = True
        if self._armed and playing and self._voiced >= need:
            self._armed = False
            return True
        return False


@dataclass(frozen=True)
class HoldPolicy:
    """When a held (locally interrupted) reply is resumed or discarded."""

    window_s: float = 1.2  # wait this long for the server's ``interrupted``
    real_speech_ms: int = 400  # this much speech since the trigger: a real interruption


def hold_decision(elapsed_s: float, speech_ms: int, policy: HoldPolicy = HoldPolicy()) -> str:
    """``discard`` (the user is really talking), ``resume`` (a short sound and the server did
    not confirm within the window) or ``wait``. A server ``interrupted`` always discards."""
    if speech_ms >= policy.real_speech_ms:
        return "discard"
    if elapsed_s >= policy.window_s:
        return "resume"
    return "wait"


class FrameSplitter:
    """Cut a stream of arbitrary-length chunks into fixed frames without large allocations."""

    def __init__(self, frame: int = FRAME_SAMPLES) -> None:
        self.frame = frame
        self._buf = np.zeros(frame, dtype=np.int16)
        self._fill = 0

    @property
    def buffered(self) -> int:
        """Samples waiting for the next frame."""
        return self._fill

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
