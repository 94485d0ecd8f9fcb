"""A small MCP server written with the MCP SDK's own server class, for the tool tests.

    python tests/mcp_demo_server.py stdio [--start-delay S] [--notes FILE]
    python tests/mcp_demo_server.py http PORT [--notes FILE]

Tools: ``echo`` (read-only), ``weather`` (structured output), ``add_note`` (a side effect:
appends to the notes file), ``slow`` (async, sleeps; logs a cancellation to the notes file),
``fail`` (raises), ``crash`` (the process dies mid-call), ``big`` (a huge result).
``--start-delay`` sleeps before serving (a slow ``uvx`` start); ``--hang`` never answers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel

server = MCPServer("demo", instructions="voicecli's test server")
NOTES: Path | None = None


def _note(text: str) -> None:
    if NOTES is not None:
        with NOTES.open("a", encoding="utf-8") as f:
            f.write(text + "\n")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


class Weather(BaseModel):
    city: str
    celsius: float
    sky: str


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def weather(city: str) -> Weather:
    """The weather in a city."""
    return Weather(city=city, celsius=21.5, sky="clear")


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def add_note(text: str) -> str:
    """Write a note down (a side effect)."""
    _note(f"note: {text}")
    return f"noted: {text}"


@server.tool()
async def slow(seconds: float) -> str:
    """Wait, then answer."""
    _note(f"slow start {seconds}")
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        _note("slow cancelled")
        raise
    _note("slow done")
    return f"slept {seconds} s"


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"failing as asked: {reason}")


@server.tool()
def crash() -> str:
    """The server dies mid-call."""
    sys.stderr.write("demo server: crashing as asked\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool()
def big(kilobytes: int) -> str:
    """A result of this many kilobytes."""
    return "x" * (kilobytes * 1024)


def main() -> None:
    global NOTES
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--notes")
    args = parser.parse_args()
    NOTES = Path(args.notes) if args.notes else None
    sys.stderr.write(f"demo server starting ({args.transport})\n")
    if args.hang:
        time.sleep(3600)
    time.sleep(args.start_delay)
    if args.transport == "stdio":
        server.run()
    else:
        server.run(transport="streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
