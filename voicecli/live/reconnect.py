"""Reconnect policy: pure decisions about a Live session that outlives its connections.

Nothing here touches a socket; :mod:`voicecli.live.connection` is the shell that acts on
these decisions. The pieces:

- :func:`classify`: is a failure worth retrying (1011, 1006, ping timeout, network error,
  an unreadable frame), a refused resumption handle (start a fresh session once), or fatal
  (bad key or model 1008, bad configuration 1007, TLS, DNS, proxy refusal)?
- :class:`ReconnectPolicy`: keepalive, exponential backoff with jitter, bounded attempts,
  the microphone gap buffer size, when to act on ``goAway``.
- :func:`go_away_due`: after a ``goAway``, reconnect at the next quiet moment, or just
  before the deadline if no quiet moment comes.
- :class:`Outbox`: every client message (audio, tool responses) passes through it. What the
  server has not acknowledged with a resumption handle is replayed on the resumed
  connection, so nothing the user said or a tool answered is lost; what was never sent
  (the gap) is bounded, and overflow is dropped oldest-first and reported.
"""

from __future__ import annotations

import random
import socket
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from voicecli.audio.levels import above

FailureKind = Literal["retry", "handle_refused", "fatal"]
Kind = Literal["audio", "tool_response", "text", "activity", "tools", "video"]

# Close codes that say "this connection is over", not "your request is wrong".
FATAL_CLOSE_CODES = frozenset({1007, 1008})


@dataclass(frozen=True)
class ReconnectPolicy:
    """How hard to try. Defaults are for the real service; tests shorten them."""

    ping_interval_s: float = 10.0  # websockets keepalive ping period
    ping_timeout_s: float = 20.0  # generous: a busy laptop must not drop a quiet session
    close_timeout_s: float = 2.0  # after a ping timeout, wait this long for a clean close
    max_attempts: int = 8  # reconnect attempts in a row before giving up
    stable_s: float = 5.0  # a connection that lived this long resets the count
    base_delay_s: float = 0.1  # first retry after 50–100 ms (jittered), then doubling
    max_delay_s: float = 5.0
    buffer_s: float = 5.0  # microphone audio kept for replay / captured during a gap
    go_away_margin_s: float = 1.0  # reconnect at least this long before a goAway deadline
    quiet_after_voice_s: float = 1.5  # the user counts as talking this long after a loud chunk

    def ws_args(self) -> dict[str, Any]:
        """``websockets.connect`` keyword arguments (through the SDK's async_client_args)."""
        return {"ping_interval": self.ping_interval_s, "ping_timeout": self.ping_timeout_s,
                "close_timeout": self.close_timeout_s}

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect ``attempt`` (1-based): doubling, half jitter."""
        raw = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return raw * (0.5 + 0.5 * (rng or random).random())

    def go_away_deadline(self, received_at: float, time_left_s: float) -> float:
        """The latest moment to reconnect after a goAway received at ``received_at``."""
        margin = min(self.go_away_margin_s, time_left_s / 4)
        return received_at + max(0.0, time_left_s - margin)


def go_away_due(now: float, deadline: float, quiet: bool) -> bool:
    """After a goAway: reconnect now? Yes when quiet, or when the deadline has come."""
    return quiet or now >= deadline


def parse_duration(text: Any, default: float = 10.0) -> float:
    """A protobuf Duration (``"50s"``, ``"1.5s"``) or a timedelta in seconds."""
    seconds = getattr(text, "total_seconds", None)
    if callable(seconds):
        return float(seconds())
    if isinstance(text, int | float):
        return float(text)
    if isinstance(text, str) and text.endswith("s"):
        try:
            return float(text[:-1])
        except ValueError:
            pass
    return default


def is_loud(pcm: bytes, floor_dbfs: float = -45.0) -> bool:
    """Is this 16-bit chunk above ``floor_dbfs`` (the user may be talking)?"""
    return above(np.frombuffer(pcm, dtype="<i2"), floor_dbfs)


# --------------------------------------------------------------------------- failures


@dataclass(frozen=True)
class Failure:
    """What to do about an exception: retry, start fresh, or stop with ``message``."""

    kind: FailureKind
    reason: str  # short, for the Reconnecting event ("1011 Deadline expired", ...)


def _root_cause(exc: BaseException) -> BaseException:
    cause: BaseException = exc
    seen = 0
    while seen < 10:
        if isinstance(cause, ssl.SSLError | socket.gaierror | ConnectionRefusedError):
            return cause
        nxt = cause.__cause__ or cause.__context__
        if nxt is None:
            return cause
        cause, seen = nxt, seen + 1
    return cause


def close_code(exc: BaseException) -> tuple[int | None, str]:
    """The WebSocket close code and reason carried by ``exc`` (SDK APIError), if any."""
    code = getattr(exc, "code", None)
    if type(exc).__name__ == "APIError" and isinstance(code, int):
        details = getattr(exc, "details", None)
        text = details if isinstance(details, str) else getattr(exc, "message", None) or ""
        return code, str(text).strip()
    return None, ""


def classify(exc: BaseException, *, resuming: bool = False, reconnecting: bool = False
             ) -> Failure:
    """Decide what a failure means.

    ``resuming``: it happened while connecting with a resumption handle (a 1008 naming the
    handle then means "start fresh", not "bad key"). ``reconnecting``: we already had a
    session, so a DNS failure or a refused connection is likely a passing network blip.
    """
    code, reason = close_code(exc)
    if code is not None:
        if code == 1008 and resuming and ("handle" in reason.lower()
                                          or "resum" in reason.lower()):
            return Failure("handle_refused", f"{code} {reason}".strip())
        if code in FATAL_CLOSE_CODES:
            return Failure("fatal", f"{code} {reason}".strip())
        return Failure("retry", f"{code} {reason}".strip())
    from websockets.exceptions import InvalidProxy, InvalidStatus, ProxyError

    if isinstance(exc, ProxyError | InvalidProxy):
        return Failure("fatal", "proxy refused")
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return Failure("retry" if status >= 500 or status == 429 else "fatal", f"HTTP {status}")
    root = _root_cause(exc)
    if isinstance(root, ssl.SSLError):
        return Failure("fatal", "TLS failure")
    if isinstance(root, socket.gaierror | ConnectionRefusedError):
        return Failure("retry" if reconnecting else "fatal", type(root).__name__)
    if type(exc).__name__ == "DefaultCredentialsError":
        return Failure("fatal", "no credentials")
    # Everything else (ConnectionClosed on send, resets, timeouts, the SDK's TypeError or
    # ValueError on an error/garbled frame, an empty receive) is a dropped connection.
    return Failure("retry", f"{type(exc).__name__}: {exc}"[:120])


# --------------------------------------------------------------------------- the outbox


@dataclass
class Outgoing:
    """One client message: ``audio`` (16 kHz PCM bytes), ``tool_response`` (the SDK's
    function responses), ``text`` (a typed line) or ``activity`` ("start"/"end").
    ``index`` is its client message index on the connection it was sent on (None: not sent
    on the current connection)."""

    kind: Kind
    payload: Any
    index: int | None = None
    ever_sent: bool = False


@dataclass
class Outbox:
    """Client messages not yet acknowledged by the server, in order.

    A resumption update acknowledges what was sent before it (up to its
    ``lastConsumedClientMessageIndex`` when the server gives one). On a resumed connection
    everything unacknowledged goes out again, oldest first. Audio is bounded to
    ``max_audio`` chunks: the oldest is dropped first, and dropping audio that was never
    sent is counted in ``dropped_unsent`` for a visible note. Other messages (tool
    responses, typed text, activity start/end) are few and never dropped by the bound.
    """

    max_audio: int
    entries: deque[Outgoing] = field(default_factory=deque)
    dropped_unsent: int = 0  # audio chunks captured during a gap that did not fit
    _next_index: int = 0  # next client message index on the current connection
    _audio: int = 0

    def add(self, kind: Kind, payload: Any) -> Outgoing:
        entry = Outgoing(kind, payload)
        if kind == "video":  # only the newest frame is worth sending: drop an unsent one
            self.entries = deque(e for e in self.entries
                                 if e.kind != "video" or e.index is not None)
        self.entries.append(entry)
        if kind == "audio":
            self._audio += 1
            while self._audio > self.max_audio:
                self._drop_oldest_audio()
        return entry

    def _drop_oldest_audio(self) -> None:
        for i, entry in enumerate(self.entries):
            if entry.kind == "audio":
                del self.entries[i]
                self._audio -= 1
                if not entry.ever_sent:
                    self.dropped_unsent += 1
                return

    def next_unsent(self) -> Outgoing | None:
        """The oldest entry not yet sent on this connection."""
        return next((e for e in self.entries if e.index is None), None)

    def mark_sent(self, entry: Outgoing) -> None:
        entry.index = self._next_index
        entry.ever_sent = True
        self._next_index += 1

    def forget(self, entry: Outgoing) -> None:
        """Never replay ``entry`` (a video frame: once sent, it is history)."""
        self.entries = deque(e for e in self.entries if e is not entry)

    def acknowledge(self, last_consumed: int | None) -> None:
        """A resumption handle arrived: what it covers need not be replayed."""
        keep: deque[Outgoing] = deque()
        for entry in self.entries:
            if entry.index is None or (last_consumed is not None
                                       and entry.index > last_consumed):
                keep.append(entry)
            elif entry.kind == "audio":
                self._audio -= 1
        self.entries = keep

    def new_connection(self, resumed: bool) -> list[Outgoing]:
        """A new connection: everything unacknowledged is to be sent again.

        On a fresh (not resumed) session tool responses are dropped and returned: the new
        session never made those calls.
        """
        self._next_index = 0
        dropped = [e for e in self.entries if e.kind == "tool_response"] if not resumed else []
        if dropped:
            self.entries = deque(e for e in self.entries if e.kind != "tool_response")
        # Old frames are stale: the next one grabbed goes out instead.
        self.entries = deque(e for e in self.entries if e.kind != "video")
        for entry in self.entries:
            entry.index = None
        return dropped

    def take_dropped_seconds(self, chunk_s: float) -> float:
        """Seconds of gap audio dropped since the last call (for a visible note)."""
        seconds, self.dropped_unsent = self.dropped_unsent * chunk_s, 0
        return seconds
