"""What the model gets back from a tool: a function response's ``response`` object.

Pure. The Live API wants ``{"output": ...}`` for a result and ``{"error": ...}`` for a
failure (the model can speak either). An MCP result becomes its structured content when it
has some, else its text; an MCP error (or ``is_error``) becomes an error; anything huge is cut
to :data:`MAX_RESULT_CHARS` with a note, so one chatty tool cannot blow the context window.
"""

from __future__ import annotations

import json
from typing import Any

MAX_RESULT_CHARS = 16_000


def cut(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    """``text``, shortened to ``limit`` characters with a note when it was longer."""
    if len(text) <= limit:
        return text
    return (text[:limit] + f"\n[cut: the result was {len(text)} characters; the first "
            f"{limit} are shown]")


def error(message: str) -> dict[str, Any]:
    return {"error": cut(message)}


def output(value: Any) -> dict[str, Any]:
    """``{"output": value}``, cut to size (a large structure becomes shortened JSON text)."""
    if isinstance(value, str):
        return {"output": cut(value)}
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= MAX_RESULT_CHARS:
        return {"output": value}
    return {"output": cut(text)}


def _block_text(block: Any) -> str:
    """One MCP content block as text (images and audio are named, not inlined)."""
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind in ("image", "audio"):
        return f"[{kind}: {getattr(block, 'mime_type', '') or 'data'}]"
    if kind == "resource_link":
        return f"[resource: {getattr(block, 'name', '')} {getattr(block, 'uri', '')}]".strip()
    if kind == "resource":
        resource = getattr(block, "resource", None)
        text = getattr(resource, "text", None)
        return str(text) if text is not None else f"[resource: {getattr(resource, 'uri', '')}]"
    return f"[{kind or 'content'}]"


def from_mcp(result: Any) -> dict[str, Any]:
    """A ``CallToolResult`` (any object with its attribute names) as a function response."""
    text = "\n".join(_block_text(b) for b in getattr(result, "content", None) or [])
    if getattr(result, "is_error", False):
        return error(text or "the tool failed without saying why")
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        # A plain ``-> str`` tool is wrapped as {"result": ...}: say just the value.
        if isinstance(structured, dict) and list(structured) == ["result"]:
            return output(structured["result"])
        return output(structured)
    return output(text)


def from_value(value: Any) -> dict[str, Any]:
    """A Python tool's return value as a function response (a dict with ``error`` stays)."""
    if isinstance(value, dict) and set(value) <= {"output", "error"} and value:
        return {k: cut(v) if isinstance(v, str) else v for k, v in value.items()}
    return output(value)
