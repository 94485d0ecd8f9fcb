"""A long linear echo filter in front of the app's pipeline, on a blind-compensated reference.

    python benchmarks/prefilter.py [--seed 7] [--only trials|echo|noise]

A side study (not the app), the next step after ``linear_oracle.py``: that study froze its
filter at each user's onset (an oracle). Here nothing is told: per stream of ``bargein.py``'s
corpus (same seed), the clock drift and the speaker's clip level are estimated blind from
the reply's first 7 s (``linear_oracle.estimate``), the reference is compensated with them,
and a two-filter frequency-domain NLMS (``TwoFilter``: 660 ms; a background filter that
always adapts, a foreground one that only takes the background's weights when they cancel
clearly better, the double-talk scheme of Speex's MDF) removes what it can of the echo. Its
output is then the microphone of the app's unchanged pipeline (``bargein.run_stream``:
livekit's AEC3 given the compensated reference, the guards, webrtcvad AND Silero).

Caveat: the estimates use the first 7 s and are applied from the start (the app would have
to run uncompensated until it has them); on the barge-ins the users speak after 7-10 s, so
there it is causal. Figures: docs/barge-in-limits.md. Last line: JSON with
``bargein.py``'s keys where they apply (echo_false_per_min, noise_false_per_min,
latency_*_ms) and prefilter_cpu_percent (the filter alone, one core).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests"), str(ROOT)]

import audio_harness as ah  # noqa: E402
import bargein  # noqa: E402
import linear_oracle as lo  # noqa: E402

from voicecli.audio.vad import FRAME_SAMPLES  # noqa: E402

MIC = bargein.MIC
ESTIMATE_S = 7.0  # as linear_oracle: at most the reply's first 7 s


class TwoFilter:
    """A foreground/background pair of ``linear_oracle.BlockFilter`` weights.

    The background adapts on every block, double talk or not; the foreground cancels. When
    the background's error is under half the foreground's (smoothed), the foreground takes
    its weights; when it is over four times (it diverged on the user's voice), it is reset
    to the foreground's.
    """

    def __init__(self) -> None:
        self.bg = lo.BlockFilter()
        self.fg = np.zeros_like(self.bg.weights)
        self.bg_err = self.fg_err = 0.0

    def step(self, ref: np.ndarray, mic: np.ndarray) -> np.ndarray:
        bg = self.bg
        bg.push(ref)
        e_bg, e_fg = mic - bg.echo(), mic - bg.echo(self.fg)
        bg.adapt(e_bg)
        self.bg_err = 0.8 * self.bg_err + 0.2 * float(e_bg @ e_bg)
        self.fg_err = 0.8 * self.fg_err + 0.2 * float(e_fg @ e_fg)
        if self.bg_err < 0.5 * self.fg_err:
            self.fg, self.fg_err = bg.weights.copy(), self.bg_err
        elif self.bg_err > 4 * self.fg_err > 0:
            bg.weights, self.bg_err = self.fg.copy(), self.fg_err
        return e_fg


def prefiltered(ref24: np.ndarray, mic: np.ndarray, path: np.ndarray, until_s: float
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """(the microphone with the linear echo estimate removed, the compensated 24 kHz
    reference for the app's canceller, process seconds the filter took)."""
    est = lo.estimate(ref24, mic, path, until_s)
    ref16 = lo.reference(ref24, path, "estimated", est)
    n = FRAME_SAMPLES
    flt, out = TwoFilter(), mic.copy()
    started = time.process_time()
    for k in range(0, min(len(mic), len(ref16)) // n * n, n):
        out[k:k + n] = flt.step(ref16[k:k + n], mic[k:k + n])
    cpu = time.process_time() - started
    return out, lo.app_reference(ref24, path, "estimated", est), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("trials", "echo", "noise"), default=None)
    args = parser.parse_args()
    data = bargein.build_corpus(args.seed, 10.0, 4.0, 32)  # bargein.py's full corpus

    def streams(kind: str) -> list[str]:
        return sorted({k.rsplit("_", 1)[0] for k in data if k.startswith(kind)},
                      key=lambda s: int(s.removeprefix(kind)))

    result: dict[str, float | int] = {"seed": args.seed}
    cpu, audio_s = 0.0, 0.0

    def run(name: str, until_s: float) -> tuple[list[float], np.ndarray]:
        """Stream ``name`` through the filter and the app's pipeline: (barge-in times, the
        filter's output); counts the filter's CPU."""
        nonlocal cpu, audio_s
        ref, mic = data[f"{name}_ref"], data[f"{name}_mic"]
        pm, tap, c = prefiltered(ref, mic, data[f"{name}_path"], until_s)
        cpu, audio_s = cpu + c, audio_s + len(mic) / MIC
        return bargein.run_stream(ref, pm, "aec", tap=tap)[0], pm

    for kind in ("echo", "noise"):
        if args.only not in (None, kind):
            continue
        fired_n, seconds = 0, 0.0
        for name in streams(kind):
            fired, pm = run(name, ESTIMATE_S)
            fired_n, seconds = fired_n + len(fired), seconds + len(pm) / MIC
            print(f"{name}: fired at {[round(f, 2) for f in fired]}", file=sys.stderr)
        result[f"{kind}_false_per_min"] = round(fired_n / (seconds / 60), 2)
        result[f"{kind}_minutes"] = round(seconds / 60, 1)
    if args.only in (None, "trials"):
        lats, early = [], 0
        for name in streams("trial"):
            t0, user, path = float(data[f"{name}_t0"]), data[f"{name}_user"], data[f"{name}_path"]
            fired, pm = run(name, t0)
            early += sum(f < t0 for f in fired)
            after = [f for f in fired if f >= t0]
            lats.append(1000 * (after[0] - t0) if after else float("inf"))
            first = slice(int(t0 * MIC), int(t0 * MIC) + int(0.3 * MIC))
            said = bargein.USER_LINES[int(name.removeprefix("trial")) % len(bargein.USER_LINES)]
            print(f"{name}: {lats[-1]:.0f} ms (user "
                  f"{ah.dbfs(user[first]) - ah.dbfs((pm - user)[first]):+.1f} dB over what the "
                  f"filter leaves{', clipping speaker' if path[3] else ''}"
                  f"{', drifting' if path[4] else ''}: {said!r})", file=sys.stderr)
        ordered = sorted(lats)
        result.update({
            "latency_median_ms": round(statistics.median(ordered), 1),
            "latency_p90_ms": round(ordered[int(0.9 * len(ordered))], 1),
            "latency_worst_ms": round(ordered[-1], 1),
            "latency_over_150_ms": sum(x > 150 for x in lats),
            "triggers_before_onsets": early})
    result["prefilter_cpu_percent"] = round(100 * cpu / audio_s, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
