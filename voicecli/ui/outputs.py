"""Everything the user reads is written here, from events; the engine itself never prints.

- :class:`TextView`: stdout. On a terminal, partial transcripts update in place and settle
  into final lines; piped, one flushed line per finished utterance (``You: ...``).
- :class:`JsonlWriter`: stdout, one JSON object per event (``--format jsonl``).
- :class:`TranscriptFile`: appends finished lines to ``--transcript FILE`` as they happen.
- :class:`StatusView`: status and errors on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol, TextIO

from voicecli import events as ev


class EventSink(Protocol):
    def handle(self, event: ev.Event) -> None: ...
    def close(self) -> None: ...


class EventBus:
    """Fan one event out to every sink, in order. A failing sink is reported, not fatal.

    A sink that fails is dropped and the others get an ``error`` event saying so (the rest
    of the session is still written). A closed stdout (``voicecli chat | head -1``) is not a
    failure: the pipe's reader is done, so ``on_closed_pipe`` is called (the CLI ends the
    session quietly) and nothing more is written there."""

    def __init__(self, sinks: Iterable[EventSink] = (),
                 on_closed_pipe: Callable[[], None] | None = None) -> None:
        self.sinks = list(sinks)
        self.on_closed_pipe = on_closed_pipe
        self.pipe_closed = False

    def emit(self, event: ev.Event) -> None:
        failed: list[tuple[EventSink, Exception]] = []
        for sink in list(self.sinks):
            try:
                sink.handle(event)
            except BrokenPipeError:
                self._closed_pipe(sink)
            except Exception as exc:  # an output's bug must not end the conversation
                failed.append((sink, exc))
        for bad, error in failed:
            self._drop(bad)
            self.emit(ev.ErrorEvent(message=f"{type(bad).__name__} stopped working "
                                    f"({type(error).__name__}: {error}); the other outputs "
                                    "go on"))

    def _drop(self, sink: EventSink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)

    def _closed_pipe(self, sink: EventSink) -> None:
        self._drop(sink)
        if not self.pipe_closed:
            self.pipe_closed = True
            silence_stdout()
            if self.on_closed_pipe is not None:
                self.on_closed_pipe()

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except BrokenPipeError:
                self.pipe_closed = True
                silence_stdout()


def silence_stdout() -> None:
    """Point stdout at /dev/null: its reader has gone, and Python's final flush would
    otherwise print a BrokenPipeError on stderr at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def use_color(stream: TextIO) -> bool:
    """Color only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _fmt_args(args: dict[str, Any]) -> str:
    return json.dumps(args, ensure_ascii=False, separators=(", ", ": "))


def format_line(event: ev.Event) -> str | None:
    """The one-line text form of a finished event, or None for events with no line."""
    match event:
        case ev.UserTranscript(final=True, text=text):
            return f"You: {text}"
        case ev.AssistantTranscript(final=True, text=text, interrupted=interrupted):
            return f"Gemini: {text}" + (" [interrupted]" if interrupted else "")
        case ev.TextInput(text=text):
            return f"You (typed): {text}"
        case ev.ToolCall(name=name, args=args):
            return f"[tool call] {name}({_fmt_args(args)})"
        case ev.ToolResult(name=name, result=result):
            return f"[tool result] {name} -> {_fmt_args(result)}"
        case ev.ToolCancelled(ids=ids, lost=lost):
            return f"[tool {'lost' if lost else 'cancelled'}] {', '.join(ids)}"
        case ev.ToolConfirmation(name=name, state=state) if state != "asked":
            return {"yes": f"[tool confirmed] {name}", "always":
                    f"[tool confirmed] {name} (and from now on, this session)",
                    "no": f"[tool declined] {name}: the model was told you said no",
                    "refused": f"[tool refused] {name}: it needs your confirmation and there "
                    "is no terminal to ask in (pass --yes to allow it, or trust its "
                    "server)"}[state]
        case ev.Grounding(queries=queries, sources=sources):
            shown = "; ".join(f"{s['title']} <{s['uri']}>" for s in sources)
            searched = f" (searched: {'; '.join(queries)})" if queries else ""
            return f"Sources: {shown or 'none'}{searched}"
        case ev.SourceText(final=True, text=text):
            return f"Source: {text}"
        case ev.Translation(final=True, text=text):
            return f"Translation: {text}"
    return None


class TextView:
    """Human-readable transcript on stdout."""

    STYLE: ClassVar[dict[str, str]] = {"You": "\x1b[1;36m", "Gemini": "\x1b[1;35m", "[": "\x1b[33m",
                                       "Source": "\x1b[1;36m", "Translation": "\x1b[1;35m"}

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.color = use_color(self.stream)
        self._partial = False

    def _paint(self, line: str) -> str:
        if not self.color:
            return line
        for prefix, style in self.STYLE.items():
            if line.startswith(prefix):
                head, sep, rest = line.partition(" ") if prefix == "[" else line.partition(":")
                return f"{style}{head}{sep}\x1b[0m{rest}"
        return line

    def _clear_partial(self) -> None:
        if self._partial:
            self.stream.write("\r\x1b[2K")
            self._partial = False

    def handle(self, event: ev.Event) -> None:
        if self.live and isinstance(event, ev.UserTranscript | ev.AssistantTranscript) \
                and not event.final:
            who = "You" if isinstance(event, ev.UserTranscript) else "Gemini"
            width = max(20, _terminal_width(self.stream) - 1)
            text = f"{who}: {event.text}"
            if len(text) > width:  # keep the partial on one line so \r can rewrite it
                text = "…" + text[-(width - 1):]
            self.stream.write("\r\x1b[2K" + self._paint(text))
            self.stream.flush()
            self._partial = True
            return
        line = format_line(event)
        if line is None:
            return
        if self.live:
            self._clear_partial()
        self.stream.write(self._paint(line) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self._clear_partial()
        self.stream.flush()


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


class JsonlWriter:
    """One JSON object per event: finished transcripts, tools, turns, errors, session."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def handle(self, event: ev.Event) -> None:
        if event.type in ev.NOT_IN_JSONL or isinstance(event, ev.Status):
            return
        if not getattr(event, "final", True):  # partial lines: the final one follows
            return
        self.stream.write(json.dumps(event.to_json_dict(), ensure_ascii=False) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class TranscriptFile:
    """Appends each finished line to a file, flushed at once, so nothing is lost on a crash."""

    def __init__(self, path: str) -> None:
        from voicecli.errors import ConfigError

        try:
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (lives with the session)
        except OSError as exc:
            raise ConfigError(f"--transcript: cannot open {path}: {exc.strerror}") from None

    def handle(self, event: ev.Event) -> None:
        line = format_line(event)
        if line is not None:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def mcp_text(event: ev.McpServer) -> str:
    """How the status line and the live view tell of an MCP server."""
    if event.state == "failed":
        return f"[mcp] {event.name} failed: {event.error}"
    names = ", ".join(event.tools) or "no tools"
    when = {"next_connection": " (declared when the connection is next renewed: this model "
            "takes no new tools mid-session)"}.get(event.declared, "")
    return f"[mcp] {event.name} ready: {len(event.tools)} tools ({names}){when}"


def dropout_text(event: ev.AudioDropout) -> str:
    """How the status line and the live view tell of a dropout."""
    return f"audio dropout: speaker {event.speaker}, microphone {event.mic} so far"


class StatusView:
    """Status changes and errors on stderr, so stdout stays pure data."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.color = use_color(self.stream)

    def _write(self, text: str, style: str = "\x1b[2m") -> None:
        if self.color:
            text = f"{style}{text}\x1b[0m"
        self.stream.write(text + "\n")
        self.stream.flush()

    def handle(self, event: ev.Event) -> None:
        match event:
            case ev.ErrorEvent(message=message):
                self._write(f"voicecli: error: {message}", "\x1b[31m")
            case ev.Status(state=state, detail=detail) if not self.quiet:
                self._write(f"[{state}] {detail}".rstrip())
            case ev.Reconnecting(reason=reason, attempt=attempt, delay_s=delay) \
                    if not self.quiet:
                again = f" (attempt {attempt}, in {delay:.1f} s)" if delay >= 0.5 else ""
                self._write(f"[reconnecting] {reason}{again}", "\x1b[33m")
            case ev.Resumed(gap_ms=gap, fresh=fresh) if not self.quiet:
                what = "new session" if fresh else "resumed"
                self._write(f"[{what}] after {gap / 1000:.1f} s", "\x1b[33m")
            case ev.Notice(message=message):
                self._write(f"[note] {message}", "\x1b[33m")
            case ev.Interrupted(source=source) if not self.quiet:
                self._write(f"[interrupted by {'you' if source == 'local' else 'the server'}]")
            case ev.BargeInResumed() if not self.quiet:
                self._write("[resumed: that was not an interruption]")
            case ev.AudioDropout() if not self.quiet:
                self._write(f"[{dropout_text(event)}]", "\x1b[33m")
            case ev.VideoStarted(source=source, fps=fps) if not self.quiet:
                self._write(f"[video] sharing {source} at up to {fps:g} frames a second")
            case ev.VideoStopped(source=source, reason=reason, frames=frames):
                if reason != "stopped" or not self.quiet:
                    self._write(f"[video] {source}: {reason} after {frames} frames")
            case ev.ToolConfirmation(state="refused", name=name):
                self._write(f"[note] {name} was not run: it asks first, and there is no "
                            "terminal to ask in (pass --yes to allow it)", "\x1b[33m")
            case ev.McpServer() if not self.quiet or event.state == "failed":
                self._write(mcp_text(event), "\x1b[33m" if event.state == "failed"
                            else "\x1b[2m")

    def close(self) -> None:
        self.stream.flush()
