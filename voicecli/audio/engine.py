"""The audio shell: microphone and speaker (devices or files) around the pure core.

Both backends share :class:`MicPipeline`, which runs inside the capture thread (the PortAudio
callback, or the file pacer): it cuts 16 kHz audio into 20 ms frames, runs the barge-in
detector and, on a barge-in, flushes the playback buffer right there. Only then does it tell
the event loop (``on_barge_in``). Frames for the network leave via ``on_chunk``.

Callbacks do no I/O and hold the playback buffer's lock only for a copy.
"""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

import numpy as np

from voicecli.audio import MIC_RATE, SPEAKER_RATE
from voicecli.audio.pcm import from_bytes, rms_dbfs
from voicecli.audio.playback import PlaybackBuffer
from voicecli.audio.resample import StreamResampler, resample
from voicecli.audio.vad import FRAME_SAMPLES, BargeInDetector, FrameSplitter
from voicecli.errors import DeviceError

OnChunk = Callable[[bytes], None]
OnBargeIn = Callable[[int | None], None]

CHUNK_FRAMES = 2  # 2 × 20 ms = 40 ms per message to the server
PLAYING_GRACE_S = 0.15  # a reply counts as playing this long after its last sample


class MicPipeline:
    """16 kHz capture → barge-in decision → network chunks. Runs in the capture thread."""

    def __init__(self, playback: PlaybackBuffer, detector: BargeInDetector | None,
                 on_chunk: OnChunk, on_barge_in: OnBargeIn) -> None:
        self.playback = playback
        self.detector = detector
        self.on_chunk = on_chunk
        self.on_barge_in = on_barge_in
        self.muted = False
        self.level_dbfs = -120.0
        self._splitter = FrameSplitter(FRAME_SAMPLES)
        self._pending: list[bytes] = []

    def process(self, samples: np.ndarray) -> None:
        for frame in self._splitter.split(samples):
            self.level_dbfs = rms_dbfs(frame)  # read by the live view's meter
            if self.detector is not None and not self.muted:
                playing = self.playback.is_playing(PLAYING_GRACE_S)
                if self.detector.process(frame, playing):
                    self.on_barge_in(self.playback.flush())
            data = bytes(FRAME_SAMPLES * 2) if self.muted else frame.tobytes()
            self._pending.append(data)
            if len(self._pending) >= CHUNK_FRAMES:
                self.on_chunk(b"".join(self._pending))
                self._pending.clear()


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


class Source(Protocol):
    """Where microphone audio comes from; calls ``mic.process`` from its own thread."""

    finished: threading.Event  # set when a finite input (a file) has been consumed

    def start(self, mic: MicPipeline) -> None: ...
    def stop(self) -> None: ...


class Sink(Protocol):
    """Where the reply goes; drains ``playback`` from its own thread at its own clock."""

    rate: int

    def start(self, playback: PlaybackBuffer) -> None: ...
    def stop(self) -> None: ...


class _DeviceStream:
    """One mono int16 PortAudio stream with 20 ms blocks (``block_ms``); counts xruns.
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

    def _open(self, on_block: Callable[[np.ndarray], None]) -> None:
        from voicecli.audio.devices import sd

        s = sd()

        def callback(data: np.ndarray, frames: int, _t: Any, status: Any) -> None:
            if status:
                self.xruns += 1
            on_block(data[:, 0])

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

    def start(self, mic: MicPipeline) -> None:
        to_mic_rate = StreamResampler(self.rate, MIC_RATE)
        self._open(lambda block: mic.process(to_mic_rate.process(block)))


class DeviceSink(_DeviceStream):
    """A PortAudio speaker, fed from the playback buffer by its callback."""

    kind = "output"
    what = "the speaker"

    def __init__(self, device: int | None, rate: int = SPEAKER_RATE,
                 latency: str | float = "high", block_ms: int = 20) -> None:
        super().__init__(device, rate, latency, block_ms)

    def start(self, playback: PlaybackBuffer) -> None:
        self._open(playback.read_into)


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
    """16-bit WAV: mono for 1-D ``samples``, one channel per column for (n, channels)."""
    try:
        with wave.open(path, "wb") as w:
            w.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(samples.astype("<i2").tobytes())
    except OSError as exc:
        raise DeviceError(f"{flag}: cannot write {path}: {exc.strerror}") from None


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

    def start(self, mic: MicPipeline) -> None:
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
    (``keep_leading``: from the moment it starts, so the WAV lines up with the input)."""

    def __init__(self, path: str, speed: float = 1.0, keep_leading: bool = False) -> None:
        self.path = path
        self.keep_leading = keep_leading
        self.rate = SPEAKER_RATE
        self._recorded: list[np.ndarray] = []
        self._pacer = _Pacer("file-sink", speed)

    def start(self, playback: PlaybackBuffer) -> None:
        out = np.zeros(self.rate // 50, dtype=np.int16)

        def tick() -> None:
            if playback.read_into(out) or self._recorded or self.keep_leading:
                self._recorded.append(out.copy())

        self._pacer.run(tick)

    def stop(self) -> None:
        self._pacer.stop()
        audio = np.concatenate(self._recorded) if self._recorded else np.zeros(0, np.int16)
        voiced = np.flatnonzero(np.abs(audio) > 16)
        write_wav(self.path, audio[: voiced[-1] + 1] if len(voiced) else audio[:0], self.rate)


class NullSource:
    """No microphone (``--text``): nothing is captured, and it never finishes."""

    def __init__(self) -> None:
        self.finished = threading.Event()

    def start(self, mic: MicPipeline) -> None:
        pass

    def stop(self) -> None:
        pass


class NullSink:
    """No speaker (``--mute-speaker``): reply audio is drained in real time and discarded,
    so playback state (and barge-in) behaves as if it were played."""

    def __init__(self, speed: float = 1.0) -> None:
        self.rate = SPEAKER_RATE
        self._pacer = _Pacer("null-sink", speed)

    def start(self, playback: PlaybackBuffer) -> None:
        out = np.zeros(self.rate // 50, dtype=np.int16)
        self._pacer.run(lambda: playback.read_into(out))

    def stop(self) -> None:
        self._pacer.stop()
