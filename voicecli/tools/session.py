"""The tools of one conversation, at work: the shell between the model's calls and the tools.

:class:`SessionTools` holds the session's :class:`~voicecli.tools.toolbox.Toolbox` (built-in
tools, ``--tools-file`` functions, MCP servers' tools as they become ready) and answers each
call the model makes: it asks first where the tool needs it (:mod:`voicecli.tools.confirm`),
runs the tool off the event loop's critical path (a thread, a coroutine, or the MCP hub's own
loop), and hands back the function response. It never prints; what happens becomes events,
published by the caller (``publish``).

A ``toolCallCancellation`` from the server cancels the call (an MCP call gets MCP's
cancellation notification). A local barge-in does not: a cancelled side effect is a lost
action, so a running tool always finishes and its result is always sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from voicecli import events as ev
from voicecli.tools import results
from voicecli.tools.builtin import Tool, run_tool
from voicecli.tools.confirm import DECLINED, NO_TERMINAL, Ask, ConfirmPolicy
from voicecli.tools.mcp_config import McpServerConfig
from voicecli.tools.toolbox import Toolbox, ToolEntry

# (call id, name, the response, its scheduling) -> send it to the server
Respond = Callable[[str | None, str, dict[str, Any], str | None], None]


def builtin_entries(tools: Mapping[str, Tool]) -> list[tuple[ToolEntry, Any]]:
    """The built-in tools as toolbox entries (their functions run in a thread)."""
    out = []
    for tool in tools.values():
        def runner(args: dict[str, Any], name: str = tool.name) -> Any:
            return asyncio.to_thread(run_tool, dict(tools), name, args)

        out.append((ToolEntry(name=tool.name, description=tool.description,
                              parameters=tool.parameters, origin="built-in"), runner))
    return out


class SessionTools:
    """See the module docstring. ``scheduling``: send ``FunctionResponse.scheduling`` (the
    model calls functions asynchronously)."""

    def __init__(self, toolbox: Toolbox, policy: ConfirmPolicy, *,
                 publish: Callable[[ev.Event], None], respond: Respond,
                 answered: Callable[[str | None], bool], scheduling: bool = True,
                 servers: Iterable[McpServerConfig] = ()) -> None:
        self.toolbox = toolbox
        self.policy = policy
        self.publish = publish
        self.respond = respond
        self.answered = answered  # False if the server cancelled the call meanwhile
        self.scheduling = scheduling
        self.servers = {s.name: s for s in servers}
        self.ask: Ask | None = None  # the live view's prompt, when there is one
        self.hub: Any = None  # the McpHub, once started
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    # -- calls ----------------------------------------------------------------------------
    def call(self, call_id: str | None, name: str, args: dict[str, Any]) -> None:
        """The model called ``name``: answer it in a task of its own."""
        task = asyncio.create_task(self._answer(call_id, name, args), name=f"tool-{name}")
        self._tasks[call_id or name] = task

    def cancel(self, ids: Iterable[str]) -> None:
        """The server cancelled these calls (never a local barge-in)."""
        for call_id in ids:
            task = self._tasks.pop(call_id, None)
            if task is not None:
                task.cancel()

    async def _answer(self, call_id: str | None, name: str, args: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            result = await self._result(call_id, name, args)
            if not self.answered(call_id):
                return  # cancelled while it ran: the server no longer wants it
            self.respond(call_id, name, result,
                         self.toolbox.scheduling_of(name) if self.scheduling else None)
            self.publish(ev.ToolResult(id=call_id, name=name, result=result,
                                       elapsed_ms=round((time.monotonic() - started) * 1000,
                                                        1)))
        finally:
            self._tasks.pop(call_id or name, None)

    async def _result(self, call_id: str | None, name: str,
                      args: dict[str, Any]) -> dict[str, Any]:
        entry = self.toolbox.entries.get(name)
        if entry is None:
            return results.error(f"there is no tool called {name!r}")
        decision = self.policy.decide(entry)
        if decision == "refuse":
            self.publish(ev.ToolConfirmation(id=call_id, name=name, args=args,
                                             state="refused", hints=entry.hints()))
            return results.error(NO_TERMINAL)
        if decision == "ask" and self.ask is not None:
            self.publish(ev.ToolConfirmation(id=call_id, name=name, args=args, state="asked",
                                             hints=entry.hints()))
            answer = await self.ask(entry, args)
            self.publish(ev.ToolConfirmation(id=call_id, name=name, args=args, state=answer,
                                             hints=entry.hints()))
            if not self.policy.answered(entry, answer):
                return results.error(DECLINED)
        elif decision == "ask":  # interactive, but no prompt is attached: do not guess
            self.publish(ev.ToolConfirmation(id=call_id, name=name, args=args,
                                             state="refused", hints=entry.hints()))
            return results.error(NO_TERMINAL)
        return await self.toolbox.runners[name](args)

    # -- MCP servers ----------------------------------------------------------------------
    def start_servers(self, env: Mapping[str, str], log_dir: Any,
                      threadsafe: Callable[..., None],
                      on_ready: Callable[[list[str]], str]) -> None:
        """Start the MCP servers (in the hub's thread); as each is ready its tools join the
        toolbox, ``on_ready(new names)`` declares them and says how (``now``,
        ``next_connection``), and an ``mcp_server`` event tells the user."""
        if not self.servers:
            return
        from voicecli.tools.mcp_client import McpHub

        def on_status(status: Any) -> None:  # on the hub's thread
            threadsafe(self._server_settled, status, on_ready)

        self.hub = McpHub(list(self.servers.values()), env, log_dir, on_status).start()

    def _server_settled(self, status: Any, on_ready: Callable[[list[str]], str]) -> None:
        if status.state != "ready":
            self.publish(ev.McpServer(name=status.name, state="failed", error=status.error))
            return
        added = add_server_tools(self.toolbox, self.servers[status.name], status.tools,
                                 self.hub)
        declared = on_ready(list(added)) if added else ""
        self.publish(ev.McpServer(name=status.name, state="ready", tools=added,
                                  started_s=status.started_s, declared=declared))

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self.hub is not None:
            self.hub.close()


def add_server_tools(toolbox: Toolbox, config: McpServerConfig, tools: list[Any],
                     hub: Any) -> dict[str, str]:
    """Add an MCP server's tools (those its config offers); declared name -> its own."""
    added: dict[str, str] = {}
    toolbox.remove_server(config.name)
    for tool in tools:
        if not config.wants(tool.name):
            continue
        name = toolbox.mcp_name(config.name, tool.name)

        def runner(args: dict[str, Any], tool_name: str = tool.name) -> Any:
            return hub.call(config.name, tool_name, args)

        toolbox.add(ToolEntry(
            name=name, description=tool.description or tool.name,
            parameters_json_schema=tool.input_schema, origin=f"mcp server {config.name}",
            server=config.name, original=tool.name, trusted=config.trust,
            read_only=tool.read_only, destructive=tool.destructive,
            scheduling=config.scheduling), runner)
        added[name] = tool.name
    return added
