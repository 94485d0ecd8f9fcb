"""Function names the model sees for MCP tools: ``server__tool``, within Gemini's limits.

Gemini function names start with a letter or an underscore and hold letters, digits,
``_ . : -``, at most 64 characters (some references say 128; 64 is safe everywhere). MCP
allows more (a leading digit, 128 characters), so names are sanitised, shortened with a
short hash of the original, and made unique. Pure: the caller keeps the mapping.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_NAME = 64
SEPARATOR = "__"
_BAD = re.compile(r"[^A-Za-z0-9_.:-]")


def _sanitise(text: str) -> str:
    return _BAD.sub("_", text) or "_"


def _digest(text: str, n: int = 6) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def declared_name(server: str, tool: str, taken: Iterable[str] = ()) -> str:
    """The name to declare for ``tool`` of ``server``, unique among ``taken``."""
    taken = set(taken)
    base = f"{_sanitise(server)}{SEPARATOR}{_sanitise(tool)}"
    if not (base[0].isalpha() or base[0] == "_"):
        base = "_" + base
    name = base
    if len(name) > MAX_NAME or name in taken:
        tag = _digest(f"{server}\0{tool}")
        name = f"{base[:MAX_NAME - len(tag) - 1]}_{tag}"
        n = 2
        while name in taken:  # a hash collision on top of a name collision
            extra = _digest(f"{server}\0{tool}\0{n}")
            name = f"{base[:MAX_NAME - len(extra) - 1]}_{extra}"
            n += 1
    return name


def valid_function_name(name: str) -> bool:
    """Whether ``name`` may be declared as it is (a user's own Python function, say)."""
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}", name))
