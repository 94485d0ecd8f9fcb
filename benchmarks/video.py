"""What sharing a screen costs a conversation: CPU, capture → send, and barge-in latency.

    python benchmarks/video.py [--trials 12] [--seconds 30]

On a 1920×1080 Xvfb screen that changes all the time (a window whose grey level moves every
100 ms, so every frame is new and sent: the worst case for the CPU), with the chat on the
virtual sound card against an emulator in this process:

- ``cpu_percent``: CPU of the chat's process tree with ``--screen`` at 1 fps, minus the same
  chat without it, in % of one core, each over ``--seconds`` of a session where nobody
  talks (measured from 10 s after launch). Goal: at most 3.
- ``capture_to_send_ms_median`` / ``_worst``: from the start of a frame's grab to the end
  of its send (the chat's ``video_frame`` events). Goal: median at most 60 ms.
- ``bargein_median_ms_screen`` / ``bargein_median_ms_no_screen`` (and p90, worst): the
  open-speaker trial schedule of ``benchmarks/bargein_e2e.py`` (echo path on), once with the
  screen shared and once without, in this run. Goal: medians within 10 ms.

Needs Xvfb (scripts/test.sh installs it) and the video extra. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from voicecli_testing import audio as ah  # noqa: E402  (must run before sounddevice)

ENV = ah.ensure_virtual_audio()

import bargein_e2e  # noqa: E402

from voicecli.emulator import EmulatorConfig, EmulatorThread  # noqa: E402
from voicecli_testing.cli import clean_env, start_chat, stop_chat  # noqa: E402

SETTLE_S = 10.0


def xvfb() -> tuple[subprocess.Popen[bytes], str]:
    if not shutil.which("Xvfb"):
        raise SystemExit("Xvfb is missing: apt-get install xvfb (scripts/test.sh does)")
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1920x1080x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        time.sleep(0.05)
    return proc, f":{number}"


def moving_window(display: str, folder: Path) -> subprocess.Popen[str]:
    control = folder / "colour"
    control.write_text("ramp")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "screen_window.py"), "ramp",
                             str(control)], env={**os.environ, "DISPLAY": display},
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def idle_session(env: dict[str, str], seconds: float, *args: str) -> tuple[float, str]:
    """(CPU % of one core over ``seconds`` of quiet, the chat's stdout)."""
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicecli", "chat", "--base-url", emu.base_url,
             "--ca-cert", emu.ca_cert_path, "--api-version", "v1beta", "-q", "--format",
             "jsonl", *args], cwd=ROOT, env={**env, "GEMINI_API_KEY": emu.api_key},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(SETTLE_S)
        before, t0 = bargein_e2e._tree_cpu_s(proc.pid), time.monotonic()
        time.sleep(seconds)
        used = bargein_e2e._tree_cpu_s(proc.pid) - before
        elapsed = time.monotonic() - t0
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        if proc.returncode != 0:
            raise SystemExit(f"chat failed: {err[-600:]}")
    return 100 * used / elapsed, out


def barge_in(env: dict[str, str], trials: int, *args: str) -> list[float]:
    run = bargein_e2e.run_schedule(
        trials, 1, lambda emu: start_chat(emu, env, "--format", "jsonl", *args),
        lambda proc: stop_chat(proc)[0])
    if not run.latencies:
        raise SystemExit(f"no barge-in trial completed: {run.error}")
    return sorted(run.latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    server, display = xvfb()
    with tempfile.TemporaryDirectory() as tmp:
        window = moving_window(display, Path(tmp))
        try:
            env = {**clean_env(**ENV), "DISPLAY": display}
            print("CPU without and with the screen ...", file=sys.stderr)
            plain, _ = idle_session(env, args.seconds)
            shared, out = idle_session(env, args.seconds, "--screen")
            frames = [json.loads(line) for line in out.splitlines()
                      if '"type": "video_frame"' in line]
            latency = sorted(f["capture_to_send_ms"] for f in frames)
            print("barge-in with the screen shared, then without ...", file=sys.stderr)
            with_screen = barge_in(env, args.trials, "--screen")
            without = barge_in(env, args.trials)
        finally:
            window.terminate()
            server.terminate()
    pick = bargein_e2e.percentile
    result = {
        "cpu_percent": round(shared - plain, 2),
        "cpu_percent_chat_alone": round(plain, 2),
        "cpu_percent_chat_sharing": round(shared, 2),
        "frames": len(frames),
        "frames_per_s": round(len(frames) / (args.seconds + SETTLE_S), 2),
        "capture_to_send_ms_median": round(statistics.median(latency), 1),
        "capture_to_send_ms_worst": round(latency[-1], 1),
        "bargein_median_ms_screen": round(statistics.median(with_screen), 1),
        "bargein_median_ms_no_screen": round(statistics.median(without), 1),
        "bargein_p90_ms_screen": round(pick(with_screen, 0.9), 1),
        "bargein_p90_ms_no_screen": round(pick(without, 0.9), 1),
        "bargein_worst_ms_screen": round(with_screen[-1], 1),
        "bargein_worst_ms_no_screen": round(without[-1], 1),
        "trials": [len(with_screen), len(without)],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
