"""The audio shell: microphone and speaker, devices (PortAudio) or files, around the core.

A source feeds 16 kHz blocks with their capture time to a :class:`FrameConsumer` (the
capture decision, :class:`voicecli.audio.mic.MicPipeline`) from its own thread: the
PortAudio callback, or a file pacer. A sink drains a :class:`PlaybackReader` (the playback
buffer) from its own thread, and copies each block it plays into the echo reference tap,
with the time it reaches the DAC; the canceller runs in the capture thread, where the
microphone's timestamps are. Callbacks do no I/O and hold the playback buffer's lock only
for a copy.
"""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

import numpy as np

from voicecli.audio import MIC_RATE, SPEAKER_RATE
from voicecli.audio.echo import ReferenceTap
from voicecli.audio.pcm import from_bytes
from voicecli.audio.resample import StreamResampler, resample
from voicecli.audio.vad import FRAME_SAMPLES
from voicecli.errors import DeviceError
from voicecli.outfiles import ReplaceOnCommit, check_writable

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
