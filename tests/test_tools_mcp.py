"""Tools end to end: MCP servers (a small one written with the SDK's own ``MCPServer`` class,
over stdio and over streamable HTTP; real ones from PyPI as their READMEs configure them),
``--tools-file`` and ``--search``, through the real CLI and SDK against the emulator."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli.emulator.speech import sample_speech
from voicecli_testing.cli import ROOT, assert_one_line_error, clean_env, run_cli

DEMO = str(ROOT / "tests" / "mcp_demo_server.py")
LINES = ["Hello, can you hear me?", "What is the weather like?", "Please write that down.",
         "And one more thing."]


def speech(tmp_path: Path, n: int, lead_s: float = 4.0, gap_s: float = 5.0) -> str:
    """``n`` utterances after ``lead_s`` of silence (the servers start meanwhile), ``gap_s``
    apart (each reply, with its tool call, fits in a gap)."""
    parts = [np.zeros(int(16000 * lead_s), np.int16)]
    for text in LINES[:n]:
        parts += [np.frombuffer(sample_speech(text), dtype="<i2"),
                  np.zeros(int(16000 * gap_s), np.int16)]
    path = tmp_path / f"speech{n}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.concatenate(parts).tobytes())
    return str(path)


def scenario(tmp_path: Path, *turns: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text("\n".join(f"[[turn]]\nuser = {json.dumps(LINES[i])}\n{t}\n"
                              for i, t in enumerate(turns)))
    return path


def servers_json(tmp_path: Path, servers: dict) -> str:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return str(path)


def demo(*args: str, trust: bool = True, **extra) -> dict:
    return {"command": sys.executable, "args": [DEMO, "stdio", *args], "trust": trust, **extra}


def chat(emu, *args: str, env: dict | None = None, timeout: float = 120):
    return run_cli("chat", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
                   "--api-version", "v1beta", "--output", "/dev/null", *args,
                   env=env or clean_env(GEMINI_API_KEY=emu.api_key,
                                        VOICECLI_STATE_DIR=str(ROOT / ".state" / "test-state")),
                   timeout=timeout)


def responses(emu) -> list[dict]:
    return [r["response"] for c in emu.connections for r in c.tool_responses]


def jsonl(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path):
    """The demo server over streamable HTTP on 127.0.0.1 (a process of its own)."""
    port = free_port()
    notes = tmp_path / "http-notes.txt"
    proc = subprocess.Popen([sys.executable, DEMO, "http", str(port), "--notes", str(notes)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(10)


def test_stdio_and_http_servers_in_a_conversation(tmp_path, http_server):
    config = servers_json(tmp_path, {"local": demo(), "web": {
        "httpUrl": http_server, "headers": {"X-Token": "$DEMO_TOKEN"}, "trust": True}})
    scen = scenario(tmp_path,
                    'tool_call = { name = "local__echo", args = { text = "over stdio" } }\n'
                    'reply = "The local server said {result}."',
                    'tool_call = { name = "web__weather", args = { city = "Oslo" } }\n'
                    'reply = "It is {result[celsius]} degrees in {result[city]}."')
    with EmulatorThread(EmulatorConfig(scenario=scen)) as emu:
        env = clean_env(GEMINI_API_KEY=emu.api_key, DEMO_TOKEN="t0ken",
                        VOICECLI_STATE_DIR=str(tmp_path / "state"))
        proc = chat(emu, "--input", speech(tmp_path, 2), "--mcp-config", config,
                    "--format", "jsonl", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert responses(emu) == [{"output": "echo: over stdio"},
                              {"output": {"city": "Oslo", "celsius": 21.5, "sky": "clear"}}]
    rows = jsonl(proc)
    ready = {r["name"]: r for r in rows if r["type"] == "mcp_server"}
    assert ready["local"]["state"] == ready["web"]["state"] == "ready"
    assert ready["local"]["tools"]["local__echo"] == "echo"
    assert ready["local"]["declared"] == "now"  # a context update on gemini-3.8-live
    calls = [(r["type"], r["name"]) for r in rows if r["type"] in ("tool_call", "tool_result")]
    assert calls == [("tool_call", "local__echo"), ("tool_result", "local__echo"),
                     ("tool_call", "web__weather"), ("tool_result", "web__weather")]
    said = [r["text"] for r in rows if r["type"] == "assistant_transcript"]
    assert said == ["The local server said echo: over stdio.", "It is 21.5 degrees in Oslo."]
    # What the model was told: MCP schemas as parameters_json_schema, named server__tool.
    conn = emu.connections[0]
    update = conn.context_updates[-1]["tools"]["tools"]
    declared = {d["name"]: d for t in update for d in t.get("function_declarations", [])}
    assert declared["web__weather"]["parameters_json_schema"]["required"] == ["city"]
    assert "get_current_time" in declared  # the built-in tool stays
    log = (tmp_path / "state" / "mcp" / "local.log").read_text()
    assert "demo server starting" in log  # its stderr went to the log, not the terminal
    assert "demo server starting" not in proc.stderr


def test_mcp_list_shows_servers_their_tools_and_failures(tmp_path, http_server):
    config = servers_json(tmp_path, {
        "local": demo(trust=False), "web": {"url": http_server},
        "missing": {"command": "no-such-mcp-server-here"},
        "hung": demo("--hang", connectTimeout=1500)})
    proc = run_cli("mcp", "list", "--mcp-config", config,
                   env=clean_env(VOICECLI_STATE_DIR=str(tmp_path / "state")))
    out = proc.stdout
    assert proc.returncode == 1, proc.stderr  # some failed
    assert "Traceback" not in proc.stderr
    assert "local: ready in" in out and "asks before each call" in out
    assert "    local__echo  <- echo [read-only]: Say the text back." in out
    assert "web: ready in" in out and "http: http://127.0.0.1" in out
    assert "    web__add_note  <- add_note: Write a note down (a side effect)." in out
    assert "missing: failed: cannot start it: no such program or folder" in out
    assert "hung: failed: it did not start within 1.5 s" in out


def test_mcp_add_remove_and_the_config_file(tmp_path):
    env = clean_env(VOICECLI_CONFIG=str(tmp_path / "config.toml"),
                    VOICECLI_STATE_DIR=str(tmp_path / "state"))
    added = run_cli("mcp", "add", "demo", "--env", "A=1", "--", sys.executable, DEMO, "stdio",
                    env=env)
    assert added.returncode == 0, added.stderr
    text = (tmp_path / "config.toml").read_text()
    assert "[mcp_servers.demo]" in text and '"stdio"' in text and "[mcp_servers.demo.env]" in text
    listed = run_cli("mcp", "list", env=env)
    assert listed.returncode == 0 and "demo: ready in" in listed.stdout, listed.stderr
    shown = run_cli("config", "show", env=env).stdout
    assert "'A': '<hidden>'" in shown  # env values never shown
    assert_one_line_error(run_cli("mcp", "add", "x", env=env), "a command (after --) or --url")
    assert run_cli("mcp", "remove", "demo", env=env).returncode == 0
    assert_one_line_error(run_cli("mcp", "remove", "demo", env=env), "no MCP server 'demo'")


def test_real_time_server_from_pypi_as_its_readme_configures_it(tmp_path):
    """mcp-server-time, run by uvx as its README tells Claude Desktop users (read-only, but
    its server is not trusted: --yes lets it run without a terminal to ask in)."""
    config = servers_json(tmp_path, {"time": {"command": "uvx", "args": ["mcp-server-time"]}})
    scen = scenario(tmp_path, 'tool_call = { name = "time__get_current_time", args = { '
                              'timezone = "Asia/Tokyo" } }\nreply = "In Tokyo it is {result}."')
    with EmulatorThread(EmulatorConfig(scenario=scen)) as emu:
        proc = chat(emu, "--input", speech(tmp_path, 1, lead_s=8.0), "--mcp-config", config,
                    "--yes")
    assert proc.returncode == 0, proc.stderr
    out = responses(emu)[0]["output"]
    assert out["timezone"] == "Asia/Tokyo" and out["datetime"].endswith("+09:00")
    assert "[tool call] time__get_current_time" in proc.stdout


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def scratch_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "Test")
    (repo / "a.txt").write_text("one\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-qm", "first")
    (repo / "a.txt").write_text("two\n")
    git(repo, "add", "a.txt")
    return repo


def git_commit_turn(repo: Path) -> str:
    return (f'tool_call = {{ name = "git__git_commit", args = {{ repo_path = '
            f'{json.dumps(str(repo))}, message = "second" }} }}\nreply = "Done: {{result}}"')


def test_git_commit_asks_first_and_is_refused_without_a_terminal(tmp_path):
    """mcp-server-git as its README configures it; a commit is a side effect, and piped
    output has nobody to ask: it is refused, said so, and nothing is committed."""
    repo = scratch_repo(tmp_path)
    config = servers_json(tmp_path, {"git": {"command": "uvx", "args": [
        "mcp-server-git", "--repository", str(repo)]}})
    with EmulatorThread(EmulatorConfig(scenario=scenario(tmp_path, git_commit_turn(repo)))) \
            as emu:
        proc = chat(emu, "--input", speech(tmp_path, 1, lead_s=8.0), "--mcp-config", config)
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "log", "--format=%s").split() == ["first"]  # no commit
    assert "no terminal" in responses(emu)[0]["error"]
    assert "[tool refused] git__git_commit" in proc.stdout
    assert "[note] git__git_commit was not run" in proc.stderr and "--yes" in proc.stderr


def test_server_faults_are_one_line_each_and_the_conversation_goes_on(tmp_path):
    notes = tmp_path / "notes.txt"
    config = servers_json(tmp_path, {
        "demo": demo("--notes", str(notes), timeout=1000),
        "missing": {"command": "no-such-mcp-server-here"},
        "hung": demo("--hang", connectTimeout=1000)})
    scen = scenario(tmp_path,
                    'tool_call = { name = "demo__crash", args = {} }\nreply = "Crash: {result}"',
                    'tool_call = { name = "demo__echo", args = { text = "back" } }\n'
                    'reply = "Echo: {result}"',
                    'tool_call = { name = "demo__slow", args = { seconds = 5 } }\n'
                    'reply = "Slow: {result}"')
    with EmulatorThread(EmulatorConfig(scenario=scen)) as emu:
        proc = chat(emu, "--input", speech(tmp_path, 3, gap_s=6.0), "--mcp-config", config)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("[mcp] ") and "failed" in ln]
    assert len(failed) == 2, proc.stderr
    assert any("missing failed: cannot start it" in ln for ln in failed)
    assert any("hung failed: it did not start within 1 s" in ln for ln in failed)
    crash, echo, slow = responses(emu)
    assert "stopped during the call" in crash["error"]
    assert echo == {"output": "echo: back"}  # restarted once, on its next call
    assert "did not answer within 1 s" in slow["error"]
    assert len(emu.connections[0].replies) == 3 and all(
        r.sent_bytes for r in emu.connections[0].replies)


def test_a_server_cancellation_cancels_the_mcp_call(tmp_path):
    notes = tmp_path / "notes.txt"
    config = servers_json(tmp_path, {"demo": demo("--notes", str(notes))})
    scen = scenario(tmp_path, 'tool_call = { name = "demo__slow", args = { seconds = 4 } }\n'
                              'cancel_tool_call = true\nreply = "Never mind."')
    with EmulatorThread(EmulatorConfig(scenario=scen, tool_cancel_delay_ms=800)) as emu:
        proc = chat(emu, "--input", speech(tmp_path, 1), "--mcp-config", config,
                    "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 5
    while "slow cancelled" not in notes.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert notes.read_text().splitlines() == ["slow start 4.0", "slow cancelled"]
    types = [r["type"] for r in jsonl(proc)]
    assert "tool_cancelled" in types and "tool_result" not in types
    assert responses(emu) == []  # a cancelled call is not answered


def test_a_model_without_mid_session_tools_gets_them_at_a_renewal(tmp_path):
    config = servers_json(tmp_path, {"demo": demo()})
    scen = scenario(tmp_path, 'tool_call = { name = "demo__echo", args = { text = "later" } }\n'
                              'reply = "{result}"')
    with EmulatorThread(EmulatorConfig(scenario=scen)) as emu:
        proc = chat(emu, "--model", "gemini-2.5-flash-native-audio-preview-12-2025",
                    "--input", speech(tmp_path, 1), "--mcp-config", config)
    assert proc.returncode == 0, proc.stderr
    assert "declared when the connection is next renewed" in proc.stderr
    assert len(emu.connections) == 2  # renewed at a quiet moment, resumed
    assert not emu.connections[0].context_updates
    assert "demo__echo" in emu.connections[1].declared_tools
    assert emu.connections[1].setup["session_resumption"]["handle"]
    assert responses(emu) == [{"output": "echo: later"}]


def test_tools_file_sync_and_async_functions(tmp_path):
    tools = tmp_path / "mytools.py"
    tools.write_text('''
import asyncio


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


async def shout(text: str) -> str:
    """Say the text louder."""
    await asyncio.sleep(0.05)
    return text.upper() + "!"


def broken(x: int) -> int:
    """Always fails."""
    raise ValueError("no luck")


def no_docstring(x: int) -> int:
    return x
''')
    scen = scenario(tmp_path, 'tool_call = { name = "add", args = { a = 2, b = 40 } }\n'
                              'reply = "That makes {result}."',
                    'tool_call = { name = "shout", args = { text = "hello" } }\n'
                    'reply = "{result}"',
                    'tool_call = { name = "broken", args = { x = 1 } }\nreply = "{result}"')
    with EmulatorThread(EmulatorConfig(scenario=scen)) as emu:
        proc = chat(emu, "--input", speech(tmp_path, 3, lead_s=0.5, gap_s=4.0),
                    "--tools-file", str(tools))
    assert proc.returncode == 0, proc.stderr
    assert responses(emu) == [{"output": 42}, {"output": "HELLO!"},
                              {"error": "ValueError: no luck"}]
    assert "Gemini: That makes 42." in proc.stdout
    assert "no_docstring() is not a tool: it has no docstring" in proc.stderr
    declared = emu.connections[0].declared_tools
    assert declared["add"]["parameters_json_schema"]["required"] == ["a", "b"]
    bad = run_cli("chat", "--emulator", "--tools-file", str(tmp_path / "nope.py"))
    assert_one_line_error(bad, "--tools-file: no such file")


def test_search_grounding_is_shown_under_the_reply(tmp_path):
    scen = scenario(tmp_path, 'reply = "It is sunny in Oslo."\n'
                              'grounding = { queries = ["weather oslo"], sources = ['
                              '{ title = "yr.no", uri = "https://www.yr.no/oslo" }] }')
    with EmulatorThread(EmulatorConfig(scenario=scen)) as emu:
        text = chat(emu, "--input", speech(tmp_path, 1, lead_s=0.5), "--search")
        rows = chat(emu, "--input", speech(tmp_path, 1, lead_s=0.5), "--search",
                    "--format", "jsonl")
        plain = chat(emu, "--input", speech(tmp_path, 1, lead_s=0.5))
    assert text.returncode == rows.returncode == plain.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    at = lines.index("Gemini: It is sunny in Oslo.")
    assert lines[at + 1] == "Sources: yr.no <https://www.yr.no/oslo> (searched: weather oslo)"
    grounding = [r for r in jsonl(rows) if r["type"] == "grounding"]
    assert grounding[0]["sources"] == [{"title": "yr.no", "uri": "https://www.yr.no/oslo"}]
    assert {"google_search": {}} in emu.connections[0].setup["tools"]
    assert "Sources:" not in plain.stdout  # no search declared, no grounding
    assert_one_line_error(run_cli("chat", "--emulator", "--search", "--model",
                                  "gemini-3.5-live-translate-preview"), "Google Search")
