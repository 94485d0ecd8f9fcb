"""Drive the real ``voicecli`` in a terminal: a private tmux server per test.

``send-keys`` types, ``capture-pane`` reads the screen. The program's exit time and code
are written to a file by the shell command that runs it, so a test can time Ctrl-C.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from voicecli_testing.cli import ROOT, clean_env


class TmuxChat:
    """``voicecli ARGS`` running in a detached tmux session of ``width`` x ``height``."""

    def __init__(self, args: list[str], env: dict[str, str], tmp: Path, width: int = 100,
                 height: int = 30) -> None:
        self.socket = f"voicecli-test-{uuid.uuid4().hex[:8]}"
        self.done_file = tmp / f"{self.socket}.done"
        command = (f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m voicecli "
                   f"{shlex.join(args)}; echo $? $(date +%s.%N) > {self.done_file}; "
                   "sleep 600")
        full_env = clean_env(**env)
        full_env.pop("TMUX", None)
        full_env["TERM"] = "xterm-256color"
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), command,
                   env=full_env)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, env=env, timeout=10)
        if proc.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {proc.stderr}")
        return proc.stdout

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "0", *keys)

    def type_line(self, text: str) -> None:
        self._tmux("send-keys", "-t", "0", "-l", text)
        self.send("Enter")

    def screen(self, escapes: bool = False) -> str:
        return self._tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "0")

    def status(self) -> str:
        """The status bar: the last non-empty line of the screen while the view runs."""
        lines = [ln for ln in self.screen().splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def wait_for(self, predicate: Any, timeout: float = 20.0, what: str = "") -> str:
        """Poll the screen until ``predicate(screen)`` (or a substring) holds; returns it."""
        check = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate!r}; "
                                     f"screen:\n{screen}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 10.0) -> tuple[int, float]:
        """Wait for the program to end; (exit code, wall-clock time it ended)."""
        deadline = time.monotonic() + timeout
        while not self.done_file.exists() or not self.done_file.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"voicecli did not exit; screen:\n{self.screen()}")
            time.sleep(0.02)
        code, ended = self.done_file.read_text().split()
        return int(code), float(ended)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)

    def __enter__(self) -> TmuxChat:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def chat_args(emu: Any, *extra: str) -> list[str]:
    """``chat`` arguments that connect to the in-process emulator ``emu``."""
    return ["chat", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
            "--api-version", "v1beta", *extra]
