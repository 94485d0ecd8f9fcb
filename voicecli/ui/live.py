"""The live terminal view (prompt-toolkit): conversation above, an input line, a status bar.

One more consumer of the event stream. Finished lines (transcripts, tool calls and results,
errors) are printed above the running application, so they stay in the terminal's
scrollback; partial transcripts are shown just above the input line and update in place
until they settle. The status bar shows the state, a microphone level meter, the model and
voice, and the tokens used so far. The meter is sampled from the microphone pipeline at the
view's refresh rate (never an event per audio frame).

What the user types goes to :class:`Controls` (the session): a line is sent as text input,
``/mute`` ``/unmute`` ``/quit`` ``/help`` are commands. With ``--push-to-talk`` the Space
key on an empty input line talks: tap it to start and tap again to stop (works in every
terminal), or hold it where the terminal repeats held keys (released = stop).

The pure parts (state machine, status line, meter, push-to-talk key, commands) are plain
functions and small classes, tested without a terminal; :class:`LiveView` is the shell.
"""

from __future__ import annotations

import asyncio
import math
import os
from dataclasses import dataclass
from typing import Any, Protocol

from voicecli import events as ev
from voicecli.ui.outputs import dropout_text, format_line, mcp_text

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

# -- pure core -------------------------------------------------------------------------

STATES = ("connecting", "listening", "you are speaking", "thinking", "speaking",
          "reconnecting", "muted", "ended")
SPEAKING_DBFS = -40.0  # the meter's "you are speaking" threshold when no transcript says so
METER_FLOOR_DBFS = -60.0

HELP = [
    "Type a line and press Enter to send it as text; the microphone stays live.",
    "/mute  /unmute  the microphone (silence is sent while muted)",
    "/screen [N]  share a screen; /camera [N]  share a camera; /stop-video  stop sharing",
    "/quit  end the session (or Ctrl-C, or Ctrl-D on an empty line)",
    "/help  this help",
]
PTT_HELP = "Push-to-talk: Space on an empty line; tap to start and tap to stop, or hold it."


def next_state(state: str, event: ev.Event) -> str:
    """The conversation state after ``event`` (the status bar's main word)."""
    match event:
        case ev.Status(state=new):
            return new
        case ev.SessionStarted():
            return "listening"
        case ev.UserTranscript(final=False) | ev.PushToTalk(active=True):
            return "you are speaking"
        case ev.UserTranscript(final=True) | ev.TextInput() | ev.PushToTalk(active=False):
            return "thinking" if state != "speaking" else state
        case ev.ReplyStarted() | ev.AssistantTranscript(final=False):
            return "speaking"
        case ev.ToolCall():
            return "thinking"
        case ev.Interrupted(source="local"):
            return "you are speaking"
        case ev.Interrupted() | ev.TurnComplete():
            return "listening"
        case ev.SessionEnded():
            return "ended"
    return state


def shown_state(state: str, *, muted: bool, level_dbfs: float, playing: bool) -> str:
    """What the status bar says, from the conversation state and live readings."""
    if state in ("connecting", "reconnecting", "ended"):
        return state
    if playing:
        return "speaking"
    if state == "speaking":  # the reply has been played out; the turn may still be open
        state = "listening"
    if muted:
        return "muted"
    if state == "listening" and level_dbfs >= SPEAKING_DBFS:
        return "you are speaking"
    return state


def meter(level_dbfs: float, cells: int = 10) -> str:
    """A level meter: ``cells`` characters, filled from −60 dBFS (empty) to 0 dBFS (full)."""
    if not math.isfinite(level_dbfs):
        level_dbfs = METER_FLOOR_DBFS
    frac = min(1.0, max(0.0, (level_dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS))
    filled = round(frac * cells)
    return "█" * filled + "·" * (cells - filled)


def status_line(state: str, *, width: int, level_dbfs: float | None, model: str,
                voice: str | None, tokens: int, ptt: bool = False, sharing: str = "") -> str:
    """The status bar text, fitted to ``width``: less important parts go first (what is
    shared never does: the user must always see it)."""
    parts = [f" {state} "] + ([f" {sharing} "] if sharing else [])
    optional = []
    if level_dbfs is not None:
        optional.append(f" mic {meter(level_dbfs)} ")
    optional.append(f" {model}" + (f" · {voice} " if voice else " "))
    optional.append(f" {tokens} tokens ")
    if ptt:
        optional.append(" Space: talk ")
    optional.append(" /help ")
    line = "│".join(parts)
    for part in optional:  # in priority order; stop at the first that does not fit
        candidate = line + "│" + part
        if len(candidate) > width:
            break
        line = candidate
    return line[:width]


def running_line(running: dict[str, tuple[str, float]], now: float, frame: int = 0) -> str:
    """The tools still running: ``⠹ git__git_commit 1.2 s · search 0.3 s``."""
    spin = SPINNER[frame % len(SPINNER)]
    return f"{spin} " + " · ".join(f"{name} {now - start:.1f} s"
                                    for name, start in running.values())


def fit(text: str, width: int) -> str:
    """One line of at most ``width`` characters, keeping the end (the newest words)."""
    if len(text) <= width:
        return text
    return "…" + text[-(width - 1):] if width > 1 else text[:width]


def parse_command(line: str) -> tuple[str, str] | None:
    """``("mute", "")`` for ``/mute``; None for a line of text to send."""
    stripped = line.strip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return None
    name, _, arg = stripped[1:].partition(" ")
    return name.lower(), arg.strip()


@dataclass
class PushToTalkKey:
    """Turns key presses into talk start/stop, for terminals that report presses only.

    A press starts talking. If the key repeats within ``repeat_window`` (the terminal's
    auto-repeat of a held key), it is a hold: talking stops ``release_after`` after the
    repeats stop. Otherwise it was a tap: talking stops at the next tap.
    """

    repeat_window: float = 0.65  # longer than common auto-repeat delays (250–600 ms)
    release_after: float = 0.15  # longer than common auto-repeat intervals (30–50 ms)
    mode: str = "idle"  # idle | pending (tap or hold?) | toggled | held
    _last: float = 0.0

    @property
    def active(self) -> bool:
        return self.mode != "idle"

    def press(self, now: float) -> str | None:
        """A key press at ``now``; returns "start", "stop" or None."""
        if self.mode == "pending" and now - self._last > self.repeat_window:
            self.mode = "toggled"
        if self.mode == "idle":
            self.mode, self._last = "pending", now
            return "start"
        if self.mode in ("pending", "held"):
            self.mode, self._last = "held", now
            return None
        self.mode = "idle"  # toggled: this tap ends it
        return "stop"

    def tick(self, now: float) -> str | None:
        """Called periodically; returns "stop" when a held key was released."""
        if self.mode == "pending" and now - self._last > self.repeat_window:
            self.mode = "toggled"
        elif self.mode == "held" and now - self._last > self.release_after:
            self.mode = "idle"
            return "stop"
        return None


# -- the shell -------------------------------------------------------------------------

class Controls(Protocol):
    """What the view can ask of the running session (implemented by ChatRunner)."""

    def send_text(self, text: str) -> None: ...
    def set_muted(self, muted: bool) -> None: ...
    def set_talking(self, active: bool) -> None: ...
    def request_stop(self) -> None: ...
    def level_dbfs(self) -> float | None: ...
    def is_playing(self) -> bool: ...
    def share(self, request: Any) -> None: ...
    def stop_sharing(self) -> None: ...


STYLE = {
    "you": "bold ansicyan", "gemini": "bold ansimagenta", "tool": "ansiyellow",
    "error": "ansired", "dim": "#888888", "partial": "italic #888888",
    "status": "reverse", "status.state": "reverse bold", "ask": "bold ansiyellow",
}


class LiveView:
    """The prompt-toolkit application; ``handle`` is called on the event loop's thread."""

    def __init__(self, controls: Controls, *, model: str, voice: str | None,
                 push_to_talk: bool = False, text_only: bool = False) -> None:
        from prompt_toolkit.application import Application
        from prompt_toolkit.buffer import Buffer
        from prompt_toolkit.filters import Condition
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.layout import ConditionalContainer, HSplit, Layout, Window
        from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
        from prompt_toolkit.layout.processors import BeforeInput
        from prompt_toolkit.output.color_depth import ColorDepth
        from prompt_toolkit.styles import Style

        self.controls = controls
        self.model = model
        self.voice = voice
        self.push_to_talk = push_to_talk
        self.text_only = text_only
        self.state = "connecting"
        self.muted = False
        self.tokens = 0
        self.partial: dict[str, str] = {}
        self.ptt = PushToTalkKey()
        self.no_color = bool(os.environ.get("NO_COLOR"))
        self._closed = False
        self.running: dict[str, tuple[str, float]] = {}  # call id -> (tool, started)
        self.sharing = ""  # "sharing screen 1 (1920×1080)" while frames go out
        self.frames = 0
        self.asking: list[tuple[str, asyncio.Future[str]]] = []  # confirmation prompts

        self.buffer = Buffer(multiline=False, accept_handler=self._accept)
        kb = KeyBindings()

        @kb.add("c-c")
        @kb.add("c-d", filter=Condition(lambda: not self.buffer.text))
        def _quit(event: Any) -> None:
            self.controls.request_stop()

        if push_to_talk:
            @kb.add("space", filter=Condition(lambda: not self.buffer.text))
            def _talk(event: Any) -> None:
                self._ptt_action(self.ptt.press(asyncio.get_running_loop().time()))

        asking = Condition(lambda: bool(self.asking))
        for key, answer in (("y", "yes"), ("n", "no"), ("a", "always")):
            @kb.add(key, filter=asking)
            def _answer(event: Any, answer: str = answer) -> None:
                self._answer(answer)

        tools_row = ConditionalContainer(
            Window(FormattedTextControl(self._tools_text), wrap_lines=False,
                   dont_extend_height=True),
            filter=Condition(lambda: bool(self.running or self.asking)))

        partial = ConditionalContainer(
            Window(FormattedTextControl(self._partial_text), wrap_lines=False,
                   dont_extend_height=True),
            filter=Condition(lambda: bool(self.partial)))
        prompt = "type> " if text_only else "> "
        self.app: Any = Application(
            layout=Layout(HSplit([
                partial,
                tools_row,
                Window(BufferControl(self.buffer, input_processors=[BeforeInput(prompt)]),
                       height=1),
                Window(FormattedTextControl(self._status_text), height=1, style="class:status"),
            ]), focused_element=self.buffer),
            key_bindings=kb, style=Style.from_dict(STYLE), full_screen=False,
            refresh_interval=0.1, erase_when_done=True, mouse_support=False,
            color_depth=ColorDepth.DEPTH_1_BIT if self.no_color else None,
            before_render=lambda _app: self._tick(),
        )

    # -- rendering ---------------------------------------------------------------------
    def _width(self) -> int:
        try:
            return self.app.output.get_size().columns
        except Exception:
            return 80

    def _tools_text(self) -> list[tuple[str, str]]:
        width = max(10, self._width() - 1)
        rows: list[tuple[str, str]] = []
        if self.running:
            loop = asyncio.get_event_loop()
            frame = int(loop.time() * 10)
            rows.append(("class:tool", fit(running_line(self.running, loop.time(), frame),
                                           width)))
        if self.asking:
            if rows:
                rows.append(("", "\n"))
            rows.append(("class:ask", fit(self.asking[0][0], width)))
        return rows

    # -- confirmation ------------------------------------------------------------------
    async def ask_tool(self, entry: Any, args: dict[str, Any]) -> Any:
        """Ask the user (one key) whether to run a tool; the audio keeps flowing."""
        from voicecli.tools.confirm import prompt_text

        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        item = (prompt_text(entry, args), future)
        self.asking.append(item)
        self._invalidate()
        try:
            return await future
        finally:
            if item in self.asking:
                self.asking.remove(item)
            self._invalidate()

    def _answer(self, answer: str) -> None:
        if self.asking:
            _, future = self.asking.pop(0)
            if not future.done():
                future.set_result(answer)
            self._invalidate()

    def _invalidate(self) -> None:
        if self.app.is_running:
            self.app.invalidate()

    def _partial_text(self) -> list[tuple[str, str]]:
        width = max(10, self._width() - 1)
        rows: list[tuple[str, str]] = []
        for who, text in self.partial.items():
            if rows:
                rows.append(("", "\n"))
            rows.append(("class:partial", fit(f"{who}: {text}", width)))
        return rows

    def _status_text(self) -> list[tuple[str, str]]:
        level = None if self.text_only else self.controls.level_dbfs()
        shown = shown_state(self.state, muted=self.muted, level_dbfs=level or -120.0,
                            playing=self.controls.is_playing())
        # One column short of the edge: writing the last column makes some terminals wrap.
        width = max(10, self._width() - 1)
        sharing = f"{self.sharing} · {self.frames} frames" if self.sharing else ""
        line = status_line(shown, width=width, level_dbfs=level, model=self.model,
                           voice=self.voice, tokens=self.tokens, ptt=self.push_to_talk,
                           sharing=sharing)
        return [("class:status", line.ljust(width))]

    def _tick(self) -> None:
        if self.push_to_talk:
            self._ptt_action(self.ptt.tick(asyncio.get_running_loop().time()))

    def _ptt_action(self, action: str | None) -> None:
        if action is not None:
            self.controls.set_talking(action == "start")

    def _print(self, fragments: list[tuple[str, str]]) -> None:
        from prompt_toolkit import print_formatted_text
        from prompt_toolkit.formatted_text import FormattedText
        from prompt_toolkit.styles import Style

        print_formatted_text(FormattedText(fragments), style=Style.from_dict(STYLE),
                             color_depth=self.app.color_depth)

    def _print_line(self, line: str) -> None:
        for prefix, style in (("You", "class:you"), ("Gemini", "class:gemini"),
                              ("[", "class:tool"), ("Sources", "class:dim")):
            if line.startswith(prefix):
                head, sep, rest = line.partition(" ") if prefix == "[" else line.partition(":")
                self._print([(style, head + sep), ("", rest)])
                return
        self._print([("", line)])

    # -- input -------------------------------------------------------------------------
    def _accept(self, buffer: Any) -> bool:
        line = buffer.text
        if not line.strip():
            return False
        command = parse_command(line)
        if command is None:
            self.controls.send_text(line.strip())
        else:
            self._command(*command)
        return False  # clear the line

    def _command(self, name: str, arg: str) -> None:
        match name:
            case "mute" | "unmute":
                if self.text_only:
                    self._print([("class:dim", "there is no microphone in --text mode")])
                else:
                    self.controls.set_muted(name == "mute")
            case "screen" | "camera":
                from voicecli.settings import VideoRequest

                if self.text_only:
                    self._print([("class:dim", "there is no audio session in --text mode")])
                else:
                    self.controls.share(VideoRequest(name, arg or None))
            case "stop-video" | "stop":
                self.controls.stop_sharing()
            case "quit" | "exit" | "q":
                self.controls.request_stop()
            case "help" | "?":
                for line in HELP + ([PTT_HELP] if self.push_to_talk else []):
                    self._print([("class:dim", line)])
            case _:
                self._print([("class:error", f"unknown command /{name}; try /help")])

    # -- events ------------------------------------------------------------------------
    def handle(self, event: ev.Event) -> None:
        self.state = next_state(self.state, event)
        match event:
            case ev.UserTranscript(final=False, text=text):
                self.partial["You"] = text
            case ev.AssistantTranscript(final=False, text=text):
                self.partial["Gemini"] = text
            case ev.Muted(muted=muted):
                self.muted = muted
                self._print([("class:dim", "[microphone muted]" if muted
                              else "[microphone on]")])
            case ev.TurnComplete(usage=usage) if usage is not None:
                self.tokens += usage.total_tokens or 0
            case ev.ErrorEvent(message=message):
                self._print([("class:error", f"voicecli: error: {message}")])
            case ev.AudioDropout():
                self._print([("class:dim", f"[{dropout_text(event)}]")])
            case ev.Interrupted(source=source):
                self._print([("class:dim", f"[interrupted by "
                              f"{'you' if source == 'local' else 'the server'}]")])
            case ev.Status(state=state, detail=detail) if state not in ("listening",):
                self._print([("class:dim", f"[{state}] {detail}".rstrip())])
            case ev.ToolCall(id=call_id, name=name):
                self.running[call_id or name] = (name, asyncio.get_event_loop().time())
            case ev.ToolResult(id=call_id, name=name):
                self.running.pop(call_id or name, None)
            case ev.ToolCancelled(ids=ids):
                for call_id in ids:
                    self.running.pop(call_id, None)
            case ev.VideoStarted(source=source):
                is_camera = source.startswith("camera")
                self.sharing, self.frames = ("camera on" if is_camera
                                             else f"sharing {source}"), 0
                self._print([("class:dim", f"[video] sharing {source} (/stop-video to stop)")])
            case ev.VideoStopped(source=source, reason=reason, frames=frames):
                self.sharing = ""
                self._print([("class:dim", f"[video] {source}: {reason} after {frames} "
                              "frames")])
            case ev.VideoFrameSent():
                self.frames += 1
            case ev.Notice(message=message):
                self._print([("class:dim", f"[note] {message}")])
            case ev.McpServer():
                self._print([("class:error" if event.state == "failed" else "class:dim",
                              mcp_text(event))])
            case ev.SessionStarted(model=model, voice=voice):
                self.model, self.voice = model, voice
                hint = "type to send text" if self.text_only else "speak or type"
                self._print([("class:dim", f"[connected] {hint}; /help for commands")])
        if isinstance(event, ev.UserTranscript | ev.AssistantTranscript) and event.final:
            self.partial.pop("You" if isinstance(event, ev.UserTranscript) else "Gemini", None)
        line = format_line(event)
        if line is not None:
            self._print_line(line)
        if self.app.is_running:
            self.app.invalidate()

    async def run(self) -> None:
        """Run the application until :meth:`close`."""
        if self._closed:
            return
        await self.app.run_async(handle_sigint=False)

    def close(self) -> None:
        """End the application (idempotent; safe before it started)."""
        self._closed = True
        self.partial.clear()
        if self.app.is_running and not self.app.future.done():
            self.app.exit()
