"""``voicecli doctor --echo``: will open-speaker barge-in work on this machine?

Plays a probe on the speaker while recording the microphone, then (pure analysis) finds the
echo delay from a chirp, the echo level, and how much echo is left after the same echo
canceller the chat uses. A thin device shell (:func:`measure`) does the playing/recording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicecli.audio import MIC_RATE
from voicecli.audio.echo import CAPTURE_FRAME, EchoCanceller
from voicecli.audio.levels import dbfs
from voicecli.audio.resample import resample

PROBE_DBFS = -20.0
CHIRP_S = 0.5
LEAD_S = 0.3  # silence before the chirp
NOISE_S = 4.0  # speech-like noise the canceller converges on
MIN_ECHO_DB = -65.0  # quieter than this at the microphone: no echo to speak of
GOOD_RESIDUAL_DBFS = -50.0  # webrtcvad's floor is -45 dBFS: residual below it is inaudible
GOOD_ERLE_DB = 25.0


@dataclass(frozen=True)
class EchoReport:
    echo_heard: bool
    delay_ms: float | None  # speaker → microphone, including both devices' buffers
    echo_db: float  # echo level at the microphone relative to what was played
    residual_dbfs: float  # what the canceller left (last seconds of the probe)
    erle_db: float  # echo return loss enhancement: how much the canceller removed
    works: bool

    def lines(self) -> list[str]:
        if not self.echo_heard:
            return ["echo: none heard (headphones, or the microphone is muted/far away)",
                    "verdict: barge-in works; --headphones saves the echo canceller's CPU"]
        out = [f"echo delay: {self.delay_ms:.0f} ms",
               f"echo level: {self.echo_db:.1f} dB relative to what was played",
               f"after cancellation: {self.residual_dbfs:.1f} dBFS left "
               f"({self.erle_db:.1f} dB removed)"]
        if self.works:
            out.append("verdict: open-speaker barge-in should work on this machine")
        else:
            out.append("verdict: too much echo is left: barge-in may cut the assistant off; "
                       "use headphones (--headphones), lower the speaker volume, or "
                       "--half-duplex")
        return out


def probe(rate: int) -> np.ndarray:
    """The probe as int16 at ``rate``: silence, a 300→3500 Hz log chirp, then 4 s of
    syllable-modulated noise (speech-like: the canceller needs a broadband signal)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(CHIRP_S * rate)) / rate
    f0, f1 = 300.0, 3500.0
    k = np.log(f1 / f0) / CHIRP_S
    chirp = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k) * np.hanning(len(t))
    n = int(NOISE_S * rate)
    noise = np.convolve(rng.standard_normal(n), np.ones(4) / 4, mode="same")  # soften highs
    noise *= (0.55 + 0.45 * np.sin(2 * np.pi * 4 * np.arange(n) / rate)) ** 2
    parts = [np.zeros(int(LEAD_S * rate)), chirp / np.sqrt(np.mean(chirp**2)),
             np.zeros(int(0.2 * rate)), noise / np.sqrt(np.mean(noise**2)),
             np.zeros(int(0.5 * rate))]
    x = np.concatenate(parts) * 10 ** (PROBE_DBFS / 20)
    return np.clip(x * 32767, -32768, 32767).astype(np.int16)


def analyze(played: np.ndarray, play_rate: int, recorded: np.ndarray) -> EchoReport:
    """``played`` (int16 at ``play_rate``) and ``recorded`` (int16 at 16 kHz), started
    together."""
    ref16 = resample(played, play_rate, MIC_RATE).astype(np.float64)
    rec = recorded.astype(np.float64)
    chirp_from, chirp_to = int(LEAD_S * MIC_RATE), int((LEAD_S + CHIRP_S) * MIC_RATE)
    chirp = ref16[chirp_from:chirp_to]
    search = rec[: chirp_to + MIC_RATE]  # echo delays up to 1 s
    corr = np.correlate(search, chirp, mode="valid")
    lag = int(np.argmax(np.abs(corr))) - chirp_from
    noise_from = int((LEAD_S + CHIRP_S + 0.2) * MIC_RATE)
    noise_to = noise_from + int(NOISE_S * MIC_RATE)
    seg = slice(noise_from + max(lag, 0), min(noise_to + max(lag, 0), len(rec)))
    echo_db = dbfs(rec[seg]) - dbfs(ref16[noise_from:noise_to])
    energy = np.sqrt(np.sum(search**2) * np.sum(chirp**2)) or 1.0
    coherent = float(np.max(np.abs(corr))) / energy > 0.05
    heard = coherent and dbfs(rec[seg]) > MIN_ECHO_DB
    # The canceller, as in the chat: reference = exactly what was played, 10 ms at a time.
    ec = EchoCanceller(play_rate)
    frames = min(len(played) // ec.reverse_frame, len(recorded) // CAPTURE_FRAME)
    out = np.zeros(frames * CAPTURE_FRAME, dtype=np.int16)
    for i in range(frames):
        ec.process_reverse(played[i * ec.reverse_frame:(i + 1) * ec.reverse_frame])
        out[i * CAPTURE_FRAME:(i + 1) * CAPTURE_FRAME] = ec.process_capture(
            recorded[i * CAPTURE_FRAME:(i + 1) * CAPTURE_FRAME])
    tail = slice(max(seg.start, seg.stop - int(1.5 * MIC_RATE)), min(seg.stop, len(out)))
    residual = dbfs(out[tail])
    erle = dbfs(recorded[tail]) - residual
    works = not heard or residual <= GOOD_RESIDUAL_DBFS or erle >= GOOD_ERLE_DB
    return EchoReport(heard, 1000 * lag / MIC_RATE if heard else None, echo_db, residual,
                      erle, works)


def measure(input_device: int | None, output_device: int | None) -> EchoReport:
    """Play the probe and record the microphone (the device shell), then analyze."""
    from voicecli.audio.devices import sd
    from voicecli.errors import DeviceError

    s = sd()
    rate = 48000
    for candidate in (MIC_RATE, 48000):
        try:
            s.check_output_settings(device=output_device, samplerate=candidate, channels=1,
                                    dtype="int16")
            s.check_input_settings(device=input_device, samplerate=candidate, channels=1,
                                   dtype="int16")
            rate = candidate
            break
        except Exception:  # this rate does not open: try the next
            continue
    played = probe(rate)
    padded = np.concatenate([played, np.zeros(rate // 2, dtype=np.int16)])
    try:
        rec = s.playrec(padded, samplerate=rate, channels=1, dtype="int16",
                        device=(input_device, output_device), blocking=True)
    except (s.PortAudioError, ValueError) as exc:
        raise DeviceError(f"cannot play and record at once: {exc}") from None
    recorded = rec[:, 0] if rate == MIC_RATE else resample(rec[:, 0], rate, MIC_RATE)
    return analyze(padded, rate, recorded)
