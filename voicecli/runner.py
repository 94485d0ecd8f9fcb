"""Run one Live session, whatever its kind: the imperative shell that wires the pieces.

    microphone/file ─► MicPipeline ─► LiveConnection ─► Live API
    Live API ─► LiveConnection.messages() ─► mode.state ─► events ─► publish ─► EventBus
                                                          └─ reply audio ─► Player ─► speaker/file

:class:`SessionRunner` owns what every session has: the connection (which reconnects and
resumes on its own), receiving, the audio ends, the player, dropouts, Ctrl-C, the exit code
and the ``session_started``/``session_ended`` bookends. What differs between a conversation
and a translation is a :class:`SessionMode` (``voicecli.app.ChatMode``,
``voicecli.translate.TranslateMode``): its Live configuration, its microphone pipeline, its
state, what "busy" means for renewing the connection, how it reacts to events, and when a
finite input is done.

Events reach the outputs one way, :meth:`SessionRunner.publish`. Reply audio does not: it
goes straight to the player, and the outputs get one ``ReplyStarted`` per reply instead.
Failures retrying cannot fix end the session with an ``error`` event and a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

from voicecli import events as ev
from voicecli.audio.engine import PlaybackReader, Sink, Source
from voicecli.audio.mic import MicPipeline
from voicecli.audio.playback import Player
from voicecli.errors import SessionError, UserError
from voicecli.settings import Settings, redact
from voicecli.ui.outputs import EventBus

DROPOUT_POLL_S = 0.1  # how often the event loop reads the devices' xrun counters


class SessionState(Protocol):
    """The sans-I/O state of a session: server messages in, events out."""

    def on_message(self, msg: Any) -> list[ev.Event]: ...

    def finish(self) -> list[ev.Event]:
        """The session is ending: settle every half-received line."""
        ...


class SessionMode(Protocol):
    """What one kind of session decides; :class:`SessionRunner` does everything else.

    The runner calls :meth:`attach` once, then, on the event loop: :meth:`live_config` and
    :meth:`make_mic` before connecting, :meth:`on_open` once connected, :meth:`on_event`
    for every event before it is published, and :meth:`close` at the end.
    """

    @property
    def state(self) -> SessionState: ...

    def attach(self, runner: SessionRunner) -> None: ...
    def live_config(self, live_client: ModuleType) -> Any: ...
    def make_mic(self) -> MicPipeline: ...

    def reader(self) -> PlaybackReader:
        """What the sink drains: the player's buffer, or a wrapper of it."""
        ...

    def on_open(self) -> list[ev.Event]:
        """The connection is up and the audio ends are about to start: what to announce
        (``session_started`` first)."""
        ...

    def busy(self) -> bool:
        """Not a quiet moment to renew the connection (the model replies, a tool runs)."""
        ...

    def on_mic_chunk(self, pcm: bytes) -> None:
        """A chunk of microphone audio is about to be sent."""
        ...

    def on_event(self, event: ev.Event) -> list[ev.Event]:
        """React to ``event`` before it is published; return events to publish after it."""
        ...

    def on_reconnecting(self) -> list[ev.Event]:
        """The connection is lost and about to be re-established: settle what must be."""
        ...

    def on_fresh_session(self) -> list[ev.Event]:
        """The server could not resume: a new session without the old context began."""
        ...

    def on_audio_started(self) -> None:
        """The microphone and speaker are running: start what may take its time (servers)."""
        ...

    async def until_input_done(self) -> None:
        """Return when a finite input has been dealt with (never, for a microphone)."""
        ...

    def close(self) -> None:
        """The session is over: cancel what the mode started."""
        ...


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


class SessionRunner:
    """One session from connect to goodbye; ``mode`` says what kind."""

    def __init__(self, mode: SessionMode, settings: Settings, bus: EventBus, source: Source,
                 sink: Sink, endpoint: str = "the Live API") -> None:
        self.mode = mode
        self.settings = settings
        self.bus = bus
        self.source = source
        self.sink = sink
        self.endpoint = endpoint
        self.player = Player(sink.rate)
        self.mic: MicPipeline | None = None
        self.conn: Any = None  # the LiveConnection, once open
        self.loop: asyncio.AbstractEventLoop | None = None
        self.last_server_msg = time.monotonic()
        self._stop = asyncio.Event()
        self._reply_turns: set[int] = set()  # turns whose first audio was announced
        self._user_done: float | None = None  # when the user last finished saying something
        self._last_reply_at = float("-inf")  # when the latest reply's first audio came
        mode.attach(self)

    # -- services for the mode -------------------------------------------------------------
    def publish(self, event: ev.Event) -> None:
        """The one way an event reaches the outputs."""
        self.bus.emit(event)

    def threadsafe(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the event loop (called from audio threads)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop shutting down
            loop.call_soon_threadsafe(fn, *args)

    def send_mic_chunk(self, pcm: bytes) -> None:
        """On the loop: a chunk of microphone audio for the server."""
        self.mode.on_mic_chunk(pcm)
        if self.conn is not None:
            self.conn.send_audio(pcm)

    def user_finished(self) -> None:
        """The user just finished a typed line or a push-to-talk turn (time to first audio
        counts from here, or from the last loud microphone chunk, whichever is later)."""
        self._user_done = time.monotonic()

    def request_stop(self) -> None:
        """End the session as Ctrl-C does."""
        self._stop.set()

    def level_dbfs(self) -> float | None:
        """The microphone's current level (None before it is open)."""
        return self.mic.level_dbfs if self.mic is not None else None

    # -- events from the server and the connection ----------------------------------------
    def dispatch(self, event: ev.Event) -> None:
        """Act on an event from the server (play, stop playing), let the mode act on it,
        then publish it."""
        playback = self.player.playback
        match event:
            case ev.AssistantAudio(pcm=pcm, rate=rate, turn=turn):
                self.player.play(pcm, rate, turn)
                if turn not in self._reply_turns:
                    self._reply_turns.add(turn)
                    self.publish(ev.ReplyStarted(turn=turn, latency_ms=self._reply_latency()))
                return
            case ev.TurnComplete(turn=turn) if turn is not None:
                playback.end_turn(turn)
            case ev.Interrupted(source="server", turn=turn):
                if turn is not None:
                    playback.drop_turn(turn)
                playback.flush()
        after = self.mode.on_event(event)
        self.publish(event)
        for extra in after:
            self.publish(extra)

    def _on_connection_news(self, event: ev.Event) -> None:
        """Reconnect news from the LiveConnection."""
        match event:
            case ev.Reconnecting():
                for line in self.mode.on_reconnecting():
                    self.publish(line)
                self.publish(event)
            case ev.Resumed(fresh=True):
                self.publish(event)  # before what the fresh session makes the mode forget
                for lost in self.mode.on_fresh_session():
                    self.dispatch(lost)
            case _:
                self.dispatch(event)

    def _reply_latency(self) -> float | None:
        """Milliseconds from the end of the user's speech (the last loud microphone chunk
        sent, a typed line, the end of push-to-talk) to now, the reply's first audio."""
        now, since = time.monotonic(), self._last_reply_at
        self._last_reply_at = now
        ends = [t for t in (self._user_done, getattr(self.conn, "last_loud", None))
                if t is not None and t > since]
        if not ends:  # nothing said since the last reply: not an answer to the user
            return None
        return round(max(0.0, now - max(ends)) * 1000, 1)

    # -- the session ----------------------------------------------------------------------
    async def run(self) -> int:
        """Run until Ctrl-C, the end of a finite input, or a fatal error; return the exit code."""
        self.loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            self.loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        exit_code, reason = 0, "user"
        try:
            await self._run_session()
            if self.source.finished.is_set():
                reason = "input_finished"
        except UserError as exc:
            exit_code, reason = exc.exit_code, "error"
            self.publish(ev.ErrorEvent(message=self._redact(str(exc)), fatal=True))
        finally:
            for event in self.mode.state.finish():  # nothing said is lost on Ctrl-C or an error
                self.publish(event)
            self.source.stop()
            try:
                self.sink.stop()
            except UserError as exc:
                exit_code, reason = exc.exit_code, "error"
                self.publish(ev.ErrorEvent(message=str(exc), fatal=True))
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self.loop.remove_signal_handler(signal.SIGINT)
        speaker_xruns, mic_xruns = self._xruns()
        self.publish(ev.SessionEnded(reason=reason, exit_code=exit_code,
                                     speaker_xruns=speaker_xruns, mic_xruns=mic_xruns))
        return exit_code

    def _on_sigint(self) -> None:
        if self._stop.is_set():  # second Ctrl-C: the user really wants out
            raise KeyboardInterrupt
        self._stop.set()

    def _redact(self, text: str) -> str:
        creds = self.settings.credentials
        return redact(text, [creds.api_key, *(v for _, v in creds.headers)])

    async def _run_session(self) -> None:
        from voicecli.live import client as live_client
        from voicecli.live.connection import LiveConnection
        from voicecli.live.errors import describe_failure

        self.mic = self.mode.make_mic()
        self.publish(ev.Status(state="connecting", detail=self.endpoint))
        policy = self.settings.reconnect
        dialer = live_client.make_dialer(self.settings.credentials, **policy.ws_args())
        conn = LiveConnection(dialer, self.settings.model, self.mode.live_config(live_client),
                              policy, emit=self._on_connection_news, busy=self.mode.busy,
                              endpoint=self.endpoint)
        try:
            async with conn:
                self.conn = conn
                for event in self.mode.on_open():
                    self.publish(event)
                self.sink.start(self.mode.reader())
                self.source.start(self.mic)
                self.mode.on_audio_started()
                await self._until_done()
        except UserError:
            raise
        except Exception as exc:  # the SDK raises many kinds; all become one line
            raise describe_failure(exc, self.endpoint) from None
        finally:
            self.mode.close()

    async def _receive(self) -> None:
        async for msg in self.conn.messages():  # one stream across reconnects
            self.last_server_msg = time.monotonic()
            for event in self.mode.state.on_message(msg):
                self.dispatch(event)
        raise SessionError("the server closed the connection")

    def _xruns(self) -> tuple[int, int]:
        """(speaker, microphone) dropouts so far; files have none."""
        return self.sink.xruns, self.source.xruns

    async def _watch_dropouts(self) -> None:
        watch = DropoutWatch()
        while True:
            await asyncio.sleep(DROPOUT_POLL_S)
            event = watch.check(*self._xruns(), time.monotonic())
            if event is not None:
                self.publish(event)

    async def _until_done(self) -> None:
        tasks = [asyncio.create_task(self._receive(), name="receive"),
                 asyncio.create_task(self._stop.wait(), name="stop"),
                 asyncio.create_task(self.mode.until_input_done(), name="finish"),
                 asyncio.create_task(self._watch_dropouts(), name="dropouts")]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    raise error
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
