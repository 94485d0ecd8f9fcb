"""Shared helpers for tests that run the real ``voicecli`` program."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HELLO_WAV = ROOT / "examples" / "hello.wav"
NO_CONFIG = ROOT / ".state" / "no-such-config.toml"
CREDENTIAL_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI",
                   "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process environment without any real credentials."""
    env = {k: v for k, v in os.environ.items()
           if k not in CREDENTIAL_VARS and not k.startswith("VOICECLI_")}
    env["VOICECLI_CONFIG"] = str(NO_CONFIG)  # never the developer's own config file
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 90,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicecli", *args], capture_output=True, text=stdin is None,
        input=stdin, env=env or clean_env(), timeout=timeout, cwd=ROOT,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("voicecli: error: ")]
    assert len(errors) == 1, proc.stderr
    # Anything else on stderr is a status line, never part of the error.
    assert all(ln.startswith("[") for ln in lines if ln not in errors), proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def start_chat(emu: Any, env: dict[str, str], *args: str,
               command: str = "chat") -> subprocess.Popen[str]:
    """Run ``voicecli chat`` (or ``command``) against emulator ``emu`` on the devices of
    ``env``; returns once its microphone audio reaches the emulator."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicecli", command, "--base-url", emu.base_url,
         "--ca-cert", emu.ca_cert_path, "--api-version", "v1beta", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=clean_env(GEMINI_API_KEY=emu.api_key, **env),
    )
    # Ready when the emulator hears microphone audio from it.
    deadline = time.monotonic() + 20
    while not (emu.connections and emu.connections[0].audio_chunks > 5):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"voicecli never streamed audio: {proc.communicate()[1]}")
        time.sleep(0.02)
    return proc


def stop_chat(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Ctrl-C, as a user would; asserts a clean exit within 3 s. Returns (stdout, stderr)."""
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert time.monotonic() - t < 3, "Ctrl-C took too long"
    assert "Traceback" not in err, err
    return out, err


def hello_then_ask_time(path: Path, gap_s: float) -> str:
    """A WAV at ``path``: 'Hello, can you hear me?', ``gap_s`` of silence, then 'What time is
    it right now?' (16 kHz mono)."""
    import wave

    import numpy as np

    from voicecli.emulator.speech import sample_speech

    with wave.open(str(HELLO_WAV)) as w:
        first = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    second = np.frombuffer(sample_speech("What time is it right now?", rate=16000), dtype="<i2")
    gap = np.zeros(int(16000 * gap_s), dtype=np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.concatenate([first, gap, second]).tobytes())
    return str(path)
