"""Tool calls through the real SDK against the emulator (file audio, no devices)."""

from __future__ import annotations

import asyncio
import io
import json
import time

from voicecli import events as ev
from voicecli.app import chat_runner
from voicecli.audio.engine import FileSink, FileSource
from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli.settings import Credentials, Settings
from voicecli.tools.builtin import BUILTIN_TOOLS, Tool
from voicecli.ui.outputs import EventBus, JsonlWriter
from voicecli_testing.cli import HELLO_WAV, hello_then_ask_time


class Collect:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def handle(self, event: ev.Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass


def two_utterances(tmp_path) -> str:
    """'Hello, can you hear me?' then, after a pause, 'What time is it right now?'."""
    return hello_then_ask_time(tmp_path / "two.wav", gap_s=5)  # the first reply fits in the gap


def run(emu, wav: str, tmp_path, tools: dict[str, Tool]) -> tuple[list[ev.Event], str]:
    settings = Settings(credentials=Credentials(api_key=emu.api_key, base_url=emu.base_url,
                                                api_version="v1beta", ca_cert=emu.ca_cert_path))
    collect, jsonl = Collect(), io.StringIO()
    bus = EventBus([collect, JsonlWriter(jsonl)])
    runner, _ = chat_runner(settings, bus, FileSource(wav),
                            FileSink(str(tmp_path / "out.wav")), tools=tools)
    assert asyncio.run(runner.run()) == 0
    return collect.events, jsonl.getvalue()


def test_tool_call_round_trip(tmp_path):
    with EmulatorThread(EmulatorConfig()) as emu:
        events, jsonl = run(emu, two_utterances(tmp_path), tmp_path, BUILTIN_TOOLS)
        conn = emu.connections[0]
    declared = conn.setup["tools"][0]["function_declarations"][0]["name"]
    assert declared == "get_current_time"
    call = next(e for e in events if isinstance(e, ev.ToolCall))
    result = next(e for e in events if isinstance(e, ev.ToolResult))
    assert call.name == "get_current_time" and result.id == call.id
    assert "time" in result.result
    # The emulator got our answer with the call's id, and spoke it.
    assert conn.tool_responses[0]["id"] == call.id
    said = [e.text for e in events if isinstance(e, ev.AssistantTranscript) and e.final]
    assert any(result.result["time"] in text for text in said), said
    types = [json.loads(line)["type"] for line in jsonl.splitlines()]
    assert types.index("tool_call") < types.index("tool_result")


def test_cancelled_tool_call_is_not_answered(tmp_path):
    scenario = tmp_path / "cancel.toml"
    scenario.write_text('''
[[turn]]
user = "Look up the weather."
tool_call = { name = "slow_lookup", args = { city = "Paris" } }
cancel_tool_call = true
reply = "Never mind, let us talk about something else."
''')

    def slow_lookup(args: dict) -> dict:
        time.sleep(1.5)  # longer than the emulator's cancellation delay (300 ms)
        return {"weather": "sunny"}

    slow = Tool("slow_lookup", "Look up something slowly.",
                {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}, slow_lookup)
    with EmulatorThread(EmulatorConfig(scenario=scenario)) as emu:
        events, jsonl = run(emu, str(HELLO_WAV), tmp_path, {"slow_lookup": slow})
        conn = emu.connections[0]
    call = next(e for e in events if isinstance(e, ev.ToolCall))
    cancelled = next(e for e in events if isinstance(e, ev.ToolCancelled))
    assert cancelled.ids == [call.id]
    assert not any(isinstance(e, ev.ToolResult) for e in events)
    assert conn.tool_responses == []  # never answered after the cancellation
    assert '"tool_cancelled"' in jsonl
