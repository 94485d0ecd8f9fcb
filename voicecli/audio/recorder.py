"""``--record FILE.wav``: the session as stereo, microphone left, assistant right.

Taps sit between the audio threads and the pipeline: :class:`RecordingSource` sees each
block the microphone delivers (16 kHz), :class:`RecordingSink` each block the speaker plays.
A tap only appends a copy to a deque (no lock, no I/O, no waiting); a writer thread moves
the blocks to two temporary raw files. At the end the two are aligned by the time of their
first block and written as one stereo WAV at the speaker's rate.
"""

from __future__ import annotations

import collections
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from voicecli.audio import MIC_RATE
from voicecli.audio.echo import ReferenceTap
from voicecli.audio.engine import FrameConsumer, PlaybackReader, Sink, Source, write_wav
from voicecli.audio.resample import resample
from voicecli.outfiles import check_writable


def mux_stereo(left: np.ndarray, left_start: float, right: np.ndarray, right_start: float,
               rate: int) -> np.ndarray:
    """Interleave two mono int16 streams at ``rate`` into (n, 2), aligned by start times."""
    t0 = min(left_start, right_start)
    pad_l = round((left_start - t0) * rate)
    pad_r = round((right_start - t0) * rate)
    n = max(pad_l + len(left), pad_r + len(right))
    out = np.zeros((n, 2), dtype=np.int16)
    out[pad_l:pad_l + len(left), 0] = left
    out[pad_r:pad_r + len(right), 1] = right
    return out


class _Track:
    """One side: blocks queued by the audio thread, drained to a raw file by the writer."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / f"{name}.raw"
        self.file = open(self.path, "wb")  # noqa: SIM115 (lives with the recording)
        self.blocks: collections.deque[np.ndarray] = collections.deque()
        self.start: float | None = None

    def tap(self, block: np.ndarray, t: float | None = None) -> None:
        """Queue ``block`` (16 kHz), captured from ``t`` on (None: it just ended)."""
        if self.start is None:
            self.start = time.monotonic() - len(block) / MIC_RATE if t is None else t
        self.blocks.append(block.copy())

    def drain(self) -> None:
        while self.blocks:
            self.file.write(self.blocks.popleft().astype("<i2").tobytes())

    def read(self) -> np.ndarray:
        self.drain()
        self.file.close()
        return np.fromfile(self.path, dtype="<i2")


class SessionRecorder:
    """Collects both sides and writes ``path`` at :meth:`close`."""

    def __init__(self, path: str) -> None:
        check_writable(path, "--record")  # fail now, not after the session
        self.path = path
        self._tmp = tempfile.TemporaryDirectory(prefix="voicecli-record-")
        folder = Path(self._tmp.name)
        self.mic = _Track(folder, "mic")
        self.speaker = _Track(folder, "speaker")
        self.speaker_rate = 24000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._thread.start()
        self._closed = False

    def _write_loop(self) -> None:
        while not self._stop.wait(0.2):
            self.mic.drain()
            self.speaker.drain()

    def close(self) -> None:
        """Stop collecting and write the stereo WAV."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout=2)
        rate = self.speaker_rate
        mic = resample(self.mic.read(), MIC_RATE, rate)
        speaker = self.speaker.read()
        now = time.monotonic()
        try:
            if len(mic) or len(speaker):  # a run that never started keeps an older file
                stereo = mux_stereo(mic, self.mic.start or now, speaker,
                                    self.speaker.start or now, rate)
                write_wav(self.path, stereo, rate, "--record")
        finally:
            self._tmp.cleanup()


class _TapMic:
    """Sits between a source and its consumer: records each 16 kHz block, then passes it on."""

    def __init__(self, mic: FrameConsumer, track: _Track) -> None:
        self._mic = mic
        self._track = track

    def process(self, samples: np.ndarray, t: float | None = None) -> None:
        self._track.tap(samples, t)
        self._mic.process(samples, t)

    def note_xrun(self) -> None:
        self._mic.note_xrun()


class _TapPlayback:
    """Sits between the playback and a sink: records what each read produced."""

    def __init__(self, playback: PlaybackReader, track: _Track, rate: int) -> None:
        self._playback = playback
        self._track = track
        self._rate = rate

    def read_into(self, out: np.ndarray) -> int:
        n = self._playback.read_into(out)
        if self._track.start is None:
            self._track.start = time.monotonic() - len(out) / self._rate
        self._track.blocks.append(out.copy())
        return n


class RecordingSource:
    """A source whose microphone blocks are also recorded (left channel)."""

    def __init__(self, source: Source, recorder: SessionRecorder) -> None:
        self._source = source
        self._recorder = recorder
        self.finished = source.finished

    @property
    def xruns(self) -> int:
        return self._source.xruns

    def start(self, mic: FrameConsumer) -> None:
        self._source.start(_TapMic(mic, self._recorder.mic))

    def stop(self) -> None:
        self._source.stop()


class RecordingSink:
    """A sink whose played blocks are also recorded (right channel); writes the file at stop."""

    def __init__(self, sink: Sink, recorder: SessionRecorder) -> None:
        self._sink = sink
        self._recorder = recorder
        self.rate = sink.rate
        recorder.speaker_rate = sink.rate

    @property
    def xruns(self) -> int:
        return self._sink.xruns

    @property
    def reference(self) -> ReferenceTap | None:
        """The echo canceller's reference tap lives on the real speaker."""
        return self._sink.reference

    @reference.setter
    def reference(self, tap: ReferenceTap | None) -> None:
        self._sink.reference = tap

    def start(self, playback: PlaybackReader) -> None:
        self._sink.start(_TapPlayback(playback, self._recorder.speaker, self.rate))

    def stop(self) -> None:
        try:
            self._sink.stop()
        finally:
            self._recorder.close()
