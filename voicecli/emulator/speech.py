"""Reply audio: text-to-speech with espeak-ng, or a bundled clip when it is missing.

Everything returned is 24 kHz mono s16le PCM at about -20 dBFS. Synthesised replies are
cached in memory (per text, voice and language).
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import threading
from importlib import resources

import numpy as np

from voicecli import catalog
from voicecli.audio.resample import resample as resample_samples

OUTPUT_RATE = 24000
TARGET_DBFS = -20.0
FALLBACK_WAV = "fallback.wav"

# espeak-ng voice variants, picked per prebuilt voice so voices sound a little different.
_VARIANTS = ("m3", "f2", "m1", "f3", "m2", "f4", "m4", "f1")


def resample(pcm: bytes, rate_in: int, rate_out: int) -> bytes:
    """Resample mono s16le PCM (one-shot, band-limited: the client's own resampler)."""
    if rate_in == rate_out or not pcm:
        return pcm
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    return np.asarray(resample_samples(samples, rate_in, rate_out), dtype="<i2").tobytes()


def normalize_level(pcm: bytes, target_dbfs: float = TARGET_DBFS) -> bytes:
    """Scale PCM so its RMS over non-silent parts is ``target_dbfs``."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    loud = samples[np.abs(samples) > 32768 * 10 ** (-50 / 20)]
    if loud.size == 0:
        return pcm
    rms = float(np.sqrt(np.mean(loud * loud)))
    gain = 32768 * 10 ** (target_dbfs / 20) / rms
    return np.clip(samples * gain, -32768, 32767).astype("<i2").tobytes()


def wav_pcm(data: bytes) -> tuple[bytes, int, int]:
    """Return (PCM, rate, channels) of a 16-bit WAV, tolerating the bogus sizes of a pipe."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, rate, channels = 12, 0, 1
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = pos + 8
        if tag == b"fmt ":
            channels = int.from_bytes(data[body + 2:body + 4], "little")
            rate = int.from_bytes(data[body + 4:body + 8], "little")
        elif tag == b"data":
            pcm = data[body:body + size] if body + size <= len(data) else data[body:]
            return pcm[: len(pcm) // 2 * 2], rate, channels
        pos = body + size + (size & 1)
    raise ValueError("WAV file has no data chunk")


def _mono(pcm: bytes, channels: int) -> bytes:
    if channels <= 1:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels).mean(axis=1)
    return samples.astype("<i2").tobytes()


def espeak_available() -> bool:
    """Whether ``espeak-ng`` is on PATH."""
    return shutil.which("espeak-ng") is not None


def espeak_voice(voice: str, language: str | None) -> str:
    """The espeak-ng ``-v`` argument for a prebuilt voice and a BCP-47 language."""
    lang = (language or "en-US").lower()
    base = lang if lang.startswith("en-") else lang.split("-")[0]
    names = list(catalog.VOICES)
    index = names.index(voice) if voice in names else 0
    return f"{base}+{_VARIANTS[index % len(_VARIANTS)]}"


@functools.cache
def fallback_clip() -> bytes:
    """The bundled speech clip as 24 kHz PCM at the target level."""
    data = resources.files("voicecli.emulator").joinpath("data", FALLBACK_WAV).read_bytes()
    pcm, rate, channels = wav_pcm(data)
    return normalize_level(resample(_mono(pcm, channels), rate, OUTPUT_RATE))


class Synthesizer:
    """Turns reply text into 24 kHz speech; thread-safe, cached.

    ``mode``: ``"auto"`` (espeak-ng when installed, else the bundled clip), ``"espeak"``
    or ``"fallback"``.
    """

    def __init__(self, mode: str = "auto") -> None:
        if mode not in ("auto", "espeak", "fallback"):
            raise ValueError(f"unknown TTS mode {mode!r}")
        self.use_espeak = mode == "espeak" or (mode == "auto" and espeak_available())
        self._cache: dict[tuple[str, str, str | None], bytes] = {}
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._aborted = False

    def abort(self) -> None:
        """Stop every synthesis in flight (the emulator is stopping): they return no audio."""
        self._aborted = True
        with self._lock:
            running = list(self._running)
        for proc in running:
            with contextlib.suppress(OSError):
                proc.kill()

    def speak(self, text: str, voice: str = catalog.DEFAULT_VOICE,
              language: str | None = None) -> bytes:
        """Return ``text`` spoken as 24 kHz mono s16le PCM (empty text: no audio)."""
        if not text.strip():
            return b""
        key = (text, voice, language)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        pcm = self._espeak(text, voice, language) if self.use_espeak else b""
        if not pcm:
            pcm = fallback_clip()
        with self._lock:
            self._cache[key] = pcm
        return pcm

    def _espeak(self, text: str, voice: str, language: str | None) -> bytes:
        for name in (espeak_voice(voice, language), "en-us"):
            if self._aborted:
                return b""
            try:
                proc = subprocess.Popen(["espeak-ng", "--stdout", "-v", name, text],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                with self._lock:
                    self._running.add(proc)
                try:
                    out, _ = proc.communicate(timeout=30)
                finally:
                    with self._lock:
                        self._running.discard(proc)
                if proc.returncode != 0:
                    continue
                pcm, rate, channels = wav_pcm(out)
            except (OSError, subprocess.SubprocessError, ValueError):
                continue
            if pcm:
                return normalize_level(resample(_mono(pcm, channels), rate, OUTPUT_RATE))
        return b""


def sample_speech(text: str, rate: int = 16000, synth: Synthesizer | None = None) -> bytes:
    """``text`` spoken as mono s16le PCM at ``rate``: handy as user audio in tests."""
    pcm = (synth or Synthesizer()).speak(text)
    return resample(pcm, OUTPUT_RATE, rate)
