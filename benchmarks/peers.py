"""voicecli against the peers users compare it with: the same trials, emulator and devices.

    python benchmarks/peers.py [--trials 12] [--seed 1] [--peers NAME,...]
                               [--modes open,headset] [--echo-volume 50] [--install]

Each client runs benchmarks/bargein_e2e.py's trial schedule (``run_schedule``: the same
emulator scenario, the same espeak-ng speech, the same random waits for a seed) on the
virtual devices (scripts/virtual-audio.sh), against the built-in emulator over TLS:

  * ``voicecli``: ``voicecli chat`` in its default mode (echo canceller, local barge-in),
    exactly as bargein_e2e.py runs it;
  * ``pipecat``: Pipecat's ``LocalAudioTransport`` (PyAudio, default devices) and
    ``GeminiLiveLLMService``, its realtime example's configuration (server-side voice
    detection and interruption); ``pipecat-silero``: the same with ``SileroVADAnalyzer``
    in the user aggregator, as its local voice-agent example does (local interruption);
  * ``livekit``: LiveKit Agents' console mode (sounddevice, WebRTC audio processing: echo
    canceller, noise suppression, gain control) with ``google.realtime.RealtimeModel``,
    an ``AgentSession`` with its defaults (resumes after a false interruption);
  * ``genai``: a plain google-genai client in the style of Google's Live API quickstart
    (PyAudio blocking streams at 16/24 kHz on the default devices, 1024-frame chunks, the
    playback queue emptied on the server's ``interrupted``: server-side interruption only).

Each peer is pointed at the emulator through its own public configuration: google-genai's
``HttpOptions(base_url=..., async_client_args={"ssl": context})``, which Pipecat's
``GeminiLiveLLMService`` and LiveKit's ``RealtimeModel`` both take as ``http_options``.
Peers are installed from PyPI, pinned, each into its own virtual environment under
.state/peers/ on first use (said on stderr; ``--install`` installs and exits). PyAudio
(Pipecat's local transport, the quickstart) builds against PortAudio's header: where the
machine lacks it, Debian's portaudio19-dev is fetched with ``apt-get download`` and
unpacked under .state/peers/portaudio (nothing is installed system-wide). A peer that cannot
be installed, pointed at the emulator or open the devices gets a one-line reason, and the
others run on. The clients' own logs are in .state/peers/logs/.

Modes: ``open`` (an open speaker: the echo path of bargein_e2e.py --echo, a loopback from
the speaker into the microphone at ``--echo-volume`` percent) and ``headset`` (the same
schedule with no echo path). Figures per client and mode: barge-in latency (the user's
onset at the microphone to silence at the speaker: median, p90, worst; a trial where the
speaker was already silent at the onset has no figure and counts as ``paused_at_onset``,
which is also where a client that cut its own reply before the user spoke ends up), leaks
(audio of the interrupted reply after the silence), self-interruptions (replies nobody
talked over that did not play to their end, or that the server interrupted; voicecli's own
local interruptions count too), ``interrupted_before_user`` (server interruptions of a
talked-over reply before the user spoke), reply latency (the end of the user's speech to
the first sound of the reply at the speaker, every user turn) and CPU (the client's
processes over the schedule, % of one core).

Prints a table, then as the last line JSON: the date, the machine, each client's figures
and versions, and ``voicecli_ratio``: voicecli's figure divided by the peer's (below 1:
voicecli is faster or cheaper) for the barge-in median, p90 and worst, the reply latency
median and the CPU, per mode.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import glob
import json
import os
import platform
import pty
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".state" / "peers"
LOGS = STATE / "logs"


class PeerUnavailable(RuntimeError):
    """A peer could not be installed, started or pointed at the emulator (one line)."""


# --------------------------------------------------------------------------- installs


@dataclass(frozen=True)
class Venv:
    name: str  # directory under .state/peers
    requirements: tuple[str, ...]
    pyaudio: bool  # builds PyAudio (needs PortAudio's header)
    report: tuple[str, ...]  # distributions whose versions the output names


VENVS = {
    "pipecat": Venv("pipecat", ("pipecat-ai[google,local,silero]==1.14.0",), True,
                    ("pipecat-ai", "google-genai", "PyAudio", "onnxruntime")),
    "livekit": Venv("livekit", ("livekit-agents[google]==1.8.9",), False,
                    ("livekit-agents", "livekit-plugins-google", "livekit", "google-genai",
                     "sounddevice")),
    "genai": Venv("genai", ("google-genai==3.6.1", "pyaudio==0.2.14"), True,
                  ("google-genai", "PyAudio")),
}


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    venv: str | None  # None: voicecli, from this checkout
    pty: bool = False  # needs a terminal (LiveKit's console reads keys)


PEERS = [
    Peer("voicecli", "voicecli chat (default: AEC3 + local barge-in)", None),
    Peer("pipecat", "Pipecat, GeminiLiveLLMService default (server VAD)", "pipecat"),
    Peer("pipecat-silero", "Pipecat + SileroVADAnalyzer (local VAD)", "pipecat"),
    Peer("livekit", "LiveKit Agents console + Google realtime", "livekit", pty=True),
    Peer("genai", "google-genai quickstart style (server only)", "genai"),
]


def _pip_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()
             and not ln.startswith("WARNING: Location")]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["(no output)"])[-1][:200]


def portaudio_flags() -> dict[str, str]:
    """Compiler flags that let PyAudio build here (see the docstring); {} if the system
    already has PortAudio's header."""
    if Path("/usr/include/portaudio.h").exists():
        return {}
    lib = next(iter(sorted(glob.glob("/usr/lib/*/libportaudio.so.2"))), None)
    if lib is None:
        raise PeerUnavailable("PortAudio is not installed (apt-get install libportaudio2)")
    where = STATE / "portaudio"
    inc, libdir = where / "root" / "usr" / "include", where / "lib"
    if not (inc / "portaudio.h").exists():
        print("peers: PyAudio builds against PortAudio's header, which this machine lacks: "
              "fetching Debian's portaudio19-dev (apt-get download) and unpacking it under "
              f"{where.relative_to(ROOT)}", file=sys.stderr)
        where.mkdir(parents=True, exist_ok=True)
        for deb in where.glob("*.deb"):
            deb.unlink()
        got = subprocess.run(["apt-get", "download", "portaudio19-dev"], cwd=where,
                             capture_output=True, text=True)
        debs = list(where.glob("portaudio19-dev_*.deb"))
        if got.returncode or not debs:
            raise PeerUnavailable("PyAudio needs PortAudio's header and `apt-get download "
                                  f"portaudio19-dev` failed: {_pip_error(got.stderr)}")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(where / "root")], check=True)
    libdir.mkdir(parents=True, exist_ok=True)
    link = libdir / "libportaudio.so"
    if not link.is_symlink():
        link.symlink_to(lib)
    return {"CFLAGS": f"-I{inc}", "LDFLAGS": f"-L{libdir}"}


def ensure_venv(venv: Venv) -> Path:
    """The venv's python, installing the venv first if it is missing or stale."""
    home = STATE / venv.name
    python = home / "bin" / "python"
    stamp = home / "requirements.txt"
    want = "\n".join(venv.requirements) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    print(f"peers: installing {' '.join(venv.requirements)} from PyPI into "
          f"{home.relative_to(ROOT)} (first use; a minute or so)", file=sys.stderr)
    if home.exists():
        shutil.rmtree(home)
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    env = dict(os.environ)
    if venv.pyaudio:
        env.update(portaudio_flags())
    t = time.monotonic()
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", *venv.requirements],
                          env=env, capture_output=True, text=True)
    if done.returncode:
        raise PeerUnavailable(f"pip install {' '.join(venv.requirements)} failed: "
                              f"{_pip_error(done.stderr + done.stdout)}")
    stamp.write_text(want)
    size = subprocess.run(["du", "-sm", str(home)], capture_output=True, text=True).stdout
    print(f"peers: {venv.name} installed in {time.monotonic() - t:.0f} s "
          f"({size.split()[0] if size else '?'} MB)", file=sys.stderr)
    return python


def versions(python: Path, names: tuple[str, ...]) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}


# --------------------------------------------------------------------------- launching


def _last_lines(log: Path, n: int = 40) -> list[str]:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    text = text.replace("\r", "\n")
    return [ln.strip() for ln in text.splitlines() if ln.strip()][-n:]


def _reason(log: Path) -> str:
    """The most telling line of a client's log: its last error, else its last line."""
    lines = _last_lines(log, 200)
    for ln in reversed(lines):
        low = ln.lower()
        if any(w in low for w in ("error", "exception", "failed", "refused", "cannot")):
            return ln[:200]
    return (lines or ["no output"])[-1][:200]


class Launcher:
    """Starts and stops one peer's client process (``run_schedule``'s start and stop)."""

    def __init__(self, peer: Peer, python: Path, env: dict[str, str]) -> None:
        self.peer, self.python, self.env = peer, python, env
        self.log = LOGS / f"{peer.key}.log"
        self._reader: threading.Thread | None = None

    def start(self, emu: Any) -> subprocess.Popen:
        LOGS.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY") and not k.startswith("VOICECLI_")}
        env.update(self.env, GEMINI_API_KEY=emu.api_key, GOOGLE_API_KEY=emu.api_key,
                   PYTHONUNBUFFERED="1")
        cmd = [str(self.python), str(Path(__file__).resolve()), "--client", self.peer.key,
               "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path]
        log = open(self.log, "wb")  # noqa: SIM115 (the reader thread or the child owns it)
        if self.peer.pty:  # a terminal of 120 x 40 for the console's key reader and UI
            master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            env["TERM"] = "xterm-256color"
            proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                                    cwd=STATE, start_new_session=True)
            os.close(slave)

            def drain() -> None:
                with log, contextlib.suppress(OSError):
                    while data := os.read(master, 65536):
                        log.write(data)
                        log.flush()
                os.close(master)

            self._reader = threading.Thread(target=drain, daemon=True)
            self._reader.start()
        else:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env=env, cwd=STATE, start_new_session=True)
            log.close()
        deadline = time.monotonic() + 90
        while not any(c.audio_chunks > 5 for c in emu.connections):
            if proc.poll() is not None or time.monotonic() > deadline:
                self._end(proc)
                why = "exited" if proc.returncode is not None else "no audio within 90 s"
                if not emu.connections:
                    raise PeerUnavailable(f"never connected to the emulator ({why}): "
                                          f"{_reason(self.log)}")
                raise PeerUnavailable(f"connected but sent no microphone audio ({why}): "
                                      f"{_reason(self.log)}")
            time.sleep(0.05)
        return proc

    def _end(self, proc: subprocess.Popen) -> None:
        for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
        if self._reader is not None:
            self._reader.join(5)

    def stop(self, proc: subprocess.Popen) -> str:
        self._end(proc)
        return ""


# --------------------------------------------------------------------------- figures


def figures(run: Any, local_interrupts: list[float] | None = None) -> dict[str, Any]:
    """One client's figures over one schedule (see the docstring)."""
    from bargein_e2e import percentile

    local = local_interrupts or []
    ordered = sorted(run.latencies)
    replies = sorted(run.reply_latencies)

    def stat(xs: list[float], q: float | None) -> float | None:
        if not xs:
            return None
        return round(statistics.median(xs) if q is None else percentile(xs, q), 1)

    return {
        "bargein_median_ms": stat(ordered, None),
        "bargein_p90_ms": stat(ordered, 0.9),
        "bargein_worst_ms": round(ordered[-1], 1) if ordered else None,
        "bargein_trials": len(ordered),
        "paused_at_onset": run.paused,
        "echo_heard_before_user": run.echo_heard,
        "leaks": run.leaks,
        "self_interruptions": sum(1 for a, b, full in run.clean
                                  if not full or any(a <= t <= b for t in local)),
        "clean_replies": len(run.clean),
        "unplayed": run.unplayed,
        "interrupted_before_user": run.server_interrupts_before_user,
        "reply_latency_median_ms": stat(replies, None),
        "reply_latency_p90_ms": stat(replies, 0.9),
        "reply_turns": len(replies),
        "cpu_percent": run.cpu_percent,
        **({"error": run.error} if run.error else {}),
    }


RATIOS = {"bargein_median": "bargein_median_ms", "bargein_p90": "bargein_p90_ms",
          "bargein_worst": "bargein_worst_ms", "reply_latency_median": "reply_latency_median_ms",
          "cpu": "cpu_percent"}


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, key in RATIOS.items():
        a, b = ours.get(key), theirs.get(key)
        out[name] = round(a / b, 3) if isinstance(a, int | float) and isinstance(
            b, int | float) and b > 0 else None
    return out


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    distro = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip('"')
    return (f"{os.cpu_count()} cores of {model or platform.machine()}, "
            f"{distro or platform.system()}, Python {platform.python_version()}, "
            "virtual PulseAudio devices")


def _cell(v: Any, unit: str = "") -> str:
    return "–" if v is None else f"{v:g}{unit}" if isinstance(v, float) else f"{v}{unit}"


def table(results: dict[str, Any], modes: list[str]) -> str:
    head = ("| client | mode | barge-in median / p90 / worst (ms) | barge-ins measured | not "
            "measured: paused / server heard the echo first | leaks | self-interruptions | "
            "reply latency median / p90 (ms) | CPU (% of a core) |")
    rows = [head, "|" + "---|" * 9]
    for peer in PEERS:
        res = results.get(peer.key)
        if res is None:
            continue
        if "unavailable" in res:
            rows.append(f"| {peer.label} | – | not run: {res['unavailable']} |||||||")
            continue
        for mode in modes:
            f = res.get(mode)
            if f is None:
                continue
            if "unavailable" in f:
                rows.append(f"| {peer.label} | {mode} | not run: {f['unavailable']} |||||||")
                continue
            unplayed = f", {u} unplayed" if (u := f["unplayed"]) else ""
            rows.append(
                f"| {peer.label} | {mode} | {_cell(f['bargein_median_ms'])} / "
                f"{_cell(f['bargein_p90_ms'])} / {_cell(f['bargein_worst_ms'])} | "
                f"{f['bargein_trials']} | {f['paused_at_onset']} / "
                f"{f['echo_heard_before_user']} | {f['leaks']} | "
                f"{f['self_interruptions']} of {f['clean_replies']}{unplayed} | "
                f"{_cell(f['reply_latency_median_ms'])} / "
                f"{_cell(f['reply_latency_p90_ms'])} | {_cell(f['cpu_percent'])} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peers", default=",".join(p.key for p in PEERS),
                        help="comma-separated: " + ", ".join(p.key for p in PEERS))
    parser.add_argument("--modes", default="open,headset",
                        help="open (echo path from the speaker into the mic), headset (none)")
    parser.add_argument("--echo-volume", type=int, default=50,
                        help="the open mode's echo loudness, PulseAudio percent (50 = -18 dB)")
    parser.add_argument("--install", action="store_true", help="install the peers and exit")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--ca-cert", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:  # inside a peer's venv: be that client
        return CLIENTS[args.client](args.base_url, args.ca_cert)
    wanted = [p for p in PEERS if p.key in args.peers.split(",")]
    modes = [m for m in args.modes.split(",") if m in ("open", "headset")]
    if not wanted or not modes:
        parser.error("no such peer or mode")

    pythons: dict[str, Path] = {}
    unavailable: dict[str, str] = {}
    for name in sorted({p.venv for p in wanted if p.venv}):
        try:
            pythons[name] = ensure_venv(VENVS[name])
        except (PeerUnavailable, subprocess.CalledProcessError, OSError) as e:
            unavailable[name] = str(e)
            print(f"peers: {name}: {e}", file=sys.stderr)
    if args.install:
        return 1 if unavailable else 0

    from voicecli_testing import audio as ah

    env = ah.ensure_virtual_audio()
    from bargein_e2e import run_schedule, xruns

    from voicecli import __version__
    from voicecli_testing.cli import start_chat, stop_chat

    results: dict[str, Any] = {}
    t_start = time.monotonic()
    for peer in wanted:
        if peer.venv in unavailable:
            results[peer.key] = {"unavailable": unavailable[peer.venv]}
            continue
        if peer.venv is None:
            res: dict[str, Any] = {"versions": {"voicecli": __version__}}
        else:
            res = {"versions": versions(pythons[peer.venv], VENVS[peer.venv].report)}
        results[peer.key] = res
        for mode in modes:
            volume = args.echo_volume if mode == "open" else None
            print(f"peers: {peer.key}, {mode}: {args.trials} trials", file=sys.stderr)
            if peer.venv is None:
                run = run_schedule(args.trials, args.seed,
                                   lambda emu: start_chat(emu, env, "--format", "jsonl"),
                                   lambda proc: stop_chat(proc)[0], volume)
                LOGS.mkdir(parents=True, exist_ok=True)
                (LOGS / f"voicecli-{mode}.jsonl").write_text(run.out)
                rows = [json.loads(line) for line in run.out.splitlines()]
                local = [r["ts"] for r in rows
                         if r["type"] == "interrupted" and r["source"] == "local"]
                res[mode] = {**figures(run, local), **xruns(rows),
                             "audio_dropouts": sum(r["type"] == "audio_dropout" for r in rows)}
            else:
                launcher = Launcher(peer, pythons[peer.venv], env)
                try:
                    run = run_schedule(args.trials, args.seed, launcher.start, launcher.stop,
                                       volume)
                except PeerUnavailable as e:
                    print(f"peers: {peer.key}: {e}", file=sys.stderr)
                    res[mode] = {"unavailable": str(e)}
                    if "never connected" in str(e):
                        break  # the other mode would fail the same way
                    continue
                res[mode] = figures(run)
            print(f"peers: {peer.key}, {mode}: {json.dumps(res[mode])}", file=sys.stderr)
        if all("unavailable" in res.get(m, {}) for m in modes) and any(
                m in res for m in modes):
            reason = next(res[m]["unavailable"] for m in modes if m in res)
            results[peer.key] = {"unavailable": reason, "versions": res["versions"]}

    ours = results.get("voicecli", {})
    voicecli_ratio = {
        key: {mode: ratios(ours[mode], res[mode]) for mode in modes
              if mode in ours and mode in res and "unavailable" not in res[mode]
              and "unavailable" not in ours[mode]}
        for key, res in results.items() if key != "voicecli" and "unavailable" not in res}
    print(table(results, modes))
    print(json.dumps({
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "trials": args.trials, "seed": args.seed, "echo_volume_percent": args.echo_volume,
        "run_s": round(time.monotonic() - t_start),
        "peers": results,
        "voicecli_ratio": voicecli_ratio,
    }))
    return 0


# --------------------------------------------------------------------------- the clients
# Each runs inside its peer's venv (``--client NAME``), imports only what that peer ships,
# and is pointed at the emulator through the peer's own configuration.


def _http_options(base_url: str, ca_cert: str, **extra: Any) -> Any:
    import ssl

    from google.genai import types

    return types.HttpOptions(base_url=base_url, async_client_args={
        "ssl": ssl.create_default_context(cafile=ca_cert)}, **extra)


def client_genai(base_url: str, ca_cert: str) -> int:
    """A plain google-genai client, as Google's Live API quickstart builds one."""
    import asyncio

    import pyaudio
    from google import genai
    from google.genai import types

    chunk = 1024
    client = genai.Client(api_key=os.environ["GEMINI_API_KEY"],
                          http_options=_http_options(base_url, ca_cert, api_version="v1beta"))
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    pya = pyaudio.PyAudio()

    async def run() -> None:
        to_speaker: asyncio.Queue[bytes] = asyncio.Queue()
        to_server: asyncio.Queue[bytes] = asyncio.Queue(maxsize=5)

        async def listen() -> None:
            info = pya.get_default_input_device_info()
            mic = await asyncio.to_thread(pya.open, format=pyaudio.paInt16, channels=1,
                                          rate=16000, input=True, frames_per_buffer=chunk,
                                          input_device_index=info["index"])
            while True:
                data = await asyncio.to_thread(mic.read, chunk, exception_on_overflow=False)
                if to_server.full():  # keep it real time: drop the oldest
                    to_server.get_nowait()
                to_server.put_nowait(data)

        async def send(session: Any) -> None:
            while True:
                data = await to_server.get()
                await session.send_realtime_input(
                    audio=types.Blob(data=data, mime_type="audio/pcm;rate=16000"))

        async def receive(session: Any) -> None:
            while True:
                async for response in session.receive():
                    content = response.server_content
                    if content is not None and content.interrupted:
                        while not to_speaker.empty():  # stop playback: drop what is queued
                            to_speaker.get_nowait()
                    if data := response.data:
                        to_speaker.put_nowait(data)

        async def play() -> None:
            speaker = await asyncio.to_thread(pya.open, format=pyaudio.paInt16, channels=1,
                                              rate=24000, output=True)
            while True:
                data = await to_speaker.get()
                await asyncio.to_thread(speaker.write, data)

        async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session, \
                asyncio.TaskGroup() as tasks:
            tasks.create_task(listen())
            tasks.create_task(send(session))
            tasks.create_task(receive(session))
            tasks.create_task(play())

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _pipecat(base_url: str, ca_cert: str, silero: bool) -> int:
    import asyncio

    from loguru import logger
    from pipecat.frames.frames import LLMRunFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService
    from pipecat.transports.local.audio import LocalAudioTransport, LocalAudioTransportParams
    from pipecat.workers.runner import WorkerRunner

    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("PEERS_LOG_LEVEL", "INFO"))  # examples: DEBUG

    async def run() -> None:
        transport = LocalAudioTransport(
            LocalAudioTransportParams(audio_in_enabled=True, audio_out_enabled=True))
        llm = GeminiLiveLLMService(api_key=os.environ["GOOGLE_API_KEY"],
                                   http_options=_http_options(base_url, ca_cert))
        user_params = None
        if silero:
            from pipecat.audio.vad.silero import SileroVADAnalyzer

            user_params = LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
        user, assistant = LLMContextAggregatorPair(LLMContext(), user_params=user_params)
        pipeline = Pipeline([transport.input(), user, llm, transport.output(), assistant])
        worker = PipelineWorker(pipeline, params=PipelineParams(enable_metrics=True))
        runner = WorkerRunner(handle_sigint=True)
        await runner.add_workers(worker)
        # Its examples start with LLMRunFrame (and a greeting in the context): that hands the
        # context to the service, which then takes microphone audio. No greeting here, so the
        # user speaks first, as in every client's schedule.
        await worker.queue_frames([LLMRunFrame()])
        await runner.run()

    asyncio.run(run())
    return 0


def client_pipecat(base_url: str, ca_cert: str) -> int:
    """Pipecat's local transport and GeminiLiveLLMService, server-side turns."""
    return _pipecat(base_url, ca_cert, silero=False)


def client_pipecat_silero(base_url: str, ca_cert: str) -> int:
    """The same with Silero VAD in the user aggregator (local turn start, interruption)."""
    return _pipecat(base_url, ca_cert, silero=True)


def client_livekit(base_url: str, ca_cert: str) -> int:
    """LiveKit Agents' console mode with the Google realtime plugin."""
    from livekit.agents import Agent, AgentSession, JobContext, WorkerOptions, cli
    from livekit.plugins import google

    async def entrypoint(ctx: JobContext) -> None:
        session = AgentSession(llm=google.realtime.RealtimeModel(
            http_options=_http_options(base_url, ca_cert)))
        await session.start(room=ctx.room, agent=Agent(
            instructions="You are a helpful voice AI assistant."))

    sys.argv = [sys.argv[0], "console", "--log-level", os.environ.get("PEERS_LOG_LEVEL", "INFO")]
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
    return 0


CLIENTS = {"genai": client_genai, "pipecat": client_pipecat,
           "pipecat-silero": client_pipecat_silero, "livekit": client_livekit}


if __name__ == "__main__":
    sys.exit(main())
