"""Drive the virtual audio devices of scripts/virtual-audio.sh from tests and benchmarks.

No pytest dependency: benchmarks import it too.

IMPORTANT: call ``ensure_virtual_audio()`` BEFORE anything imports ``sounddevice`` (PortAudio reads
the ALSA/PulseAudio configuration once, when it is loaded). tests/conftest.py does it in
``pytest_configure``, before test modules are collected; a benchmark script must call it first
thing, before ``import voicecli...``.

Devices (see scripts/virtual-audio.sh):
  * the app's microphone is PortAudio's ``default`` input = PulseAudio ``vmic_feed.monitor``;
    ``play_into_mic()`` plays into the ``vmic_feed`` sink (16 kHz mono).
  * the app's speaker is PortAudio's ``default`` output = PulseAudio ``vspeaker`` (24 kHz mono);
    ``SpeakerRecorder`` records ``vspeaker.monitor``.
  * ``only48`` (PortAudio/ALSA name): the same mic and speaker, but opens only at 48000 Hz.

Audio arrays are 1-D ``numpy.int16`` (mono) unless stated otherwise. Times are ``time.monotonic()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "virtual-audio.sh"
CACHE_DIR = Path(os.environ.get("VOICECLI_TEST_CACHE", REPO / ".state" / "cache"))

MIC_SINK = "vmic_feed"  # play into this; the app's microphone is its monitor
MIC_RATE = 16000
SPEAKER_SINK = "vspeaker"  # the app's speaker
SPEAKER_MONITOR = "vspeaker.monitor"
SPEAKER_RATE = 24000
ONLY48_DEVICE = "only48"  # PortAudio device name of the 48 kHz-only device
ENV_VARS = (
    "PULSE_SERVER",
    "PULSE_CLIENTCONFIG",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "JACK_DEFAULT_SERVER",
    "JACK_NO_START_SERVER",
)


class VirtualAudioUnavailable(RuntimeError):
    """PulseAudio (or another piece of the virtual audio) is missing or failed to start."""


# --------------------------------------------------------------------------- daemon


def audio_env() -> dict[str, str]:
    """The environment variables a client needs (``scripts/virtual-audio.sh env``)."""
    out = subprocess.run(
        ["bash", str(SCRIPT), "env"], check=True, capture_output=True, text=True
    ).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'\"")
    return env


def ensure_virtual_audio() -> dict[str, str]:
    """Start the virtual audio daemon if it is not running and point this process at it.

    Sets PULSE_SERVER, PULSE_CLIENTCONFIG, XDG_RUNTIME_DIR, XDG_CONFIG_HOME, JACK_DEFAULT_SERVER
    and JACK_NO_START_SERVER in ``os.environ`` (child processes inherit them) and returns them.
    Costs ~15 ms when the daemon already runs, ~0.4 s otherwise.

    Must run before ``import sounddevice`` anywhere in the process; raises RuntimeError if
    sounddevice was imported earlier with a different environment. Raises
    VirtualAudioUnavailable if PulseAudio is not installed or does not start.
    """
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        raise VirtualAudioUnavailable(
            "PulseAudio is not installed, so there is no virtual microphone/speaker. Install it: "
            "apt-get install --no-install-recommends pulseaudio pulseaudio-utils "
            "libasound2-plugins libportaudio2 espeak-ng sox jackd2 pulseaudio-module-jack "
            "(or run scripts/test.sh)"
        )
    proc = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise VirtualAudioUnavailable(
            f"scripts/virtual-audio.sh start failed ({proc.returncode}):\n{proc.stderr}"
        )
    env = audio_env()
    stale = [k for k, v in env.items() if os.environ.get(k) != v]
    if stale and "sounddevice" in sys.modules:
        raise RuntimeError(
            "sounddevice was imported before ensure_virtual_audio(): PortAudio does not see the "
            "virtual devices. Call ensure_virtual_audio() first (tests/conftest.py does)."
        )
    os.environ.update(env)
    return env


def pactl(*args: str) -> str:
    """Run ``pactl`` against the virtual daemon; returns stdout."""
    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True).stdout


# --------------------------------------------------------------------------- files


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(mono int16 samples, rate) of a 16-bit PCM WAV file (the first channel if several)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: not 16-bit PCM")
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return x[:: w.getnchannels()].astype(np.int16), w.getframerate()


def write_wav(path: str | os.PathLike, x: np.ndarray, rate: int) -> Path:
    """Write mono int16 samples (floats in [-1, 1] are converted) to a WAV file."""
    x = to_int16(x)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.astype("<i2").tobytes())
    return Path(path)


def to_int16(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim > 1:
        x = x[:, 0]
    if np.issubdtype(x.dtype, np.floating):
        return (np.clip(x, -1.0, 1.0) * 32767).round().astype(np.int16)
    return x.astype(np.int16)


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) of mono audio; returns float64 in [-1, 1]."""
    import soxr

    return soxr.resample(_as_float(x), rate_in, rate_out, quality="HQ")


def speech_wav(
    text: str, path: str | os.PathLike | None = None, rate: int = 16000, voice: str = "en-us"
) -> Path:
    """Speech of ``text`` as a mono 16-bit WAV at ``rate`` (espeak-ng, resampled by sox).

    Cached in CACHE_DIR (default <repo>/.state/cache) by a hash of the arguments; the first call
    costs ~0.1-0.3 s. Returns ``path`` (a copy of the cached file), or the cached file itself if
    ``path`` is None.
    """
    # (2: no dither, so the same text gives the same samples on every machine: sox's
    # default dither is random, and the simulated barge-in figures moved with it)
    key = hashlib.sha256(repr((text, rate, voice, 2)).encode()).hexdigest()[:20]
    cached = CACHE_DIR / "speech" / f"{key}.wav"
    if not cached.exists():
        for tool in ("espeak-ng", "sox"):
            if shutil.which(tool) is None:
                raise VirtualAudioUnavailable(f"{tool} is not installed (apt-get install {tool})")
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
            raw, out = Path(tmp) / "espeak.wav", Path(tmp) / "out.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
            subprocess.run(
                ["sox", "-q", "-D", str(raw), "-r", str(rate), "-c", "1", "-b", "16",
                 "-e", "signed-integer", str(out)],
                check=True,
            )  # fmt: skip
            out.replace(cached)  # atomic: concurrent callers see a whole file or none
    if path is None:
        return cached
    shutil.copyfile(cached, path)
    return Path(path)


# --------------------------------------------------------------------------- playing


class Playback:
    """A running ``paplay``; see play_into_mic()."""

    def __init__(self, proc: subprocess.Popen, started: float, duration: float, tmp: Path | None):
        self.proc = proc
        self.started = started  # time.monotonic() just before paplay was launched
        self.duration = duration  # seconds of audio
        self._tmp = tmp

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the whole file has been played; returns paplay's exit code."""
        try:
            rc = self.proc.wait(timeout)
        finally:
            if self.proc.returncode is not None and self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
        if rc != 0:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise RuntimeError(f"paplay failed ({rc}): {err}")
        return rc

    def stop(self) -> None:
        """Stop playing now."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Playback:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def play(
    source: str | os.PathLike | np.ndarray,
    sink: str,
    rate: int = 16000,
    latency_msec: int = 20,
) -> Playback:
    """Play a WAV file or an int16/float array into PulseAudio sink ``sink``; non-blocking."""
    tmp = None
    if isinstance(source, np.ndarray):
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=".wav", prefix="play-", dir=CACHE_DIR)
        os.close(fd)
        tmp = write_wav(name, source, rate)
        path = tmp
        duration = len(source) / rate
    else:
        path = Path(source)
        with wave.open(str(path), "rb") as w:
            duration = w.getnframes() / w.getframerate()
    started = time.monotonic()
    proc = subprocess.Popen(
        ["paplay", f"--latency-msec={latency_msec}", "-d", sink, str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Playback(proc, started, duration, tmp)


def play_into_mic(
    source: str | os.PathLike | np.ndarray, rate: int = 16000, latency_msec: int = 20
) -> Playback:
    """Play speech into the virtual microphone (sink vmic_feed); non-blocking, ``.wait()`` to end.

    ``source``: a WAV file, or a mono int16 (or float) array at ``rate``. The sound reaches the
    app's microphone ~30-60 ms after the call (paplay start-up + latency).
    """
    return play(source, MIC_SINK, rate, latency_msec)


# --------------------------------------------------------------------------- recording


class SpeakerRecorder:
    """Record the virtual speaker (``vspeaker.monitor``, 24 kHz mono) in the background.

        with SpeakerRecorder() as rec:
            ...                        # the app plays something
            rec.wait_for_silence()     # optional
        audio = rec.audio              # int16 array; sample i was heard at rec.time_of(i)

    ``t0`` is the time.monotonic() of the recording's first sample, estimated from the arrival
    times of the chunks (the earliest ``arrival - samples so far / rate`` plus one chunk, ~6.7 ms,
    for the null sink rendering a chunk at once; refined while recording). Measured against
    PortAudio's ``outputBufferDacTime`` of clicks played by a sounddevice OutputStream (12
    recorders, ~30 clicks, idle and with both CPUs busy): mean error +0.0..+0.2 ms, std 0.1-0.3 ms,
    worst 1.9 ms. So events can be aligned to recording positions to ~2 ms; the app's own output
    latency (~35 ms buffer at PortAudio's default 'high' latency) comes on top of that.
    Entering the context returns once audio flows (~10-20 ms).
    """

    def __init__(self, source: str = SPEAKER_MONITOR, rate: int = SPEAKER_RATE, latency_msec=10):
        self.source = source
        self.rate = rate
        self.latency_msec = latency_msec
        self.t0: float | None = None
        self._chunks: list[bytes] = []
        self._nbytes = 0
        self._t0_end: float | None = None
        self._sizes: list[int] = []
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SpeakerRecorder:
        self._proc = subprocess.Popen(
            ["parec", f"--latency-msec={self.latency_msec}", "-d", self.source,
             f"--rate={self.rate}", "--channels=1", "--format=s16le", "--raw"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._read, name="SpeakerRecorder", daemon=True)
        self._thread.start()
        if not self._first.wait(5):
            self.stop()
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            raise RuntimeError(f"no audio from {self.source} within 5 s: {err}")
        return self

    def _read(self) -> None:
        fd = self._proc.stdout.fileno()
        while True:
            data = os.read(fd, 1 << 16)
            now = time.monotonic()
            if not data:
                return
            with self._lock:
                self._chunks.append(data)
                self._nbytes += len(data)
                # A chunk arrives a little after it was rendered (never before), so the earliest
                # `arrival - samples so far / rate` is the best estimate of the start...
                estimate = now - (self._nbytes // 2) / self.rate
                if self._t0_end is None or estimate < self._t0_end:
                    self._t0_end = estimate
                # ...except that the sink renders a whole block (one chunk, ~6.7 ms at
                # latency_msec=10) at the time of its FIRST sample: add one typical chunk.
                if len(self._sizes) < 64:
                    self._sizes.append(len(data) // 2)
                self.t0 = self._t0_end + float(np.median(self._sizes)) / self.rate
            self._first.set()

    def stop(self) -> np.ndarray:
        """Stop recording; returns the recording."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(5)
        if self._thread is not None:
            self._thread.join(5)
        return self.audio

    def __enter__(self) -> SpeakerRecorder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def audio(self) -> np.ndarray:
        """The recording so far (a copy), int16."""
        with self._lock:
            data = b"".join(self._chunks)
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)

    @property
    def seconds(self) -> float:
        """Length of the recording so far."""
        with self._lock:
            return self._nbytes // 2 / self.rate

    def time_of(self, index: float) -> float:
        """time.monotonic() at which sample ``index`` of the recording was played."""
        return self.t0 + index / self.rate

    def index_of(self, t: float) -> int:
        """Recording index of time.monotonic() ``t`` (may be < 0 or beyond the end)."""
        return round((t - self.t0) * self.rate)

    def wait_for_sound(self, timeout: float = 10.0, threshold_dbfs: float = -45.0) -> float:
        """Wait until the speaker plays something; returns its time (monotonic)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = first_sound(self.audio, self.rate, threshold_dbfs)
            if t is not None:
                return self.time_of(t * self.rate)
            time.sleep(0.02)
        raise TimeoutError(f"no sound on {self.source} within {timeout} s")

    def wait_for_silence(
        self,
        hold_ms: float = 300,
        timeout: float = 10.0,
        threshold_dbfs: float = -45.0,
        after: float | None = None,
    ) -> float:
        """Wait until the speaker has been silent for ``hold_ms``: the first such silence after
        monotonic time ``after``, or (default) after the first sound of the recording (so it
        waits for a sound first). Returns the monotonic time at which the silence began."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            x = self.audio
            if after is None:
                start = first_sound(x, self.rate, threshold_dbfs)
            else:
                start = max(0.0, after - self.t0)
            if start is not None:
                t = silence_after(x, self.rate, start, threshold_dbfs, hold_ms=hold_ms)
                if t is not None:
                    return self.time_of(t * self.rate)
            time.sleep(0.02)
        raise TimeoutError(f"{self.source} not silent for {hold_ms} ms within {timeout} s")


# --------------------------------------------------------------------------- analysis


def _as_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim > 1:
        x = x[:, 0]
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float64) / 32768.0
    return x.astype(np.float64)


def dbfs(x: np.ndarray) -> float:
    """RMS level in dBFS (-inf for silence)."""
    x = _as_float(x)
    rms = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def xcorr_peak(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """(peak normalized cross-correlation, lag) of ``a`` against reference ``b`` (same rate).

    ``lag`` is where ``b`` starts in ``a``: ``a[lag + n] ~ b[n]`` (negative if ``a`` starts
    inside ``b``). The correlation is divided by the norms of the whole signals, so 1.0 means
    ``a`` is exactly (a scaled copy of) ``b`` plus silence; missing pieces or extra sounds lower it.
    """
    a, b = _as_float(a), _as_float(b)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 0.0, 0
    n = len(a) + len(b) - 1
    size = 1 << (n - 1).bit_length()
    c = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    # c[k] = sum a[n + k] b[n] for k >= 0; negative lags wrap to the end
    c = np.concatenate([c[-(len(b) - 1) :] if len(b) > 1 else c[:0], c[: len(a)]])
    i = int(np.argmax(c))
    return float(c[i] / (na * nb)), i - (len(b) - 1)


@dataclass
class Piece:
    """Where one piece of a reference was found in a recording (see ``find_pieces``)."""

    ref_s: float  # the piece's start in the reference, seconds
    delay_s: float  # where it starts in the recording minus ``ref_s``
    corr: float  # normalized correlation of the piece with the recording there


def find_pieces(a: np.ndarray, b: np.ndarray, rate: int, piece_ms: int = 500) -> list[Piece]:
    """Finds each sounding ``piece_ms`` piece of reference ``b`` in recording ``a``.

    Unlike ``xcorr_peak`` this tolerates silence inserted along the way (a device path that
    stalls for a moment delays everything after it, and one lag no longer fits the whole):
    each piece is found on its own. Pieces 30 dB under the loudest one are skipped (silence).
    """
    a, b = _as_float(a), _as_float(b)
    step = rate * piece_ms // 1000
    starts = range(0, len(b) - step // 2, step)
    rms = [float(np.sqrt(np.mean(b[s : s + step] ** 2))) for s in starts]
    energy = np.concatenate([[0.0], np.cumsum(a * a)])
    size = 1 << (len(a) + step - 1).bit_length()
    spectrum = np.fft.rfft(a, size)
    found = []
    for s, level in zip(starts, rms, strict=True):
        if level == 0 or level < max(rms) * 10 ** (-30 / 20):
            continue
        piece = b[s : s + step]
        n = len(piece)
        if n > len(a):
            found.append(Piece(s / rate, 0.0, 0.0))
            continue
        # dot[k] = a[k : k + n] @ piece, over the lags where the piece fits in a, divided by
        # the local norms: the raw dot product would prefer any loud stretch of a to the true
        # place of a quiet piece.
        dot = np.fft.irfft(spectrum * np.conj(np.fft.rfft(piece, size)), size)[: len(a) - n + 1]
        here = np.sqrt(np.maximum(energy[n:] - energy[:-n], 0.0))
        norm = np.linalg.norm(piece)
        # Where a is 30 dB under the piece or silent, there is no match (and only FFT noise).
        corr = np.where(here > norm * 10 ** (-30 / 20), dot / np.maximum(here * norm, 1e-12), 0.0)
        lag = int(np.argmax(corr))
        found.append(Piece(s / rate, (lag - s) / rate, float(corr[lag])))
    return found


def check_pieces(pieces: list[Piece], min_corr: float = 0.9, max_extra_ms: float = 300,
                 min_share: float = 0.8, max_lost_ms: float = 25) -> str | None:
    """None if the reference arrived whole and in order, else why not (for an assert message).

    Whole: at least ``min_share`` of the pieces match at ``min_corr``, not counting a piece
    that straddles an inserted gap (it matches less, and the delay steps up between its
    neighbours), the delays never go back (nothing skipped or reordered) and grow by at most
    ``max_extra_ms`` in all (the path's stalls). A capture path that stalls loses a period
    instead (the delay steps down): up to ``max_lost_ms`` per step is let through.
    """
    if not pieces:
        return "no sounding piece in the reference"
    ok = [p.corr >= min_corr for p in pieces]
    good = [p for p, g in zip(pieces, ok, strict=True) if g]
    delays = [p.delay_s for p in good]
    straddling = sum(
        1 for i in range(1, len(pieces) - 1)
        if not ok[i] and ok[i - 1] and ok[i + 1]
        and pieces[i + 1].delay_s - pieces[i - 1].delay_s > 0.001
    )
    table = " ".join(f"{p.ref_s:.1f}s:{p.corr:.2f}@{p.delay_s * 1000:+.0f}ms" for p in pieces)
    if len(good) + straddling < min_share * len(pieces):
        return f"only {len(good)} of {len(pieces)} pieces match at {min_corr}: {table}"
    if any(d2 < d1 - max_lost_ms / 1000 for d1, d2 in pairwise(delays)):
        return f"pieces out of order (audio skipped or reordered): {table}"
    if (delays[-1] - delays[0]) * 1000 > max_extra_ms:
        return f"more than {max_extra_ms:.0f} ms of gaps (or repeated audio) inserted: {table}"
    return None


# A stalled feeder (paplay or the daemon descheduled on a busy machine) delays the rest of the
# audio by the stall and inserts silence: a 400 ms SIGSTOP of the PulseAudio daemon mid-capture
# inserted 375-397 ms; a CI run once dropped a whole-capture correlation to 0.61 that way.
MAX_STALL_MS = 2000


def arrived_whole(a: np.ndarray, b: np.ndarray, rate: int,
                  max_stall_ms: float = MAX_STALL_MS) -> tuple[str | None, list[Piece]]:
    """Did reference ``b`` arrive whole in recording ``a``? Returns (None or why not, pieces).

    ``check_pieces`` piece by piece, with up to ``max_stall_ms`` of delay inserted in all, but
    only if what was inserted is silence (``inserted_sound``): a stall, not repeated audio.
    """
    pieces = find_pieces(a, b, rate)
    bad = check_pieces(pieces, max_extra_ms=max_stall_ms) or inserted_sound(a, b, rate, pieces)
    return bad, pieces


def inserted_sound(a: np.ndarray, b: np.ndarray, rate: int, pieces: list[Piece],
                   min_corr: float = 0.9, max_db: float = -20.0, piece_ms: int = 500,
                   block_ms: int = 10) -> str | None:
    """None if wherever the delay steps up between two matching pieces, ``a`` holds ``b`` with
    only silence inserted (once or more: a feeder that stalls may resume for a moment and stall
    again), else what is wrong.

    Between the two pieces (delays dp < dq) every ``block_ms`` block of ``a`` that is not silent
    must be ``b`` at some delay in [dp, dq], the blocks in order without using any of ``b``
    twice; what that leaves unexplained must be ``max_db`` under the recording there.
    """
    a, b = _as_float(a), _as_float(b)
    step, block = rate * piece_ms // 1000, rate * block_ms // 1000  # step as in find_pieces
    good = [p for p in pieces if p.corr >= min_corr]
    for p, q in pairwise(good):
        dp, dq = round(p.delay_s * rate), round(q.delay_s * rate)
        if dq - dp <= round(0.001 * rate):
            continue
        sp, sq = round(p.ref_s * rate), round(q.ref_s * rate)
        where = f"{(dq - dp) / rate * 1000:.0f} ms inserted in {p.ref_s:.1f}-{q.ref_s:.1f}s"
        rec = a[sp + dp : sq + dq + step]
        if len(rec) < sq + step - sp + dq - dp:
            return f"{where}: the recording ends early"
        ref = b[sp : sp + step]
        gain = float(rec[:step] @ ref) / max(float(ref @ ref), 1e-12)  # at piece p
        quiet = np.abs(rec) <= np.sqrt(np.mean(rec**2)) * 10 ** (-40 / 20)
        unexplained, ref_end = 0.0, sp
        for start in range(0, len(rec) - block + 1, block):
            x, loud = rec[start : start + block], ~quiet[start : start + block]
            if not loud.any():
                continue
            at = sp + dp + start  # this block's index in a
            lo, hi = max(at - dq, ref_end - (block - 1), 0), min(at - dp, len(b) - block)
            if hi < lo:
                return f"{where}: audio at {at / rate:.2f}s after the reference was used up"
            # x against b[r : r + block] for each candidate start r in [lo, hi], loud samples only
            window = np.lib.stride_tricks.sliding_window_view(b[lo : hi + block], block)
            err = (((x - gain * window) ** 2) * loud).sum(axis=1)
            r = lo + int(np.argmin(err))
            first = r + int(np.argmax(loud))  # the reference index of the first loud sample
            if first < ref_end - round(0.001 * rate):
                return f"{where}: audio at {at / rate:.2f}s is not the reference going on" \
                    " (repeated or added sound)"
            unexplained += float(err.min())
            ref_end = r + block - int(np.argmax(loud[::-1]))
        level = 10 * np.log10(max(unexplained, 1e-20) / max(float(rec @ rec), 1e-20))
        if level > max_db:
            return f"{where} is not silence ({level:+.0f} dB unexplained): added sound?"
    return None


def _loud_windows(x: np.ndarray, rate: int, threshold_dbfs: float, min_ms: float) -> np.ndarray:
    """Boolean per sample i: the RMS of x[i : i + win] is above the threshold."""
    x = _as_float(x)
    win = max(1, round(rate * min_ms / 1000))
    if len(x) < win:
        return np.zeros(0, dtype=bool)
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    mean_sq = (c[win:] - c[:-win]) / win
    return mean_sq >= 10 ** (threshold_dbfs / 10)


def first_sound(
    x: np.ndarray, rate: int, threshold_dbfs: float = -45.0, min_ms: float = 10.0
) -> float | None:
    """Seconds from the start of ``x`` to the first sound: the start of the first ``min_ms``
    window whose RMS is above ``threshold_dbfs``; None if all silent. Isolated clicks and
    low noise (dither, resampler ringing) below the threshold over ``min_ms`` are ignored."""
    loud = _loud_windows(x, rate, threshold_dbfs, min_ms)
    idx = np.flatnonzero(loud)
    if not len(idx):
        return None
    # refine to the first sample above the threshold within the window
    win = max(1, round(rate * min_ms / 1000))
    seg = np.abs(_as_float(x)[idx[0] : idx[0] + win])
    k = np.flatnonzero(seg >= 10 ** (threshold_dbfs / 20))
    return (idx[0] + (int(k[0]) if len(k) else 0)) / rate


def last_sound(
    x: np.ndarray, rate: int, threshold_dbfs: float = -45.0, min_ms: float = 10.0
) -> float | None:
    """Seconds from the start of ``x`` to the end of the last sound (see first_sound)."""
    loud = _loud_windows(x, rate, threshold_dbfs, min_ms)
    idx = np.flatnonzero(loud)
    if not len(idx):
        return None
    win = max(1, round(rate * min_ms / 1000))
    seg = np.abs(_as_float(x)[idx[-1] : idx[-1] + win])
    k = np.flatnonzero(seg >= 10 ** (threshold_dbfs / 20))
    return (idx[-1] + (int(k[-1]) + 1 if len(k) else win)) / rate


def silence_after(
    x: np.ndarray,
    rate: int,
    t: float,
    threshold_dbfs: float = -45.0,
    min_ms: float = 10.0,
    hold_ms: float = 200.0,
) -> float | None:
    """Seconds from the start of ``x`` at which the first silence at or after ``t`` (seconds)
    begins that lasts at least ``hold_ms`` (or to the end of ``x``, if that is ``hold_ms`` away):
    "when did the speaker go quiet after t". ``t`` itself if already silent there; None if no
    such silence (yet)."""
    start = max(0, round(t * rate))
    y = x[start:]
    hold = round(rate * hold_ms / 1000)
    loud = _loud_windows(y, rate, threshold_dbfs, min_ms)
    win = max(1, round(rate * min_ms / 1000))
    # sample j is sound if a loud window covers it: loud[i] for some i in [j - win + 1, j]
    cover = np.concatenate([[0], np.cumsum(loud.astype(np.int64))])
    j = np.arange(len(y))
    lo = np.clip(j - win + 1, 0, len(loud))
    hi = np.clip(j + 1, 0, len(loud))
    quiet = (cover[hi] - cover[lo]) == 0
    # first run of >= hold quiet samples
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    amp = 10 ** (threshold_dbfs / 20)
    for s, e in zip(edges[::2], edges[1::2], strict=True):
        if e - s >= hold:
            if s > 0:  # refine: just after the last sample above the threshold amplitude
                k = np.flatnonzero(np.abs(_as_float(y[max(0, s - win) : s])) >= amp)
                if len(k):
                    s = max(0, s - win) + int(k[-1]) + 1
            return (start + s) / rate
    return None


def bandpass(x: np.ndarray, lo: float, hi: float, rate: int, taps: int = 129) -> np.ndarray:
    """``x`` through a windowed-sinc band-pass filter from ``lo`` to ``hi`` Hz (same length)."""
    n = np.arange(taps) - taps // 2
    h = (2 * hi / rate * np.sinc(2 * hi / rate * n) - 2 * lo / rate * np.sinc(2 * lo / rate * n))
    return np.convolve(x, h * np.hamming(taps), mode="same")


def begins_unvoiced(text: str) -> bool:
    """Does the phrase begin with an unvoiced consonant ("Stop", "Sorry", "Hold on")?"""
    return text[:1].lower() in set("cfhkpst")


def voiced_onset(x: np.ndarray, start: int, rate: int = 16000) -> int:
    """Where voicing starts at or after sample ``start``: the first 10 ms whose 100–900 Hz
    band (where a vowel or a voiced consonant has its energy, and /s/, /t/ or /h/ next to
    none) is within 20 dB of that band's loudest 10 ms. For a phrase that begins voiced it
    is its onset; for "Stop" or "Sorry", the vowel after the hiss (80–130 ms later). The
    barge-in goal counts from there (docs/barge-in-limits.md)."""
    w = rate // 100
    band = bandpass(_as_float(x), 100, 900, rate)
    rms = np.sqrt(np.mean(band[: len(band) // w * w].reshape(-1, w) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-20 / 20))
    return int(loud[loud >= start // w][0]) * w


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate()`` until true (returns True) or ``timeout`` seconds (returns False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@contextlib.contextmanager
def echo_path(volume_percent: int = 30, latency_msec: int = 40):
    """Acoustic echo: loop the speaker back into the microphone while the context is active
    (module-loopback vspeaker.monitor -> vmic_feed, volume in percent: 30% = -31 dB since
    PulseAudio volumes are cubic). Measured: the echo arrives ~50 ms after the speaker with
    correlation ~0.99 to the played audio. Yields the module index."""
    module = pactl(
        "load-module", "module-loopback", f"source={SPEAKER_MONITOR}", f"sink={MIC_SINK}",
        f"latency_msec={latency_msec}", "adjust_time=0", "source_dont_move=1",
        "sink_dont_move=1",
    ).strip()  # fmt: skip
    try:
        sink_input = None
        for line in pactl("list", "sink-inputs").splitlines():
            line = line.strip()
            if line.startswith("Sink Input #"):
                sink_input = line.removeprefix("Sink Input #")
            elif line == f"Owner Module: {module}" and sink_input is not None:
                pactl("set-sink-input-volume", sink_input, f"{volume_percent}%")
        yield module
    finally:
        pactl("unload-module", module)
