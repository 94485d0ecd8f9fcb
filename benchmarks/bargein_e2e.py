"""Barge-in latency through the real audio path, on the virtual sound card.

    python benchmarks/bargein_e2e.py [--trials 12] [--seed 1]

One ``voicecli chat`` process (real CLI, real google-genai SDK, real sounddevice) talks to the
built-in emulator on the PulseAudio virtual devices (scripts/virtual-audio.sh). Each trial
waits until a reply is playing at the virtual speaker, waits a random 0.6–1.6 s, and plays
speech into the virtual microphone. Latency is the time from that speech's onset, as heard
on the microphone (``vmic_feed.monitor``), to the start of the silence at the speaker
(``vspeaker.monitor``): both are recorded, and aligned on the monotonic clock.

A trial also checks that nothing of the interrupted reply plays afterwards (``leaks``).
The last line printed is JSON: ``median_ms``, ``p90_ms``, ``worst_ms``, ``trials``, ``leaks``,
and how many interruptions voicecli made itself (``local_interrupts``) or got from the server.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import audio_harness as ah  # noqa: E402 (sets up audio before sounddevice loads)

INTERRUPTIONS = [
    "Stop, wait a moment.", "Hold on, hold on.", "Sorry, can I ask something?",
    "No no, that is not it.", "Excuse me, one question.", "Wait, go back please.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    env = ah.ensure_virtual_audio()

    from helpers import start_chat, stop_chat

    from voicecli.emulator import EmulatorConfig, EmulatorThread

    rng = random.Random(args.seed)
    latencies: list[float] = []
    leaks = 0
    first = ah.speech_wav("Hello, can you hear me?")
    scenario = Path(__file__).parent / "scenarios" / "long-replies.toml"
    with EmulatorThread(EmulatorConfig(scenario=scenario)) as emu, ah.SpeakerRecorder() as spk, \
            ah.SpeakerRecorder(source="vmic_feed.monitor", rate=16000) as mic:
        proc = start_chat(emu, env, "--format", "jsonl")
        conn = emu.connections[0]
        ah.play_into_mic(first).wait(10)
        for trial in range(args.trials):
            n_replies = trial + 1
            ok = ah.wait_until(lambda n=n_replies: len(conn.replies) >= n
                               and conn.replies[n - 1].started_at is not None, 20)
            if not ok:
                print(f"trial {trial}: no reply started", file=sys.stderr)
                break
            if trial == 0:
                spk.wait_for_sound(timeout=10)
            time.sleep(rng.uniform(0.6, 1.6))
            mark = time.monotonic()
            phrase = ah.speech_wav(rng.choice(INTERRUPTIONS))
            ah.play_into_mic(phrase).wait(10)
            # Onset: the first sound on the microphone after we started playing.
            m = mic.audio
            t = ah.first_sound(m[max(0, mic.index_of(mark)):], 16000)
            onset = mic.time_of(mic.index_of(mark) + t * 16000) if t is not None else None
            if onset is None:
                print(f"trial {trial}: speech not found on the microphone", file=sys.stderr)
                continue
            ok = ah.wait_until(lambda n=n_replies: len(conn.replies) > n
                               and conn.replies[n].started_at is not None, 20)
            next_start = conn.replies[n_replies].started_at if ok else time.monotonic()
            s = spk.audio
            cut = ah.silence_after(s, spk.rate, onset - spk.t0, hold_ms=300)
            if cut is None:
                print(f"trial {trial}: the speaker never went silent", file=sys.stderr)
                continue
            cut_t = spk.time_of(cut * spk.rate)
            latency = max(0.0, cut_t - onset) * 1000
            latencies.append(latency)
            gap = s[spk.index_of(cut_t + 0.05):spk.index_of(next_start)]
            leaked = len(gap) > 0 and int(abs(gap.astype(int)).max()) > 300
            leaks += leaked
            print(f"trial {trial + 1}: {latency:6.1f} ms{'  LEAK' if leaked else ''}"
                  f" onset-mark={1000 * (onset - mark):.0f} ms", file=sys.stderr)
        out, _ = stop_chat(proc)
    rows = [json.loads(line) for line in out.splitlines()]
    sources = [r["source"] for r in rows if r["type"] == "interrupted"]

    if not latencies:
        print(json.dumps({"error": "no trial completed"}))
        return 1
    ordered = sorted(latencies)
    result = {
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "worst_ms": round(ordered[-1], 1),
        "trials": len(ordered),
        "leaks": leaks,
        # voicecli's own events: 'local' = our VAD cut the reply, 'server' = the server's
        # interrupted arrived (later; it confirms the barge-in).
        "local_interrupts": sources.count("local"),
        "server_interrupts": sources.count("server"),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
