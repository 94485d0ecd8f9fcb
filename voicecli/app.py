"""Run one conversation: the imperative shell that wires the pieces together.

    microphone/file ─► MicPipeline (VAD, barge-in flush) ─► LiveConnection ─► Live API
    Live API ─► LiveConnection.messages() ─► ConversationState ─► events ─┬─► Player
                                                                          └─► EventBus

``live.connection`` owns the SDK session(s): it reconnects and resumes on its own and tells
us with ``Reconnecting``/``Resumed`` events. Everything becomes an event. Failures retrying
cannot fix end the session with an ``error`` event and a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from typing import Any

from voicecli import events as ev
from voicecli.audio.engine import PLAYING_GRACE_S, MicPipeline, Player, Sink, Source, build_mic
from voicecli.audio.vad import HoldPolicy, hold_decision
from voicecli.errors import SessionError, UserError
from voicecli.live.state import ConversationState
from voicecli.settings import Settings, redact
from voicecli.tools.builtin import BUILTIN_TOOLS, Tool, run_tool
from voicecli.ui.outputs import EventBus

QUIET_AFTER_INPUT_S = 1.5  # file input: end this long after the last server message
INPUT_END_TIMEOUT_S = 120.0  # file input: give up waiting for a reply after this
DROPOUT_POLL_S = 0.1  # how often the event loop reads the devices' xrun counters


class DropoutWatch:
    """Turns the devices' xrun counters into ``AudioDropout`` events: the first one within a
    poll, then at most one a second (a device that keeps underrunning must not flood the
    terminal). The counters are bumped by the audio callbacks; reading them is all this does."""

    def __init__(self, min_interval_s: float = 1.0) -> None:
        self.min_interval_s = min_interval_s
        self._seen = (0, 0)
        self._last = float("-inf")

    def check(self, speaker: int, mic: int, now: float) -> ev.AudioDropout | None:
        if (speaker, mic) == self._seen or now - self._last < self.min_interval_s:
            return None
        self._seen, self._last = (speaker, mic), now
        return ev.AudioDropout(speaker=speaker, mic=mic)


class ChatRunner:
    """One ``voicecli chat`` session from connect to goodbye."""

    def __init__(self, settings: Settings, bus: EventBus, source: Source, sink: Sink,
                 tools: dict[str, Tool] | None = None, endpoint: str = "the Live API") -> None:
        self.settings = settings
        self.bus = bus
        self.source = source
        self.sink = sink
        self.tools = BUILTIN_TOOLS if tools is None and settings.tools else (tools or {})
        self.endpoint = endpoint
        self.state = ConversationState()
        self.player = Player(sink.rate)
        self._stop = asyncio.Event()
        self.mic: MicPipeline | None = None
        self._user_muted = False
        self._talking = False
        self._early: list[tuple[str, str]] = []  # typed text / activity before connecting
        self._tool_tasks: dict[str, asyncio.Task[None]] = {}
        self._last_server_msg = time.monotonic()
        self._conn: Any = None  # the LiveConnection, once open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hold_task: asyncio.Task[None] | None = None
        self.hold_policy = HoldPolicy()

    # -- thread → loop bridges (called from audio threads) -----------------------------
    def _threadsafe(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop shutting down
            loop.call_soon_threadsafe(fn, *args)

    def _on_local_barge_in(self, held_turn: int | None) -> None:
        """The capture thread heard the user and held the playback: decide its fate."""
        events = self.state.local_interrupt(held_turn)
        if not events:  # that turn is already over: nothing to resume
            self.player.playback.discard()
            return
        for event in events:
            self.bus.emit(event)
        self._hold_task = asyncio.create_task(self._resolve_hold())

    async def _resolve_hold(self) -> None:
        """Resume a false barge-in (short sound, no server confirmation) or discard it.

        The server's ``interrupted`` confirms it meanwhile (see ``dispatch``)."""
        start = time.monotonic()
        while self.state.held_turn:
            speech_ms = self.mic.speech_ms if self.mic is not None else 0
            verdict = hold_decision(time.monotonic() - start, speech_ms, self.hold_policy)
            playback = self.player.playback
            if verdict == "resume":
                playback.resume()
                for event in self.state.resume_local():
                    self.bus.emit(event)
            elif verdict == "discard":
                playback.discard()
                for event in self.state.confirm_local():
                    self.bus.emit(event)
            else:
                await asyncio.sleep(0.02)

    def _on_mic_chunk(self, pcm: bytes) -> None:
        if self._conn is not None:
            self._conn.send_audio(pcm)

    # -- reconnect hooks (LiveConnection decides; these keep the conversation whole) ------
    def _busy(self) -> bool:
        """Not a quiet moment to renew the connection (see LiveConnection)."""
        return self.state.in_reply or bool(self.state.user_text or self._tool_tasks)

    def _settle_before_reconnect(self) -> None:
        """Settle half-received lines first: nothing shown is lost or repeated."""
        turn = self.state.turn if self.state.in_reply else None
        for line in self.state.connection_lost():
            self.bus.emit(line)
        if turn is not None:
            self.player.playback.end_turn(turn)

    def _forget_unanswerable_calls(self) -> None:
        """A fresh session never made the pending calls: report them lost."""
        lost = self.state.forget_tool_calls()
        if lost:
            self.dispatch(ev.ToolCancelled(ids=lost, lost=True))

    def _send_control(self, kind: str, payload: str) -> None:
        """Typed text or activity start/end, in order with the audio (queued until open)."""
        if self._conn is None:
            self._early.append((kind, payload))
        else:
            self._conn.send(kind, payload)  # type: ignore[arg-type]

    # -- controls (called by the live view, on the loop's thread) -------------------------
    def send_text(self, text: str) -> None:
        """Send a typed line into the live session (queued until it is connected)."""
        self.bus.emit(ev.TextInput(text=text))
        self._send_control("text", text)

    def set_muted(self, muted: bool) -> None:
        """Mute the microphone (silence goes out instead) or unmute it."""
        if muted != self._user_muted:
            self._user_muted = muted
            self._apply_mute()
            self.bus.emit(ev.Muted(muted=muted))

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
        self.bus.emit(ev.PushToTalk(active=active))

    def _apply_mute(self) -> None:
        if self.mic is not None:
            self.mic.muted = self._user_muted or (self.settings.push_to_talk
                                                   and not self._talking)

    def request_stop(self) -> None:
        """End the session as Ctrl-C does."""
        self._stop.set()

    def level_dbfs(self) -> float | None:
        """The microphone's current level (None before it is open)."""
        return self.mic.level_dbfs if self.mic is not None else None

    def is_playing(self) -> bool:
        return self.player.playback.is_playing(PLAYING_GRACE_S)

    # -- event handling ------------------------------------------------------------------
    def dispatch(self, event: ev.Event) -> None:
        """Act on an event (play, answer tools), then hand it to every output."""
        playback = self.player.playback
        match event:
            case ev.AssistantAudio(pcm=pcm, rate=rate, turn=turn):
                self.player.play(pcm, rate, turn)
            case ev.TurnComplete(turn=turn) if turn is not None:
                playback.end_turn(turn)
            case ev.Interrupted(source="server", turn=turn):
                if turn is not None:
                    playback.drop_turn(turn)
                playback.flush()
            case ev.ToolCall(id=call_id, name=name, args=args):
                task = asyncio.create_task(self._answer_tool(call_id, name, args))
                self._tool_tasks[call_id or name] = task
            case ev.ToolCancelled(ids=ids):
                for call_id in ids:
                    task = self._tool_tasks.pop(call_id, None)
                    if task is not None:
                        task.cancel()
            case ev.Reconnecting():
                self._settle_before_reconnect()
            case ev.Resumed(fresh=True):
                self.bus.emit(event)  # before the calls it made us forget
                self._forget_unanswerable_calls()
                return
        self.bus.emit(event)

    async def _answer_tool(self, call_id: str | None, name: str, args: dict[str, Any]) -> None:
        from voicecli.live.client import function_response

        try:
            result = await asyncio.to_thread(run_tool, self.tools, name, args)
            if not self.state.tool_answered(call_id):
                return  # cancelled while it ran: the server no longer wants it
            self._conn.send_tool_response([function_response(call_id, name, result)])
            self.bus.emit(ev.ToolResult(id=call_id, name=name, result=result))
        finally:
            self._tool_tasks.pop(call_id or name, None)

    # -- the session ------------------------------------------------------------------
    async def _receive(self) -> None:
        async for msg in self._conn.messages():  # one stream across reconnects
            self._last_server_msg = time.monotonic()
            for event in self.state.on_message(msg):
                self.dispatch(event)
        raise SessionError("the server closed the connection")

    async def _finish_after_input(self) -> None:
        """With a finite input, end once the last reply has been played out."""
        while not self.source.finished.is_set():  # polled: a waiting thread would block exit
            await asyncio.sleep(0.05)
        ended = time.monotonic()
        playback = self.player.playback
        while time.monotonic() - ended < INPUT_END_TIMEOUT_S:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            idle = (not self._busy() and not playback.is_playing(0.3)
                    and self._conn.connected and not self.state.held_turn)
            if idle and now - self._last_server_msg > QUIET_AFTER_INPUT_S \
                    and now - ended > QUIET_AFTER_INPUT_S:
                return
        self.bus.emit(ev.ErrorEvent(message="input ended but no reply finished within "
                                    f"{INPUT_END_TIMEOUT_S:.0f} s"))

    async def run(self) -> int:
        """Run until Ctrl-C, the end of a finite input, or a fatal error; return the exit code."""
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            self._loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        exit_code, reason = 0, "user"
        try:
            await self._run_session()
            if self.source.finished.is_set():
                reason = "input_finished"
        except UserError as exc:
            exit_code, reason = exc.exit_code, "error"
            self.bus.emit(ev.ErrorEvent(message=self._redact(str(exc)), fatal=True))
        finally:
            for event in self.state.finish():  # nothing said is lost on Ctrl-C or an error
                self.bus.emit(event)
            self.source.stop()
            try:
                self.sink.stop()
            except UserError as exc:
                exit_code, reason = exc.exit_code, "error"
                self.bus.emit(ev.ErrorEvent(message=str(exc), fatal=True))
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self._loop.remove_signal_handler(signal.SIGINT)
        speaker_xruns, mic_xruns = self._xruns()
        self.bus.emit(ev.SessionEnded(reason=reason, exit_code=exit_code,
                                      speaker_xruns=speaker_xruns, mic_xruns=mic_xruns))
        return exit_code

    def _on_sigint(self) -> None:
        if self._stop.is_set():  # second Ctrl-C: the user really wants out
            raise KeyboardInterrupt
        self._stop.set()

    def _redact(self, text: str) -> str:
        creds = self.settings.credentials
        return redact(text, [creds.api_key, *(v for _, v in creds.headers)])

    # -- hooks a variant of the session (voicecli.translate) replaces ------------------
    def _make_mic(self) -> MicPipeline:
        return build_mic(
            self.player.playback, self.sink, self.settings.echo_mode, self.settings.barge_in,
            on_chunk=lambda pcm: self._threadsafe(self._on_mic_chunk, pcm),
            on_barge_in=lambda turn: self._threadsafe(self._on_local_barge_in, turn),
        )

    def _live_config(self, live_client: Any) -> Any:
        return live_client.make_config(self.settings, self.tools)

    def _on_connected(self, session: Any, mic: MicPipeline) -> None:
        """The session is up: announce it and start the audio ends."""
        self.bus.emit(ev.SessionStarted(model=self.settings.model, voice=self.settings.voice,
                                        session_id=getattr(session, "session_id", None)))
        self.sink.start(self.player.playback)
        self.source.start(mic)
        self.bus.emit(ev.Status(state="listening", detail=self._listening_hint()))

    async def _run_session(self) -> None:
        from voicecli.live import client as live_client
        from voicecli.live.connection import LiveConnection
        from voicecli.live.errors import describe_failure

        mic = self._make_mic()
        self.mic = mic
        self._apply_mute()  # push-to-talk: nothing goes out until the key is pressed
        self.bus.emit(ev.Status(state="connecting", detail=self.endpoint))
        policy = self.settings.reconnect
        client = live_client.make_client(self.settings.credentials, **policy.ws_args())
        config = self._live_config(live_client)
        conn = LiveConnection(client, self.settings.model, config, policy, emit=self.dispatch,
                              busy=self._busy, endpoint=self.endpoint)
        try:
            async with conn:
                self._conn = conn
                for kind, payload in self._early:
                    conn.send(kind, payload)
                self._on_connected(conn, mic)
                await self._until_done()
        except UserError:
            raise
        except Exception as exc:  # the SDK raises many kinds; all become one line
            raise describe_failure(exc, self.endpoint) from None
        finally:
            for task in self._tool_tasks.values():
                task.cancel()
            if self._hold_task is not None:
                self._hold_task.cancel()

    def _listening_hint(self) -> str:
        if self.settings.push_to_talk:
            return "press Space to talk; Ctrl-C to quit"
        if self.settings.text_only:
            return "type a line; Ctrl-C to quit"
        return "speak now; Ctrl-C to quit"

    def _xruns(self) -> tuple[int, int]:
        """(speaker, microphone) dropouts so far; files have none."""
        return getattr(self.sink, "xruns", 0), getattr(self.source, "xruns", 0)

    async def _watch_dropouts(self) -> None:
        watch = DropoutWatch()
        while True:
            await asyncio.sleep(DROPOUT_POLL_S)
            event = watch.check(*self._xruns(), time.monotonic())
            if event is not None:
                self.bus.emit(event)

    async def _until_done(self) -> None:
        tasks = [asyncio.create_task(self._receive(), name="receive"),
                 asyncio.create_task(self._stop.wait(), name="stop"),
                 asyncio.create_task(self._finish_after_input(), name="finish"),
                 asyncio.create_task(self._watch_dropouts(), name="dropouts")]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
