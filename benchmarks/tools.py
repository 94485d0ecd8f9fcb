"""What MCP servers cost a conversation: start-up, a tool call's round trip, idle CPU.

    python benchmarks/tools.py [--runs 3] [--calls 15]

- ``first_listen_ms`` / ``first_listen_ms_no_servers``: launch of ``voicecli chat`` (on the
  virtual sound card, an emulator in this process) to its first microphone audio at the
  emulator, with three MCP servers configured (tests/mcp_demo_server.py over stdio; one of
  them takes 5 s to start) and with none. Medians of ``--runs``. Goal: within 100 ms of the
  figure with no servers, and at most 1500 ms.
- ``roundtrip_ms_median`` / ``_worst``: ``--calls`` calls of a trivial stdio MCP tool
  (``echo``), each from the emulator's ``toolCall`` sent to its ``toolResponse`` received
  (so loopback, TLS and the SDK on both sides are included). ``client_ms_*``: the same calls
  inside voicecli, from the call's arrival to its response queued. Goal: median <= 15 ms,
  worst <= 50 ms.
- ``idle_cpu_percent`` / ``idle_cpu_percent_no_servers``: CPU of the chat's process tree
  (its MCP servers included), in % of one core, over ``IDLE_S`` of a session on the devices
  where nobody talks, measured from ``SETTLE_S`` after launch; in ``--headphones`` mode, so
  that the echo canceller's own variation (a point or two between runs) does not hide what
  the servers add. Medians of ``--runs``. Goal: no more than 0.2 points above no servers.

The last line printed is JSON with these keys.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from voicecli_testing.audio import ensure_virtual_audio  # noqa: E402  (must run before sounddevice)

ENV = ensure_virtual_audio()

from bargein_e2e import _tree_cpu_s as tree_cpu_s  # noqa: E402
from startup import first_listen  # noqa: E402

from voicecli.emulator import EmulatorConfig, EmulatorThread  # noqa: E402
from voicecli.emulator.speech import sample_speech  # noqa: E402
from voicecli_testing.cli import clean_env  # noqa: E402

DEMO = str(ROOT / "tests" / "mcp_demo_server.py")
SETTLE_S = 10.0
IDLE_S = 30.0


def servers_file(folder: Path) -> str:
    def demo(*extra: str) -> dict:
        return {"command": sys.executable, "args": [DEMO, "stdio", *extra], "trust": True}

    path = folder / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {
        "one": demo(), "two": demo(), "slow": demo("--start-delay", "5")}}))
    return str(path)


def launch(emu: EmulatorThread, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "voicecli", "chat", "--base-url", emu.base_url,
         "--ca-cert", emu.ca_cert_path, "--api-version", "v1beta", "-q", *args],
        cwd=ROOT, env={**env, "GEMINI_API_KEY": emu.api_key},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def idle_cpu(env: dict[str, str], *args: str) -> float:
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = launch(emu, env, "--headphones", *args)
        time.sleep(SETTLE_S)
        if proc.poll() is not None:
            raise SystemExit(f"chat ended early: {proc.communicate()[1]!r}")
        before, t0 = tree_cpu_s(proc.pid), time.monotonic()
        time.sleep(IDLE_S)
        used, elapsed = tree_cpu_s(proc.pid) - before, time.monotonic() - t0
        stop(proc)
    return 100 * used / elapsed


def roundtrips(env: dict[str, str], folder: Path, calls: int) -> tuple[list[float], list[float]]:
    scenario = folder / "calls.toml"
    scenario.write_text("".join(
        f'[[turn]]\nuser = "Go."\ntool_call = {{ name = "one__echo", args = {{ text = '
        f'"{i}" }} }}\nreply = "{{result}}"\n' for i in range(calls)))
    speech = np.frombuffer(sample_speech("Go on now."), dtype="<i2")
    gap = np.zeros(int(16000 * 3.0), np.int16)
    wav = folder / "calls.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.concatenate([np.zeros(16000 * 4, np.int16),
                                      *[np.concatenate([speech, gap])] * calls]).tobytes())
    with EmulatorThread(EmulatorConfig(scenario=scenario)) as emu:
        proc = subprocess.run(
            [sys.executable, "-m", "voicecli", "chat", "--base-url", emu.base_url,
             "--ca-cert", emu.ca_cert_path, "--api-version", "v1beta", "-q", "--format",
             "jsonl", "--input", str(wav), "--output", "/dev/null", "--mcp-config",
             servers_file(folder)], cwd=ROOT, env={**env, "GEMINI_API_KEY": emu.api_key},
            capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"chat failed: {proc.stderr[-800:]}")
        conn = emu.connections[0]
        sent = conn.times("tool_call")
        got = conn.times("tool_response")
    client = [json.loads(line)["elapsed_ms"] for line in proc.stdout.splitlines()
              if '"tool_result"' in line]
    wire = [(b - a) * 1000 for a, b in zip(sent, got, strict=False)]
    if len(wire) < calls:
        raise SystemExit(f"only {len(wire)} of {calls} calls were answered")
    return wire, client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=15)
    args = parser.parse_args()
    env = clean_env(**ENV)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env["VOICECLI_STATE_DIR"] = str(folder / "state")
        servers = ("--mcp-config", servers_file(folder))
        print("first listen ...", file=sys.stderr)
        none, some = [], []
        for _ in range(args.runs):  # alternate, so a busy moment spoils both alike
            none.append(first_listen(env))
            some.append(first_listen(env, *servers))
        print("tool call round trips ...", file=sys.stderr)
        wire, client = roundtrips(env, folder, args.calls)
        print("idle CPU ...", file=sys.stderr)
        idle_none, idle_some = [], []
        for _ in range(args.runs):
            idle_none.append(idle_cpu(env))
            idle_some.append(idle_cpu(env, *servers))
    for name, values in (("first_listen_ms_no_servers", none), ("first_listen_ms", some),
                         ("roundtrip_ms", wire), ("client_ms", client),
                         ("idle_cpu_percent_no_servers", idle_none),
                         ("idle_cpu_percent", idle_some)):
        print(f"{name:28s} " + " ".join(f"{v:7.2f}" for v in values), file=sys.stderr)
    result = {
        "first_listen_ms": round(statistics.median(some)),
        "first_listen_ms_no_servers": round(statistics.median(none)),
        "roundtrip_ms_median": round(statistics.median(wire), 1),
        "roundtrip_ms_worst": round(max(wire), 1),
        "client_ms_median": round(statistics.median(client), 1),
        "client_ms_worst": round(max(client), 1),
        "idle_cpu_percent": round(statistics.median(idle_some), 2),
        "idle_cpu_percent_no_servers": round(statistics.median(idle_none), 2),
        "runs": args.runs, "calls": len(wire),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
