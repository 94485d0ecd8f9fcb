"""What the audio devices add to barge-in latency, on the virtual sound card.

    python benchmarks/device_latency.py [--latency high|low|SECONDS] [--block-ms 20] [--trials 20]

Plain sounddevice streams opened the way voicecli's engine opens them (mono int16, a fixed
block size), on the PulseAudio virtual devices of scripts/virtual-audio.sh. Truth is a
recording of each device's PulseAudio monitor (voicecli_testing/audio.py, aligned to
``time.monotonic()`` to ~2 ms).

* ``input``: clicks are played into the virtual microphone; ``delivery_ms`` is how long after
  a click was at the microphone the capture callback got it (at most one block plus what
  PortAudio and the sound server hold back), ``adc_error_ms`` the error of the capture time
  the engine derives from ``inputBufferAdcTime``.
* ``output``: a tone plays and, at a random moment, the callback starts writing silence (what
  a barge-in's hold does); ``hold_to_silence_ms`` is how long the speaker still played (the
  wait for the next callback plus the stream's buffer), ``dac_error_ms`` the error of the
  ``outputBufferDacTime`` stamp the echo canceller's reference gets, ``dac_jitter_ms`` how far
  consecutive stamps stray from contiguous.

The last line is JSON with both; each figure as min / median / p90 / max.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from voicecli_testing import audio as ah  # noqa: E402 (sets up audio before sounddevice loads)


def spread(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    if not xs:
        return {}
    return {"n": len(xs), "min": round(xs[0], 1), "median": round(float(np.median(xs)), 1),
            "p90": round(xs[min(len(xs) - 1, int(0.9 * len(xs)))], 1), "max": round(xs[-1], 1)}


def onsets(x: np.ndarray, rate: int) -> list[int]:
    """Sample indices where clicks begin (loud after >= 100 ms of quiet)."""
    out, last = [], -rate
    for i in np.flatnonzero(np.abs(x.astype(np.int32)) > 3000):
        if i - last > rate // 10:
            out.append(int(i))
        last = i
    return out


def measure_input(latency: str | float, block_ms: int, trials: int) -> dict:
    import sounddevice as sd

    rate = ah.MIC_RATE
    blocks: list[tuple[float, float, np.ndarray, bool]] = []

    def callback(data: np.ndarray, frames: int, ti, status) -> None:
        now = time.monotonic()
        blocks.append((now, ti.inputBufferAdcTime - ti.currentTime, data[:, 0].copy(),
                       bool(status)))

    # one click every 307 ms: not a whole number of blocks, so clicks fall all over a block
    click = np.zeros(int(0.3 * rate) + 117, np.int16)
    click[:80] = (12000 * np.sin(2 * np.pi * 1000 * np.arange(80) / rate)).astype(np.int16)
    train = np.concatenate([np.zeros(rate // 5, np.int16)] + [click] * trials)
    with ah.SpeakerRecorder(source="vmic_feed.monitor", rate=rate) as rec:
        stream = sd.InputStream(samplerate=rate, channels=1, dtype="int16", latency=latency,
                                blocksize=rate * block_ms // 1000, callback=callback)
        with stream:
            time.sleep(0.5)
            ah.play_into_mic(train).wait(30)
            time.sleep(0.5)
            reported = stream.latency
    truth = [rec.time_of(i) for i in onsets(rec.audio, rate)]
    data = np.concatenate([b[2] for b in blocks])
    starts = np.cumsum([0] + [len(b[2]) for b in blocks])
    delivery, error = [], []
    for i in onsets(data, rate):
        k = int(np.searchsorted(starts, i, side="right") - 1)
        now, offset = blocks[k][0], blocks[k][1]
        stamp = now + offset + (i - starts[k]) / rate
        t = min(truth, key=lambda x: abs(x - stamp))
        delivery.append((now - t) * 1000)
        error.append((stamp - t) * 1000)
    return {"latency": latency, "block_ms": block_ms,
            "stream_latency_ms": round(reported * 1000, 1), "xruns": sum(b[3] for b in blocks),
            "delivery_ms": spread(delivery), "adc_error_ms": spread(error)}


def measure_output(latency: str | float, block_ms: int, trials: int) -> dict:
    import sounddevice as sd

    rate = ah.SPEAKER_RATE
    hold = threading.Event()
    calls: list[tuple[float, float, bool, int, bool]] = []
    pos = [0]

    def callback(out: np.ndarray, frames: int, ti, status) -> None:
        now = time.monotonic()
        held = hold.is_set()
        if held:
            out[:] = 0
        else:
            k = np.arange(pos[0], pos[0] + frames)
            out[:, 0] = (8000 * np.sin(2 * np.pi * 440 * k / rate)).astype(np.int16)
        pos[0] += frames
        calls.append((now, ti.outputBufferDacTime - ti.currentTime, held, frames, bool(status)))

    rng = random.Random(1)
    holds = []
    with ah.SpeakerRecorder() as rec:
        stream = sd.OutputStream(samplerate=rate, channels=1, dtype="int16", latency=latency,
                                 blocksize=rate * block_ms // 1000, callback=callback)
        with stream:
            for _ in range(trials):
                hold.clear()
                time.sleep(rng.uniform(0.4, 0.7))
                holds.append(time.monotonic())
                hold.set()
                time.sleep(0.35)
            reported = stream.latency
    audio = rec.audio
    to_silence, wait, error = [], [], []
    for t in holds:
        cut = ah.silence_after(audio, rate, t - rec.t0 - 0.002, hold_ms=150)
        first = next((c for c in calls if c[0] >= t and c[2]), None)
        if cut is None or first is None:
            continue
        cut_t = rec.time_of(cut * rate)
        to_silence.append((cut_t - t) * 1000)
        wait.append((first[0] - t) * 1000)
        error.append((first[0] + first[1] - cut_t) * 1000)
    stamps = [(c[0] + c[1], c[3]) for c in calls[5:]]  # the first callbacks prime the buffer
    jitter = [abs(b[0] - a[0] - a[1] / rate) * 1000 for a, b in itertools.pairwise(stamps)]
    return {"latency": latency, "block_ms": block_ms,
            "stream_latency_ms": round(reported * 1000, 1), "xruns": sum(c[4] for c in calls),
            "hold_to_silence_ms": spread(to_silence), "wait_for_callback_ms": spread(wait),
            "dac_error_ms": spread(error), "dac_jitter_ms": spread(jitter)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", default="high", help="high, low or seconds (both streams)")
    parser.add_argument("--block-ms", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--only", choices=["input", "output"])
    args = parser.parse_args()
    latency = args.latency if args.latency in ("high", "low") else float(args.latency)
    ah.ensure_virtual_audio()
    result = {}
    if args.only != "output":
        result["input"] = measure_input(latency, args.block_ms, args.trials)
    if args.only != "input":
        result["output"] = measure_output(latency, args.block_ms, args.trials)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
