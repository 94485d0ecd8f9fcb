"""Why the masked users of bargein.py are slow: a linear echo filter told what it cannot know.

    python benchmarks/linear_oracle.py [--seed 7] [--app]

A side study (not the app). On each barge-in of ``bargein.py``'s corpus (same seed, same
32 trials), a plain linear echo canceller (a partitioned-block frequency-domain adaptive
filter, 660 ms long, in numpy) learns the echo from the start of the reply until the user's
onset and is then frozen (an oracle double-talk detector). It is run five times, with the
reference as played and with what the app does not know about the echo path:

* ``played``: the reference as played (what any canceller gets);
* ``distortion``: the reference through the corpus's own overdriven speaker (x4, clipped)
  on the paths whose speaker clips;
* ``drift``: the reference at the echo path's clock (the corpus's +-80 ppm);
* ``both``;
* ``estimated``: both, estimated blind from the reply before the onset (at most its first
  7 s): the drift from the slope of the echo delay (GCC-PHAT over 1 s windows), the clip
  level as the one under which the reference is most coherent with the microphone (a
  golden-section search over 1/128 to 1 of full scale, or none). Its model of the speaker is
  the corpus's own (a hard clip), so this shows the parameters can be found, not that a real
  speaker's distortion is a clip.

Per condition: the echo it removes in the last second before the onset (ERLE; the corpus's
-50 dBFS room noise caps it on quiet echoes), how far each user is over what is left (echo
and noise) in their first 300 ms, and how often the app's speech test (webrtcvad AND Silero,
40 ms) fires on the filter's output in the 2 s before each onset, where only echo and noise
are left: a linear filter alone is not a canceller, a suppressor must still follow it.
``--app``: the barge-ins again through the app's own pipeline (``bargein.run_stream``: livekit's
AEC3, guards, detector) with its canceller given the compensated reference (``app_both``,
``app_estimated``). Last line: JSON, one entry per condition. Figures are in docs/barge-in-limits.md
("Measured" -> barge-in limits).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests"), str(ROOT)]

import audio_harness as ah  # noqa: E402
import bargein  # noqa: E402

from voicecli.audio.silero import SileroVad  # noqa: E402
from voicecli.audio.vad import (  # noqa: E402
    FRAME_SAMPLES,
    BargeInDetector,
    DualVad,
    webrtc_is_speech,
)

MIC = bargein.MIC
CONDITIONS = ("played", "distortion", "drift", "both", "estimated")


class BlockFilter:
    """Partitioned-block frequency-domain NLMS echo filter (fully constrained).

    ``block`` samples per step, ``parts`` partitions: the filter is block x parts long.
    """

    def __init__(self, block: int = FRAME_SAMPLES, parts: int = 33, mu: float = 0.5,
                 smoothing: float = 0.9) -> None:
        self.n, self.parts, self.mu, self.smoothing = block, parts, mu, smoothing
        bins = block + 1
        self.x_spec = np.zeros((parts, bins), complex)
        self.weights = np.zeros((parts, bins), complex)
        self.prev = np.zeros(block)
        self.power = np.full(bins, 1e-6)

    def push(self, ref: np.ndarray) -> None:
        """The next block of reference."""
        spec = np.fft.rfft(np.concatenate([self.prev, ref]))
        self.prev = ref
        self.x_spec = np.roll(self.x_spec, 1, axis=0)
        self.x_spec[0] = spec

    def echo(self, weights: np.ndarray | None = None) -> np.ndarray:
        """The echo estimate for the latest block (with ``weights``, or the filter's own)."""
        w = self.weights if weights is None else weights
        return np.fft.irfft(np.einsum("pk,pk->k", self.x_spec, w))[self.n:]

    def adapt(self, err: np.ndarray) -> None:
        """One NLMS step on the latest block's error (microphone minus ``echo()``)."""
        n = self.n
        e_spec = np.fft.rfft(np.concatenate([np.zeros(n), err]))
        self.power = (self.smoothing * self.power
                      + (1 - self.smoothing) * np.abs(self.x_spec[0]) ** 2)
        grad = self.mu * np.conj(self.x_spec) * e_spec / (self.power * self.parts + 1e-3)
        g = np.fft.irfft(grad, axis=1)
        g[:, n:] = 0  # the constraint: a linear, not circular, convolution
        self.weights += np.fft.rfft(g, axis=1)

    def step(self, ref: np.ndarray, mic: np.ndarray, adapt: bool) -> np.ndarray:
        """One block of reference and microphone -> the microphone minus the echo estimate."""
        self.push(ref)
        err = mic - self.echo()
        if adapt:
            self.adapt(err)
        return err


def delay_track(ref16: np.ndarray, mic: np.ndarray, end: int) -> tuple[float, float]:
    """(echo delay in samples at the start, its drift in ppm) from GCC-PHAT peaks over 1 s
    windows every 0.25 s, interpolated to a fraction of a sample, fitted with a line."""
    win, hop, max_lag = MIC, MIC // 4, int(0.4 * MIC)
    times, lags = [], []
    for start in range(0, end - win - max_lag, hop):
        y = mic[start:start + win + max_lag]
        nfft = 1 << int(np.ceil(np.log2(len(y) + win)))
        cross = np.fft.rfft(y, nfft) * np.conj(np.fft.rfft(ref16[start:start + win], nfft))
        r = np.fft.irfft(cross / (np.abs(cross) + 1e-12), nfft)[:max_lag]
        k = int(np.argmax(r))
        if 0 < k < max_lag - 1:
            a, b, c = r[k - 1:k + 2]
            times.append(start + win / 2)
            lags.append(k + 0.5 * (a - c) / (a - 2 * b + c))
    t, lag = np.array(times), np.array(lags)
    keep = np.abs(lag - np.median(lag)) < 20  # a window that locked onto a reflection
    slope, at0 = np.polyfit(t[keep], lag[keep], 1)
    return float(at0), float(slope * 1e6)


def coherence(x: np.ndarray, y: np.ndarray, nperseg: int = 8192) -> np.ndarray:
    """Magnitude-squared coherence of x and y per FFT bin (Welch: periodic Hann windows,
    half overlap, each segment's mean removed; what scipy.signal.coherence computes)."""
    step = nperseg // 2
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nperseg) / nperseg)
    sxx = syy = np.zeros(nperseg // 2 + 1)
    sxy = np.zeros(nperseg // 2 + 1, complex)
    for i in range(0, min(len(x), len(y)) - nperseg + 1, step):
        a, b = x[i:i + nperseg], y[i:i + nperseg]
        fa, fb = np.fft.rfft((a - a.mean()) * window), np.fft.rfft((b - b.mean()) * window)
        sxx, syy, sxy = sxx + np.abs(fa) ** 2, syy + np.abs(fb) ** 2, sxy + np.conj(fa) * fb
    return np.abs(sxy) ** 2 / (sxx * syy + 1e-30)


def clip_level(ref24: np.ndarray, mic: np.ndarray, delay: int, rate: float,
               end: int) -> float | None:
    """The clip level (fraction of full scale) that makes the reference most coherent with
    the microphone, or None (no clipping fits better)."""
    def score(level: float | None) -> float:
        x = ref24 if level is None else np.clip(ref24, -level, level)
        ref = ah.resample(x, bargein.SPK, rate)
        coh = coherence(ref[:end - delay], mic[delay:end])
        f = np.fft.rfftfreq(8192, 1 / MIC)
        return float(np.mean(coh[(f > 300) & (f < 6000)]))

    lo, hi = -7.0, 0.0  # log2 of the level
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = score(2**a), score(2**b)
    for _ in range(14):
        if fa > fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = score(2**a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = score(2**b)
    best, best_score = (2**a, fa) if fa > fb else (2**b, fb)
    return best if best_score > score(None) else None


Estimate = tuple[float, float | None]  # (drift in ppm, clip level or None)


def estimate(ref24: np.ndarray, mic: np.ndarray, path: np.ndarray, t0: float) -> Estimate:
    """(drift in ppm, clip level or None) from the reply before the onset (at most 7 s)."""
    end = int(min(t0, 7.0) * MIC)
    delay, ppm = delay_track(ah.resample(ref24, bargein.SPK, MIC), mic, end)
    level = clip_level(ref24, mic, round(delay), MIC * (1 + ppm * 1e-6), end)
    clip = f"clip at {level:.4f}" if level is not None else "no clip"
    print(f"  estimated: {ppm:+.1f} ppm (path {path[4]:+.0f}), {clip} (path: "
          f"{'x4, clip at 0.25: 0.0625' if path[3] else 'none'})", file=sys.stderr)
    return ppm, level


def reference(ref24: np.ndarray, path: np.ndarray, condition: str,
              estimated: Estimate) -> np.ndarray:
    """The reference at 16 kHz as the filter gets it under ``condition``."""
    x, rate = ref24, float(MIC)
    if condition in ("distortion", "both") and path[3]:
        x = bargein.overdriven(x)
    if condition in ("drift", "both"):
        rate = bargein.echo_rate(path[4])
    if condition == "estimated":
        ppm, level = estimated
        rate = MIC * (1 + ppm * 1e-6)
        if level is not None:
            x = np.clip(x, -level, level)
    return ah.resample(x, bargein.SPK, rate)


def app_reference(ref24: np.ndarray, path: np.ndarray, how: str,
                  estimated: Estimate) -> np.ndarray:
    """The 24 kHz reference for the app's canceller, compensated (``both``: as the corpus
    made the echo; ``estimated``: blind), the length of what was played."""
    if how == "both":
        x = bargein.overdriven(ref24) / 4 if path[3] else ref24
        ppm = (bargein.echo_rate(path[4]) / MIC - 1) * 1e6
    else:
        ppm, level = estimated
        x = ref24 if level is None else np.clip(ref24, -level, level)
    y = ah.resample(x, bargein.SPK, bargein.SPK * (1 + ppm * 1e-6))
    return np.concatenate([y, np.zeros(max(0, len(ref24) - len(y)))])[:len(ref24)]


def through_app(data: dict, trials: list[str], how: str,
                estimates: dict[str, Estimate]) -> dict:
    """bargein.py's barge-ins through the app's pipeline (livekit's AEC3, guards, detector)
    with the canceller given the compensated reference."""
    lats, early = [], 0
    for name in trials:
        ref, mic, path = data[f"{name}_ref"], data[f"{name}_mic"], data[f"{name}_path"]
        t0 = float(data[f"{name}_t0"])
        tap = app_reference(ref, path, how, estimates[name])
        fired, _ = bargein.run_stream(ref, mic, "aec", tap=tap)
        early += sum(f < t0 for f in fired)
        after = [f for f in fired if f >= t0]
        lats.append(1000 * (after[0] - t0) if after else float("inf"))
        print(f"{name} (app, {how}): {lats[-1]:.0f} ms", file=sys.stderr)
    ordered = sorted(lats)
    return {"latency_median_ms": round(statistics.median(ordered), 1),
            "latency_worst_ms": round(ordered[-1], 1),
            "latency_over_150_ms": sum(x > 150 for x in lats),
            "triggers_before_onsets": early}


def run_trial(data: dict, name: str, condition: str, silero: SileroVad,
              estimated: Estimate) -> dict:
    mic, user, path = data[f"{name}_mic"], data[f"{name}_user"], data[f"{name}_path"]
    t0 = float(data[f"{name}_t0"])
    ref = reference(data[f"{name}_ref"], path, condition, estimated)
    n = FRAME_SAMPLES
    onset, stop = int(t0 * MIC), min(len(mic), len(ref), int((t0 + 1) * MIC)) // n * n
    flt = BlockFilter()
    out = np.zeros(stop)
    for k in range(0, stop, n):
        out[k:k + n] = flt.step(ref[k:k + n], mic[k:k + n], adapt=k + n <= onset)
    echo_left = out - user[:stop]  # what is left of the echo (the user is not in the echo)
    before, first = slice(onset - MIC, onset), slice(onset, onset + int(0.3 * MIC))
    silero.reset()
    detector = BargeInDetector(DualVad(webrtc_is_speech(3), silero))
    pcm = np.clip(out * 32768, -32768, 32767).astype(np.int16)
    early = 0
    for k in range(max(0, onset - 2 * MIC) // n * n, (onset - n) // n * n, n):
        if detector.process(pcm[k:k + n], playing=True):  # on echo and noise only
            early += 1
            detector.reset()
    db = ah.dbfs
    return {"erle_db": float(db((mic - user)[before]) - db(echo_left[before])),
            "user_over_left_db": float(db(user[first]) - db(echo_left[first])),
            "early": early, "clips": bool(path[3]), "drifts": bool(path[4])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--app", action="store_true",
                        help="also run the barge-ins through the app's pipeline (livekit's "
                             "AEC3) with the reference compensated, known and estimated")
    args = parser.parse_args()
    data = bargein.build_corpus(args.seed, 10.0, 4.0, 32)  # bargein.py's full corpus
    trials = sorted({k.rsplit("_", 1)[0] for k in data if k.startswith("trial")},
                    key=lambda s: int(s.removeprefix("trial")))
    silero = SileroVad()
    estimates = {name: estimate(data[f"{name}_ref"], data[f"{name}_mic"], data[f"{name}_path"],
                                float(data[f"{name}_t0"])) for name in trials}
    result: dict[str, dict] = {}
    for condition in CONDITIONS:
        rows = [run_trial(data, name, condition, silero, estimates[name]) for name in trials]
        for name, row in zip(trials, rows, strict=True):
            print(f"{name} ({condition}): ERLE {row['erle_db']:.1f} dB, user "
                  f"{row['user_over_left_db']:+.1f} dB over the rest, "
                  f"{row['early']} triggers before"
                  f"{', clips' if row['clips'] else ''}{', drifts' if row['drifts'] else ''}",
                  file=sys.stderr)
        over = [r["user_over_left_db"] for r in rows]

        def med(rs: list[dict], key: str) -> float | None:
            vals = [r[key] for r in rs]
            return round(statistics.median(vals), 1) if vals else None

        result[condition] = {
            "erle_db_median_clipping": med([r for r in rows if r["clips"]], "erle_db"),
            "erle_db_median_drifting": med([r for r in rows if r["drifts"]], "erle_db"),
            "erle_db_median_neither": med([r for r in rows if not (r["clips"] or r["drifts"])],
                                          "erle_db"),
            # The slow barge-ins of bargein.py are users no louder than the echo.
            "users_under_0db_over_rest": sum(x < 0 for x in over),
            "users_under_6db_over_rest": sum(x < 6 for x in over),
            "user_over_rest_db_lowest": round(min(over), 1),
            "triggers_per_min_before_onsets": round(
                sum(r["early"] for r in rows) / (2 * len(rows) / 60), 1),
        }
        print(f"{condition}: {result[condition]}", file=sys.stderr)
    if args.app:
        for how in ("both", "estimated"):
            result[f"app_{how}"] = through_app(data, trials, how, estimates)
            print(f"app_{how}: {result[f'app_{how}']}", file=sys.stderr)
    print(json.dumps({"seed": args.seed, "trials": len(trials), **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
