"""Tools in the live view (tmux): the one-key confirmation while the conversation goes on,
running tools with their elapsed time, calls and results on screen."""

from __future__ import annotations

import re
import subprocess

from test_tools_mcp import (
    demo,
    git,
    git_commit_turn,
    responses,
    scenario,
    scratch_repo,
    servers_json,
    speech,
)
from tmux import TmuxChat, chat_args

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli.tools.confirm import DECLINED


def env_for(emu, tmp_path) -> dict[str, str]:
    return {"GEMINI_API_KEY": emu.api_key, "VOICECLI_STATE_DIR": str(tmp_path / "state")}


def test_confirm_no_then_always(tmp_path):
    notes = tmp_path / "notes.txt"
    config = servers_json(tmp_path, {"demo": demo("--notes", str(notes), trust=False)})
    turns = [f'tool_call = {{ name = "demo__add_note", args = {{ text = "{word}" }} }}\n'
             'reply = "{result}"' for word in ("first", "second", "third")]
    with EmulatorThread(EmulatorConfig(scenario=scenario(tmp_path, *turns))) as emu, \
            TmuxChat(chat_args(emu, "--input", speech(tmp_path, 3, gap_s=4.0), "--output",
                               "/dev/null", "--mcp-config", config),
                     env_for(emu, tmp_path), tmp_path, width=120) as term:
        screen = term.wait_for('Run demo__add_note(text="first")? [y]es [n]o [a]lways', 40)
        # While it asks, the call shows as running, with its elapsed time.
        assert re.search(r"demo__add_note \d+\.\d s", screen), screen
        term.send("n")
        term.wait_for("[tool declined] demo__add_note", 10)
        term.wait_for('Run demo__add_note(text="second")?', 30)
        term.send("a")
        term.wait_for("(and from now on, this session)", 10)
        screen = term.wait_for(lambda s: s.count("[tool result] demo__add_note") == 3, 30,
                               "three results")
        assert 'Run demo__add_note(text="third")' not in screen  # trusted for the session
        term.send("C-c")
        assert term.wait_exit()[0] == 0
    first, second, third = responses(emu)
    assert first == {"error": DECLINED}
    assert second == {"output": "noted: second"} and third == {"output": "noted: third"}
    assert notes.read_text().splitlines() == ["note: second", "note: third"]
    assert '[tool call] demo__add_note({"text": "third"})' in screen


def test_git_commit_runs_once_the_user_says_yes(tmp_path):
    repo = scratch_repo(tmp_path)
    config = servers_json(tmp_path, {"git": {"command": "uvx", "args": [
        "mcp-server-git", "--repository", str(repo)]}})
    with EmulatorThread(EmulatorConfig(scenario=scenario(tmp_path, git_commit_turn(repo)))) \
            as emu, \
            TmuxChat(chat_args(emu, "--input", speech(tmp_path, 1, lead_s=8.0), "--output",
                               "/dev/null", "--mcp-config", config),
                     env_for(emu, tmp_path), tmp_path, width=160) as term:
        term.wait_for("[mcp] git ready", 40)
        term.wait_for('Run git__git_commit(repo_path=', 30)
        assert git(repo, "log", "--format=%s").split() == ["first"]  # not before the yes
        term.send("y")
        term.wait_for("[tool result] git__git_commit", 20)
        term.send("C-c")
        assert term.wait_exit()[0] == 0
    assert git(repo, "log", "--format=%s").split() == ["second", "first"]
    assert "Changes committed" in responses(emu)[0]["output"]
    assert subprocess.run(["git", "-C", str(repo), "status", "--porcelain"],
                          capture_output=True, text=True).stdout == ""
