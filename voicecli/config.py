"""The config file and how settings are layered: flags > environment > config file > defaults.

The file is TOML in the platform's config directory (``voicecli config path``)::

    voice = "Kore"
    language = "en-US"

    [profiles.work]
    model = "gemini-3.8-live-extended-thinking"
    push_to_talk = true

Top-level keys apply always; ``--profile NAME`` (or ``VOICECLI_PROFILE``) lays
``[profiles.NAME]`` over them. ``api_key`` is accepted only while the file is readable by its
owner alone, and ``config show`` never prints it.

Everything here except :func:`config_path`, :func:`read_config` and :func:`write_config` is
pure: merging is a function of four dicts, so the precedence is tested without files.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from voicecli import catalog
from voicecli.errors import ConfigError

# Every key a user can set, with its type. Flags use the same names (dashes for underscores).
KEYS: dict[str, type] = {
    "model": str, "voice": str, "language": str, "system": str,
    "input_device": str, "output_device": str, "format": str,
    "tools": bool, "barge_in": bool, "push_to_talk": bool, "mute_speaker": bool,
    "base_url": str, "api_version": str, "api_key": str,
    # Live API settings (LiveConnectConfig; see voicecli.settings.LiveOptions)
    "vad_start_sensitivity": str, "vad_end_sensitivity": str,
    "vad_prefix_padding_ms": int, "vad_silence_ms": int, "interruption": bool,
    "turn_coverage": str, "temperature": float, "thinking": str,
    "proactive_audio": bool, "affective_dialog": bool,
    # Tools (voicecli.tools): Google Search, the user's Python files, MCP servers
    "search": bool, "tools_files": list, "mcp_servers": dict, "tool_scheduling": dict,
    # Video (voicecli.video)
    "media_resolution": str, "fps": float,
}
TABLE_KEYS = frozenset({"mcp_servers", "tool_scheduling"})  # merged by entry across layers
TYPE_NAMES = {bool: "a bool (true or false)", int: "an integer", float: "a number",
              str: "a string", list: "a list", dict: "a table"}
# Keys whose value is one of a few words, and numeric keys with their range.
CHOICES: dict[str, tuple[str, ...]] = {
    "format": ("text", "jsonl"),
    "vad_start_sensitivity": ("low", "high"), "vad_end_sensitivity": ("low", "high"),
    "turn_coverage": ("activity", "all"),
    "thinking": ("low", "medium", "high"),
    "api_version": ("v1", "v1beta", "v1alpha", "v1beta1"),
    "media_resolution": ("low", "medium", "high"),
}
RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0), "fps": (0.1, 2.0),
    "vad_prefix_padding_ms": (0, 10_000), "vad_silence_ms": (0, 10_000),
}
DEFAULTS: dict[str, Any] = {
    "model": catalog.DEFAULT_MODEL, "voice": catalog.DEFAULT_VOICE, "format": "text",
    "tools": True, "barge_in": True, "push_to_talk": False, "mute_speaker": False,
}
# Environment variables for settings. The API key keeps the SDK's own variables
# (GEMINI_API_KEY, GOOGLE_API_KEY), handled by settings.resolve_credentials.
ENV_VARS: dict[str, str] = {k: f"VOICECLI_{k.upper()}" for k in KEYS
                            if k != "api_key" and k not in TABLE_KEYS}
PROFILE_ENV = "VOICECLI_PROFILE"
CONFIG_ENV = "VOICECLI_CONFIG"  # overrides the file's location (tests, several setups)
SECRET_KEYS = frozenset({"api_key"})
KEY_ENV_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Resolved:
    """The merged settings and, for each key, the layer it came from."""

    values: dict[str, Any]
    sources: dict[str, str]  # key -> "flag" | "env" | "config" | "profile NAME" | "default"

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)


def parse_value(key: str, raw: str) -> Any:
    """A string (environment, ``config set``) as the type of ``key``; ConfigError if bad."""
    kind = KEYS.get(key)
    if kind is None:
        raise ConfigError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    if kind is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"{key} must be true or false, got {raw!r}")
    if kind is list:  # VOICECLI_TOOLS_FILES=a.py:b.py, 'config set tools_files a.py:b.py'
        return [p for p in raw.split(os.pathsep) if p]
    if kind is dict:
        raise ConfigError(f"{key} is a table: edit the config file ('voicecli config path')"
                          + (", or use 'voicecli mcp add'" if key == "mcp_servers" else ""))
    if kind is int or kind is float:
        try:
            return kind(raw.strip())
        except ValueError:
            raise ConfigError(f"{key} must be {TYPE_NAMES[kind]}, got {raw!r}") from None
    return raw


def check_value(key: str, value: Any, where: str | None = None) -> Any:
    """``value`` of ``key`` in its canonical form (``kore`` -> ``Kore``), or a ConfigError
    naming ``where`` it came from (a flag, a variable, the config file). The same checks
    for every layer, so a bad value is refused where it was given, not on every later run."""
    label = where or key
    if value is None:
        return None
    if key == "mcp_servers":
        from voicecli.tools.mcp_config import check_tables

        check_tables(value, label)
        return value
    if key == "tool_scheduling":
        from voicecli.tools.mcp_config import SCHEDULING

        for tool, when in value.items():
            if when not in SCHEDULING:
                raise ConfigError(f"{label}: {tool} = {when!r}: must be one of "
                                  f"{', '.join(SCHEDULING)}")
        return value
    if key == "tools_files" and not all(isinstance(p, str) for p in value):
        raise ConfigError(f"{label} must be a list of file names")
    if key in CHOICES:
        word = str(value).strip().lower()
        if word not in CHOICES[key]:
            raise ConfigError(f"{label} must be one of {', '.join(CHOICES[key])}, "
                              f"got {value!r}")
        return word
    if key in RANGES:
        low, high = RANGES[key]
        if not low <= value <= high:
            raise ConfigError(f"{label} must be between {low:g} and {high:g}, got {value!r}")
        return value
    try:
        if key == "voice":
            return catalog.resolve_voice(str(value))
        if key == "language":
            return catalog.resolve_language(str(value))
    except ValueError as exc:
        raise ConfigError(f"{label}: {exc}") from None
    if key == "model" and not str(value).strip():
        raise ConfigError(f"{label} must name a model (see 'voicecli models'), got ''")
    return value


def source_label(key: str, source: str) -> str:
    """Where a value came from, as the user would name it (``--voice``, ``VOICECLI_VOICE``)."""
    if source == "flag":
        return "--" + key.replace("_", "-")
    if source == "env":
        return ENV_VARS.get(key, key)
    if source == "default":
        return key
    return f"{key} ({source} of the config file; fix it with 'voicecli config set')"


def _check_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        kind = KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {', '.join(KEYS)}")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: {key} must be {TYPE_NAMES[kind]}, got {value!r}")
        out[key] = value
    return out


def validate(data: Mapping[str, Any], where: str = "config") -> dict[str, Any]:
    """Check a parsed config file: known keys with the right types, profiles as tables."""
    top = {k: v for k, v in data.items() if k != "profiles"}
    out: dict[str, Any] = _check_table(top, where)
    profiles = data.get("profiles", {})
    if not isinstance(profiles, Mapping):
        raise ConfigError(f"{where}: 'profiles' must be a table of tables")
    if profiles:
        out["profiles"] = {}
        for name, table in profiles.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}: [profiles.{name}] must be a table")
            out["profiles"][name] = _check_table(table, f"{where} [profiles.{name}]")
    return out


def env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings given by ``VOICECLI_*`` variables (empty values ignored)."""
    return {k: parse_value(k, env[var]) for k, var in ENV_VARS.items() if env.get(var)}


def merge(flags: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any],
          profile: str | None = None, check: bool = True) -> Resolved:
    """Layer defaults < config file < its profile < environment < flags.

    ``flags`` holds what was given on the command line (None = not given). ``profile`` is
    the ``--profile`` flag; without it ``VOICECLI_PROFILE`` picks one. ``check``: every value
    in effect goes through :func:`check_value` (``config show`` shows them unchecked).
    """
    profile = profile or env.get(PROFILE_ENV) or None
    profiles = file.get("profiles", {})
    if profile is not None and profile not in profiles:
        known = ", ".join(profiles) or "none defined"
        raise ConfigError(f"no profile {profile!r} in the config file (profiles: {known}); "
                          f"add one with 'voicecli config set --profile {profile} KEY VALUE'")
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("default", DEFAULTS),
        ("config", {k: v for k, v in file.items() if k != "profiles"}),
        (f"profile {profile}", profiles.get(profile, {}) if profile else {}),
        ("env", env_layer(env)),
        ("flag", {k: v for k, v in flags.items() if v is not None}),
    ]
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, layer in layers:
        for key, value in layer.items():
            if key in TABLE_KEYS and isinstance(values.get(key), dict):
                value = {**values[key], **value}  # a profile adds servers, not replaces
            values[key] = value
            sources[key] = name
    if check:
        for key in list(values):
            values[key] = check_value(key, values[key], source_label(key, sources[key]))
    return Resolved(values, sources)


def key_env(env: Mapping[str, str], resolved: Resolved) -> dict[str, str]:
    """``env`` with the config file's ``api_key`` as GEMINI_API_KEY, unless the environment
    already names a key (the environment wins over the file)."""
    out = dict(env)
    key = resolved["api_key"]
    if key and not any(env.get(v) for v in KEY_ENV_VARS):
        out["GEMINI_API_KEY"] = key
    return out


def set_value(data: Mapping[str, Any], key: str, raw: str,
              profile: str | None = None) -> dict[str, Any]:
    """A copy of ``data`` with ``key`` set (in ``[profiles.PROFILE]`` if given); the value is
    checked as the flag's would be."""
    value = check_value(key, parse_value(key, raw))
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    if profile is None:
        out[key] = value
    else:
        profiles = {n: dict(t) for n, t in out.get("profiles", {}).items()}
        profiles.setdefault(profile, {})[key] = value
        out["profiles"] = profiles
    return out


def unset_value(data: Mapping[str, Any], key: str, profile: str | None = None) -> dict[str, Any]:
    """A copy of ``data`` without ``key``."""
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    if profile is None:
        out.pop(key, None)
    else:
        profiles = {n: dict(t) for n, t in out.get("profiles", {}).items()}
        profiles.get(profile, {}).pop(key, None)
        out["profiles"] = profiles
    return out


def hide_secrets(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with secret keys replaced by a marker (for ``config show``); an MCP
    server's env and header values are hidden too."""
    out = {k: ("<set, hidden>" if k in SECRET_KEYS and v else v) for k, v in values.items()}
    servers = out.get("mcp_servers")
    if isinstance(servers, Mapping):
        out["mcp_servers"] = {
            name: {k: ({n: "<hidden>" for n in v} if k in ("env", "headers")
                       and isinstance(v, Mapping) else v) for k, v in table.items()}
            if isinstance(table, Mapping) else table for name, table in servers.items()}
    return out


def has_secret(data: Mapping[str, Any]) -> bool:
    if any(k in SECRET_KEYS for k in data):
        return True
    return any(has_secret(t) for t in data.get("profiles", {}).values())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else f'"{name}"'


def _dump_table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    """``[path]`` with ``table``'s plain values, then a ``[path.key]`` section per sub-table."""
    plain = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    if path and (plain or not table):
        lines += ["", f"[{'.'.join(_key(p) for p in path)}]"]
    lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in plain.items()]
    for k, v in table.items():
        if isinstance(v, Mapping):
            _dump_table(v, [*path, k], lines)


def dump_toml(data: Mapping[str, Any]) -> str:
    """The config as TOML (flat keys, then a section per table: profiles, MCP servers)."""
    lines: list[str] = []
    _dump_table(data, [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


# -- the file (thin shell) ---------------------------------------------------------------

def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the config file lives: ``VOICECLI_CONFIG``, else the platform's config dir."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    import platformdirs

    return Path(platformdirs.user_config_dir("voicecli", appauthor=False)) / "config.toml"


def permission_problem(mode: int) -> bool:
    """True if a file with ``mode`` is readable or writable by anyone but its owner."""
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def read_config(path: Path) -> dict[str, Any]:
    """The parsed, validated config file ({} if there is none).

    Refuses a file holding ``api_key`` that others can read: the key would be exposed.
    """
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        data = validate(tomllib.loads(raw.decode("utf-8")), str(path))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    if has_secret(data) and os.name == "posix" and permission_problem(mode):
        raise ConfigError(f"{path} holds an api_key but others can read it "
                          f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
    return data


def write_config(path: Path, data: Mapping[str, Any]) -> None:
    """Write the file owner-only (0600), atomically, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dump_toml(data))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
