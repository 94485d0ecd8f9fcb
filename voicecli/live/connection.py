"""One Live session over as many WebSocket connections as it takes (the SDK shell).

:class:`LiveConnection` connects with session resumption on, keeps the latest handle,
and when a connection ends (a drop, a 1011, a keepalive timeout, an unreadable frame, or
a ``goAway`` acted on at a quiet moment) it reconnects with the handle, backing off with
jitter, and replays what the server had not acknowledged. ChatRunner sees one continuous
stream of server messages from :meth:`messages` plus ``Reconnecting``/``Resumed``/``Notice``
events through ``emit``. Every decision comes from :mod:`voicecli.live.reconnect`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from google.genai import types

from voicecli import events as ev
from voicecli.errors import SessionError
from voicecli.live.client import Dialer, activity, audio_blob, jpeg_blob
from voicecli.live.errors import describe_failure
from voicecli.live.reconnect import (
    Failure,
    Kind,
    Outbox,
    Outgoing,
    ReconnectPolicy,
    classify,
    go_away_due,
    is_loud,
    parse_duration,
)

CHUNK_S = 0.04  # one microphone message (see audio.engine.CHUNK_FRAMES)
CLOSE_TIMEOUT_S = 1.0  # closing a dead connection must not hold up the new one
RENEW_WITHIN_S = 60.0  # a renewal for a new config waits at most this long for quiet


class LiveConnection:
    """A resilient Live session. Use as ``async with``; read :meth:`messages`."""

    def __init__(self, dial: Dialer, model: str, config: types.LiveConnectConfig,
                 policy: ReconnectPolicy, *, emit: Callable[[ev.Event], None],
                 busy: Callable[[], bool], endpoint: str) -> None:
        self._dial = dial
        self._model = model
        self._config = config
        self.policy = policy
        self._emit = emit
        self._busy = busy  # the model is replying, the user's line is open, a tool runs
        self.endpoint = endpoint
        self.outbox = Outbox(max_audio=max(1, round(policy.buffer_s / CHUNK_S)))
        self.handle: str | None = None
        self.session_id: str | None = None
        self.reconnects = 0
        self._session: Any = None
        self._cm: Any = None
        self._live = asyncio.Event()  # connected and allowed to send
        self._wake = asyncio.Event()
        self._planned = ""  # why we closed the connection on purpose ("go_away", ...)
        self._closing = False
        self.last_loud = float("-inf")  # when a loud chunk was last queued (monotonic)
        self._tasks: list[asyncio.Task[None]] = []
        self._go_away: asyncio.Task[None] | None = None
        self._connected_at = 0.0
        self._streak = 0  # reconnect attempts used by connections that died young

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> LiveConnection:
        try:
            await self._connect(None)
        except Exception as exc:  # the first connection: every failure is one clear line
            raise describe_failure(exc, self.endpoint) from None
        self.session_id = getattr(self._session, "session_id", None)
        self._live.set()
        self._tasks.append(asyncio.create_task(self._writer(), name="live-writer"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        for task in [*self._tasks, self._go_away]:
            if task is not None:
                task.cancel()
        await self._close_current()

    @property
    def connected(self) -> bool:
        return self._live.is_set()

    async def _connect(self, handle: str | None) -> None:
        config = self._config
        base = config.session_resumption
        if base is not None:  # a config without resumption (translation) reconnects fresh
            resumption = types.SessionResumptionConfig(handle=handle,
                                                       transparent=base.transparent)
            config = config.model_copy(update={"session_resumption": resumption})
        cm = self._dial(self._model, config)
        session = await cm.__aenter__()
        self._cm, self._session = cm, session
        self._connected_at = time.monotonic()

    async def _close_current(self) -> None:
        self._live.clear()
        cm, self._cm = self._cm, None
        if cm is not None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(cm.__aexit__(None, None, None), CLOSE_TIMEOUT_S)

    # -- sending: everything goes through the outbox and one writer ----------------------
    def send_audio(self, pcm: bytes) -> None:
        """Queue 16 kHz PCM (never blocks; buffered while reconnecting)."""
        if is_loud(pcm):
            self.last_loud = time.monotonic()
        self.send("audio", pcm)

    def send_tool_response(self, responses: list[Any]) -> None:
        """Queue function responses (replayed after a resume if the server missed them)."""
        self.send("tool_response", responses)

    def send(self, kind: Kind, payload: Any) -> None:
        """Queue any client message: ``text`` (a typed line), ``activity`` ("start" or
        "end"), ``audio``, ``tool_response`` or ``tools`` (a context update declaring
        the session's tools anew)."""
        self.outbox.add(kind, payload)
        self._wake.set()

    async def _send(self, session: Any, entry: Outgoing) -> None:
        if entry.kind == "audio":
            await session.send_realtime_input(audio=audio_blob(entry.payload))
        elif entry.kind == "tool_response":
            await session.send_tool_response(function_responses=entry.payload)
        elif entry.kind == "text":
            await session.send_realtime_input(text=entry.payload)
        elif entry.kind == "tools":
            await session.send_context_update(tools=entry.payload)
        elif entry.kind == "video":
            frame = entry.payload
            await session.send_realtime_input(video=jpeg_blob(frame.jpeg))
            self._emit(ev.VideoFrameSent(
                index=frame.index, bytes=len(frame.jpeg), width=frame.width,
                height=frame.height,
                capture_to_send_ms=round((time.monotonic() - frame.captured_at) * 1000, 1)))
        else:
            await session.send_realtime_input(**activity(entry.payload == "start"))

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._live.is_set():
                entry = self.outbox.next_unsent()
                if entry is None:
                    break
                session = self._session
                try:
                    await self._send(session, entry)
                except Exception:  # the connection broke: the reader reconnects
                    if session is self._session:
                        self._live.clear()
                        await self._close_current()
                    break
                if session is self._session:  # not a late send on a replaced connection
                    self.outbox.mark_sent(entry)
                    if entry.kind == "video":
                        self.outbox.forget(entry)

    def update_config(self, config: types.LiveConnectConfig, renew: bool = False) -> None:
        """Use ``config`` from the next connection on (new tools, say). ``renew``: renew
        the connection at the next quiet moment so that it takes effect (within a minute:
        for a model that takes no new tools mid-session)."""
        self._config = config
        if renew and self._go_away is None:
            deadline = time.monotonic() + RENEW_WITHIN_S
            self._go_away = asyncio.create_task(self._act_on_go_away(
                deadline, "renewing the connection to declare new tools"))

    # -- receiving ------------------------------------------------------------------------
    async def messages(self) -> AsyncIterator[Any]:
        """Every server message, across reconnects, until closed or a fatal failure."""
        while not self._closing:
            session = self._session
            try:
                while True:
                    got = False
                    async for msg in session.receive():  # stops after each turn_complete
                        got = True
                        self._observe(msg)
                        yield msg
                    if not got:
                        raise ConnectionError("the server ended the stream")
            except Exception as exc:
                if self._closing:
                    return
                failure = Failure("retry", self._planned) if self._planned else classify(exc)
                if failure.kind != "retry":
                    raise describe_failure(exc, self.endpoint) from None
                await self._reconnect(failure.reason)

    def _observe(self, msg: Any) -> None:
        update = getattr(msg, "session_resumption_update", None)
        if update is not None and update.new_handle and update.resumable is not False:
            self.handle = update.new_handle
            index = update.last_consumed_client_message_index
            self.outbox.acknowledge(int(index) if index is not None else None)
        go_away = getattr(msg, "go_away", None)
        if go_away is not None and self._go_away is None:
            deadline = self.policy.go_away_deadline(time.monotonic(),
                                                    parse_duration(go_away.time_left))
            self._go_away = asyncio.create_task(self._act_on_go_away(deadline))

    def _quiet(self) -> bool:
        recent_voice = time.monotonic() - self.last_loud < self.policy.quiet_after_voice_s
        return not recent_voice and not self._busy()

    async def _act_on_go_away(self, deadline: float, reason: str = "go_away") -> None:
        """Renew the connection at the next quiet moment, before the server's deadline."""
        while not go_away_due(time.monotonic(), deadline, self._quiet()):
            await asyncio.sleep(0.05)
        self._planned = reason
        await self._close_current()  # the reader sees the close and reconnects

    async def _reconnect(self, reason: str) -> None:
        started = time.monotonic()
        planned, self._planned = bool(self._planned), ""
        if self._go_away is not None:
            if not planned:
                self._go_away.cancel()
            self._go_away = None
        # Quick deaths in a row count as one streak of attempts (bounded, backing off);
        # a connection that lived a while, or a planned renewal, starts afresh.
        stable = time.monotonic() - self._connected_at >= self.policy.stable_s
        attempt = 0 if planned or stable else self._streak
        handle, fresh, first = self.handle, self.handle is None, True
        while True:
            attempt += 1
            if attempt > self.policy.max_attempts:
                raise SessionError(
                    f"lost the connection to {self.endpoint} and could not reconnect "
                    f"after {self.policy.max_attempts} attempts ({reason})") from None
            delay = 0.0 if planned and first else self.policy.delay(attempt)
            self._emit(ev.Reconnecting(reason=reason, attempt=attempt, delay_s=round(delay, 3)))
            if first:
                await self._close_current()
                first = False
            await asyncio.sleep(delay)
            try:
                await self._connect(handle)
                break
            except Exception as exc:
                failure = classify(exc, resuming=handle is not None, reconnecting=True)
                if failure.kind == "handle_refused":
                    handle, fresh, self.handle = None, True, None
                    attempt -= 1  # starting fresh is not a failed attempt
                    reason = "the server refused to resume; starting a new session"
                    continue
                if failure.kind == "fatal":
                    raise describe_failure(exc, self.endpoint) from None
                reason = failure.reason
        dropped_tools = self.outbox.new_connection(resumed=not fresh)
        replayed = sum(1 for e in self.outbox.entries if e.ever_sent)
        self.reconnects += 1
        self._streak = attempt
        self._emit(ev.Resumed(gap_ms=round((time.monotonic() - started) * 1000, 1),
                              attempts=attempt, fresh=fresh, replayed=replayed))
        if fresh:
            self._emit(ev.Notice(message="the server could not resume the session; started a "
                                 "new one (the model has lost the earlier context)"))
        if dropped_tools:  # answered, but the new session never made those calls
            ids = [fr.id or fr.name for e in dropped_tools for fr in e.payload]
            self._emit(ev.ToolCancelled(ids=ids, lost=True))
        lost_s = self.outbox.take_dropped_seconds(CHUNK_S)
        if lost_s:
            self._emit(ev.Notice(message=f"dropped {lost_s:.1f} s of microphone audio "
                                 f"captured while reconnecting (the buffer holds "
                                 f"{self.policy.buffer_s:g} s)"))
        self._live.set()
        self._wake.set()
