"""Terminal views for ``voicecli translate``: bilingual columns and the file progress bar.

- :class:`BilingualView` (stdout on a terminal): each translation line is printed beside the
  source lines it translates, in two columns; the line being spoken updates in place below.
  Piped output uses :class:`~voicecli.ui.outputs.TextView` (``Source:`` / ``Translation:``).
- :class:`ProgressView` (stderr): position and duration of an ``--input`` file, as a bar on a
  terminal, otherwise a status line every quarter.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from typing import TextIO

from voicecli import events as ev
from voicecli.ui.outputs import _terminal_width, use_color

SEP = " │ "


def columns(left: str, right: str, width: int) -> list[str]:
    """Rows of ``left`` and ``right`` wrapped into two columns of a ``width``-wide screen."""
    col = max(10, (width - len(SEP)) // 2)
    lefts = textwrap.wrap(left, col) or [""]
    rights = textwrap.wrap(right, col) or [""]
    return [f"{a:<{col}}{SEP}{b}".rstrip()
            for a, b in itertools.zip_longest(lefts, rights, fillvalue="")]


def clock(seconds: float) -> str:
    """``M:SS`` (or ``H:MM:SS``)."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def progress_bar(position: float, duration: float, width: int = 30) -> str:
    """``[#########.........]  0:12 / 1:05  18%``."""
    frac = 0.0 if duration <= 0 else min(1.0, position / duration)
    filled = round(frac * width)
    return (f"[{'#' * filled}{'.' * (width - filled)}] {clock(position)} / {clock(duration)}"
            f" {frac:4.0%}")


class BilingualView:
    """Source and translation side by side on a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.color = use_color(self.stream)
        self._sources: list[str] = []  # final source lines waiting for their translation
        self._source_partial = ""
        self._translation_partial = ""
        self._partial_shown = False

    def _width(self) -> int:
        return _terminal_width(self.stream)

    def _clear(self) -> None:
        if self._partial_shown:
            self.stream.write("\r\x1b[2K")
            self._partial_shown = False

    def _row(self, left: str, right: str) -> None:
        for line in columns(left, right, self._width()):
            if self.color:
                a, sep, b = line.partition(SEP)
                line = f"\x1b[36m{a}\x1b[0m{sep}\x1b[1;35m{b}\x1b[0m" if sep else line
            self.stream.write(line + "\n")

    def _draw_partial(self) -> None:
        left = " ".join([*self._sources, self._source_partial]).strip()
        right = self._translation_partial
        if not (left or right):
            return
        col = max(10, (self._width() - len(SEP) - 1) // 2)
        left = left if len(left) <= col else "…" + left[-(col - 1):]
        right = right if len(right) <= col else "…" + right[-(col - 1):]
        text = f"{left:<{col}}{SEP}{right}"
        self.stream.write("\r\x1b[2K" + (f"\x1b[2m{text}\x1b[0m" if self.color else text))
        self._partial_shown = True

    def handle(self, event: ev.Event) -> None:
        match event:
            case ev.SourceText(final=False, text=text):
                self._source_partial = text
            case ev.SourceText(text=text):
                self._sources.append(text)
                self._source_partial = ""
            case ev.Translation(final=False, text=text):
                self._translation_partial = text
            case ev.Translation(text=text):
                self._clear()
                self._row(" ".join(self._sources), text)
                self._sources.clear()
                self._translation_partial = ""
            case _:
                return
        self._clear()
        self._draw_partial()
        self.stream.flush()

    def close(self) -> None:
        self._clear()
        if self._sources:
            self._row(" ".join(self._sources), "")
            self._sources.clear()
        self.stream.flush()


class ProgressView:
    """Progress through an input file on stderr. Put it before StatusView in the bus, so
    status lines never land on the end of the bar."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None,
                 quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.quiet = quiet
        self._drawn = False
        self._last_quarter = -1
        self._catching_up = False

    def handle(self, event: ev.Event) -> None:
        if self.quiet:
            return
        if not isinstance(event, ev.Progress):
            if self._drawn and isinstance(event, ev.Status | ev.ErrorEvent):
                self.stream.write("\r\x1b[2K")  # the status line takes the bar's place
                self._drawn = False
            return
        bar = progress_bar(event.position_s, event.duration_s)
        note = "  translating the rest…" if event.catching_up else ""
        if self.live:
            self.stream.write("\r\x1b[2K" + bar + note)
            self._drawn = True
        else:
            frac = event.position_s / event.duration_s if event.duration_s else 1.0
            quarter = int(4 * frac)
            started = event.catching_up and not self._catching_up
            if quarter > self._last_quarter or started:
                self._last_quarter = quarter
                note = " (input done, translating the rest)" if started else ""
                self.stream.write(f"[progress] {clock(event.position_s)} / "
                                  f"{clock(event.duration_s)} {frac:.0%}{note}\n")
        self._catching_up = event.catching_up
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
        self.stream.flush()
