"""Emulator fault injection and resumption, on the sans-I/O session with a fake clock."""

from __future__ import annotations

import pytest
from test_emulator_core import Driver, parse

from voicecli.emulator.faults import FaultError, parse_fault
from voicecli.emulator.resumption import HandleStore
from voicecli.emulator.scenario import ScenarioError, parse_scenario
from voicecli.emulator.timeline import Close, Drop, SendRaw, Stall

TOOL_SCENARIO = parse_scenario('[[turn]]\nuser="t"\nreply="It is {result[time]}."\n'
                               'tool_call={name="get_current_time"}\n')
TOOLS = [{"functionDeclarations": [{"name": "get_current_time"}]}]


def faults_of(d: Driver) -> list:
    return [o for _, o in d.out if isinstance(o, Drop | Stall | SendRaw | Close)]


@pytest.mark.parametrize(("table", "expected"), [
    ({"kind": "drop", "at_s": 1.0}, Drop()),
    ({"kind": "close", "at_s": 1.0, "code": 1011, "reason": "boom"}, Close(1011, "boom")),
    ({"kind": "stall", "at_s": 1.0, "seconds": 2.5}, Stall(2.5)),
])
def test_timed_faults(table, expected):
    d = Driver(faults=(table,))
    d.setup()
    d.advance(0.9)
    assert faults_of(d) == []
    d.advance(0.2)
    assert faults_of(d) == [expected]
    assert any(e.name == "fault" for e in d.session.record.events)


def test_malformed_frames():
    d = Driver(faults=({"kind": "malformed", "at_s": 0.1},
                       {"kind": "malformed", "at_s": 0.2, "frame": "invalid_json"}))
    d.setup()
    d.advance(0.3)
    raw = [o.text for o in faults_of(d)]
    assert '"error"' in raw[0] and raw[1].startswith("{") and not raw[1].endswith("}")


def test_event_and_message_count_triggers_and_connection_choice():
    d = Driver(pace=0, faults=({"kind": "drop", "on": "first_audio", "delay_s": 0.05},))
    d.setup()
    d.send({"realtime_input": {"text": "hi"}})
    d.advance(0.2)
    assert isinstance(faults_of(d)[-1], Drop) and d.session.closed

    d = Driver(faults=({"kind": "drop", "after_messages": 2},))
    d.setup(sessionResumption={})  # setupComplete + one resumption update
    d.advance(0.01)
    assert faults_of(d) == [Drop()]

    second_only = ({"kind": "drop", "at_s": 0.1, "connection": 2},)
    d = Driver(faults=second_only)
    d.setup()
    d.advance(1)
    assert faults_of(d) == []  # only the second connection drops


def test_go_away_fault_then_deadline():
    d = Driver(faults=({"kind": "go_away", "at_s": 1, "time_left_s": 0.5},))
    d.setup()
    d.advance(1.1)
    assert parse(d.messages[-1]).go_away.time_left == "0.5s"
    d.advance(0.5)
    assert d.closed() == Close(1011, "Deadline expired")


def test_fault_tables_are_validated():
    with pytest.raises(FaultError, match="exactly one"):
        parse_fault({"kind": "drop"})
    with pytest.raises(FaultError, match="kind"):
        parse_fault({"kind": "explode", "at_s": 1})
    with pytest.raises(FaultError, match="unknown keys"):
        parse_fault({"kind": "drop", "at_s": 1, "when": 2})
    sc = parse_scenario('refuse_resumption = true\n[[fault]]\nkind="stall"\non="tool_call"\n'
                        'seconds=2\n[[turn]]\nuser="a"\nreply="b"\n')
    assert sc.refuse_resumption and sc.faults[0].seconds == 2
    with pytest.raises(ScenarioError, match="fault 1"):
        parse_scenario('[[fault]]\nkind="drop"\non="never"\n')


def last_handle(d: Driver) -> str:
    updates = [m for m in d.messages if "sessionResumptionUpdate" in m]
    return updates[-1]["sessionResumptionUpdate"]["newHandle"]


def test_resume_continues_a_pending_tool_call():
    handles = HandleStore()
    d = Driver(scenario=TOOL_SCENARIO, handles=handles, pace=0)
    d.setup(tools=TOOLS, sessionResumption={})
    d.send({"realtime_input": {"text": "what time is it?"}})
    d.advance(0.5)
    call = next(m for m in d.messages if "toolCall" in m)["toolCall"]["functionCalls"][0]
    assert d.kinds()[-1] == "sessionResumptionUpdate"  # a handle right after the call
    handle = last_handle(d)
    d.session.connection_lost(d.now)  # the connection drops before the answer

    d2 = Driver(scenario=TOOL_SCENARIO, handles=handles, pace=0)
    d2.setup(tools=TOOLS, sessionResumption={"handle": handle})
    d2.send({"tool_response": {"functionResponses": [
        {"id": call["id"], "name": call["name"], "response": {"time": "10:42"}}]}})
    d2.advance(2)
    assert d2.text("outputTranscription") == "It is 10:42."
    assert [e.name for e in d2.session.record.events].count("tool_response_unmatched") == 0


def test_handles_mark_the_user_turn_taken():
    """A drop mid-reply resumes after that turn: it is not answered twice."""
    handles = HandleStore()
    d = Driver(handles=handles, pace=0.5)
    d.setup(sessionResumption={})
    d.send({"realtime_input": {"text": "hi"}})
    d.advance(0.2)  # reply started, not finished
    handle = last_handle(d)
    d2 = Driver(handles=handles, pace=0)
    d2.setup(sessionResumption={"handle": handle})
    d2.send({"realtime_input": {"text": "next"}})
    d2.advance(2)
    assert d2.session.record.replies[0].index == 1


def test_refuse_resumption():
    handles = HandleStore()
    d = Driver(handles=handles)
    d.setup(sessionResumption={})
    d2 = Driver(handles=handles, refuse_resumption=True)
    d2.setup(sessionResumption={"handle": last_handle(d)})
    assert d2.closed().code == 1008 and "handle" in d2.closed().reason


def test_compression_settings_are_validated_naming_the_field():
    d = Driver()
    d.setup(contextWindowCompression={"triggerTokens": 500000, "slidingWindow": {}})
    assert d.closed().code == 1007 and "trigger_tokens" in d.closed().reason
    d = Driver()
    d.setup(contextWindowCompression={"triggerTokens": 1000,
                                      "slidingWindow": {"targetTokens": 2000}})
    assert d.closed().code == 1007 and "target_tokens" in d.closed().reason


def test_a_reply_not_yet_begun_is_said_in_full_after_resuming():
    handles = HandleStore()
    d = Driver(handles=handles, pace=0, response_delay_ms=300)
    d.setup(sessionResumption={}, outputAudioTranscription={})
    d.send({"realtime_input": {"text": "hi"}})
    d.advance(0.1)  # the turn is taken, the reply is still being "thought"
    assert "modelTurn" not in d.kinds()
    handle = last_handle(d)
    d.session.connection_lost(d.now)
    d2 = Driver(handles=handles, pace=0)
    d2.setup(sessionResumption={"handle": handle})
    d2.advance(2)
    assert d2.text("outputTranscription") == d.session.scenario.turns[0].reply
    assert d2.session.record.replies[0].resumed
