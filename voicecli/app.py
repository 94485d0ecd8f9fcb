"""``voicecli chat``: the conversation's mode of a :class:`~voicecli.runner.SessionRunner`.

    microphone/file ─► MicPipeline (VAD, barge-in hold) ─► LiveConnection ─► Live API
    Live API ─► ConversationState ─► events ─► ChatMode (holds, tools) ─► outputs

:class:`ChatMode` owns what only a conversation has: local barge-in holds (resumed when
they prove false, discarded when confirmed), the tools the model calls, typed text,
push-to-talk and mute. It is also what the live view controls (:class:`~voicecli.ui.live.
Controls`). The runner owns the connection, the audio ends and the session's bookends.
"""

from __future__ import annotations

import asyncio
import os
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any

from voicecli import catalog
from voicecli import events as ev
from voicecli.audio.engine import PlaybackReader, Sink, Source
from voicecli.audio.mic import PLAYING_GRACE_S, MicPipeline, build_mic
from voicecli.audio.vad import HoldPolicy, hold_decision
from voicecli.errors import UserError
from voicecli.live.state import ConversationState
from voicecli.settings import Settings, VideoRequest
from voicecli.tools.builtin import BUILTIN_TOOLS, Tool
from voicecli.tools.confirm import ConfirmPolicy
from voicecli.tools.session import SessionTools, builtin_entries
from voicecli.tools.toolbox import Toolbox
from voicecli.ui.outputs import EventBus

if TYPE_CHECKING:
    from voicecli.runner import SessionRunner

QUIET_AFTER_INPUT_S = 1.5  # file input: end this long after the last server message
INPUT_END_TIMEOUT_S = 120.0  # file input: give up waiting for a reply after this


class ChatMode:
    """A spoken conversation: see the module docstring."""

    def __init__(self, settings: Settings, tools: dict[str, Tool] | None = None) -> None:
        """``tools``: the built-in tools to offer (default: all of them)."""
        self.settings = settings
        self.state = ConversationState()
        self.toolbox, self._skipped = build_toolbox(settings,
                                                    BUILTIN_TOOLS if tools is None else tools)
        info = catalog.model_info(settings.model)
        self.tools = SessionTools(
            self.toolbox, ConfirmPolicy(interactive=False, yes=settings.yes),
            publish=self._publish, respond=self._respond, answered=self.state.tool_answered,
            scheduling=info is None or info.async_tools,
            servers=settings.mcp_servers if settings.tools else ())
        self.hold_policy = HoldPolicy()
        self._runner: SessionRunner | None = None
        self._user_muted = False
        self._talking = False
        self._early: list[tuple[str, str]] = []  # typed text / activity before connecting
        self._hold_task: asyncio.Task[None] | None = None
        self.sharer: Any = None  # the VideoSharer while a screen or camera is shared

    @property
    def runner(self) -> SessionRunner:
        assert self._runner is not None, "attach() first"
        return self._runner

    # -- SessionMode ----------------------------------------------------------------------
    def attach(self, runner: SessionRunner) -> None:
        self._runner = runner

    def live_config(self, live_client: ModuleType) -> Any:
        return live_client.make_config(self.settings, self.toolbox.declarations(),
                                       search=self._search)

    @property
    def _search(self) -> bool:
        return self.settings.search and self.settings.tools

    def make_mic(self) -> MicPipeline:
        runner = self.runner
        mic = build_mic(
            runner.player.playback, runner.sink, self.settings.echo_mode, self.settings.barge_in,
            on_chunk=lambda pcm: runner.threadsafe(runner.send_mic_chunk, pcm),
            on_barge_in=lambda turn: runner.threadsafe(self._on_local_barge_in, turn),
        )
        runner.mic = mic
        self._apply_mute()  # push-to-talk: nothing goes out until the key is pressed
        return mic

    def reader(self) -> PlaybackReader:
        return self.runner.player.playback

    def on_open(self) -> list[ev.Event]:
        conn = self.runner.conn
        for kind, payload in self._early:
            conn.send(kind, payload)
        self._early.clear()
        events: list[ev.Event] = [ev.SessionStarted(model=self.settings.model,
                                                    voice=self.settings.voice,
                                                    session_id=conn.session_id)]
        for broken in self.settings.mcp_broken:
            events.append(ev.McpServer(name=broken.name, state="failed", error=broken.error))
        for path, skipped in self._skipped:
            events.append(ev.Notice(message=f"--tools-file {path}: {skipped.name}() is not a "
                                    f"tool: {skipped.why}"))
        if not self.settings.live.interruption:
            events.append(ev.Notice(message="--no-interruption: every reply plays to its end, "
                                    "even when you talk over it (local barge-in is off)"))
        events.append(ev.Status(state="listening", detail=self._listening_hint()))
        return events

    def busy(self) -> bool:
        """Not a quiet moment to renew the connection (see LiveConnection)."""
        return self.state.in_reply or bool(self.state.user_text) or self.tools.running

    def on_mic_chunk(self, pcm: bytes) -> None:
        pass

    def on_event(self, event: ev.Event) -> list[ev.Event]:
        match event:
            case ev.ToolCall(id=call_id, name=name, args=args):
                self.tools.call(call_id, name, args)
            case ev.ToolCancelled(ids=ids):
                self.tools.cancel(ids)
        return []

    def on_audio_started(self) -> None:
        """Start the MCP servers now, off the path to the first microphone audio."""
        from voicecli.tools.mcp_client import default_log_dir

        if self.tools.servers:
            self.tools.start_servers(os.environ, default_log_dir(), self.runner.threadsafe,
                                     self._declare_new_tools)
        if self.settings.video is not None:
            self.share(self.settings.video)

    def on_reconnecting(self) -> list[ev.Event]:
        """Settle half-received lines first: nothing shown is lost or repeated."""
        turn = self.state.turn if self.state.in_reply else None
        lines = self.state.connection_lost()
        if turn is not None:
            self.runner.player.playback.end_turn(turn)
        return lines

    def on_fresh_session(self) -> list[ev.Event]:
        """A fresh session never made the pending calls: report them lost."""
        lost = self.state.forget_tool_calls()
        return [ev.ToolCancelled(ids=lost, lost=True)] if lost else []

    async def until_input_done(self) -> None:
        """With a finite input, end once the last reply has been played out."""
        runner = self.runner
        while not runner.source.finished.is_set():  # polled: a waiting thread would block exit
            await asyncio.sleep(0.05)
        ended = time.monotonic()
        playback = runner.player.playback
        while time.monotonic() - ended < INPUT_END_TIMEOUT_S:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            idle = (not self.busy() and not playback.is_playing(0.3)
                    and runner.conn.connected and not self.state.held_turn)
            if idle and now - runner.last_server_msg > QUIET_AFTER_INPUT_S \
                    and now - ended > QUIET_AFTER_INPUT_S:
                return
        runner.publish(ev.ErrorEvent(message="input ended but no reply finished within "
                                     f"{INPUT_END_TIMEOUT_S:.0f} s"))

    def close(self) -> None:
        self.stop_sharing()
        self.tools.close()
        if self._hold_task is not None:
            self._hold_task.cancel()

    # -- barge-in holds (the capture thread already held the playback) --------------------
    def _on_local_barge_in(self, held_turn: int | None) -> None:
        """The capture thread heard the user and held the playback: decide its fate."""
        events = self.state.local_interrupt(held_turn)
        if not events:  # that turn is already over: nothing to resume
            self.runner.player.playback.discard()
            return
        for event in events:
            self.runner.publish(event)
        self._hold_task = asyncio.create_task(self._resolve_hold())

    async def _resolve_hold(self) -> None:
        """Resume a false barge-in (short sound, no server confirmation) or discard it.

        The server's ``interrupted`` confirms it meanwhile (see ConversationState)."""
        runner = self.runner
        start = time.monotonic()
        while self.state.held_turn:
            speech_ms = runner.mic.speech_ms if runner.mic is not None else 0
            verdict = hold_decision(time.monotonic() - start, speech_ms, self.hold_policy)
            playback = runner.player.playback
            if verdict == "resume":
                playback.resume()
                for event in self.state.resume_local():
                    runner.publish(event)
            elif verdict == "discard":
                playback.discard()
                for event in self.state.confirm_local():
                    runner.publish(event)
            else:
                await asyncio.sleep(0.02)

    # -- tools ----------------------------------------------------------------------------
    def _publish(self, event: ev.Event) -> None:
        self.runner.publish(event)

    def _respond(self, call_id: str | None, name: str, result: dict[str, Any],
                 scheduling: str | None) -> None:
        from voicecli.live.client import function_response

        self.runner.conn.send_tool_response([function_response(call_id, name, result,
                                                                scheduling)])

    def _declare_new_tools(self, names: list[str]) -> str:
        """An MCP server is ready: declare its tools in the live session (a context update)
        or, for a model that takes none mid-session, at a renewal of the connection."""
        from voicecli.live import client as live_client

        conn = self.runner.conn
        if conn is None:
            return "setup"
        conn.update_config(self.live_config(live_client),
                           renew=not self._tools_mid_session)
        if self._tools_mid_session:
            conn.send("tools", live_client.tool_list(self.toolbox.declarations(),
                                                     self._search))
            return "now"
        return "next_connection"

    @property
    def _tools_mid_session(self) -> bool:
        info = catalog.model_info(self.settings.model)
        return info is None or info.tools_mid_session

    # -- video --------------------------------------------------------------------------
    def share(self, request: VideoRequest) -> None:
        """Start sharing a screen, a camera or a file (instead of what was shared)."""
        from voicecli.video.sharer import open_source

        self.stop_sharing()
        runner = self.runner
        try:
            source = open_source(request)
        except UserError as exc:
            runner.publish(ev.ErrorEvent(message=str(exc)))
            return
        from voicecli.video.sharer import VideoSharer

        def send(frame: Any) -> None:  # on the sharer's thread
            runner.threadsafe(self._send_frame, frame)

        def ended(why: str) -> None:  # on the sharer's thread
            runner.threadsafe(self._sharing_ended, why)

        self.sharer = VideoSharer(source, self.settings.fps, send, ended,
                                  record_dir=self.settings.record_video).start()
        runner.publish(ev.VideoStarted(source=source.label, fps=self.settings.fps))

    def stop_sharing(self) -> None:
        sharer, self.sharer = self.sharer, None
        if sharer is not None:
            sharer.stop()
            self.runner.publish(ev.VideoStopped(source=sharer.label, reason="stopped",
                                                frames=sharer.gate.sent))

    def _send_frame(self, frame: Any) -> None:
        conn = self.runner.conn
        if conn is not None and self.sharer is not None:
            conn.send("video", frame)

    def _sharing_ended(self, why: str) -> None:
        sharer, self.sharer = self.sharer, None
        if sharer is not None:
            self.runner.publish(ev.VideoStopped(source=sharer.label, reason=why,
                                                frames=sharer.gate.sent))

    # -- controls (called by the live view, on the loop's thread) -------------------------
    def _send_control(self, kind: str, payload: str) -> None:
        """Typed text or activity start/end, in order with the audio (queued until open)."""
        conn = self._runner.conn if self._runner is not None else None
        if conn is None:
            self._early.append((kind, payload))
        else:
            conn.send(kind, payload)

    def send_text(self, text: str) -> None:
        """Send a typed line into the live session (queued until it is connected)."""
        self.runner.publish(ev.TextInput(text=text))
        self.runner.user_finished()
        self._send_control("text", text)

    def set_muted(self, muted: bool) -> None:
        """Mute the microphone (silence goes out instead) or unmute it."""
        if muted != self._user_muted:
            self._user_muted = muted
            self._apply_mute()
            self.runner.publish(ev.Muted(muted=muted))

    def set_talking(self, active: bool) -> None:
        """Push-to-talk: send activity start (then open the mic) or close it and send end."""
        if not self.settings.push_to_talk or active == self._talking:
            return
        self._talking = active
        if active:
            self._send_control("activity", "start")
            self._apply_mute()
        else:
            self._apply_mute()
            self._send_control("activity", "end")
            self.runner.user_finished()
        self.runner.publish(ev.PushToTalk(active=active))

    def _apply_mute(self) -> None:
        mic = self.runner.mic
        if mic is not None:
            mic.muted = self._user_muted or (self.settings.push_to_talk and not self._talking)

    def request_stop(self) -> None:
        """End the session as Ctrl-C does."""
        self.runner.request_stop()

    def level_dbfs(self) -> float | None:
        """The microphone's current level (None before it is open)."""
        return self.runner.level_dbfs()

    def is_playing(self) -> bool:
        return self.runner.player.playback.is_playing(PLAYING_GRACE_S)

    def _listening_hint(self) -> str:
        if self.settings.push_to_talk:
            return "press Space to talk; Ctrl-C to quit"
        if self.settings.text_only:
            return "type a line; Ctrl-C to quit"
        return "speak now; Ctrl-C to quit"


def build_toolbox(settings: Settings, builtins: dict[str, Tool]) -> tuple[Toolbox, list[Any]]:
    """The tools known before connecting: built-ins and ``--tools-file`` functions (MCP
    servers' tools join as each server is ready). Also the functions a file left out."""
    from voicecli.tools import pyfile

    toolbox = Toolbox(scheduling=dict(settings.tool_scheduling))
    skipped: list[Any] = []
    if not settings.tools:
        return toolbox, skipped
    for entry, runner in builtin_entries(builtins):
        toolbox.add(entry, runner)
    for path in settings.tool_files:
        found, left_out = pyfile.load(path)
        for entry, runner in found:
            if entry.name in toolbox:
                from voicecli.errors import ConfigError

                raise ConfigError(f"--tools-file {path}: {entry.name}() has the name of "
                                  "another tool; rename it")
            toolbox.add(entry, runner)
        skipped += [(path, s) for s in left_out]
    return toolbox, skipped


def chat_runner(settings: Settings, bus: EventBus, source: Source, sink: Sink,
                tools: dict[str, Tool] | None = None,
                endpoint: str = "the Live API") -> tuple[SessionRunner, ChatMode]:
    """A runner for one conversation, and its mode (what the live view controls)."""
    from voicecli.runner import SessionRunner

    mode = ChatMode(settings, tools)
    return SessionRunner(mode, settings, bus, source, sink, endpoint=endpoint), mode
