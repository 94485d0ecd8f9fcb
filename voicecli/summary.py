"""The end-of-session summary, computed purely from the event stream.

:class:`SessionSummary` is one more consumer of events: it counts turns, sums token usage by
modality, collects the time from the end of the user's speech to the first reply audio of each
turn (``ReplyStarted.latency_ms``), and counts barge-ins.
:class:`SummarySink` prints it on stderr when the session's outputs close.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from typing import TextIO

from voicecli import events as ev


@dataclass
class SessionSummary:
    """Accumulates what the summary reports; feed it every event with :meth:`add`."""

    started: float | None = None
    ended: float | None = None
    turns: int = 0
    tokens: dict[str, int] = field(default_factory=dict)  # modality key -> tokens
    total_tokens: int = 0
    first_audio_s: list[float] = field(default_factory=list)
    barge_ins: int = 0
    xruns: tuple[int, int] = (0, 0)  # (speaker, microphone) dropouts
    _cut_turns: set[int] = field(default_factory=set)

    def add(self, event: ev.Event) -> None:
        match event:
            case ev.SessionStarted(ts=ts):
                self.started = ts
            case ev.SessionEnded(ts=ts, speaker_xruns=speaker, mic_xruns=mic):
                self.ended = ts
                self.xruns = (speaker, mic)
            case ev.ReplyStarted(latency_ms=latency) if latency is not None:
                self.first_audio_s.append(latency / 1000)
            case ev.Interrupted(turn=turn):
                # Local and server interruptions of the same reply are one barge-in.
                key = turn if turn is not None else -len(self._cut_turns) - 1
                if key not in self._cut_turns:
                    self._cut_turns.add(key)
                    self.barge_ins += 1
            case ev.TurnComplete(usage=usage):
                self.turns += 1
                if usage is not None:
                    self.total_tokens += usage.total_tokens or 0
                    for modality, n in usage.by_modality.items():
                        self.tokens[modality] = self.tokens.get(modality, 0) + n

    @property
    def duration_s(self) -> float:
        if self.started is None or self.ended is None:
            return 0.0
        return max(0.0, self.ended - self.started)

    @property
    def median_first_audio_ms(self) -> float | None:
        if not self.first_audio_s:
            return None
        return statistics.median(self.first_audio_s) * 1000

    def lines(self) -> list[str]:
        """The summary as short lines of text."""
        minutes, seconds = divmod(round(self.duration_s), 60)
        out = [f"session: {minutes}m{seconds:02d}s, {self.turns} turn"
               f"{'' if self.turns == 1 else 's'}, {self.barge_ins} barge-in"
               f"{'' if self.barge_ins == 1 else 's'}"]
        if self.tokens or self.total_tokens:
            parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(self.tokens.items()))
            out.append(f"tokens: {self.total_tokens} total" + (f" ({parts})" if parts else ""))
        median = self.median_first_audio_ms
        if median is not None:
            out.append(f"time to first audio: median {median:.0f} ms "
                       f"over {len(self.first_audio_s)} repl"
                       f"{'y' if len(self.first_audio_s) == 1 else 'ies'}")
        if any(self.xruns):
            out.append(f"audio dropouts: speaker {self.xruns[0]}, microphone {self.xruns[1]}")
        return out


class SummarySink:
    """Collects a :class:`SessionSummary` and prints it on stderr at close (after the view)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.summary = SessionSummary()

    def handle(self, event: ev.Event) -> None:
        self.summary.add(event)

    def close(self) -> None:
        if self.enabled and self.summary.started is not None:
            for line in self.summary.lines():
                self.stream.write(line + "\n")
            self.stream.flush()
