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
re-converges; reports may come up to 1 s late). Their trial lines say so too. Also
``reply_latency_median_ms`` / ``reply_latency_p90_ms``: the end of the user's speech at the
microphone to the first sound of the reply at the speaker (the reply's first 400 ms found in
the speaker's recording), over every user turn (the emulator waits 500 ms of silence and
"thinks" 200 ms of it); and ``cpu_percent``, the chat's CPU over the schedule (% of a core).
``goal_median_ms``, ``goal_p90_ms``, ``goal_worst_ms``: the same latencies from the voiced
onset, as the open-speaker goal counts them (for "Stop", "Sorry", "Hold on", from the vowel
after the hiss: ``voicecli_testing.audio.voiced_onset``); the goal is p90 at most 150 ms and
worst at most 200 ms over 30 trials or more, with 0 self-interruptions.
``run_schedule`` is the schedule itself, for any client: benchmarks/peers.py runs it for
voicecli and for the frameworks users compare it with.

A trial where the reply was between sentences when the user spoke (the speaker already
silent, and still silent 300 ms later) has no latency to measure: it is left out of the
figures and counted as ``paused_at_onset`` (before, it counted as 0 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402

from voicecli_testing import audio as ah  # noqa: E402 (sets up audio before sounddevice loads)

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


@dataclass
class Schedule:
    """What one client did over the open-speaker trial schedule (``run_schedule``).

    Times are wall clock (``time.time()``, as in the chat's JSONL) unless named otherwise."""

    latencies: list[float] = field(default_factory=list)  # barge-ins: onset -> silence, ms
    # the same from the voiced onset (the goal's figure: for "Stop" or "Sorry", the vowel)
    voiced_latencies: list[float] = field(default_factory=list)
    spans: list[tuple[int, float, float]] = field(default_factory=list)  # (trial, onset, silence)
    leaks: int = 0
    paused: int = 0  # the reply was between sentences when the user spoke: no figure
    clean: list[tuple[float, float, bool]] = field(default_factory=list)  # (start, end, whole)
    before_user: list[tuple[float, float]] = field(default_factory=list)  # (reply start, onset)
    reply_latencies: list[float] = field(default_factory=list)  # speech end -> reply heard, ms
    server_interrupts_before_user: int = 0  # server `interrupted` before the user spoke
    unplayed: int = 0  # replies left alone that never sounded at the speaker
    echo_heard: int = 0  # trials where the server heard speech before the user spoke: no figure
    cpu_percent: float | None = None  # the client's processes, % of one core
    out: str = ""  # the client's stdout
    error: str | None = None  # why the schedule stopped early


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its live descendants."""
    kids: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append(int(entry))
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += times.get(p, 0.0)
        todo += kids.get(p, [])
    return total


def phrase_span(mic: ah.SpeakerRecorder, mark: float, phrase: Path
                ) -> tuple[float, float] | None:
    """(onset, end) of ``phrase``, played into the microphone from ``mark`` on (monotonic):
    its position in the microphone recording (cross-correlation) plus its leading silence,
    and plus the end of its last sound."""
    speech = ah.read_wav(phrase)[0]
    start = max(0, mic.index_of(mark - 0.1))  # the recorder's clock is right to a few ms
    heard = mic.audio[start:start + len(speech) + 16000 + 1600]
    lead = ah.first_sound(speech, 16000)
    tail = ah.last_sound(speech, 16000)
    corr, lag = ah.xcorr_peak(heard, speech)
    if lead is None or tail is None or corr < 0.5 or lag < 0:
        return None
    return mic.time_of(start + lag + lead * 16000), mic.time_of(start + lag + tail * 16000)


def speech_onset(mic: ah.SpeakerRecorder, mark: float, phrase: Path) -> float | None:
    """When ``phrase``, played into the microphone from ``mark`` on, began there (monotonic).

    Its position in the microphone recording (cross-correlation) plus its leading silence:
    not the first sound after ``mark``, which, with an echo path, can be the reply's echo.
    """
    span = phrase_span(mic, mark, phrase)
    return None if span is None else span[0]


def voicing_delay(text: str, phrase: Path) -> float:
    """Seconds from ``phrase``'s acoustic onset to its first voiced frame: 0 unless it begins
    with an unvoiced consonant ("Stop", "Sorry"), whose hiss the goal does not count."""
    if not ah.begins_unvoiced(text):
        return 0.0
    speech = ah.read_wav(phrase)[0]
    lead = ah.first_sound(speech, 16000)
    if lead is None:
        return 0.0
    start = round(lead * 16000)
    return (ah.voiced_onset(speech, start, 16000) - start) / 16000


def reply_heard(spk: ah.SpeakerRecorder, reply: Any, search_s: float = 4.0) -> float | None:
    """When the first sound of emulator reply ``reply`` played at the speaker (monotonic):
    its first 400 ms found in the speaker recording within ``search_s`` of its sending."""
    pcm = np.frombuffer(reply.pcm, dtype="<i2")
    lead = ah.first_sound(pcm, 24000)
    if lead is None or reply.started_at is None:
        return None
    ref = pcm[round(lead * 24000):round(lead * 24000) + 24000 * 4 // 10]
    start = max(0, spk.index_of(reply.started_at))
    heard = spk.audio[start:start + round(search_s * spk.rate)]
    pieces = ah.find_pieces(heard, ref, 24000, piece_ms=400)  # normalized where it is
    if len(pieces) != 1 or pieces[0].corr < 0.5:
        return None
    return spk.time_of(start + pieces[0].delay_s * 24000)


def run_schedule(trials: int, seed: int, start: Callable[[Any], subprocess.Popen],
                 stop: Callable[[subprocess.Popen], str],
                 echo_volume: int | None = 50) -> Schedule:
    """The open-speaker trial schedule (the docstring) for one client.

    ``start(emulator)`` launches the client against the emulator and returns once it
    streams microphone audio; ``stop(process)`` ends it and returns its stdout.
    ``echo_volume``: the echo path's volume (PulseAudio percent), None for no echo path.
    Replies are found by time, not by number, so a client whose own echo makes the server
    start extra replies still runs the whole schedule."""
    from voicecli.emulator import EmulatorConfig, EmulatorThread

    rng = random.Random(seed)
    run = Schedule()
    scenario = Path(__file__).parent / "scenarios" / "long-replies.toml"
    echo = ah.echo_path(volume_percent=echo_volume) if echo_volume is not None \
        else contextlib.nullcontext()
    with EmulatorThread(EmulatorConfig(scenario=scenario)) as emu, echo, \
            ah.SpeakerRecorder() as spk, \
            ah.SpeakerRecorder(source="vmic_feed.monitor", rate=16000) as mic:
        proc: subprocess.Popen | None = start(emu)

        def replies() -> list:
            return [r for conn in emu.connections for r in conn.replies]

        def next_reply(after: float, timeout: float = 30) -> Any:
            """The first reply the emulator started sending at or after ``after``."""
            found: list = []

            def started() -> bool:
                found[:] = [r for r in replies()
                            if r.started_at is not None and r.started_at >= after]
                return bool(found)

            ah.wait_until(started, timeout)
            return min(found, key=lambda r: r.started_at) if found else None

        def wall_of(t: float) -> float:  # a monotonic time on the events' wall clock
            return time.time() - (time.monotonic() - t)

        def say(text: str) -> tuple[Path, float, float]:
            """Play a phrase into the microphone: (its file, when it was started, ended)."""
            phrase = ah.speech_wav(text)
            mark = time.monotonic()
            ah.play_into_mic(phrase).wait(10)
            return phrase, mark, time.monotonic()

        asked: list[tuple[Path, float, Any]] = []  # (phrase, when played, its reply)

        def reply_latency(phrase: Path, mark: float, reply: Any) -> None:
            """Measured at the end: end of the user's speech -> first reply audio heard."""
            asked.append((phrase, mark, reply))

        def heard_start(reply: Any, timeout: float = 5) -> float | None:
            """When reply ``reply`` began to sound at the speaker (monotonic), None if not
            within ``timeout`` of its sending."""
            begun: list[float] = []

            def sounding() -> bool:
                start = max(0, spk.index_of(reply.started_at))
                at = ah.first_sound(spk.audio[start:], spk.rate)
                if at is not None:
                    begun.append(spk.time_of(start + at * spk.rate))
                return bool(begun)

            ah.wait_until(sounding, timeout)
            return begun[0] if begun else None

        def left_alone(reply: Any) -> None:
            """A reply plays with nobody talking: it must play to its end (from its first
            sound at the speaker; a reply never heard there is counted apart, ``unplayed``)."""
            wall_start = wall_of(reply.started_at)
            ah.wait_until(lambda: reply.sent_bytes >= len(reply.pcm) or reply.interrupted, 60)
            begun = heard_start(reply)
            if begun is None:
                run.unplayed += 1
                print(f"reply left alone: never played ({reply.duration_s:.1f} s)  UNPLAYED",
                      file=sys.stderr)
                return
            try:
                end = spk.wait_for_silence(hold_ms=700, timeout=60, after=begun + 0.5)
            except TimeoutError:
                end = time.monotonic()
            played = end - begun
            full = not reply.interrupted and played >= reply.duration_s - 0.5
            run.clean.append((wall_start, time.time(), full))
            print(f"reply left alone: played {played:.1f} of {reply.duration_s:.1f} s"
                  f"{'' if full else '  CUT'}", file=sys.stderr)

        try:
            cpu_t0, cpu_c0 = time.monotonic(), _tree_cpu_s(proc.pid)
            # The first reply is left alone too: the canceller converges on it (the first
            # seconds of a session are guarded: barge-in is stricter there, see audio/vad.py).
            phrase, mark, _ = say("Hello, can you hear me?")
            first = next_reply(mark)
            if first is not None:
                reply_latency(phrase, mark, first)
                left_alone(first)
            for trial in range(trials):
                phrase, mark, _ = say(rng.choice(PROMPTS))
                reply = next_reply(mark)  # talked over
                if reply is None:
                    run.error = f"trial {trial}: no reply started"
                    print(run.error, file=sys.stderr)
                    break
                reply_latency(phrase, mark, reply)
                heard_start(reply, 10)  # the user talks over it once it plays at the speaker
                time.sleep(rng.uniform(0.6, 1.6))
                said = rng.choice(INTERRUPTIONS)
                phrase, mark, talk_end = say(said)
                onset = speech_onset(mic, mark, phrase)
                answer = next_reply(mark)  # left alone
                if answer is None:
                    run.error = f"trial {trial}: no answer to the interruption"
                    print(run.error, file=sys.stderr)
                    break
                print(f"  the answer started {answer.started_at - talk_end:.2f} s after the user's"
                      " speech", file=sys.stderr)
                reply_latency(phrase, mark, answer)
                if onset is None:
                    print(f"trial {trial}: speech not found on the microphone", file=sys.stderr)
                else:
                    # Until the user spoke, this reply was echo only, like a clean one.
                    run.before_user.append((wall_of(reply.started_at), wall_of(onset)))
                    run.server_interrupts_before_user += sum(
                        1 for conn in emu.connections for t in conn.times("interrupted")
                        if reply.started_at <= t < onset)
                    # The server heard speech in this reply before the user spoke: the echo
                    # got through, and whatever silences the speaker now may be that.
                    echo = any(reply.started_at <= t < onset for conn in emu.connections
                               for t in conn.times("speech_start"))
                    cut = ah.silence_after(spk.audio, spk.rate, onset - spk.t0, hold_ms=300)
                    if echo:
                        run.echo_heard += 1
                        print(f"trial {trial + 1}: the server heard speech (the echo) before "
                              "the user spoke: not counted", file=sys.stderr)
                    elif cut is not None and _paused_at(spk, cut, onset):
                        run.paused += 1
                    elif cut is not None:
                        cut_t = spk.time_of(cut * spk.rate)
                        run.latencies.append((cut_t - onset) * 1000)
                        voicing = voicing_delay(said, phrase)
                        run.voiced_latencies.append(run.latencies[-1] - 1000 * voicing)
                        run.spans.append((trial + 1, wall_of(onset), wall_of(cut_t)))
                        gap = spk.audio[spk.index_of(cut_t + 0.05):spk.index_of(answer.started_at)]
                        leaked = len(gap) > 0 and int(abs(gap.astype(int)).max()) > 300
                        run.leaks += leaked
                        voiced = (f" ({run.voiced_latencies[-1]:.1f} from voicing)"
                                  if voicing else "")
                        print(f"trial {trial + 1}: {run.latencies[-1]:6.1f} ms{voiced}"
                              f"{'  LEAK' if leaked else ''}", file=sys.stderr)
                left_alone(answer)
            run.cpu_percent = round(100 * (_tree_cpu_s(proc.pid) - cpu_c0)
                                    / (time.monotonic() - cpu_t0), 2)
            run.out = stop(proc)
            proc = None
        finally:
            if proc is not None:  # the schedule failed: end the client (and its group) anyway
                if os.getpgid(proc.pid) == proc.pid:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
                proc.wait(10)
        for phrase, mark, reply in asked:
            span, heard = phrase_span(mic, mark, phrase), reply_heard(spk, reply)
            if span is None or heard is None:
                print(f"reply latency: {'the speech' if span is None else 'the reply'} not "
                      "found", file=sys.stderr)
            elif reply.started_at < span[1]:  # sent before the user had finished: not theirs
                print("reply latency: the reply began before the user had finished",
                      file=sys.stderr)
            else:
                run.reply_latencies.append(round((heard - span[1]) * 1000, 1))
                print(f"reply latency: {run.reply_latencies[-1]:.0f} ms", file=sys.stderr)
    return run


def percentile(ordered: list[float], q: float) -> float:
    """The benchmark's percentile: element int(q * n) of the sorted list (the last at most)."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_echo(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Barge-in latency and self-interruptions with an echo path (see the docstring)."""
    from voicecli_testing.cli import start_chat, stop_chat

    run = run_schedule(args.trials, args.seed,
                       lambda emu: start_chat(emu, env, "--format", "jsonl"),
                       lambda proc: stop_chat(proc)[0], args.echo_volume)
    rows = [json.loads(line) for line in run.out.splitlines()]
    local = [r["ts"] for r in rows if r["type"] == "interrupted" and r["source"] == "local"]
    self_int = sum(1 for a, b, full in run.clean
                   if not full or any(a <= t <= b for t in local))
    early = sum(1 for t in local for a, b in run.before_user if a <= t < b)
    if not run.latencies:
        print(json.dumps({"error": run.error or "no trial completed"}))
        return 1
    dropout = after_dropout(rows, [(onset, cut) for _, onset, cut in run.spans])
    for (number, _, _), latency, hit in zip(run.spans, run.latencies, dropout, strict=True):
        if hit:
            print(f"trial {number} ({latency:.1f} ms) came after a device dropout",
                  file=sys.stderr)
    ordered, voiced = sorted(run.latencies), sorted(run.voiced_latencies)
    replies = sorted(run.reply_latencies) or [float("nan")]
    print(json.dumps({
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(percentile(ordered, 0.9), 1),
        "worst_ms": round(ordered[-1], 1),
        # the goal's figures (issue 19): from the voiced onset
        "goal_median_ms": round(statistics.median(voiced), 1),
        "goal_p90_ms": round(percentile(voiced, 0.9), 1),
        "goal_worst_ms": round(voiced[-1], 1),
        "trials": len(ordered),
        "self_interruptions": self_int,
        "clean_replies": len(run.clean),
        "unplayed": run.unplayed,  # replies left alone never heard at the speaker
        # local interruptions in the talked-over replies before the user spoke (echo only)
        "self_interruptions_before_user": early,
        "leaks": run.leaks,
        "paused_at_onset": run.paused,  # the reply was in a pause when the user spoke: no figure
        "echo_heard_before_user": run.echo_heard,  # the server heard speech first: no figure
        "resumed": sum(r["type"] == "barge_in_resumed" for r in rows),
        "echo_volume_percent": args.echo_volume,
        **xruns(rows),
        "after_dropout": sum(dropout),
        # end of the user's speech -> first audio of the reply heard at the speaker
        "reply_latency_median_ms": round(statistics.median(replies), 1),
        "reply_latency_p90_ms": round(percentile(replies, 0.9), 1),
        "cpu_percent": run.cpu_percent,  # the chat process, % of one core
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

    from voicecli.emulator import EmulatorConfig, EmulatorThread
    from voicecli_testing.cli import start_chat, stop_chat

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
