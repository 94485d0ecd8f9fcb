"""MCP servers, reached with the official ``mcp`` SDK: the shell around the pure tool core.

:class:`McpHub` runs every configured server on an event loop of its own, in one background
thread, so MCP traffic (starting a slow ``uvx`` server, a chatty HTTP stream, a hung call)
never runs on the audio path or blocks the session's event loop. Each server lives in one
owner task, which enters the SDK's transport and ``ClientSession`` contexts and leaves them
(the SDK's anyio task groups must be left in the task that entered them); calls come from
other tasks. The session's loop awaits calls through :meth:`McpHub.call`; cancelling that
await cancels the call on the server (the SDK sends ``notifications/cancelled``).

Servers start in parallel; each reports its status once it is ready or has failed
(``on_status``, called on the hub's thread). A stdio child gets only the environment its
configuration names plus the usual basics (:data:`BASIC_ENV`), and its stderr goes to a log
file, never to the terminal. A crashed stdio server is restarted once, on its next call.

``mcp`` is imported here only (≈1 s): nothing imports this module unless servers are
configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from voicecli.tools import results
from voicecli.tools.mcp_config import McpServerConfig

# What a stdio server gets from our environment besides what its config names: the SDK's
# own basics, the locale and time zone, and what network tools need (CA bundles, proxies;
# uvx and npx fail without them behind a TLS-inspecting proxy). Keys and tokens never.
BASIC_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL",
             "LC_CTYPE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
             "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
             "https_proxy", "no_proxy", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
             "UV_CACHE_DIR", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "PIP_INDEX_URL")
CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class McpTool:
    """A tool as its server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool | None = None
    destructive: bool | None = None


@dataclass
class ServerStatus:
    """Where one server is: ``starting``, ``ready``, ``failed`` or ``stopped``."""

    name: str
    state: str = "starting"
    tools: list[McpTool] = field(default_factory=list)
    error: str | None = None
    started_s: float | None = None  # how long it took to become ready
    log: str | None = None  # its stderr log (stdio)


def child_env(config: McpServerConfig, env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a stdio server: the basics, then what its config names."""
    out = {k: env[k] for k in BASIC_ENV if k in env}
    out.update(dict(config.env))
    return out


def describe_error(exc: BaseException) -> str:
    """One line for whatever the SDK raised (it nests failures in exception groups)."""
    inner = getattr(exc, "exceptions", None)  # an exception group (3.10: the backport's)
    while inner:
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    if isinstance(exc, FileNotFoundError):
        return f"cannot start it: no such program or folder {exc.filename!r}"
    if isinstance(exc, PermissionError):
        return f"cannot start it: permission denied ({exc.filename})"
    if isinstance(exc, TimeoutError):
        return "it did not answer in time"
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if message == "Connection closed":
        return "it exited (see its log)"
    return f"{type(exc).__name__}: {message}" if not hasattr(exc, "message") else message


class _Server:
    """One server's connection, owned by one task on the hub's loop."""

    def __init__(self, config: McpServerConfig, env: Mapping[str, str], log_dir: Path,
                 on_status: Callable[[ServerStatus], None]) -> None:
        self.config = config
        self.env = env
        self.log_dir = log_dir
        self.on_status = on_status
        self.status = ServerStatus(config.name)
        self.session: Any = None
        self.restarts_left = 1
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._log: TextIO | None = None
        self._timed_out = False

    def start(self) -> None:
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._owner = asyncio.create_task(self._own(), name=f"mcp-{self.config.name}")

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def stop(self) -> None:
        self._stop.set()
        if self._owner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._owner), CLOSE_TIMEOUT_S)
            if not self._owner.done():
                self._owner.cancel()

    def _transport(self) -> Any:
        cfg = self.config
        if cfg.transport == "stdio":
            from mcp import StdioServerParameters, stdio_client

            self.log_dir.mkdir(parents=True, exist_ok=True)
            path = self.log_dir / f"{cfg.name}.log"
            self._log = open(path, "a", encoding="utf-8")  # noqa: SIM115 (the child's lifetime)
            self._log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting "
                            f"{cfg.describe()}\n")
            self._log.flush()
            self.status.log = str(path)
            params = StdioServerParameters(command=cfg.command or "", args=list(cfg.args),
                                           env=child_env(cfg, self.env), cwd=cfg.cwd)
            return stdio_client(params, errlog=self._log)
        headers = dict(cfg.headers)
        if cfg.transport == "sse":
            from mcp.client.sse import sse_client

            return sse_client(cfg.url or "", headers=headers, timeout=cfg.connect_timeout_s)
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        client = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(
            cfg.connect_timeout_s, read=max(cfg.call_timeout_s, 300.0)))
        return _with_client(client, streamable_http_client(cfg.url or "", http_client=client))

    def _give_up(self) -> None:
        """The connect timeout passed before the server was ready: stop trying."""
        if not self._ready.is_set() and self._owner is not None:
            self._timed_out = True
            self.status = ServerStatus(self.config.name, "failed", log=self.status.log,
                                       error=f"it did not start within "
                                             f"{self.config.connect_timeout_s:g} s")
            self._ready.set()
            self.on_status(self.status)  # now: stopping the child may take seconds more
            self._owner.cancel()  # unwinds the SDK's contexts in their own task

    async def _own(self) -> None:
        from mcp import ClientSession
        from mcp.types import Implementation

        from voicecli import __version__

        cfg = self.config
        started = time.monotonic()
        self.status = ServerStatus(cfg.name, log=self.status.log)
        self._timed_out = False
        watchdog = asyncio.get_running_loop().call_later(cfg.connect_timeout_s, self._give_up)
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(ClientSession(
                    read, write, client_info=Implementation(name="voicecli",
                                                            version=__version__)))
                await session.initialize()
                tools = await _list_all(session)
                watchdog.cancel()
                self.session = session
                self.status = ServerStatus(cfg.name, "ready", tools=tools, log=self.status.log,
                                           started_s=round(time.monotonic() - started, 3))
                self._ready.set()
                self.on_status(self.status)
                await self._stop.wait()
        except asyncio.CancelledError:
            if not self._timed_out:
                raise
        except BaseException as exc:  # the SDK's exception groups, OSError
            if self.session is None and not self._timed_out:  # failed to start
                self.status = ServerStatus(cfg.name, "failed", error=describe_error(exc),
                                           log=self.status.log)
                self.on_status(self.status)
            else:
                self.status = ServerStatus(cfg.name, "stopped", error=describe_error(exc),
                                           log=self.status.log)
        finally:
            watchdog.cancel()
            self.session = None
            self._ready.set()
            if self._log is not None:
                with contextlib.suppress(Exception):
                    self._log.close()
                self._log = None

    async def call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        from mcp import MCPError

        cfg = self.config
        if self.session is None and self.status.state in ("stopped", "crashed") \
                and self.restarts_left > 0:
            self.restarts_left -= 1
            self.start()
            await self.wait_ready()
        session = self.session
        if session is None:
            why = self.status.error or "it is not running"
            return results.error(f"the MCP server {cfg.name!r} is not available: {why}")
        try:
            result = await session.call_tool(tool, args, read_timeout_seconds=cfg.call_timeout_s)
        except MCPError as exc:
            if exc.error.code == -32001:
                return results.error(f"{tool} did not answer within {cfg.call_timeout_s:g} s "
                                     "(it may still finish on its own)")
            if exc.error.code == -32000:  # the connection closed: it crashed
                await self._crashed()
                return results.error(f"the MCP server {cfg.name!r} stopped during the call "
                                     "(the call may or may not have taken effect)")
            return results.error(f"{exc.error.message}")
        except RuntimeError as exc:  # its structured output does not match its own schema
            return results.error(f"{tool}: {exc}")
        return results.from_mcp(result)

    async def _crashed(self) -> None:
        self.status = ServerStatus(self.config.name, "crashed", error="it exited during a call",
                                   log=self.status.log)
        self.session = None
        await self.stop()
        self.status.state = "crashed"


@contextlib.asynccontextmanager
async def _with_client(client: Any, transport: Any) -> Any:
    """The HTTP transport, closing the httpx client we gave it afterwards."""
    async with client, transport as streams:
        yield streams


async def _list_all(session: Any) -> list[McpTool]:
    """Every tool, across pages."""
    from mcp import types

    tools: list[McpTool] = []
    cursor = None
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        for t in page.tools:
            ann = t.annotations
            tools.append(McpTool(name=t.name, description=t.description or t.title or "",
                                 input_schema=dict(t.input_schema or {"type": "object"}),
                                 read_only=ann.read_only_hint if ann else None,
                                 destructive=ann.destructive_hint if ann else None))
        cursor = page.next_cursor
        if not cursor:
            return tools


class McpHub:
    """Every configured server, on a private event loop in a background thread."""

    def __init__(self, configs: list[McpServerConfig], env: Mapping[str, str],
                 log_dir: Path, on_status: Callable[[ServerStatus], None]) -> None:
        self.configs = configs
        self.env = dict(env)
        self.log_dir = log_dir
        self.on_status = on_status
        self.loop = asyncio.new_event_loop()
        self._servers: dict[str, _Server] = {}
        self._thread = threading.Thread(target=self._run, name="mcp-hub", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> McpHub:
        """Start the thread and every server (returns at once)."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_all(), self.loop)
        return self

    async def _start_all(self) -> None:
        for cfg in self.configs:
            server = _Server(cfg, self.env, self.log_dir, self.on_status)
            self._servers[cfg.name] = server
            server.start()
        # The SDK validates a result against the tool's output schema with jsonschema,
        # which it imports on the first call (~100 ms): pay that now, while servers start.
        import jsonschema  # noqa: F401

    def status(self) -> dict[str, ServerStatus]:
        return {name: s.status for name, s in self._servers.items()}

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        """Call ``tool`` on ``server`` from any event loop; cancelling this cancels the call."""
        future: Future[dict[str, Any]] = asyncio.run_coroutine_threadsafe(
            self._call(server, tool, args), self.loop)
        return await asyncio.wrap_future(future)

    async def _call(self, server: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        target = self._servers.get(server)
        if target is None:
            return results.error(f"no MCP server {server!r}")
        return await target.call(tool, args)

    def wait_settled(self, timeout: float) -> dict[str, ServerStatus]:
        """Block until every server is ready or failed (``mcp list``), or ``timeout``."""

        async def settle() -> None:
            await asyncio.gather(*(s.wait_ready() for s in self._servers.values()))

        deadline = time.monotonic() + timeout
        while len(self._servers) < len(self.configs) and time.monotonic() < deadline:
            time.sleep(0.01)
        future = asyncio.run_coroutine_threadsafe(settle(), self.loop)
        with contextlib.suppress(Exception):
            future.result(max(0.0, deadline - time.monotonic()))
        return self.status()

    def close(self) -> None:
        """Stop every server (at most a few seconds) and the thread."""
        if not self._thread.is_alive():
            return

        async def stop_all() -> None:
            await asyncio.gather(*(s.stop() for s in self._servers.values()),
                                 return_exceptions=True)

        future = asyncio.run_coroutine_threadsafe(stop_all(), self.loop)
        with contextlib.suppress(Exception):
            future.result(CLOSE_TIMEOUT_S + 1)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(2)


def default_log_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where servers' stderr logs go: ``VOICECLI_STATE_DIR`` or the platform's state dir."""
    env = os.environ if env is None else env
    if env.get("VOICECLI_STATE_DIR"):
        return Path(env["VOICECLI_STATE_DIR"]) / "mcp"
    import platformdirs

    return Path(platformdirs.user_state_dir("voicecli", appauthor=False)) / "mcp"
