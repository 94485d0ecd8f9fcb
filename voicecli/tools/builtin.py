"""The built-in tools: small, safe, local functions the model can call.

Each tool is a declaration (the JSON schema the model sees) and a plain function from the
call's arguments to a JSON-able result. Errors become ``{"error": "..."}`` results so the
model can recover, never an exception in the session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any]], dict[str, Any]]

    def declaration(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "parameters": self.parameters}


def _current_time(args: dict[str, Any]) -> dict[str, Any]:
    tz_name = args.get("timezone")
    try:
        tz = ZoneInfo(tz_name) if tz_name else None
    except (ZoneInfoNotFoundError, ValueError):
        return {"error": f"unknown time zone {tz_name!r}; use an IANA name like Europe/Berlin"}
    now = dt.datetime.now(tz).astimezone(tz)
    return {
        "time": now.strftime("%H:%M"),
        "date": now.strftime("%A, %d %B %Y"),
        "iso": now.isoformat(timespec="seconds"),
        "timezone": tz_name or str(now.tzinfo),
    }


BUILTIN_TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            name="get_current_time",
            description="Get the current local date and time, optionally in an IANA time zone.",
            parameters={
                "type": "OBJECT",
                "properties": {"timezone": {"type": "STRING",
                                            "description": "IANA zone, e.g. Europe/Berlin"}},
            },
            run=_current_time,
        ),
    )
}


def run_tool(tools: dict[str, Tool], name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run tool ``name``; unknown tools and failures become error results."""
    tool = tools.get(name)
    if tool is None:
        return {"error": f"unknown tool {name!r}"}
    try:
        return tool.run(args)
    except Exception as exc:  # a tool bug must not end the conversation
        return {"error": f"{type(exc).__name__}: {exc}"}
