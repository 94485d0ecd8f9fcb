"""The emulator's clock: what to send when (pure).

A :class:`Timeline` holds what a session will send, each item built at its time (``build``
gets the moment it runs and returns an :data:`Output`, or None to send nothing). Items of a
reply that was cancelled (interrupted) are skipped. Outputs are :class:`Send` (a JSON-ready
server message), :class:`Close` (end the connection with a WebSocket close code),
:class:`Drop`, :class:`Stall` and :class:`SendRaw` (injected faults).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Send:
    """Send ``message`` (a JSON-ready dict) to the client."""

    message: dict[str, Any]


@dataclass(frozen=True)
class Close:
    """Close the connection with ``code`` and ``reason``."""

    code: int
    reason: str


@dataclass(frozen=True)
class Drop:
    """Cut the connection without a close frame (the client sees 1006)."""


@dataclass(frozen=True)
class Stall:
    """Send nothing and read nothing (so no pongs) for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class SendRaw:
    """Send ``text`` verbatim (a malformed frame)."""

    text: str


Output = Send | Close | Drop | Stall | SendRaw




class Cancellable(Protocol):
    """A reply whose remaining items are dropped once ``cancelled``."""

    cancelled: bool


@dataclass(order=True)
class Item:
    t: float
    seq: int
    build: Callable[[float], Output | None] = field(compare=False)
    reply: Cancellable | None = field(compare=False, default=None)


class Timeline:
    """Items ordered by time (then by when they were added)."""

    def __init__(self) -> None:
        self._heap: list[Item] = []
        self._seq = itertools.count()

    def at(self, t: float, build: Callable[[float], Output | None],
           reply: Cancellable | None = None) -> None:
        heapq.heappush(self._heap, Item(t, next(self._seq), build, reply))

    def send(self, t: float, message: dict[str, Any], reply: Cancellable | None = None) -> None:
        """Send ``message`` at ``t``."""
        self.at(t, lambda _now: Send(message), reply)

    def due(self, now: float) -> Iterator[Item]:
        """Pop the items due at ``now``, in order (a cancelled reply's are skipped)."""
        while self._heap and self._heap[0].t <= now:
            item = heapq.heappop(self._heap)
            if item.reply is None or not item.reply.cancelled:
                yield item

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0].reply is not None and self._heap[0].reply.cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].t if self._heap else None

    def clear(self) -> None:
        self._heap.clear()
