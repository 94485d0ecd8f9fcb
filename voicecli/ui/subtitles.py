"""Subtitles from translation lines: SRT or WebVTT, chosen by the file's extension.

The formatting functions are pure; :class:`SubtitleWriter` is the event sink that appends one
cue per final :class:`~voicecli.events.Translation` line (times from where its audio played
in the output stream), flushed at once so a crash loses nothing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from voicecli import events as ev
from voicecli.errors import ConfigError
from voicecli.outfiles import ReplaceOnCommit, check_writable

LINE_WIDTH = 42  # the usual subtitle line length
MIN_CUE_S = 0.3  # a cue must be readable, and end after it starts


def subtitle_format(path: str) -> str:
    """``srt`` or ``vtt`` from the extension; ConfigError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".srt", ".vtt"):
        raise ConfigError(f"--subtitles: the file must end in .srt or .vtt, got {path!r}")
    return suffix[1:]


def timestamp(seconds: float, fmt: str) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (VTT)."""
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if fmt == 'srt' else '.'}{ms:03d}"


def wrap(text: str, width: int = LINE_WIDTH) -> str:
    """Break a line of text into subtitle lines of at most ``width`` characters."""
    return "\n".join(textwrap.wrap(" ".join(text.split()), width)) or text


def cue(index: int, start: float, end: float, text: str, fmt: str) -> str:
    """One cue, ending in a blank line. ``index`` counts from 1 (SRT needs it)."""
    end = max(end, start + MIN_CUE_S)
    times = f"{timestamp(start, fmt)} --> {timestamp(end, fmt)}"
    head = f"{index}\n{times}" if fmt == "srt" else times
    return f"{head}\n{wrap(text)}\n\n"


def header(fmt: str) -> str:
    return "WEBVTT\n\n" if fmt == "vtt" else ""


def document(cues: list[tuple[float, float, str]], fmt: str) -> str:
    """A whole subtitle file from ``(start, end, text)`` cues."""
    return header(fmt) + "".join(cue(i, s, e, t, fmt) for i, (s, e, t) in
                                 enumerate(cues, 1))


class SubtitleWriter:
    """Writes final translation lines as cues to ``--subtitles FILE.srt|.vtt``, flushed as
    they come. The file replaces an existing one only once its first cue is written: a run
    that fails or translates nothing leaves the old file as it was."""

    def __init__(self, path: str) -> None:
        self.fmt = subtitle_format(path)
        check_writable(path, "--subtitles")
        self._out = ReplaceOnCommit(path, "--subtitles", text=True)
        self._out.file.write(header(self.fmt))
        self._count = 0

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.Translation) and event.final and event.start_s is not None:
            self._count += 1
            end = event.end_s if event.end_s is not None else event.start_s
            self._out.file.write(cue(self._count, event.start_s, end, event.text, self.fmt))
            if self._count == 1:
                self._out.commit(keep_open=True)
            self._out.file.flush()

    def close(self) -> None:
        if self._count:
            self._out.file.close()
        else:
            self._out.discard()
