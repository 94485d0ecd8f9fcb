"""Fault injection for the emulator: what goes wrong on a connection, and when (pure data).

A fault is a table, in a scenario file (``[[fault]]``) or in ``EmulatorConfig.faults``::

    [[fault]]
    kind = "drop"          # drop (abrupt, the client sees 1006) | close (a close frame) |
                           # stall (send nothing and ignore pings) | malformed (a bad frame) |
                           # go_away (goAway, then close 1011 "Deadline expired")
    on = "first_audio"     # when: after this emulator event (speech_start, user_turn,
                           # reply_start, first_audio, tool_call, tool_response, turn_complete)
    # at_s = 2.0           #   or this long after setup
    # after_messages = 20  #   or after this many server messages on the connection
    delay_s = 0.3          # wait this much more after the trigger
    connection = 1         # the n-th connection (1 = the first; 0 = every connection)
    code = 1011            # close: the close code and reason
    reason = "Internal error encountered."
    seconds = 3.0          # stall: how long
    frame = "error"        # malformed: "error" (a JSON error object) or "invalid_json"
    time_left_s = 1.0      # go_away: the timeLeft announced before the close

``refuse_resumption = true`` at the top of a scenario (or ``EmulatorConfig.refuse_resumption``)
makes the emulator refuse every resumption handle with close 1008.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any

from voicecli.emulator import wire
from voicecli.emulator.record import ConnectionRecord
from voicecli.emulator.timeline import Close, Drop, Output, Send, SendRaw, Stall, Timeline

KINDS = frozenset({"drop", "close", "stall", "malformed", "go_away"})
EVENTS = frozenset({"speech_start", "user_turn", "reply_start", "first_audio", "tool_call",
                    "tool_response", "turn_complete"})
ERROR_FRAME = ('{"error":{"code":500,"message":"Internal error encountered.",'
               '"status":"INTERNAL"}}')


class FaultError(ValueError):
    """A fault table is malformed."""


@dataclass(frozen=True)
class Fault:
    """One injected failure (see the module docstring)."""

    kind: str
    on: str | None = None
    at_s: float | None = None
    after_messages: int | None = None
    delay_s: float = 0.0
    connection: int = 1
    code: int = 1011
    reason: str = "Internal error encountered."
    seconds: float = 3.0
    frame: str = "error"
    time_left_s: float = 1.0

    def applies_to(self, connection: int) -> bool:
        """Does this fault happen on the ``connection``-th connection (1-based)?"""
        return self.connection in (0, connection)

    def raw_frame(self) -> str:
        """The text of a malformed frame."""
        return ERROR_FRAME if self.frame == "error" else '{"serverContent": {"turnCompl'


def parse_fault(table: Any, where: str = "fault") -> Fault:
    """Validate one fault table; raises :class:`FaultError` naming the problem."""
    if isinstance(table, Fault):
        return table
    if not isinstance(table, dict):
        raise FaultError(f"{where}: must be a table")
    known = {f.name for f in fields(Fault)}
    unknown = set(table) - known
    if unknown:
        raise FaultError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        fault = Fault(**table)
    except TypeError as exc:
        raise FaultError(f"{where}: {exc}") from None
    if fault.kind not in KINDS:
        raise FaultError(f"{where}: kind must be one of {sorted(KINDS)}")
    triggers = [x for x in (fault.on, fault.at_s, fault.after_messages) if x is not None]
    if len(triggers) != 1:
        raise FaultError(f"{where}: give exactly one of 'on', 'at_s', 'after_messages'")
    if fault.on is not None and fault.on not in EVENTS:
        raise FaultError(f"{where}: 'on' must be one of {sorted(EVENTS)}")
    if fault.frame not in ("error", "invalid_json"):
        raise FaultError(f"{where}: frame must be 'error' or 'invalid_json'")
    return fault


class FaultInjector:
    """The faults aimed at one connection: armed at setup, fired at a time, after a number of
    messages sent, or on an event of the connection's record."""

    def __init__(self, specs: tuple[Any, ...], connection: int, timeline: Timeline,
                 record: ConnectionRecord) -> None:
        self.timeline = timeline
        self.record = record
        self._armed: list[Fault] = []
        self._cursor = 0
        self._specs = tuple(f for f in (parse_fault(s) for s in specs)
                            if f.applies_to(connection))

    def arm(self, now: float) -> None:
        for fault in self._specs:
            if fault.at_s is not None:
                self.timeline.at(now + fault.at_s, functools.partial(self.fire, fault))
            else:
                self._armed.append(fault)

    def check(self, now: float, sent: int) -> None:
        """Fire armed faults whose event happened or whose message count was reached."""
        if not self._armed:
            self._cursor = len(self.record.events)
            return
        names = {e.name for e in self.record.events[self._cursor:]}
        self._cursor = len(self.record.events)
        for fault in list(self._armed):
            if fault.on in names or (fault.after_messages is not None
                                     and sent >= fault.after_messages):
                self._armed.remove(fault)
                self.timeline.at(now + fault.delay_s, functools.partial(self.fire, fault))

    def fire(self, fault: Fault, now: float) -> Output:
        self.record.event(now, "fault", kind=fault.kind)
        if fault.kind == "drop":
            return Drop()
        if fault.kind == "close":
            return Close(fault.code, wire.close_reason(fault.reason))
        if fault.kind == "stall":
            return Stall(fault.seconds)
        if fault.kind == "malformed":
            return SendRaw(fault.raw_frame())
        self.timeline.at(now + fault.time_left_s,
                         lambda _n: Close(wire.CLOSE_INTERNAL, "Deadline expired"))
        self.record.event(now, "go_away")
        return Send(wire.go_away(fault.time_left_s))
