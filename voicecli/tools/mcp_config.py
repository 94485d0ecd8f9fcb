"""MCP server configurations: voicecli's ``[mcp_servers.NAME]`` tables and the ``mcpServers``
JSON that Claude Desktop, Cursor and Gemini CLI users already have. Pure (the environment is
passed in), so every rule is tested without starting anything.

TOML (seconds)::

    [mcp_servers.git]
    command = "uvx"
    args = ["mcp-server-git", "--repository", "/home/me/src/project"]
    env = { GIT_AUTHOR_NAME = "Me" }
    trust = false                  # ask before each call (the default)
    call_timeout = 60              # seconds per call
    connect_timeout = 30           # seconds to start and list its tools
    exclude_tools = ["git_reset"]

    [mcp_servers.search]
    url = "https://mcp.example/mcp"
    headers = { Authorization = "Bearer $SEARCH_TOKEN" }

JSON (``--mcp-config FILE``): ``{"mcpServers": {"NAME": {...}}}`` (or VS Code's ``servers``)
with ``command``, ``args``, ``env``, ``cwd``, ``url``/``httpUrl`` (+ ``type``: ``http``,
``sse`` or ``stdio``), ``headers``, ``timeout`` (milliseconds, per call), ``trust``,
``includeTools``, ``excludeTools``. ``$VAR``, ``${VAR}`` and ``${VAR:-default}`` are expanded
from the environment in ``command``, ``args``, ``env``, ``cwd``, ``url`` and ``headers``; a
variable that is not set (and has no default) is an error for that server, so a missing token
says so instead of sending an empty header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicecli.errors import ConfigError

DEFAULT_CONNECT_TIMEOUT_S = 30.0
DEFAULT_CALL_TIMEOUT_S = 60.0
SCHEDULING = ("silent", "when_idle", "interrupt")
SECRET_NAMES = re.compile(r"key|token|secret|password|passwd|auth|credential|cookie", re.I)

_TOML_KEYS = frozenset({"command", "args", "env", "cwd", "url", "headers", "transport",
                        "connect_timeout", "call_timeout", "trust", "include_tools",
                        "exclude_tools", "scheduling", "enabled"})
_VAR = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server: a command voicecli starts (stdio) or a URL (streamable HTTP, SSE)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    url: str | None = None
    transport: str = "stdio"  # stdio | http | sse
    headers: tuple[tuple[str, str], ...] = ()
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    trust: bool = False
    include_tools: tuple[str, ...] | None = None
    exclude_tools: tuple[str, ...] = ()
    scheduling: str | None = None  # the default for its tools (see tool_scheduling)
    origin: str = "config"  # where it was configured, for messages

    def wants(self, tool: str) -> bool:
        """Whether ``tool`` is offered (``exclude_tools`` wins over ``include_tools``)."""
        if tool in self.exclude_tools:
            return False
        return self.include_tools is None or tool in self.include_tools

    def describe(self) -> str:
        """What it runs or reaches, safe to print (secret-looking values hidden)."""
        if self.transport == "stdio":
            shown = " ".join([self.command or "", *(redact_arg(a) for a in self.args)])
            env = f" (env: {', '.join(k for k, _ in self.env)})" if self.env else ""
            return shown.strip() + env
        headers = ", ".join(k for k, _ in self.headers)
        return f"{self.url}" + (f" (headers: {headers})" if headers else "")

    def __repr__(self) -> str:  # never the env or header values
        return f"McpServerConfig(name={self.name!r}, {self.transport}: {self.describe()})"


def redact_arg(arg: str) -> str:
    """``--token=abc`` -> ``--token=<redacted>``; other arguments as they are."""
    name, sep, _ = arg.partition("=")
    return f"{name}=<redacted>" if sep and SECRET_NAMES.search(name) else arg


def expand(text: str, env: Mapping[str, str], where: str) -> str:
    """``$VAR``, ``${VAR}`` and ``${VAR:-default}`` from ``env``; ConfigError if unset."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        if name in env:
            return env[name]
        if m.group(2) is not None:
            return m.group(2)
        raise ConfigError(f"{where} uses ${name}, which is not set")

    return _VAR.sub(one, text)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _pairs(value: Any, where: str, env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str | int | float | bool)
                                                 for v in value.values()):
        raise ConfigError(f"{where} must be a table of strings")
    return tuple((str(k), expand(str(v), env, f"{where}.{k}")) for k, v in value.items())


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where} must be a positive number of seconds")
    return float(value)


def server(name: str, table: Mapping[str, Any], env: Mapping[str, str],
           origin: str = "config", json_style: bool = False) -> McpServerConfig:
    """One server from a TOML table (``json_style``: an ``mcpServers`` entry)."""
    where = f"mcp server {name!r} ({origin})"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    if json_style:
        table = _from_json(table, where)
    else:
        unknown = set(table) - _TOML_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; known: "
                              f"{', '.join(sorted(_TOML_KEYS))}")
    command, url = table.get("command"), table.get("url")
    if (command is None) == (url is None):
        raise ConfigError(f"{where} needs either 'command' (a program to start) or 'url'")
    transport = str(table.get("transport") or ("stdio" if command else "http"))
    if transport not in ("stdio", "http", "sse") or (transport == "stdio") != bool(command):
        raise ConfigError(f"{where}: transport {transport!r} does not fit "
                          f"{'a command' if command else 'a URL'}")
    if url is not None and not str(url).startswith(("http://", "https://", "$")):
        raise ConfigError(f"{where}: url must start with http:// or https://, got {url!r}")
    scheduling = table.get("scheduling")
    if scheduling is not None and scheduling not in SCHEDULING:
        raise ConfigError(f"{where}: scheduling must be one of {', '.join(SCHEDULING)}")
    include = table.get("include_tools")
    return McpServerConfig(
        name=name,
        command=expand(str(command), env, f"{where} command") if command else None,
        args=tuple(expand(a, env, f"{where} args") for a in _strings(table.get("args", []),
                                                                       f"{where} args")),
        env=_pairs(table.get("env", {}), f"{where} env", env),
        cwd=expand(str(table["cwd"]), env, f"{where} cwd") if table.get("cwd") else None,
        url=expand(str(url), env, f"{where} url") if url else None,
        transport=transport,
        headers=_pairs(table.get("headers", {}), f"{where} headers", env),
        connect_timeout_s=_seconds(table.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT_S),
                                   f"{where} connect_timeout"),
        call_timeout_s=_seconds(table.get("call_timeout", DEFAULT_CALL_TIMEOUT_S),
                                f"{where} call_timeout"),
        trust=_bool(table.get("trust", False), f"{where} trust"),
        include_tools=None if include is None else _strings(include, f"{where} include_tools"),
        exclude_tools=_strings(table.get("exclude_tools", []), f"{where} exclude_tools"),
        scheduling=scheduling,
        origin=origin,
    )


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value


def _from_json(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """An ``mcpServers`` entry (Claude Desktop, Cursor, Gemini CLI, VS Code) as a TOML table."""
    out: dict[str, Any] = {}
    for key in ("command", "args", "env", "cwd", "headers", "trust"):
        if key in entry:
            out[key] = entry[key]
    kind = entry.get("type")
    url = entry.get("httpUrl") or entry.get("url")
    if url is not None:
        out["url"] = url
        out["transport"] = "sse" if kind == "sse" else "http"
    elif kind not in (None, "stdio"):
        raise ConfigError(f"{where}: type {kind!r} needs a 'url'")
    for key, ours in (("timeout", "call_timeout"), ("connectTimeout", "connect_timeout")):
        if key in entry:  # Gemini CLI's timeout: milliseconds, per request
            ms = entry[key]
            if isinstance(ms, bool) or not isinstance(ms, int | float) or ms <= 0:
                raise ConfigError(f"{where}: {key} must be a positive number of milliseconds")
            out[ours] = ms / 1000
    if "includeTools" in entry:
        out["include_tools"] = [t.split("(")[0] for t in entry["includeTools"]]
    if "excludeTools" in entry:
        out["exclude_tools"] = [t.split("(")[0] for t in entry["excludeTools"]]
    return out


@dataclass(frozen=True)
class Broken:
    """A server whose configuration cannot be used (told as a failed server, one line)."""

    name: str
    error: str


def from_tables(tables: Mapping[str, Any], env: Mapping[str, str],
                origin: str = "config") -> list[McpServerConfig | Broken]:
    """``[mcp_servers.NAME]`` tables; ``enabled = false`` leaves one out."""
    return [_one(str(name), table, env, origin, False) for name, table in tables.items()
            if not (isinstance(table, Mapping) and table.get("enabled") is False)]


def _one(name: str, table: Any, env: Mapping[str, str], origin: str,
         json_style: bool) -> McpServerConfig | Broken:
    try:
        return server(name, table, env, origin, json_style)
    except ConfigError as exc:
        return Broken(name, str(exc))


def from_json_text(text: str, env: Mapping[str, str],
                   origin: str) -> list[McpServerConfig | Broken]:
    """The servers of an ``mcpServers`` (or ``servers``) JSON document."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{origin} is not valid JSON: {exc}") from None
    if isinstance(data, Mapping) and isinstance(data.get("mcp"), Mapping):
        data = data["mcp"]  # VS Code's older settings.json form
    servers = data.get("mcpServers", data.get("servers")) if isinstance(data, Mapping) else None
    if not isinstance(servers, Mapping):
        raise ConfigError(f"{origin} has no \"mcpServers\" object")
    return [_one(str(name), entry, env, origin, True) for name, entry in servers.items()
            if not (isinstance(entry, Mapping) and entry.get("disabled") is True)]


def from_json_file(path: str, env: Mapping[str, str]) -> list[McpServerConfig | Broken]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--mcp-config: cannot read {path}: {exc.strerror}") from None
    return from_json_text(text, env, path)


def combine(*groups: list[McpServerConfig | Broken]) -> list[McpServerConfig | Broken]:
    """Servers in order; a later one with the same name replaces an earlier one."""
    by_name: dict[str, McpServerConfig | Broken] = {}
    for group in groups:
        for s in group:
            by_name.pop(s.name, None)
            by_name[s.name] = s
    return list(by_name.values())


def check_tables(tables: Any, where: str) -> None:
    """Shape-check ``mcp_servers`` in the config file, without expanding variables."""
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{where}: mcp_servers must be a table of tables")
    permissive = _Permissive()
    for name, table in tables.items():
        if isinstance(table, Mapping) and table.get("enabled") is False:
            continue
        server(str(name), table, permissive, where)


class _Permissive(dict[str, str]):
    """An environment where every variable is set (for shape checks only)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return ""
