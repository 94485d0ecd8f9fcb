"""Shared helpers for tests that run the real ``voicecli`` program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELLO_WAV = ROOT / "examples" / "hello.wav"
CREDENTIAL_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI",
                   "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process environment without any real credentials."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}
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
