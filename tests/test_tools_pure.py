"""The tools' pure core: names, results, configurations, the user's Python functions,
confirmation, and Google Search grounding in the conversation state."""

from __future__ import annotations

import asyncio
import enum
import json
from types import SimpleNamespace as NS
from typing import Literal

import pytest

from voicecli import events as ev
from voicecli.errors import ConfigError
from voicecli.live.state import ConversationState
from voicecli.tools import mcp_config, pyfile, results
from voicecli.tools.confirm import ConfirmPolicy, prompt_text
from voicecli.tools.naming import MAX_NAME, declared_name
from voicecli.tools.toolbox import Toolbox, ToolEntry

ENV = {"TOKEN": "s3cret", "HOME": "/home/me"}


def test_declared_names_fit_gemini_and_stay_unique():
    assert declared_name("git", "git_status") == "git__git_status"
    assert declared_name("my server", "2fast!") == "my_server__2fast_"
    assert declared_name("9lives", "x") == "_9lives__x"
    long = declared_name("s", "t" * 200)
    assert len(long) <= MAX_NAME and long.startswith("s__ttt")
    assert declared_name("s", "t" * 200) == long  # stable
    taken = {"a__b"}
    other = declared_name("a", "b", taken)
    assert other != "a__b" and other.startswith("a__b_") and len(other) <= MAX_NAME


def test_mcp_results_become_function_responses():
    text = NS(type="text", text="hello")
    assert results.from_mcp(NS(content=[text], structured_content=None, is_error=False)) \
        == {"output": "hello"}
    assert results.from_mcp(NS(content=[text], structured_content={"result": "hi"},
                               is_error=False)) == {"output": "hi"}
    weather = {"city": "Oslo", "celsius": 21.5}
    assert results.from_mcp(NS(content=[], structured_content=weather, is_error=False)) \
        == {"output": weather}
    assert results.from_mcp(NS(content=[NS(type="text", text="no such repo")],
                               structured_content=None, is_error=True)) \
        == {"error": "no such repo"}
    image = NS(type="image", mime_type="image/png")
    assert results.from_mcp(NS(content=[image], structured_content=None, is_error=False)) \
        == {"output": "[image: image/png]"}
    huge = results.from_mcp(NS(content=[NS(type="text", text="x" * 100_000)],
                               structured_content=None, is_error=False))["output"]
    assert len(huge) < 16_200 and "the result was 100000 characters" in huge
    big = results.output({"rows": list(range(10_000))})["output"]
    assert isinstance(big, str) and big.endswith("are shown]")
    assert results.from_value({"error": "nope"}) == {"error": "nope"}
    assert results.from_value(3) == {"output": 3}


def test_mcp_servers_json_as_claude_cursor_and_gemini_cli_write_it():
    text = json.dumps({"mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"]},
        "gh": {"httpUrl": "https://mcp.example/mcp", "headers": {
            "Authorization": "Bearer $TOKEN"}, "timeout": 5000, "trust": True,
            "includeTools": ["search(query)", "get"], "excludeTools": ["get"]},
        "sse": {"url": "https://old.example/sse", "type": "sse"},
        "env": {"command": "srv", "env": {"HOME2": "${HOME}", "X": "${UNSET:-fallback}"},
                "cwd": "$HOME/src"},
        "off": {"command": "x", "disabled": True}}})
    servers = {s.name: s for s in mcp_config.from_json_text(text, ENV, "claude.json")}
    assert set(servers) == {"time", "gh", "sse", "env"}
    time, gh, sse, env = servers["time"], servers["gh"], servers["sse"], servers["env"]
    assert (time.transport, time.command, time.args, time.trust) == \
        ("stdio", "uvx", ("mcp-server-time",), False)
    assert (gh.transport, gh.url, gh.call_timeout_s, gh.trust) == \
        ("http", "https://mcp.example/mcp", 5.0, True)
    assert dict(gh.headers) == {"Authorization": "Bearer s3cret"}
    assert gh.wants("search") and not gh.wants("get") and not gh.wants("other")
    assert sse.transport == "sse"
    assert dict(env.env) == {"HOME2": "/home/me", "X": "fallback"} and env.cwd == "/home/me/src"
    assert "s3cret" not in repr(gh) and "s3cret" not in gh.describe()
    # VS Code's format
    vscode = mcp_config.from_json_text('{"servers": {"m": {"type": "stdio", "command": "npx"}}}',
                                       ENV, "mcp.json")
    assert vscode[0].command == "npx"


def test_broken_server_configs_are_one_line_each():
    broken = mcp_config.from_json_text(json.dumps({"mcpServers": {
        "a": {"command": "srv", "headers": {"Authorization": "Bearer $MISSING"}},
        "b": {}, "c": {"command": "x", "url": "https://y"}, "d": {"url": "ftp://x"}}}),
        ENV, "f.json")
    errors = {b.name: b.error for b in broken if isinstance(b, mcp_config.Broken)}
    assert "uses $MISSING, which is not set" in errors["a"]
    assert "needs either 'command'" in errors["b"] and "needs either" in errors["c"]
    assert "url must start with http" in errors["d"]
    with pytest.raises(ConfigError, match="not valid JSON"):
        mcp_config.from_json_text("{", ENV, "f.json")
    with pytest.raises(ConfigError, match="no \"mcpServers\""):
        mcp_config.from_json_text("{}", ENV, "f.json")
    with pytest.raises(ConfigError, match="unknown key 'comand'"):
        mcp_config.check_tables({"x": {"comand": "srv"}}, "config")
    servers = mcp_config.from_tables({"git": {"command": "uvx", "call_timeout": 5,
                                              "connect_timeout": 2, "scheduling": "silent"},
                                      "off": {"command": "x", "enabled": False}}, ENV)
    assert [s.name for s in servers] == ["git"]
    git = servers[0]
    assert isinstance(git, mcp_config.McpServerConfig)
    assert (git.call_timeout_s, git.connect_timeout_s, git.scheduling) == (5.0, 2.0, "silent")
    assert mcp_config.redact_arg("--api-key=abc") == "--api-key=<redacted>"


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def weather(city: str, days: int = 1, unit: Unit = Unit.C,
            style: Literal["short", "long"] = "short", tags: list[str] | None = None) -> dict:
    """The weather in a city.

    More words that are not the description.

    Args:
        city: the city's name,
            e.g. Oslo
        days (int): how many days ahead
    Returns:
        a dict
    """
    return {}


def test_python_functions_become_declarations():
    decl = pyfile.declare(weather)
    assert decl["description"] == "The weather in a city."
    schema = decl["schema"]
    assert schema["required"] == ["city"]
    props = schema["properties"]
    assert props["city"] == {"type": "string", "description": "the city's name, e.g. Oslo"}
    assert props["days"] == {"type": "integer", "description": "how many days ahead",
                             "default": 1}
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert props["style"] == {"enum": ["short", "long"], "default": "short"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "default": None}
    with pytest.raises(ValueError, match="docstring"):
        pyfile.declare(lambda x: x)


def test_tools_file_loads_public_documented_functions(tmp_path):
    path = tmp_path / "mytools.py"
    path.write_text('''
import voicecli

def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b

async def shout(text: str) -> str:
    """Say it louder."""
    return text.upper()

@voicecli.confirm
def delete_all(really: bool) -> str:
    """Delete everything."""
    return "gone"

def undocumented(x: int) -> int:
    return x

def _private(x: int) -> int:
    """Not a tool."""
    return x

def boom(x: int) -> int:
    """Fails."""
    raise RuntimeError("kaboom")
''')
    tools, skipped = pyfile.load(str(path))
    by_name = {e.name: (e, r) for e, r in tools}
    assert set(by_name) == {"add", "shout", "delete_all", "boom"}
    assert [s.name for s in skipped] == ["undocumented"]
    assert by_name["delete_all"][0].asks and not by_name["add"][0].asks
    run = asyncio.run
    assert run(by_name["add"][1]({"a": 2, "b": 3})) == {"output": 5}
    assert run(by_name["shout"][1]({"text": "hi"})) == {"output": "HI"}
    assert run(by_name["boom"][1]({"x": 1})) == {"error": "RuntimeError: kaboom"}
    assert "TypeError" in run(by_name["add"][1]({"a": 1}))["error"]
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    with pytest.raises(ConfigError, match=r"cannot load .*bad.py \(line 1\): SyntaxError"):
        pyfile.load(str(bad))


def test_confirmation_policy():
    untrusted = ToolEntry(name="git__git_commit", description="", origin="mcp server git",
                          trusted=False, destructive=True)
    trusted = ToolEntry(name="echo", description="", origin="built-in")
    live = ConfirmPolicy(interactive=True)
    assert live.decide(trusted) == "run" and live.decide(untrusted) == "ask"
    assert not live.answered(untrusted, "no") and live.decide(untrusted) == "ask"
    assert live.answered(untrusted, "always") and live.decide(untrusted) == "run"
    piped = ConfirmPolicy(interactive=False)
    assert piped.decide(untrusted) == "refuse"
    assert ConfirmPolicy(interactive=False, yes=True).decide(untrusted) == "run"
    text = prompt_text(untrusted, {"message": "fix it", "files": ["a"] * 40})
    assert text.startswith('Run git__git_commit(message="fix it", files=[')
    assert "(destructive, says its server)" in text and text.endswith("[y]es [n]o [a]lways")
    assert "…" in text


def test_scheduling_comes_from_config_then_the_server():
    box = Toolbox(scheduling={"a": "interrupt"})

    async def nothing(_args: dict) -> dict:
        return {}

    box.add(ToolEntry(name="a", description="", origin="x", scheduling="silent"), nothing)
    box.add(ToolEntry(name="b", description="", origin="x", scheduling="silent"), nothing)
    box.add(ToolEntry(name="c", description="", origin="x"), nothing)
    assert [box.scheduling_of(n) for n in "abc"] == ["interrupt", "silent", "when_idle"]
    with pytest.raises(ValueError):
        box.add(ToolEntry(name="a", description="", origin="y"), nothing)


def test_grounding_follows_the_reply_it_grounded():
    st = ConversationState()
    web = NS(uri="https://yr.no/oslo", title="yr.no", domain=None)
    meta = NS(web_search_queries=["weather oslo"], grounding_chunks=[NS(web=web), NS(web=web)])
    content = NS(input_transcription=None, model_turn=None, interrupted=None,
                 output_transcription=NS(text="Sunny."), grounding_metadata=meta,
                 turn_complete=None)
    st.on_message(NS(server_content=content, usage_metadata=None, tool_call=None,
                     tool_call_cancellation=None))
    done = NS(input_transcription=None, model_turn=None, interrupted=None,
              output_transcription=None, grounding_metadata=None, turn_complete=True)
    out = st.on_message(NS(server_content=done, usage_metadata=None, tool_call=None,
                           tool_call_cancellation=None))
    kinds = [type(e).__name__ for e in out]
    assert kinds == ["AssistantTranscript", "Grounding", "TurnComplete"]
    grounding = out[1]
    assert isinstance(grounding, ev.Grounding)
    assert grounding.queries == ["weather oslo"]
    assert grounding.sources == [{"title": "yr.no", "uri": "https://yr.no/oslo"}]
