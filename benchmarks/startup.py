"""How fast voicecli starts: ``--help``, ``devices``, and launch → microphone audio flowing.

    python benchmarks/startup.py [--runs 5]

Each figure is the median wall-clock time of ``--runs`` launches of the real program
(``python -m voicecli`` from this checkout):

- ``help_ms``: ``voicecli --help``;
- ``devices_ms``: ``voicecli devices`` on the virtual sound card;
- ``first_listen_ms``: from launching ``voicecli chat`` to the first microphone audio
  reaching the emulator (an emulator in this process, so its records are readable; the
  chat connects to it with ``--base-url``/``--ca-cert`` exactly as ``--emulator`` does);
- ``python_ms``: ``python -c pass``, the interpreter's own start-up on this machine, for
  reference (``help_ms`` cannot go below it).

The last line printed is JSON with these keys. Goals: help_ms <= 150, first_listen_ms <= 1500.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from voicecli_testing.audio import ensure_virtual_audio  # noqa: E402  (must run before sounddevice)

ENV = ensure_virtual_audio()

from voicecli.emulator import EmulatorConfig, EmulatorThread  # noqa: E402
from voicecli_testing.cli import clean_env  # noqa: E402


def timed_run(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed: {proc.stderr.decode()[-500:]}")
    return elapsed * 1000


def first_listen(env: dict[str, str], *args: str) -> float:
    """Launch ``voicecli chat ARGS`` → its first microphone audio at the emulator, in ms."""
    with EmulatorThread(EmulatorConfig()) as emu:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicecli", "chat", "--base-url", emu.base_url,
             "--ca-cert", emu.ca_cert_path, "--api-version", "v1beta", "-q", *args],
            cwd=ROOT, env={**env, "GEMINI_API_KEY": emu.api_key},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while not (emu.connections and emu.connections[0].audio_chunks > 0):
            if proc.poll() is not None or time.perf_counter() - t > 30:
                proc.kill()
                raise SystemExit(f"chat never streamed audio: {proc.communicate()[1]!r}")
            time.sleep(0.002)
        elapsed = time.perf_counter() - t
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    env = clean_env(**ENV)
    timed_run(["-m", "voicecli", "--help"], env)  # warm the file cache once
    figures = {
        "python_ms": [timed_run(["-c", "pass"], env) for _ in range(runs)],
        "help_ms": [timed_run(["-m", "voicecli", "--help"], env) for _ in range(runs)],
        "devices_ms": [timed_run(["-m", "voicecli", "devices"], env) for _ in range(runs)],
        "first_listen_ms": [first_listen(env) for _ in range(runs)],
    }
    for name, values in figures.items():
        print(f"{name:16s} " + " ".join(f"{v:6.0f}" for v in values), file=sys.stderr)
    result = {name: round(statistics.median(values)) for name, values in figures.items()}
    result["runs"] = runs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
