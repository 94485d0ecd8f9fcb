"""Barge-in latency through the real audio path, on the virtual sound card.

    python benchmarks/bargein_e2e.py [--trials 12] [--seed 1] [--echo [--echo-volume 50]]

One ``voicecli chat`` process (real CLI, real google-genai SDK, real sounddevice) talks to the
built-in emulator on the PulseAudio virtual devices (scripts/virtual-audio.sh). Each trial
waits until a reply is playing at the virtual speaker, waits a random 0.6–1.6 s, and plays
speech into the virtual microphone. Latency is the time from that speech's onset, as heard
on the microphone (``vmic_feed.monitor``), to the start of the silence at the speaker
(``vspeaker.monitor``): both are recorded, and aligned on the monotonic clock (to ~2 ms).
The onset is where the phrase played begins in the microphone recording, found by
cross-correlation, plus the phrase's own leading silence: with an echo path the microphone
also hears the reply, and the first sound after the phrase was started may be that echo.

A trial also checks that nothing of the interrupted reply plays afterwards (``leaks``).
The last line printed is JSON: ``median_ms``, ``p90_ms``, ``worst_ms``, ``trials``, ``leaks``,
how many interruptions voicecli made itself (``local_interrupts``) or got from the server, and
the dropouts its devices reported (``speaker_xruns``, ``mic_xruns``).

``--echo``: the same with an acoustic echo path inside PulseAudio (a loopback from the
speaker's monitor into the microphone, ``--echo-volume`` percent: 50 % = -18 dB, ~50 ms),
voicecli in its default mode (echo canceller on). Each trial is followed by a reply that
nobody talks over: it must play to its end (no local interruption, no server
interruption: the echo must not reach the server's voice detector either). Last line:
``median_ms``, ``worst_ms``, ``trials``, ``self_interruptions`` (over ``clean_replies``),
plus ``self_interruptions_before_user`` (in the talked-over replies, before the user
spoke), ``p90_ms``, ``leaks``, ``resumed``, ``speaker_xruns``, ``mic_xruns``, and
``after_dropout``: the trials with a device dropout (the chat's ``audio_dropout`` events)
reported from 2 s before the onset to the silence, when barge-in is stricter (the canceller
re-converges; reports may come up to 1 s late). Their trial lines say so too.

A trial where the reply was between sentences when the user spoke (the speaker already
silent, and still silent 300 ms later) has no latency to measure: it is left out of the
figures and counted as ``paused_at_onset`` (before, it counted as 0 ms).
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
PROMPTS = ["Tell me more about that.", "Go on please.", "And what else?"]


def _paused_at(spk: ah.SpeakerRecorder, cut: float, onset: float) -> bool:
    """The speaker was already silent when the user spoke (the reply was between
    sentences) and stayed silent: that trial measures nothing, so it is not counted as 0."""
    paused = spk.time_of(cut * spk.rate) <= onset + 0.001
    if paused:
        print("  the reply was in a pause at the user's onset: not counted", file=sys.stderr)
    return paused


def speech_onset(mic: ah.SpeakerRecorder, mark: float, phrase: Path) -> float | None:
    """When ``phrase``, played into the microphone from ``mark`` on, began there (monotonic).

    Its position in the microphone recording (cross-correlation) plus its leading silence:
    not the first sound after ``mark``, which, with an echo path, can be the reply's echo.
    """
    speech = ah.read_wav(phrase)[0]
    start = max(0, mic.index_of(mark))
    heard = mic.audio[start:start + len(speech) + 16000]
    lead = ah.first_sound(speech, 16000)
    corr, lag = ah.xcorr_peak(heard, speech)
    if lead is None or corr < 0.5 or lag < 0:
        return None
    return mic.time_of(start + lag + lead * 16000)


def xruns(rows: list[dict]) -> dict[str, int]:
    """Dropouts the chat's audio devices reported (its last JSONL line, session_ended)."""
    end = rows[-1] if rows and rows[-1]["type"] == "session_ended" else {}
    return {"speaker_xruns": end.get("speaker_xruns", -1), "mic_xruns": end.get("mic_xruns", -1)}


def after_dropout(rows: list[dict], trials: list[tuple[float, float]],
                  guard_s: float = 2.0) -> list[bool]:
    """For each trial (onset, silence; wall clock): was a dropout reported from ``guard_s``
    before the onset (the guard after a dropout, audio/vad.py) up to the silence?"""
    dropped = [r["ts"] for r in rows if r["type"] == "audio_dropout"]
    return [any(onset - guard_s <= t <= cut for t in dropped) for onset, cut in trials]


def run_echo(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Barge-in latency and self-interruptions with an echo path (see the docstring)."""
    from helpers import start_chat, stop_chat

    from voicecli.emulator import EmulatorConfig, EmulatorThread

    rng = random.Random(args.seed)
    latencies: list[float] = []
    spans: list[tuple[int, float, float]] = []  # (trial, onset, silence), wall clock
    leaks = paused = 0
    clean: list[tuple[float, float, bool]] = []  # (wall start, wall end, played to its end)
    before_user: list[tuple[float, float]] = []  # (reply start, user onset), wall clock
    scenario = Path(__file__).parent / "scenarios" / "long-replies.toml"
    with EmulatorThread(EmulatorConfig(scenario=scenario)) as emu, \
            ah.echo_path(volume_percent=args.echo_volume), ah.SpeakerRecorder() as spk, \
            ah.SpeakerRecorder(source="vmic_feed.monitor", rate=16000) as mic:
        proc = start_chat(emu, env, "--format", "jsonl")
        conn = emu.connections[0]

        def reply_started(k: int) -> bool:
            return ah.wait_until(lambda: len(conn.replies) > k
                                 and conn.replies[k].started_at is not None, 30)

        def wall_of(t: float) -> float:  # a monotonic time on the events' wall clock
            return time.time() - (time.monotonic() - t)

        def left_alone(k: int) -> None:
            """Reply k plays with nobody talking: it must play to its end."""
            reply = conn.replies[k]
            wall_start = wall_of(reply.started_at)
            ah.wait_until(lambda: reply.sent_bytes >= len(reply.pcm) or reply.interrupted, 60)
            end = spk.wait_for_silence(hold_ms=700, timeout=60, after=reply.started_at + 0.5)
            played = end - reply.started_at
            full = not reply.interrupted and played >= reply.duration_s - 0.5
            clean.append((wall_start, time.time(), full))
            print(f"reply left alone: played {played:.1f} of {reply.duration_s:.1f} s"
                  f"{'' if full else '  CUT'}", file=sys.stderr)

        # The first reply is left alone too: the canceller converges on it (the first
        # seconds of a session are guarded: barge-in is stricter there, see audio/vad.py).
        ah.play_into_mic(ah.speech_wav("Hello, can you hear me?")).wait(10)
        if reply_started(0):
            left_alone(0)
        for trial in range(args.trials):
            k = 2 * trial + 1  # reply k is talked over; reply k + 1 is left alone
            ah.play_into_mic(ah.speech_wav(rng.choice(PROMPTS))).wait(10)
            if not reply_started(k):
                print(f"trial {trial}: no reply started", file=sys.stderr)
                break
            spk.wait_for_sound(timeout=10)
            time.sleep(rng.uniform(0.6, 1.6))
            mark = time.monotonic()
            phrase = ah.speech_wav(rng.choice(INTERRUPTIONS))
            ah.play_into_mic(phrase).wait(10)
            talk_end = time.monotonic()
            onset = speech_onset(mic, mark, phrase)
            if not reply_started(k + 1):
                print(f"trial {trial}: no answer to the interruption", file=sys.stderr)
                break
            answer = conn.replies[k + 1]
            print(f"  the answer started {answer.started_at - talk_end:.2f} s after the user's"
                  " speech", file=sys.stderr)
            if onset is None:
                print(f"trial {trial}: speech not found on the microphone", file=sys.stderr)
            else:
                # Until the user spoke, this reply was echo only, like a clean one.
                before_user.append((wall_of(conn.replies[k].started_at), wall_of(onset)))
                cut = ah.silence_after(spk.audio, spk.rate, onset - spk.t0, hold_ms=300)
                if cut is not None and _paused_at(spk, cut, onset):
                    paused += 1
                elif cut is not None:
                    cut_t = spk.time_of(cut * spk.rate)
                    latencies.append((cut_t - onset) * 1000)
                    spans.append((trial + 1, wall_of(onset), wall_of(cut_t)))
                    gap = spk.audio[spk.index_of(cut_t + 0.05):spk.index_of(answer.started_at)]
                    leaked = len(gap) > 0 and int(abs(gap.astype(int)).max()) > 300
                    leaks += leaked
                    print(f"trial {trial + 1}: {latencies[-1]:6.1f} ms"
                          f"{'  LEAK' if leaked else ''}", file=sys.stderr)
            left_alone(k + 1)
        out, _ = stop_chat(proc)
    rows = [json.loads(line) for line in out.splitlines()]
    local = [r["ts"] for r in rows if r["type"] == "interrupted" and r["source"] == "local"]
    self_int = sum(1 for a, b, full in clean if not full or any(a <= t <= b for t in local))
    early = sum(1 for t in local for a, b in before_user if a <= t < b)
    if not latencies:
        print(json.dumps({"error": "no trial completed"}))
        return 1
    dropout = after_dropout(rows, [(onset, cut) for _, onset, cut in spans])
    for (number, _, _), latency, hit in zip(spans, latencies, dropout, strict=True):
        if hit:
            print(f"trial {number} ({latency:.1f} ms) came after a device dropout",
                  file=sys.stderr)
    ordered = sorted(latencies)
    print(json.dumps({
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "worst_ms": round(ordered[-1], 1),
        "trials": len(ordered),
        "self_interruptions": self_int,
        "clean_replies": len(clean),
        # local interruptions in the talked-over replies before the user spoke (echo only)
        "self_interruptions_before_user": early,
        "leaks": leaks,
        "paused_at_onset": paused,  # the reply was in a pause when the user spoke: no figure
        "resumed": sum(r["type"] == "barge_in_resumed" for r in rows),
        "echo_volume_percent": args.echo_volume,
        **xruns(rows),
        "after_dropout": sum(dropout),
    }))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--echo", action="store_true",
                        help="with an echo path from the speaker into the microphone")
    parser.add_argument("--echo-volume", type=int, default=50,
                        help="echo loudness, PulseAudio percent (30 = -31 dB, 50 = -18 dB)")
    args = parser.parse_args()
    env = ah.ensure_virtual_audio()
    if args.echo:
        return run_echo(args, env)

    from helpers import start_chat, stop_chat

    from voicecli.emulator import EmulatorConfig, EmulatorThread

    rng = random.Random(args.seed)
    latencies: list[float] = []
    leaks = paused = 0
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
            onset = speech_onset(mic, mark, phrase)
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
            if _paused_at(spk, cut, onset):
                paused += 1
                continue
            cut_t = spk.time_of(cut * spk.rate)
            latency = (cut_t - onset) * 1000
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
        "paused_at_onset": paused,  # the reply was in a pause when the user spoke: no figure
        # voicecli's own events: 'local' = our VAD cut the reply, 'server' = the server's
        # interrupted arrived (later; it confirms the barge-in).
        "local_interrupts": sources.count("local"),
        "server_interrupts": sources.count("server"),
        **xruns(rows),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
