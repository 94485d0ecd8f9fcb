"""The fault matrix: every injected failure at several points of a conversation.

Each case runs a real conversation (file audio, the real google-genai SDK, ChatRunner, the
emulator) of two user turns: "Hello, can you hear me?" and "What time is it right now?" (a
tool call). A fault hits the first connection during the user's speech, during a reply, or
during the tool call. Recoverable faults must leave the conversation intact (every line
exactly once, the tool answered exactly once); the others must end with one clear line and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass

import pytest

from voicecli import events as ev
from voicecli.app import chat_runner
from voicecli.audio.engine import FileSink, FileSource
from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli.live.reconnect import ReconnectPolicy
from voicecli.settings import Credentials, Settings
from voicecli.ui.outputs import EventBus
from voicecli_testing.cli import (
    HELLO_WAV,
    assert_one_line_error,
    clean_env,
    hello_then_ask_time,
    run_cli,
)

SCENARIO = """
[[turn]]
user = "Hello, can you hear me?"
reply = "Yes, I can hear you."

[[turn]]
user = "What time is it right now?"
tool_call = { name = "get_current_time", args = {} }
reply = "It is {result[time]} now."
"""
USER_LINES = ["Hello, can you hear me?", "What time is it right now?"]
FIRST_REPLY = "Yes, I can hear you."
# Short keepalive so a stalled server is noticed within a couple of seconds.
POLICY = ReconnectPolicy(ping_interval_s=0.5, ping_timeout_s=1.0, close_timeout_s=0.5,
                         max_attempts=4)


class Collect:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def handle(self, event: ev.Event) -> None:
        if not isinstance(event, ev.AssistantAudio):
            self.events.append(event)

    def close(self) -> None:
        pass

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def lines(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind) and e.final]


@pytest.fixture(scope="module")
def conversation_wav(tmp_path_factory: pytest.TempPathFactory) -> str:
    # The first reply ends within the 3.5 s gap.
    return hello_then_ask_time(tmp_path_factory.mktemp("faults") / "talk.wav", gap_s=3.5)


@dataclass
class Outcome:
    code: int
    events: Collect
    emu: EmulatorThread


def run_case(tmp_path, wav: str, faults: tuple = (), refuse: bool = False,
             policy: ReconnectPolicy = POLICY) -> Outcome:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    config = EmulatorConfig(scenario=scenario, faults=faults, refuse_resumption=refuse)
    with EmulatorThread(config) as emu:
        settings = Settings(credentials=Credentials(
            api_key=emu.api_key, base_url=emu.base_url, api_version="v1beta",
            ca_cert=emu.ca_cert_path), reconnect=policy)
        collect = Collect()
        runner, _ = chat_runner(settings, EventBus([collect]), FileSource(wav),
                                FileSink(str(tmp_path / "out.wav")))
        code = asyncio.run(runner.run())
    return Outcome(code, collect, emu)


def assert_intact(out: Outcome, cut_reply: bool = False) -> None:
    """Every user line exactly once; replies once (the one in flight may be cut short); the
    tool called and answered exactly once, its answer spoken exactly once."""
    got = out.events
    assert out.code == 0, got.of(ev.ErrorEvent)
    assert not [e for e in got.of(ev.ErrorEvent) if e.fatal]
    assert [e.text for e in got.lines(ev.UserTranscript)] == USER_LINES
    said = got.lines(ev.AssistantTranscript)
    first = [e for e in said if FIRST_REPLY.startswith(e.text.rstrip("."))]
    assert len(first) == 1, said
    if cut_reply:
        assert first[0].interrupted, first
    else:
        assert first[0].text == FIRST_REPLY and not first[0].interrupted, said
    calls, results = got.of(ev.ToolCall), got.of(ev.ToolResult)
    assert len(calls) == 1 and len(results) == 1 and results[0].id == calls[0].id
    spoken = [e for e in said if results[0].result["time"] in e.text]
    assert len(spoken) == 1 and not spoken[0].interrupted, said
    assert len(said) == 2, said  # nothing else was said, nothing repeated
    matched = [e for c in out.emu.connections for e in c.events if e.name == "tool_response"]
    assert len(matched) >= 1
    assert not got.of(ev.ToolCancelled)


def assert_reconnected(out: Outcome, reason: str = "") -> None:
    reconnecting, resumed = out.events.of(ev.Reconnecting), out.events.of(ev.Resumed)
    assert reconnecting and resumed, out.events.events
    assert reason in reconnecting[0].reason
    assert not resumed[0].fresh
    assert len(out.emu.connections) >= 2
    assert any(e.name == "resumed" for e in out.emu.connections[1].events)


# Where in the conversation the fault hits the first connection.
POINTS = {
    "speech": {"on": "speech_start", "delay_s": 0.2},  # the user is talking
    "reply": {"on": "first_audio", "delay_s": 0.3},  # the model is talking
    "tool": {"on": "tool_call", "delay_s": 0.05},  # the tool call is in flight
}
RECOVERABLE = {
    "drop": ({"kind": "drop"}, "1006"),
    "close1011": ({"kind": "close", "code": 1011, "reason": "Internal error encountered."},
                  "1011"),
    "error_frame": ({"kind": "malformed", "frame": "error"}, ""),
    "stall": ({"kind": "stall", "seconds": 4.0}, ""),
}
CASES = [(f, p) for f in ("drop", "close1011") for p in POINTS] + [
    ("error_frame", "tool"), ("stall", "reply")]


@pytest.mark.parametrize(("fault", "point"), CASES)
def test_recovers_with_the_conversation_intact(tmp_path, conversation_wav, fault, point):
    spec, reason = RECOVERABLE[fault]
    out = run_case(tmp_path, conversation_wav, faults=({**spec, **POINTS[point]},))
    assert_reconnected(out, reason)
    assert_intact(out, cut_reply=point == "reply")
    # The reconnect is visible in order: the cut line, then reconnecting, then resumed.
    kinds = [type(e).__name__ for e in out.events.events]
    assert kinds.index("Reconnecting") < kinds.index("Resumed")


def test_invalid_json_frame_during_speech(tmp_path, conversation_wav):
    out = run_case(tmp_path, conversation_wav,
                   faults=({"kind": "malformed", "frame": "invalid_json", **POINTS["speech"]},))
    assert_reconnected(out)
    assert_intact(out)


def test_go_away_reconnects_at_a_quiet_moment(tmp_path, conversation_wav):
    out = run_case(tmp_path, conversation_wav,
                   faults=({"kind": "go_away", "time_left_s": 4.0, **POINTS["reply"]},))
    assert_reconnected(out, "go_away")
    assert_intact(out)  # nothing cut: it waited for the reply to end
    first = out.emu.connections[0]
    assert first.close_reason != "Deadline expired"  # we left before the deadline
    assert first.times("client_closed")


def test_short_stall_is_not_a_drop(tmp_path, conversation_wav):
    """A server that goes quiet for less than the keepalive timeout is waited for."""
    out = run_case(tmp_path, conversation_wav,
                   faults=({"kind": "stall", "seconds": 0.6, **POINTS["speech"]},),
                   policy=ReconnectPolicy(ping_interval_s=0.5, ping_timeout_s=3.0))
    assert not out.events.of(ev.Reconnecting)
    assert len(out.emu.connections) == 1
    assert_intact(out)


@pytest.mark.parametrize("point", ["speech", "tool"])
def test_refused_handle_starts_a_fresh_session_and_says_so(tmp_path, conversation_wav, point):
    out = run_case(tmp_path, conversation_wav, refuse=True,
                   faults=({"kind": "drop", **POINTS[point], "delay_s": 0.0},))
    got = out.events
    assert out.code == 0
    resumed = got.of(ev.Resumed)
    assert resumed and resumed[0].fresh
    assert any("new one" in n.message for n in got.of(ev.Notice))
    closes = [c.close_code for c in out.emu.connections]
    assert 1008 in closes  # the handle was refused, then a fresh session was opened
    # Nothing duplicated by the reconnect: the fresh session starts its script over, so the
    # user's lines follow what each session heard, each once.
    users = [e.text for e in got.lines(ev.UserTranscript)]
    heard = [r.user_text for c in out.emu.connections for r in c.replies]
    assert users == heard[: len(users)] and len(users) >= 2
    if point == "tool":  # the call in flight is reported lost, not silently dropped
        lost = [e for e in got.of(ev.ToolCancelled) if e.lost]
        calls = got.of(ev.ToolCall)
        answered = out.emu.connections[0].times("tool_response")  # it made it before the drop
        assert calls and (answered or [e.ids for e in lost] == [[calls[0].id]]), got.events


def test_gives_up_after_bounded_attempts(tmp_path, conversation_wav):
    """A server that drops every connection at once: bounded retries, then one clear line."""
    policy = ReconnectPolicy(max_attempts=3, base_delay_s=0.05)
    out = run_case(tmp_path, conversation_wav, policy=policy,
                   faults=({"kind": "close", "code": 1011, "reason": "overloaded",
                            "at_s": 0.3, "connection": 0},))
    assert out.code == 4
    fatal = [e for e in out.events.of(ev.ErrorEvent) if e.fatal]
    assert len(fatal) == 1 and "could not reconnect after 3 attempts" in fatal[0].message
    assert [e.attempt for e in out.events.of(ev.Reconnecting)] == [1, 2, 3]


# --------------------------------------------------------------------------- fatal


def _proxy_that_refuses() -> tuple[int, threading.Event]:
    """An HTTP proxy answering every CONNECT with 403."""
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = srv.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], stop


@pytest.mark.parametrize("case", ["unknown_model", "config_1007", "dns", "proxy", "tls"])
def test_fatal_errors_are_one_clear_line(tmp_path, case):
    with EmulatorThread(EmulatorConfig()) as emu:
        args = ["chat", "--input", str(HELLO_WAV), "--output", str(tmp_path / "o.wav"),
                "--api-version", "v1beta", "--base-url", emu.base_url,
                "--ca-cert", emu.ca_cert_path]
        env = {"GEMINI_API_KEY": emu.api_key}
        needles: tuple[str, ...] = ()
        stop = None
        if case == "unknown_model":
            args += ["--model", "gemini-0-nonsense"]
            needles = ("1008", "gemini-0-nonsense")
        elif case == "config_1007":
            args += ["--compression-trigger-tokens", "500000"]
            needles = ("1007", "trigger_tokens", "--compression-trigger-tokens")
        elif case == "dns":
            args[args.index(emu.base_url)] = "https://no-such-host.invalid"
            needles = ("cannot resolve",)
        elif case == "proxy":
            port, stop = _proxy_that_refuses()
            env |= {"HTTPS_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": ""}
            needles = ("proxy",)
        elif case == "tls":
            del args[args.index("--ca-cert"):args.index("--ca-cert") + 2]
            needles = ("--ca-cert",)
        proc = run_cli(*args, env=clean_env(**env), timeout=60)
        if stop is not None:
            stop.set()
    assert proc.returncode == 4, proc.stderr
    assert_one_line_error(proc, *needles)
    assert emu.api_key not in proc.stderr + proc.stdout
