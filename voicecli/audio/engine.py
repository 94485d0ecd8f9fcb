"""The audio shell: microphone and speaker (devices or files) around the pure core.

Both backends share :class:`MicPipeline`, which runs inside the capture thread (the PortAudio
callback, or the file pacer): it cuts 16 kHz audio into 20 ms frames, removes the echo of
the reply (``audio.echo``, unless in headphones mode), runs the barge-in detector and, on a
barge-in, holds the playback buffer right there (silence at once). Only then does it tell
the event loop (``on_barge_in``). Cancelled frames for the network leave via ``on_chunk``:
the server's own voice detector then does not hear the reply either (when the microphone
hears no echo at all, e.g. a headset, the raw frames go: AEC3 would cut the user's onset).

The output side only copies each block it plays into the echo reference tap, with the time
it reaches the DAC; the canceller runs in the capture thread, where the microphone's
timestamps are. Callbacks do no I/O and hold the playback buffer's lock only for a copy.
"""

from __future__ import annotations

import threading
import time
import wave
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

import numpy as np

from voicecli.audio import MIC_RATE, SPEAKER_RATE
from voicecli.audio.echo import CapturePath, ReferenceTap
from voicecli.audio.pcm import from_bytes, rms_dbfs
from voicecli.audio.playback import PlaybackBuffer
from voicecli.audio.resample import StreamResampler, resample
from voicecli.audio.vad import FRAME_MS, FRAME_SAMPLES, BargeInDetector, FrameSplitter
from voicecli.errors import DeviceError
from voicecli.outfiles import ReplaceOnCommit, check_writable

OnChunk = Callable[[bytes], None]
OnBargeIn = Callable[[int | None], None]

CHUNK_FRAMES = 2  # 2 × 20 ms = 40 ms per message to the server
PLAYING_GRACE_S = 0.15  # a reply counts as playing this long after its last sample
UPSTREAM_HANG_MS = 400  # after speech, keep sending the mic for this long (pauses in words)
ECHO_TAIL_MS = 400  # the echo of a reply lasts this long after its last sample
PREROLL_MS = 300  # mic audio kept while gated, sent when speech starts
# The speaker stream. A barge-in holds the playback buffer at once, in the capture callback,
# but what was already handed to PortAudio still plays: its buffer, after the wait for the
# next output callback (and in translation all of it is lag). Hold → silence at the speaker,
# measured on the virtual devices (PortAudio → ALSA → PulseAudio; benchmarks/device_latency.py):
# 20 ms blocks at 'high' (40 ms of buffer) 38–61 ms, median 52–54; 10 ms blocks at 'low' (two
# blocks, 20 ms) 20–34 ms, median 25–29: bargein_e2e.py --echo median 130 -> 106 ms, worst
# 191–226 -> 130–190 (one run with an underrun: 298); translate lag ~58 -> ~35 ms. 5 ms blocks
# (10 ms of buffer) underran several times a minute with both cores busy; 10 ms blocks about
# once in 20 minutes (an underrun makes the echo canceller re-converge, and barge-in is
# stricter for 2 s).
SPEAKER_LATENCY = "low"
SPEAKER_BLOCK_MS = 10
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
                 capture: CapturePath | None = None, half_duplex: bool = False) -> None:
        self.playback = playback
        self.detector = detector
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

    def note_xrun(self) -> None:
        """A device over/underran: the echo path may have moved (any thread)."""
        self._xrun = True

    def process(self, samples: np.ndarray, t: float | None = None) -> None:
        """``samples`` (16 kHz int16) whose first sample was captured at ``t`` (monotonic)."""
        frames = self._splitter.split(samples)
        t_end = (time.monotonic() if t is None else t + len(samples) / MIC_RATE)
        left = self._splitter.buffered
        for j, frame in enumerate(frames):
            raw = frame
            self.level_dbfs = rms_dbfs(frame)  # read by the live view's meter
            if self.capture is not None:
                end_t = t_end - (left + (len(frames) - 1 - j) * FRAME_SAMPLES) / MIC_RATE
                frame = self.capture.process(frame, end_t)
                if self.capture.discontinuity:
                    self.capture.discontinuity = False
                    self._xrun = True
            self._frame(frame, raw)

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

    def _raw_speech(self, raw: np.ndarray, echo_free: bool) -> bool:
        """Speech on the raw mic, louder than any echo: asked for (and its Silero run) only
        while the detector is guarded or the mic hears no echo (see BargeInDetector)."""
        det, cap = self.detector, self.capture
        if det is None or cap is None or not (det.guarded or echo_free) \
                or not cap.raw_passes_gate:
            return False
        raw_test = getattr(det.is_speech, "raw", None)
        return bool(raw_test(raw, echo_free)) if raw_test is not None else False

    def _frame(self, frame: np.ndarray, raw: np.ndarray) -> None:
        playing = self.playback.is_playing(PLAYING_GRACE_S)
        # Half duplex stays muted until the reply's echo has died away, not just its samples.
        muted = self.muted or (self.half_duplex
                               and self.playback.is_playing(ECHO_TAIL_MS / 1000))
        cap = self.capture
        # The mic hears no echo (a headset): AEC3, with no echo to learn, would still cut
        # the user's first 100–150 ms during a reply (see BargeInDetector.process), so the
        # raw mic goes to the server and counts for barge-in too.
        echo_free = cap is not None and cap.echo_negligible
        det = self.detector
        if det is not None and not muted:
            if self._xrun:
                self._xrun = False
                det.guard()
            loud = cap is None or cap.raw_passes_gate
            fired = det.process(frame, playing, self._raw_speech(raw, echo_free), loud,
                                echo_free, residual=cap is not None and cap.residual)
            if cap is not None:
                cap.user_heard = det.last_speech
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
    if barge_in and mode != "half_duplex":  # half duplex: the mic is muted during replies
        config = BargeInConfig(converge_s=CONVERGE_S if capture is not None else 0.0)
        detector = BargeInDetector(default_is_speech(capture is not None), config)
    return MicPipeline(playback, detector, on_chunk, on_barge_in, capture,
                       half_duplex=mode == "half_duplex")


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


class FrameConsumer(Protocol):
    """What a source feeds, from its own thread: :class:`MicPipeline`, or a wrapper of one
    (the recorder's tap)."""

    def process(self, samples: np.ndarray, t: float | None = None) -> None:
        """``samples``: 16 kHz int16 whose first sample was captured at ``t`` (monotonic;
        None: now, less the block's length)."""
        ...

    def note_xrun(self) -> None:
        """The device over/underran."""
        ...


class PlaybackReader(Protocol):
    """What a sink drains, from its own thread: :class:`PlaybackBuffer`, or a wrapper of
    one (translate's playout clock, the recorder's tap)."""

    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` with the next samples (silence where there are none); return how
        many were real audio."""
        ...


class Source(Protocol):
    """Where microphone audio comes from; calls ``mic.process`` from its own thread."""

    finished: threading.Event  # set when a finite input (a file) has been consumed

    @property
    def xruns(self) -> int:
        """Blocks the device reported as overrun so far (files: 0)."""
        ...

    def start(self, mic: FrameConsumer) -> None: ...
    def stop(self) -> None: ...


class Sink(Protocol):
    """Where the reply goes; drains ``playback`` from its own thread at its own clock."""

    rate: int
    reference: ReferenceTap | None  # set before start(): gets a copy of every block played

    @property
    def xruns(self) -> int:
        """Blocks the device reported as underrun so far (files: 0)."""
        ...

    def start(self, playback: PlaybackReader) -> None: ...
    def stop(self) -> None: ...


class _DeviceStream:
    """One mono int16 PortAudio stream with ``block_ms`` blocks; counts xruns.
    Subclasses say which."""

    kind = "input"
    what = "the microphone"

    def __init__(self, device: int | None, rate: int, latency: str | float = "high",
                 block_ms: int = 20) -> None:
        self.device = device
        self.rate = rate
        self.latency = latency
        self.block_ms = block_ms
        self.xruns = 0
        self._stream: Any = None

    def _open(self, on_block: Callable[[np.ndarray, float, bool], None]) -> None:
        """``on_block(samples, t, xrun)``: ``t`` is when the block's first sample was captured
        (input) or will reach the DAC (output), on ``time.monotonic()``'s clock."""
        from voicecli.audio.devices import sd

        s = sd()
        output = self.kind == "output"

        def callback(data: np.ndarray, frames: int, ti: Any, status: Any) -> None:
            now = time.monotonic()
            if status:
                self.xruns += 1
            # PortAudio's stream clock differs from ours: use only the offsets it reports.
            try:
                offset = (ti.outputBufferDacTime if output else ti.inputBufferAdcTime) \
                    - ti.currentTime
            except AttributeError:
                offset = 0.0
            if not -1.0 < offset < 1.0:  # some host APIs report zeros or nonsense
                offset = 0.0
            on_block(data[:, 0], now + offset, bool(status))

        cls = s.InputStream if self.kind == "input" else s.OutputStream
        try:
            self._stream = cls(device=self.device, samplerate=self.rate, channels=1,
                               dtype="int16", latency=self.latency,
                               blocksize=self.rate * self.block_ms // 1000, callback=callback)
            self._stream.start()
        except (s.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open {self.what}: {exc}") from None

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # closing a dead device must not hide the real error
                pass


class DeviceSource(_DeviceStream):
    """A PortAudio microphone. Opened at 16 kHz, or at its native rate and resampled."""

    def __init__(self, device: int | None, rate: int = MIC_RATE,
                 latency: str | float = "high") -> None:
        super().__init__(device, rate, latency)
        self.finished = threading.Event()  # never set: a microphone does not end

    def start(self, mic: FrameConsumer) -> None:
        to_mic_rate = StreamResampler(self.rate, MIC_RATE)

        def on_block(block: np.ndarray, t: float, xrun: bool) -> None:
            if xrun:
                mic.note_xrun()
            mic.process(to_mic_rate.process(block), t)

        self._open(on_block)


class DeviceSink(_DeviceStream):
    """A PortAudio speaker, fed from the playback buffer by its callback.

    ``reference``: if set, every block played is also copied there (for the echo canceller).
    Small blocks and a short buffer by default: see ``SPEAKER_LATENCY``.
    """

    kind = "output"
    what = "the speaker"

    def __init__(self, device: int | None, rate: int = SPEAKER_RATE,
                 latency: str | float | None = None, block_ms: int | None = None) -> None:
        # A device that cannot play 24 kHz gets the safer 20 ms / 'high' (measured: the
        # JACK-backed 48 kHz-only test device underran at 10 ms / 'low' in 1 run of 4).
        native = rate == SPEAKER_RATE
        super().__init__(device, rate,
                         latency if latency is not None else (SPEAKER_LATENCY if native
                                                              else "high"),
                         block_ms if block_ms is not None else (SPEAKER_BLOCK_MS if native
                                                                else 20))
        self.reference: ReferenceTap | None = None

    def start(self, playback: PlaybackReader) -> None:
        ref = self.reference

        def on_block(out: np.ndarray, t: float, xrun: bool) -> None:
            playback.read_into(out)
            if ref is not None:
                ref.write(out, t, xrun)

        self._open(on_block)


def read_wav(path: str) -> np.ndarray:
    """A WAV file as 16 kHz mono int16 (any rate, mono or stereo, 16-bit PCM)."""
    try:
        with wave.open(path, "rb") as w:
            if w.getsampwidth() != 2:
                raise DeviceError(f"{path}: only 16-bit PCM WAV is supported "
                                  f"(got {8 * w.getsampwidth()}-bit)")
            rate, channels = w.getframerate(), w.getnchannels()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except FileNotFoundError:
        raise DeviceError(f"--input: no such file: {path}") from None
    except (wave.Error, EOFError) as exc:
        raise DeviceError(f"--input: {path} is not a readable WAV file ({exc})") from None
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return resample(data, rate, MIC_RATE)


def write_wav(path: str, samples: np.ndarray, rate: int, flag: str = "--output") -> None:
    """16-bit WAV: mono for 1-D ``samples``, one channel per column for (n, channels).

    Written beside ``path`` and moved over it once complete (see voicecli.outfiles)."""
    out = ReplaceOnCommit(path, flag)
    try:
        with wave.open(out.file, "wb") as w:
            w.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(samples.astype("<i2").tobytes())
    except OSError as exc:
        out.discard()
        raise DeviceError(f"{flag}: cannot write {path}: {exc.strerror}") from None
    out.commit()


class _Pacer:
    """A thread that calls ``tick()`` every 20 ms of (optionally sped-up) real time."""

    def __init__(self, name: str, speed: float = 1.0) -> None:
        self.name = name
        self.speed = speed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, tick: Callable[[], None]) -> None:
        def loop() -> None:
            period = 0.02 / self.speed
            start = time.monotonic()
            n = 0
            while not self._stop.is_set():
                tick()
                n += 1
                delay = start + n * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        self._thread = threading.Thread(target=loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


class FileSource:
    """A 16-bit WAV file (any rate) or raw 16 kHz s16le on stdin, fed in real time.

    After the input ends it keeps "hearing" silence, like a quiet room, so the server can
    tell the user stopped talking; ``finished`` is set then.
    """

    xruns = 0  # a file never drops out

    def __init__(self, path: str, stdin: BinaryIO | None = None, speed: float = 1.0) -> None:
        self.finished = threading.Event()
        self._samples = None if path == "-" else read_wav(path)
        self._stdin = stdin
        self._pos = 0
        self._pacer = _Pacer("file-source", speed)

    @property
    def duration_s(self) -> float | None:
        """Length of the file (None for stdin)."""
        return None if self._samples is None else len(self._samples) / MIC_RATE

    @property
    def position_s(self) -> float:
        """How much of the input has been fed so far."""
        return self._pos / MIC_RATE

    def _next(self) -> np.ndarray | None:
        if self._samples is not None:
            chunk = self._samples[self._pos:self._pos + FRAME_SAMPLES]
            self._pos += len(chunk)
            return chunk if len(chunk) else None
        if self._stdin is not None:
            data = self._stdin.read(FRAME_SAMPLES * 2)
            return from_bytes(data[: len(data) // 2 * 2]) if data else None
        return None

    def start(self, mic: FrameConsumer) -> None:
        silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)

        def tick() -> None:
            chunk = None if self.finished.is_set() else self._next()
            if chunk is None:
                self.finished.set()
                chunk = silence
            mic.process(chunk)

        self._pacer.run(tick)

    def stop(self) -> None:
        self._pacer.stop()


class FileSink:
    """Writes what the speaker would play to a 24 kHz WAV, from the first reply sample on
    (``keep_leading``: from the moment it starts, so the WAV lines up with the input).

    The file is written at :meth:`stop`, and only if some reply audio was played: a session
    that failed or got no reply leaves an existing file as it was (``written`` says which)."""

    xruns = 0  # a file never drops out

    def __init__(self, path: str, speed: float = 1.0, keep_leading: bool = False) -> None:
        check_writable(path, "--output")
        self.path = path
        self.keep_leading = keep_leading
        self.written = False
        self.rate = SPEAKER_RATE
        self.reference: ReferenceTap | None = None
        self._recorded: list[np.ndarray] = []
        self._pacer = _Pacer("file-sink", speed)

    def start(self, playback: PlaybackReader) -> None:
        out = np.zeros(self.rate // 50, dtype=np.int16)
        ref = self.reference

        def tick() -> None:
            if playback.read_into(out) or self._recorded or self.keep_leading:
                self._recorded.append(out.copy())
            if ref is not None:
                ref.write(out, time.monotonic(), False)

        self._pacer.run(tick)

    def stop(self) -> None:
        self._pacer.stop()
        audio = np.concatenate(self._recorded) if self._recorded else np.zeros(0, np.int16)
        voiced = np.flatnonzero(np.abs(audio) > 16)
        if len(voiced):
            write_wav(self.path, audio[: voiced[-1] + 1], self.rate)
            self.written = True


class NullSource:
    """No microphone (``--text``): nothing is captured, and it never finishes."""

    xruns = 0  # a file never drops out

    def __init__(self) -> None:
        self.finished = threading.Event()

    def start(self, mic: FrameConsumer) -> None:
        pass

    def stop(self) -> None:
        pass


class NullSink:
    """No speaker (``--mute-speaker``): reply audio is drained in real time and discarded,
    so playback state (and barge-in) behaves as if it were played."""

    xruns = 0  # a file never drops out

    def __init__(self, speed: float = 1.0) -> None:
        self.rate = SPEAKER_RATE
        self.reference: ReferenceTap | None = None  # nothing is played: nothing to cancel
        self._pacer = _Pacer("null-sink", speed)

    def start(self, playback: PlaybackReader) -> None:
        out = np.zeros(self.rate // 50, dtype=np.int16)

        def tick() -> None:
            playback.read_into(out)

        self._pacer.run(tick)

    def stop(self) -> None:
        self._pacer.stop()
