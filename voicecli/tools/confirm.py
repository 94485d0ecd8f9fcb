"""Confirmation before side effects: who may run a tool without asking (pure).

A tool from a server not marked ``trust = true`` (or a function marked ``@voicecli.confirm``)
asks first. In the live view the user answers with one key: ``y`` runs it, ``n`` answers the
model with an error it can speak, ``a`` trusts that tool for the rest of the session. Without
a terminal nobody can answer, so such calls are refused unless ``--yes`` was given.
MCP annotations (read-only, destructive) are shown, never relied on: the MCP spec says a
client must not trust them from a server it does not trust.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from voicecli.tools.toolbox import ToolEntry

Decision = Literal["run", "ask", "refuse"]
Answer = Literal["yes", "no", "always"]
# The live view's prompt: (entry, arguments) -> the user's answer.
Ask = Callable[[ToolEntry, dict[str, Any]], Awaitable[Answer]]

DECLINED = "The user declined to run this tool. Say so, and ask if they want something else."
NO_TERMINAL = ("This tool needs the user's confirmation, and there is no terminal to ask in "
               "(voicecli was run with its output piped). It was not run.")


@dataclass
class ConfirmPolicy:
    """``interactive``: a live view can ask. ``yes``: ``--yes``, run everything."""

    interactive: bool
    yes: bool = False
    always: set[str] = field(default_factory=set)  # trusted for the session with 'a'

    def decide(self, entry: ToolEntry) -> Decision:
        if not entry.asks or self.yes or entry.name in self.always:
            return "run"
        return "ask" if self.interactive else "refuse"

    def answered(self, entry: ToolEntry, answer: Answer) -> bool:
        """Record ``answer``; whether to run the call."""
        if answer == "always":
            self.always.add(entry.name)
        return answer in ("yes", "always")


def prompt_text(entry: ToolEntry, args: dict[str, Any], width: int = 60) -> str:
    """``Run git__git_commit(message="...")? [y]es [n]o [a]lways`` (long values cut)."""
    parts = []
    for key, value in args.items():
        shown = repr(value) if not isinstance(value, str) else '"' + value + '"'
        if len(shown) > width:
            shown = shown[:width - 1] + "…"
        parts.append(f"{key}={shown}")
    hints = entry.hints()
    return (f"Run {entry.name}({', '.join(parts)})?" + (f" ({hints}, says its server)"
                                                       if hints else "")
            + " [y]es [n]o [a]lways")
