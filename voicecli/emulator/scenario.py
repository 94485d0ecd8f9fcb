"""Scenarios: what the emulator "hears" and answers, turn by turn.

A scenario is a small TOML file::

    name = "default"                  # optional, informational
    description = "..."               # optional
    after_last = "cycle"              # when turns run out: "cycle" (start over, default)
                                      # or "default" (answer every later turn with the lines below)
    default_user = "(unclear speech)" # input transcription for turns beyond the list
    default_reply = "Sorry, I have nothing more to say."

    [[turn]]
    user = "Hi, who are you?"         # reported as the input transcription of the user's speech
    reply = "Hello! I'm an emulator." # spoken (espeak-ng) and sent as the output transcription

    [[turn]]
    user = "What time is it?"
    tool_call = { name = "get_current_time", args = {} }
    reply = "It's {result} right now."  # spoken after the matching tool_response arrives
    no_tool_reply = "I can't check."    # optional: spoken when the setup declares no such tool

    [[turn]]
    user = "Search for cats."
    tool_call = { name = "search", args = { query = "cats" } }
    cancel_tool_call = true           # send toolCallCancellation shortly after the call and
    reply = "Never mind."             # speak `reply` without waiting for a tool_response

The *n*-th user turn (speech ended by the server VAD, ``activityEnd``, ``audioStreamEnd``,
``realtime_input.text`` or ``client_content`` with ``turn_complete``) gets the *n*-th
``[[turn]]``. Replies are templates with a deliberately tiny syntax (no attribute access,
no code): ``{result}`` is the tool's response (a single-entry object prints as its value),
``{result[key]}`` or ``{result.key}`` (nestable) one field of it, ``{args[key]}`` an argument
of the call, ``{video.color}`` / ``{video.frames}`` / ``{video.width}`` what the shared
screen or camera showed (the last frame's mean colour, named; how many frames came);
``{{`` and ``}}`` are literal braces; missing fields read "unknown".

The special scenario ``"parrot"`` answers each turn with the user's own audio (24 kHz) and
the transcription "(parrot)"; text input is spoken back with text-to-speech.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from voicecli.emulator.faults import Fault, FaultError, parse_fault

PARROT = "parrot"
PARROT_TEXT = "(parrot)"
DEFAULT_NO_TOOL_REPLY = "I would need a tool for that, but none is available."
_TURN_KEYS = frozenset({"user", "reply", "tool_call", "cancel_tool_call", "no_tool_reply",
                        "grounding"})
_TOP_KEYS = frozenset({"name", "description", "after_last", "default_user", "default_reply",
                       "turn", "translation", "fault", "refuse_resumption"})
_TRANSLATION_KEYS = frozenset({"source", "target", "targets"})


class ScenarioError(ValueError):
    """A scenario file is malformed."""


@dataclass(frozen=True)
class ToolCallSpec:
    """A function call the model makes during a turn."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One scripted exchange."""

    user: str
    reply: str
    tool_call: ToolCallSpec | None = None
    cancel_tool_call: bool = False
    no_tool_reply: str = DEFAULT_NO_TOOL_REPLY
    # Google Search grounding sent with the reply when the setup declared google_search:
    # {"queries": [...], "sources": [{"title": ..., "uri": ...}]}
    grounding: dict[str, Any] | None = None


@dataclass(frozen=True)
class TranslationSpec:
    """One utterance for the translate model: what was said and its translation.

    ``targets`` maps a base language code (``de``) to the translation into that language;
    ``target`` is used for any other target language.
    """

    source: str
    target: str
    targets: dict[str, str] = field(default_factory=dict)

    def text_for(self, language: str | None) -> str:
        """The translation into ``language`` (``de`` or ``de-DE``)."""
        base = (language or "").split("-")[0].lower()
        return self.targets.get(base, self.target)


@dataclass(frozen=True)
class Scenario:
    """A scripted conversation (or parrot mode)."""

    name: str
    turns: tuple[Turn, ...] = ()
    description: str = ""
    after_last: str = "cycle"
    default_user: str = "(unclear speech)"
    default_reply: str = "Sorry, I don't have anything more to say."
    parrot: bool = False
    faults: tuple[Fault, ...] = ()  # see voicecli.emulator.faults
    refuse_resumption: bool = False
    translations: tuple[TranslationSpec, ...] = ()

    def turn(self, index: int) -> Turn:
        """The turn answering the ``index``-th (0-based) user turn."""
        if self.parrot:
            return Turn(user=PARROT_TEXT, reply=PARROT_TEXT)
        if index < len(self.turns):
            return self.turns[index]
        if self.after_last == "cycle" and self.turns:
            return self.turns[index % len(self.turns)]
        return Turn(user=self.default_user, reply=self.default_reply)


def _str(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: {key!r} must be a string")
    return value


def _table(table: Any, keys: frozenset[str], where: str) -> dict[str, Any]:
    """``table`` if it is a TOML table with only ``keys`` (typos are caught at start-up)."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: must be a table")
    unknown = set(table) - keys
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    return table


def _turn(table: Any, where: str) -> Turn:
    table = _table(table, _TURN_KEYS, where)
    call = None
    if "tool_call" in table:
        spec = table["tool_call"]
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ScenarioError(f"{where}: tool_call needs a string 'name'")
        args = spec.get("args", {})
        if not isinstance(args, dict) or set(spec) - {"name", "args"}:
            raise ScenarioError(f"{where}: tool_call takes only 'name' and an 'args' table")
        call = ToolCallSpec(spec["name"], dict(args))
    cancel = table.get("cancel_tool_call", False)
    if not isinstance(cancel, bool) or (cancel and call is None):
        raise ScenarioError(f"{where}: cancel_tool_call must be a boolean, with a tool_call")
    grounding = table.get("grounding")
    if grounding is not None:
        queries, sources = grounding.get("queries", []), grounding.get("sources", [])
        if not isinstance(grounding, dict) or set(grounding) - {"queries", "sources"} \
                or not all(isinstance(q, str) for q in queries) \
                or not all(isinstance(s, dict) and isinstance(s.get("uri"), str)
                           for s in sources):
            raise ScenarioError(f"{where}: grounding takes 'queries' (strings) and 'sources' "
                                "(tables with 'uri' and 'title')")
    return Turn(
        user=_str(table, "user", where),
        reply=_str(table, "reply", where),
        tool_call=call,
        cancel_tool_call=cancel,
        no_tool_reply=_str(table, "no_tool_reply", where, DEFAULT_NO_TOOL_REPLY),
        grounding=grounding,
    )


def _translation(table: Any, where: str) -> TranslationSpec:
    table = _table(table, _TRANSLATION_KEYS, where)
    targets = table.get("targets", {})
    if not isinstance(targets, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in targets.items()):
        raise ScenarioError(f"{where}: targets must be a table of strings")
    if "target" not in table and not targets:
        raise ScenarioError(f"{where}: needs 'target' (or a 'targets' table)")
    target = _str(table, "target", where, next(iter(targets.values()), ""))
    return TranslationSpec(source=_str(table, "source", where), target=target,
                           targets={k.lower(): v for k, v in targets.items()})


def parse_scenario(text: str, name: str = "scenario") -> Scenario:
    """Parse scenario TOML; raises :class:`ScenarioError` with the offending place."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{name}: {e}") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ScenarioError(f"{name}: unknown keys {sorted(unknown)}")
    raw_turns = data.get("turn", [])
    if not isinstance(raw_turns, list):
        raise ScenarioError(f"{name}: use [[turn]] tables")
    raw_translations = data.get("translation", [])
    if not isinstance(raw_translations, list):
        raise ScenarioError(f"{name}: use [[translation]] tables")
    after = data.get("after_last", "cycle")
    if after not in ("cycle", "default"):
        raise ScenarioError(f"{name}: after_last must be 'cycle' or 'default'")
    base = Scenario(name=name)
    raw_faults = data.get("fault", [])
    refuse = data.get("refuse_resumption", False)
    if not isinstance(raw_faults, list) or not isinstance(refuse, bool):
        raise ScenarioError(f"{name}: use [[fault]] tables; refuse_resumption is a boolean")
    try:
        faults = tuple(parse_fault(f, f"{name}: fault {i + 1}") for i, f in enumerate(raw_faults))
    except FaultError as e:
        raise ScenarioError(str(e)) from None
    return Scenario(
        name=_str(data, "name", name, name),
        turns=tuple(_turn(t, f"{name}: turn {i + 1}") for i, t in enumerate(raw_turns)),
        description=_str(data, "description", name, ""),
        after_last=after,
        default_user=_str(data, "default_user", name, base.default_user),
        default_reply=_str(data, "default_reply", name, base.default_reply),
        faults=faults,
        refuse_resumption=refuse,
        translations=tuple(_translation(t, f"{name}: translation {i + 1}")
                           for i, t in enumerate(raw_translations)),
    )


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``voicecli/emulator/scenarios``."""
    folder = resources.files("voicecli.emulator").joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(spec: str | Path | None = None) -> Scenario:
    """Load ``None`` (the default scenario), ``"parrot"``, a bundled name, or a TOML path."""
    if spec == PARROT:
        return Scenario(name=PARROT, parrot=True)
    if spec is None or (isinstance(spec, str) and spec in bundled_scenarios()):
        name = spec or "default"
        text = resources.files("voicecli.emulator").joinpath(
            "scenarios", f"{name}.toml").read_text(encoding="utf-8")
        return parse_scenario(text, name)
    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"cannot read scenario {str(path)!r}: {e.strerror}") from None
    return parse_scenario(text, path.stem)


# --------------------------------------------------------------------------- templating

_FIELD = re.compile(r"\{\{|\}\}|\{(result|args|video)((?:\[[^\[\]{}]*\]|\.\w+)*)\}")
_STEP = re.compile(r"\[([^\]]*)\]|\.(\w+)")
MISSING = "unknown"


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        if len(value) == 1:
            return _as_text(next(iter(value.values())))
        for key in ("output", "result"):
            if key in value:
                return _as_text(value[key])
        return ", ".join(f"{k} {_as_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    return MISSING if value is None else json.dumps(value)


def render(template: str, result: Any = None, args: dict[str, Any] | None = None,
           video: dict[str, Any] | None = None) -> str:
    """Fill ``{result...}``/``{args...}``/``{video...}`` fields of a reply template (see
    module docs)."""
    if isinstance(result, dict) and set(result) == {"output"}:
        result = result["output"]  # the Live API's convention: {"output": ...}
    roots = {"result": result, "args": args or {}, "video": video or {}}

    def substitute(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        value: Any = roots[m.group(1)]
        for step in _STEP.finditer(m.group(2)):
            key = step.group(1) if step.group(1) is not None else step.group(2)
            key = key.strip().strip("'\"")
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                return MISSING
        return MISSING if value is None else _as_text(value)

    return _FIELD.sub(substitute, template)
