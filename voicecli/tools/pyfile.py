"""``--tools-file mytools.py``: the user's own Python functions as tools.

Every public function defined in the file with type hints on all its parameters and a
docstring becomes a declaration: parameters from the signature (a JSON schema from the
hints; parameters with a default are optional), descriptions from the docstring (its first
paragraph, and ``Args:`` / ``:param x:`` lines). Sync functions run in a thread, async ones
on the event loop; an exception becomes an error result the model can speak. They are
trusted (the user wrote them); ``@voicecli.confirm`` makes one ask first::

    import voicecli

    def weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
        \"\"\"The weather in a city now.

        Args:
            city: the city's name, e.g. Oslo
        \"\"\"

    @voicecli.confirm
    async def send_mail(to: str, text: str) -> str:
        \"\"\"Send an email.\"\"\"
"""

from __future__ import annotations

import asyncio
import enum
import importlib.util
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicecli.errors import ConfigError
from voicecli.tools import results
from voicecli.tools.naming import valid_function_name
from voicecli.tools.toolbox import ToolEntry, ToolRunner

CONFIRM_ATTR = "__voicecli_confirm__"
_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"},
    bool: {"type": "boolean"}, dict: {"type": "object"}, list: {"type": "array"},
    Any: {},
}


@dataclass(frozen=True)
class Skipped:
    """A public function that did not become a tool, and why."""

    name: str
    why: str


def schema_of(hint: Any) -> dict[str, Any]:
    """A JSON schema for a type hint (str, int, float, bool, list[X], dict[str, X], Literal,
    Enum, X | None). ValueError for a hint it cannot describe."""
    if hint in _SIMPLE:
        return dict(_SIMPLE[hint])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return schema_of(rest[0])
        return {"anyOf": [schema_of(a) for a in rest]}
    if origin in (list, tuple, set, frozenset) or origin is typing.Sequence:
        return {"type": "array", **({"items": schema_of(args[0])} if args else {})}
    if origin is dict:
        return {"type": "object",
                **({"additionalProperties": schema_of(args[1])} if len(args) == 2 else {})}
    raise ValueError(f"cannot describe the type {hint!r} to the model")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) from a Google-style or reST docstring."""
    doc = inspect.cleandoc(doc)
    params: dict[str, str] = {}
    summary: list[str] = []
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if m := re.match(r":param\s+(?:\w+\s+)?(\w+):\s*(.*)", stripped):
            params[m.group(1)] = m.group(2)
            continue
        if re.fullmatch(r"(Args|Arguments|Parameters):", stripped):
            in_args = True
            continue
        if in_args:
            if m := re.match(r"(\w+)\s*(?:\([^)]*\))?:\s*(.*)", stripped):
                params[m.group(1)] = m.group(2)
                continue
            if stripped and line.startswith((" ", "\t")) and params:
                last = list(params)[-1]
                params[last] = f"{params[last]} {stripped}".strip()
                continue
            if re.fullmatch(r"\w+:", stripped):  # Returns:, Raises: ...
                in_args = False
                continue
            if not stripped:
                continue
            in_args = False
        if not params and not in_args:
            summary.append(line)
    text = "\n".join(summary).strip()
    description = text.split("\n\n")[0].replace("\n", " ").strip()
    return description, params


def declare(fn: Callable[..., Any]) -> dict[str, Any]:
    """The function's JSON schema (``parameters_json_schema``) and description."""
    doc = inspect.getdoc(fn)
    if not doc:
        raise ValueError("it has no docstring (the model needs to know what it does)")
    description, docs = parse_docstring(doc)
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ValueError(f"*{p.name} parameters cannot be declared")
        if p.name not in hints:
            raise ValueError(f"parameter {p.name!r} has no type hint")
        prop = schema_of(hints[p.name])
        if p.name in docs:
            prop["description"] = docs[p.name]
        if p.default is p.empty:
            required.append(p.name)
        elif isinstance(p.default, str | int | float | bool) or p.default is None:
            prop["default"] = p.default.value if isinstance(p.default, enum.Enum) \
                else p.default
        properties[p.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"description": description or fn.__name__, "schema": schema}


def runner_for(fn: Callable[..., Any]) -> ToolRunner:
    """Sync functions in a thread (never on the event loop), async ones awaited."""

    async def run(args: dict[str, Any]) -> dict[str, Any]:
        try:
            if inspect.iscoroutinefunction(fn):
                value = await fn(**args)
            else:
                value = await asyncio.to_thread(fn, **args)
        except Exception as exc:  # the user's bug becomes something the model can say
            return results.error(f"{type(exc).__name__}: {exc}")
        return results.from_value(value)

    return run


def load(path: str) -> tuple[list[tuple[ToolEntry, ToolRunner]], list[Skipped]]:
    """The tools of one file, and the public functions left out (with why)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"--tools-file: no such file: {path}")
    name = f"voicecli_tools_{re.sub(r'[^0-9A-Za-z_]', '_', file.stem)}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--tools-file: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and get_type_hints look it up
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
        raise ConfigError(f"--tools-file: cannot load {path}{where}: "
                          f"{type(exc).__name__}: {exc}") from None
    tools: list[tuple[ToolEntry, ToolRunner]] = []
    skipped: list[Skipped] = []
    for attr, fn in vars(module).items():
        if attr.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != name:
            continue
        if not valid_function_name(attr):
            skipped.append(Skipped(attr, "its name is not a valid function name"))
            continue
        try:
            decl = declare(fn)
        except (ValueError, NameError, TypeError) as exc:
            skipped.append(Skipped(attr, str(exc)))
            continue
        entry = ToolEntry(name=attr, description=decl["description"],
                          parameters_json_schema=decl["schema"],
                          origin=f"tools file {file.name}", trusted=True,
                          confirm=bool(getattr(fn, CONFIRM_ATTR, False)))
        tools.append((entry, runner_for(fn)))
    return tools, skipped
