"""Soak: hours of conversation across many short-lived connections, nothing lost.

    python benchmarks/soak.py [--hours 2] [--speed 20] [--lifetime 2]

One chat session runner (the real google-genai SDK, the real reconnect logic) talks to the emulator,
which runs in a separate process (so its recordings do not count against the client's
memory) with connection lifetimes of ``--lifetime`` seconds: each connection gets ``goAway``
and is closed "Deadline expired" one second later, unless voicecli renews it first at a
quiet moment. Every 10th connection also drops abruptly while the user is speaking, and
every 10th (offset 5) closes with 1011 just after a turn ends, to exercise unplanned
reconnects as well.

How 2 hours fit in minutes: the conversation is scripted speech generated on the fly (a
four-turn scenario with a tool call, cycling), fed to the client ``--speed`` times faster
than real time by the same pacer FileSource uses, and the reply audio is drained just as
fast; the emulator sends its replies ``--speed`` × 1.5 faster and counts a reply as
playing for its duration / speed. Hours of conversation = audio seconds fed / 3600. The
reconnect gaps are wall-clock milliseconds (TLS handshake, setup, replay), unscaled.

Lines are checked against what the emulator actually said: ``lost_lines`` are transcript
lines the emulator sent that never became a final line; ``duplicated_lines`` are lines
shown more often than sent. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from voicecli import events as ev  # noqa: E402
from voicecli.audio.engine import FrameConsumer, NullSink, _Pacer  # noqa: E402
from voicecli.audio.vad import FRAME_SAMPLES  # noqa: E402

SCENARIO = ROOT / "benchmarks" / "scenarios" / "soak.toml"
USER_LINES = ["Good morning.", "What time is it?", "Tell me something nice.", "Thank you."]
REPLY_SECONDS = [1.6, 1.8, 2.6, 1.4]  # about how long each reply lasts (espeak-ng)
PAUSE_S = 2.0  # silence after each reply before the user talks again (plus slack below)
RESPONSE_DELAY_MS = 80  # emulator thinking time: longer than input transcription takes


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- emulator side


def emulator_process(conn: Any, speed: float, lifetime: float) -> None:
    """Run the emulator; harvest finished connections' lines; report them when asked."""
    from voicecli.emulator import EmulatorConfig, EmulatorThread

    faults = []
    for n in range(1, 100000, 10):
        faults.append({"kind": "drop", "on": "speech_start", "connection": n + 9})
        faults.append({"kind": "close", "on": "turn_complete", "delay_s": 0.02,
                       "connection": n + 4, "reason": "Internal error encountered."})
    config = EmulatorConfig(scenario=str(SCENARIO), pace=1.5 * speed, speed=speed,
                            response_delay_ms=RESPONSE_DELAY_MS,
                            go_away_after_s=lifetime, go_away_time_left_s=1.0,
                            faults=tuple(faults))
    with EmulatorThread(config) as emu:
        conn.send({"base_url": emu.base_url, "ca": emu.ca_cert_path, "key": emu.api_key})
        users: list[str] = []
        replies: list[str] = []
        closes: Counter[str] = Counter()
        records = emu.connections

        def harvest(final: bool) -> None:
            done = [r for r in list(records) if final or r.close_code is not None
                    or r.times("client_closed")]
            for rec in done:
                for reply in rec.replies:
                    if reply.resumed:
                        continue
                    users.append(reply.user_text)
                    if reply.sent_bytes or reply.reply_text:
                        replies.append(reply.reply_text)
                closes[str(rec.close_reason or rec.close_code)] += 1
                records.remove(rec)  # keep the emulator's memory flat too

        while not conn.poll(0.5):
            harvest(False)
        conn.recv()
        time.sleep(0.5)
        harvest(True)
        conn.send({"users": users, "replies": replies, "closes": dict(closes)})


# --------------------------------------------------------------------------- client side


class ScriptSource:
    """The user: the scenario's lines, spoken in turn with pauses, ``speed`` × real time."""

    xruns = 0  # no device (voicecli.audio.engine.Source)

    def __init__(self, seconds: float, speed: float) -> None:
        from voicecli.emulator.speech import sample_speech

        self.finished = threading.Event()
        self.fed_s = 0.0
        self.total_s = seconds
        self.turns = 0
        silence = lambda s: np.zeros(int(16000 * s), np.int16)  # noqa: E731
        # The emulator's "thinking" delays are wall-clock: in conversation time they are
        # ``speed`` times longer (two of them around a tool call).
        think_s = 2 * RESPONSE_DELAY_MS / 1000 * speed
        # A reconnect delays a reply by its gap (wall-clock, so also ``speed`` × longer in
        # conversation time): leave room for 300 ms, so the user does not talk over it.
        think_s += 0.3 * speed
        self._clips = [
            np.concatenate([silence(0.3),
                            np.frombuffer(sample_speech(text, rate=16000), "<i2"),
                            silence(0.8 + think_s + reply + PAUSE_S)])
            for text, reply in zip(USER_LINES, REPLY_SECONDS, strict=True)]
        self._clip, self._pos = 0, 0
        self._pacer = _Pacer("soak-source", speed)

    def _next(self) -> np.ndarray:
        clip = self._clips[self._clip]
        if self._pos >= len(clip) - FRAME_SAMPLES:
            if self.fed_s >= self.total_s:
                self.finished.set()
            else:
                self._clip, self._pos = (self._clip + 1) % len(self._clips), 0
                self.turns += 1
                clip = self._clips[self._clip]
        if self.finished.is_set():
            return np.zeros(FRAME_SAMPLES, np.int16)
        frame = clip[self._pos:self._pos + FRAME_SAMPLES]
        self._pos += FRAME_SAMPLES
        self.fed_s += FRAME_SAMPLES / 16000
        return frame

    def start(self, mic: FrameConsumer) -> None:
        self.turns = 1
        self._pacer.run(lambda: mic.process(self._next()))

    def stop(self) -> None:
        self._pacer.stop()


class Tally:
    """Counts final lines and reconnects; samples memory."""

    def __init__(self) -> None:
        self.users: Counter[str] = Counter()
        self.replies: list[ev.AssistantTranscript] = []
        self.gaps: list[float] = []
        self.fresh = 0
        self.interrupts: Counter[str] = Counter()
        self.notices: list[str] = []
        self.errors: list[str] = []

    def handle(self, event: ev.Event) -> None:
        match event:
            case ev.UserTranscript(final=True, text=text):
                self.users[text] += 1
            case ev.AssistantTranscript(final=True):
                self.replies.append(event)
            case ev.Resumed(gap_ms=gap, fresh=fresh):
                self.gaps.append(gap)
                self.fresh += fresh
            case ev.Interrupted(source=source):
                self.interrupts[source] += 1
            case ev.Notice(message=message):
                self.notices.append(message)
            case ev.ErrorEvent(message=message):
                self.errors.append(message)

    def close(self) -> None:
        pass


def compare(sent: list[str], shown: Counter[str]) -> tuple[int, int]:
    """(lost, duplicated) between lines the emulator sent and final lines shown."""
    expected = Counter(sent)
    if expected != shown:  # say which, so a failure can be looked into
        print(f"lines sent {dict(expected)}, shown {dict(shown)}", file=sys.stderr)
    lost = sum(max(0, n - shown[t]) for t, n in expected.items())
    dup = sum(max(0, n - expected[t]) for t, n in shown.items())
    return lost, dup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--lifetime", type=float, default=2.0,
                        help="connection lifetime in wall-clock seconds (goAway after)")
    args = parser.parse_args()

    from voicecli.app import chat_runner
    from voicecli.live.reconnect import ReconnectPolicy
    from voicecli.settings import Credentials, Settings
    from voicecli.ui.outputs import EventBus

    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=emulator_process,
                                           args=(child, args.speed, args.lifetime))
    proc.start()
    info = parent.recv()
    # Times the policy measures in wall-clock seconds are scaled like the conversation.
    # quiet_after_voice_s: 4 s of conversation (the default 1.5 s is wall-clock; at this
    # speed the emulator's fixed latencies would otherwise race with it).
    policy = ReconnectPolicy(quiet_after_voice_s=4.0 / args.speed, buffer_s=10.0,
                             go_away_margin_s=0.25)
    settings = Settings(credentials=Credentials(api_key=info["key"], base_url=info["base_url"],
                                                api_version="v1beta", ca_cert=info["ca"]),
                        reconnect=policy)
    tally = Tally()
    source = ScriptSource(args.hours * 3600, args.speed)
    runner, _ = chat_runner(settings, EventBus([tally]), source, NullSink(args.speed))
    started = time.monotonic()
    rss: list[float] = []

    async def run() -> int:
        async def sample() -> None:
            while True:
                rss.append(rss_mb())
                await asyncio.sleep(2.0)
                done = source.fed_s / source.total_s
                print(f"\r{done:6.1%} {source.fed_s / 3600:.2f} h, "
                      f"{len(tally.gaps)} reconnects, rss {rss[-1]:.0f} MB", end="",
                      file=sys.stderr, flush=True)

        sampler = asyncio.create_task(sample())
        try:
            return await runner.run()
        finally:
            sampler.cancel()

    code = asyncio.run(run())
    wall = time.monotonic() - started
    print(file=sys.stderr)
    parent.send("stop")
    result = parent.recv()
    proc.join(10)

    lost_u, dup_u = compare(result["users"], tally.users)
    # A reply's text contains the tool's time: compare those by shape, not by minute.
    norm = lambda t: "It is <time> now." if t.startswith("It is ") else t  # noqa: E731
    lost_r, dup_r = compare([norm(t) for t in result["replies"]],
                            Counter(norm(e.text) for e in tally.replies if not e.interrupted))
    cut = sum(1 for e in tally.replies if e.interrupted)
    warm = rss[min(len(rss) - 1, max(1, len(rss) // 20))]  # after the first 5 %: warmed up
    figures = {
        "conversation_hours": round(source.fed_s / 3600, 2),
        "wall_s": round(wall, 1),
        "speed": args.speed,
        "user_turns": sum(tally.users.values()),
        "reconnects": len(tally.gaps),
        "fresh_sessions": tally.fresh,
        "gap_median_ms": round(statistics.median(tally.gaps), 1) if tally.gaps else None,
        "gap_max_ms": round(max(tally.gaps), 1) if tally.gaps else None,
        "lost_lines": lost_u + lost_r,
        "duplicated_lines": dup_u + dup_r,
        "cut_replies": cut,
        "interruptions": dict(tally.interrupts),
        "notices": len(tally.notices),
        "errors": tally.errors[:3],
        "server_closes": result["closes"],
        "rss_start_mb": round(warm, 1),
        "rss_end_mb": round(rss[-1], 1),
        "rss_growth_percent": round((max(rss[len(rss) // 20:]) - warm) / warm * 100, 1),
        "exit_code": code,
    }
    print(json.dumps(figures))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
