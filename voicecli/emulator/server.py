"""The thin asyncio/websockets shell around :class:`~voicecli.emulator.session.Session`."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from voicecli.emulator import wire
from voicecli.emulator.config import EmulatorConfig
from voicecli.emulator.record import ConnectionRecord
from voicecli.emulator.resumption import HandleStore
from voicecli.emulator.scenario import PARROT, Scenario, load_scenario
from voicecli.emulator.session import Session
from voicecli.emulator.speech import Synthesizer
from voicecli.emulator.timeline import Close, Drop, SendRaw, Stall
from voicecli.emulator.tls import CertPaths, ensure_certificates, server_ssl_context

MAX_MESSAGE_BYTES = 16 * 2**20


class Emulator:
    """A local Live API server the real google-genai SDK can connect to over TLS."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.scenario: Scenario = load_scenario(self.config.scenario)
        self.synth = Synthesizer(self.config.tts)
        self.handles = HandleStore()
        self.connections: list[ConnectionRecord] = []
        self._connection_numbers = itertools.count(1)
        self._certs: CertPaths | None = None
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._prewarm_stop = threading.Event()
        self.port: int | None = None

    @property
    def api_key(self) -> str:
        """The key clients must present."""
        return self.config.api_key

    @property
    def token(self) -> str:
        """The ephemeral token clients may present on the constrained endpoint."""
        return self.config.token

    @property
    def ca_cert_path(self) -> str:
        """PEM file of the CA clients must trust (see ``client_ssl_context``)."""
        if self._certs is None:
            self._certs = ensure_certificates(self.config.cert_dir)
        return str(self._certs.ca_cert)

    @property
    def base_url(self) -> str:
        """``https://HOST:PORT`` for ``HttpOptions(base_url=...)`` (valid once started)."""
        if self.port is None:
            raise RuntimeError("the emulator is not started")
        host = self.config.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}"

    async def start(self) -> None:
        """Start listening (returns once the port is bound)."""
        self.ca_cert_path  # noqa: B018 - creates the certificates
        assert self._certs is not None
        if not self.scenario.parrot and self.synth.use_espeak:
            self._prewarm()
        self._server = await serve(
            self._handle, self.config.host, self.config.port,
            ssl=server_ssl_context(self._certs),
            process_request=self._process_request,
            max_size=MAX_MESSAGE_BYTES,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    def _prewarm(self) -> None:
        """Synthesise the scenario's fixed replies in the background (default voice)."""
        texts = {t.reply for t in self.scenario.turns if "{" not in t.reply}
        texts |= {t.no_tool_reply for t in self.scenario.turns if t.tool_call}

        def run() -> None:
            for text in texts:
                if self._prewarm_stop.is_set():
                    return
                self.synth.speak(text)

        # Not a daemon: a daemon thread still inside soxr (C++) when the interpreter exits
        # aborts the process ("terminate called without an active exception", exit 134; seen
        # once in 40 runs of a command that failed at once). stop() ends it after one text.
        # daemon=False explicitly: a thread started from the emulator's (daemon) thread
        # would otherwise inherit daemon=True.
        threading.Thread(target=run, name="emulator-tts-prewarm", daemon=False).start()

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        self._prewarm_stop.set()
        self.synth.abort()  # an espeak-ng in flight would hold up the exit
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ websockets glue

    @staticmethod
    def _process_request(connection: ServerConnection, request: Request) -> Response | None:
        if wire.parse_route(request.path) is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._run_session(ws)
        finally:
            self._tasks.discard(task)

    async def _run_session(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        route = wire.parse_route(request.path)
        assert route is not None
        headers = dict(request.headers.raw_items())
        record = ConnectionRecord(path=wire.redact_path(request.path),
                                  headers=wire.redact_headers(headers))
        self.connections.append(record)
        session = Session(
            self.config, self.scenario, self.synth, self.handles, route,
            authorized=wire.is_authorized(route, headers, request.path, self.config.api_key,
                                          self.config.token),
            record=record, connection=next(self._connection_numbers),
        )
        recv: asyncio.Task[Any] | None = None
        try:
            while not session.closed:
                if recv is None:
                    recv = asyncio.ensure_future(ws.recv())
                deadline = session.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                await asyncio.wait({recv}, timeout=timeout)
                if recv.done():
                    try:
                        frame = recv.result()
                    except ConnectionClosed as e:
                        _lost(session, e)
                        return
                    recv = None
                    session.receive(frame, time.monotonic())
                for out in session.poll(time.monotonic()):
                    if isinstance(out, Close):
                        await ws.close(out.code, out.reason)
                        return
                    if isinstance(out, Drop):
                        ws.transport.abort()
                        return
                    if isinstance(out, Stall):
                        await _stall(ws, out.seconds)
                    elif isinstance(out, SendRaw):
                        await ws.send(out.text)
                    else:
                        await ws.send(wire_json(out.message))
        except ConnectionClosed as e:
            _lost(session, e)
        finally:
            if recv is not None and not recv.done():
                recv.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await recv
            elif recv is not None and not recv.cancelled():
                recv.exception()  # retrieved: the close it reports is expected


def _lost(session: Session, closed: ConnectionClosed) -> None:
    """Tell ``session`` the client went away, with the close it sent (if any)."""
    rcvd = closed.rcvd
    session.connection_lost(time.monotonic(), rcvd.code if rcvd else None,
                            rcvd.reason if rcvd else "")


async def _stall(ws: ServerConnection, seconds: float) -> None:
    """Go silent: read nothing (so pings go unanswered) and send nothing for ``seconds``."""
    ws.transport.pause_reading()
    try:
        await asyncio.sleep(seconds)
    finally:
        with contextlib.suppress(Exception):
            ws.transport.resume_reading()


def wire_json(message: dict[str, Any]) -> str:
    """Serialise a server message compactly."""
    return json.dumps(message, separators=(",", ":"))


class EmulatorThread:
    """An :class:`Emulator` running its own event loop in a daemon thread.

    ``start()`` (or entering the ``with`` block) returns once the server is listening.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.emulator = Emulator(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def config(self) -> EmulatorConfig:
        """The emulator's configuration."""
        return self.emulator.config

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return self.emulator.base_url

    @property
    def ca_cert_path(self) -> str:
        """PEM file of the CA to trust."""
        return self.emulator.ca_cert_path

    @property
    def api_key(self) -> str:
        """The key clients must present."""
        return self.emulator.api_key

    @property
    def token(self) -> str:
        """The ephemeral token for the constrained endpoint."""
        return self.emulator.token

    @property
    def connections(self) -> list[ConnectionRecord]:
        """One record per connection, in order."""
        return self.emulator.connections

    @property
    def port(self) -> int | None:
        """The bound port (None before start)."""
        return self.emulator.port

    def start(self) -> EmulatorThread:
        """Start the thread and wait until the emulator listens (re-raising start errors)."""
        self._thread = threading.Thread(target=self._main, name="voicecli-emulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            try:
                await self.emulator.start()
            except BaseException as e:  # reported to start()
                self._error = e
                self._ready.set()
                return
            self._ready.set()
            await self._stopped.wait()
            await self.emulator.stop()

        asyncio.run(run())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the emulator and join the thread."""
        if self._loop is not None and self._stopped is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout)

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _banner(emu: Emulator) -> None:
    scenario = PARROT if emu.scenario.parrot else emu.scenario.name
    print(
        f"Live API emulator listening on {emu.base_url} (scenario: {scenario})\n"
        f"  API key:  {emu.api_key}  (ephemeral token: {emu.token})\n"
        f"  CA cert:  {emu.ca_cert_path}\n"
        "Press Ctrl-C to stop.",
        file=sys.stderr, flush=True,
    )


def serve_forever(config: EmulatorConfig | None = None,
                  on_ready: Callable[[Emulator], None] | None = _banner) -> None:
    """Run an emulator until Ctrl-C (or SIGTERM); ``on_ready`` runs once it listens."""

    async def main() -> None:
        emu = Emulator(config)
        await emu.start()
        try:
            if on_ready is not None:
                on_ready(emu)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            # SIGINT too: a process started with SIGINT ignored (a parent that ignores it, a
            # job run in the background) would otherwise never see its Ctrl-C.
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await emu.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())

