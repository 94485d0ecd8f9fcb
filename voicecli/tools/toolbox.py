"""Every tool of a session, by the name the model sees: the pure bookkeeping.

A :class:`ToolEntry` is what the model is told (name, description, JSON schema) and what the
user is told (where the tool comes from, whether it needs confirmation, the hints its server
gave). How a tool runs is a :class:`ToolRunner` kept beside it (a built-in function, a
function from a ``--tools-file``, an MCP server's tool): the shell's business.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from voicecli.tools.naming import declared_name

# Runs a call with its arguments; returns the function response (``{"output"|"error": ...}``).
ToolRunner = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ToolEntry:
    """One declared tool."""

    name: str  # as declared to the model
    description: str
    origin: str  # "built-in", "mcp server git", "tools file mytools.py"
    parameters_json_schema: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None  # the built-ins' OpenAPI-style schema
    server: str | None = None  # the MCP server, for MCP tools
    original: str | None = None  # the tool's own name on its server
    trusted: bool = True  # runs without asking
    confirm: bool = False  # asks even so (@voicecli.confirm)
    read_only: bool | None = None  # MCP annotations: shown as hints, never relied on
    destructive: bool | None = None
    scheduling: str | None = None  # silent | when_idle | interrupt (None: the default)

    @property
    def asks(self) -> bool:
        """Whether a call needs the user's yes first."""
        return self.confirm or not self.trusted

    def hints(self) -> str:
        """The server's own hints, for the confirmation prompt: 'read-only', 'destructive'."""
        out = []
        if self.read_only:
            out.append("read-only")
        if self.destructive:
            out.append("destructive")
        return ", ".join(out)

    def declaration(self) -> dict[str, Any]:
        """``FunctionDeclaration`` keyword arguments."""
        decl: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.parameters_json_schema is not None:
            decl["parameters_json_schema"] = self.parameters_json_schema
        elif self.parameters is not None:
            decl["parameters"] = self.parameters
        return decl


@dataclass
class Toolbox:
    """The session's tools by declared name, and how to run each."""

    entries: dict[str, ToolEntry] = field(default_factory=dict)
    runners: dict[str, ToolRunner] = field(default_factory=dict)
    scheduling: dict[str, str] = field(default_factory=dict)  # tool_scheduling from config

    def add(self, entry: ToolEntry, runner: ToolRunner) -> ToolEntry:
        if entry.name in self.entries:
            raise ValueError(f"two tools are called {entry.name!r}")
        self.entries[entry.name] = entry
        self.runners[entry.name] = runner
        return entry

    def mcp_name(self, server: str, tool: str) -> str:
        """The declared name for an MCP tool, unique in this box."""
        return declared_name(server, tool, self.entries)

    def remove_server(self, server: str) -> list[str]:
        """Forget a server's tools (it is being replaced); their declared names."""
        gone = [n for n, e in self.entries.items() if e.server == server]
        for name in gone:
            del self.entries[name]
            del self.runners[name]
        return gone

    def scheduling_of(self, name: str) -> str:
        """How the model hears a non-blocking call's result: config, then the entry's own
        (its server's), then ``when_idle``."""
        entry = self.entries.get(name)
        return (self.scheduling.get(name) or (entry.scheduling if entry else None)
                or "when_idle")

    def declarations(self) -> list[dict[str, Any]]:
        return [e.declaration() for e in self.entries.values()]

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> Iterable[str]:
        return self.entries.keys()
