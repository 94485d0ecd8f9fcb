"""Session resumption in the emulator: what a handle restores, and the handles issued."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResumeState:
    """What a session resumption handle restores."""

    session_id: str
    turn_index: int
    context_tokens: int
    pending_call: tuple[str, str, dict[str, Any]] | None = None  # (id, name, args) unanswered
    pending_turn: int = 0  # scenario turn index of the reply waiting for it
    # A reply not a word of which went out yet: (scenario turn index, its text if known).
    pending_reply: tuple[int, str | None] | None = None


class HandleStore:
    """Resumption handles issued by one emulator, shared by its connections (thread-safe)."""

    def __init__(self) -> None:
        self._handles: dict[str, ResumeState] = {}
        self._lock = threading.Lock()

    def issue(self, state: ResumeState) -> str:
        """Store ``state`` under a new opaque handle."""
        handle = secrets.token_urlsafe(24)
        with self._lock:
            self._handles[handle] = state
        return handle

    def get(self, handle: str) -> ResumeState | None:
        """The state for ``handle``, or None if this emulator never issued it."""
        with self._lock:
            return self._handles.get(handle)


