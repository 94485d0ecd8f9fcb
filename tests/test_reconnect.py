"""The reconnect policy, without sockets: classification, backoff, goAway timing, the outbox."""

from __future__ import annotations

import random
import socket
import ssl
from types import SimpleNamespace

import numpy as np
import pytest
from google.genai import errors as genai_errors

from voicecli import events as ev
from voicecli.live.errors import describe_failure, setting_hint
from voicecli.live.reconnect import (
    Outbox,
    ReconnectPolicy,
    classify,
    go_away_due,
    is_loud,
    parse_duration,
)
from voicecli.live.state import ConversationState


def api_error(code: int, reason: str) -> genai_errors.APIError:
    return genai_errors.APIError(code, reason, None)


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize(("exc", "kind"), [
    (api_error(1011, "Deadline expired"), "retry"),
    (api_error(1011, "keepalive ping timeout"), "retry"),
    (api_error(1006, "abnormal closure [internal]"), "retry"),
    (api_error(1000, ""), "retry"),
    (TypeError("'NoneType' object is not iterable"), "retry"),  # the SDK on an error frame
    (ValueError("Failed to parse response: b'{bad'"), "retry"),
    (ConnectionResetError(), "retry"),
    (api_error(1008, "API key not valid. Please pass a valid API key."), "fatal"),
    (api_error(1008, "models/x is not found"), "fatal"),
    (api_error(1007, "Invalid argument: speech_config.language_code"), "fatal"),
    (chained(OSError("connect failed"), ssl.SSLCertVerificationError("bad cert")), "fatal"),
    (chained(OSError("connect failed"), socket.gaierror(-2, "Name or service not known")),
     "fatal"),
])
def test_classify(exc, kind):
    assert classify(exc).kind == kind


def test_network_blips_are_retried_once_we_had_a_session():
    dns = chained(OSError("x"), socket.gaierror(-3, "Temporary failure"))
    assert classify(dns).kind == "fatal"  # first connect: a typo in the host, say so
    assert classify(dns, reconnecting=True).kind == "retry"
    assert classify(ConnectionRefusedError(), reconnecting=True).kind == "retry"


def test_refused_handle_means_fresh_session_only_when_resuming():
    exc = api_error(1008, "Session resumption handle is invalid or has expired.")
    assert classify(exc, resuming=True).kind == "handle_refused"
    assert classify(exc).kind == "fatal"
    key = api_error(1008, "API key not valid. Please pass a valid API key.")
    assert classify(key, resuming=True).kind == "fatal"


def test_1007_names_the_setting_and_the_flag():
    exc = api_error(1007, "Invalid argument: context_window_compression.trigger_tokens: "
                          "500000 exceeds the context window")
    message = str(describe_failure(exc, "the Gemini API"))
    assert "1007" in message and "trigger_tokens" in message
    assert "--compression-trigger-tokens" in message
    assert setting_hint("voice_name: unknown voice") == " (check --voice)"
    assert setting_hint("something else") == ""


def test_backoff_doubles_with_jitter_and_is_capped():
    policy = ReconnectPolicy(base_delay_s=0.1, max_delay_s=1.0)
    rng = random.Random(1)
    for attempt in range(1, 10):
        raw = min(1.0, 0.1 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt, rng) for _ in range(50)]
        assert all(raw / 2 <= d <= raw for d in delays)
        assert len(set(delays)) > 1  # jittered: clients do not reconnect in lockstep


def test_go_away_waits_for_quiet_but_not_past_the_deadline():
    policy = ReconnectPolicy(go_away_margin_s=1.0)
    deadline = policy.go_away_deadline(100.0, parse_duration("50s"))
    assert deadline == 149.0
    assert not go_away_due(120.0, deadline, quiet=False)  # the model is talking: wait
    assert go_away_due(120.0, deadline, quiet=True)  # quiet moment: go now
    assert go_away_due(149.0, deadline, quiet=False)  # out of time: go anyway
    # A short timeLeft keeps a proportionate margin.
    assert policy.go_away_deadline(0.0, 2.0) == 1.5


def test_parse_duration():
    assert parse_duration("1.5s") == 1.5
    assert parse_duration(SimpleNamespace(total_seconds=lambda: 7.0)) == 7.0
    assert parse_duration(None, default=3.0) == 3.0


def test_is_loud():
    assert not is_loud(np.zeros(640, np.int16).tobytes())
    assert is_loud((np.sin(np.arange(640) / 5) * 8000).astype(np.int16).tobytes())


# --------------------------------------------------------------------------- outbox


def sent(box: Outbox) -> list:
    """Send everything pending on the current connection; returns the payloads."""
    out = []
    while (entry := box.next_unsent()) is not None:
        box.mark_sent(entry)
        out.append(entry.payload)
    return out


def test_outbox_replays_what_no_handle_acknowledged():
    box = Outbox(max_audio=100)
    box.add("audio", b"a1")
    box.add("audio", b"a2")
    assert sent(box) == [b"a1", b"a2"]
    box.acknowledge(None)  # a handle after a2: the server has them
    box.add("audio", b"a3")
    box.add("tool_response", ["r1"])
    assert sent(box) == [b"a3", ["r1"]]
    box.add("audio", b"gap")  # captured while disconnected
    assert box.new_connection(resumed=True) == []
    assert sent(box) == [b"a3", ["r1"], b"gap"]  # in order, each once
    assert sent(box) == []


def test_outbox_uses_last_consumed_index_when_given():
    box = Outbox(max_audio=100)
    for i in range(4):
        box.add("audio", i)
    sent(box)  # indices 0..3
    box.acknowledge(1)
    box.new_connection(resumed=True)
    assert sent(box) == [2, 3]


def test_outbox_bounds_audio_and_counts_lost_gap_audio():
    box = Outbox(max_audio=3)
    box.add("audio", 0)
    sent(box)
    box.add("tool_response", ["r"])
    for i in range(1, 6):  # a long gap: nothing sent
        box.add("audio", i)
    assert [e.payload for e in box.entries] == [["r"], 3, 4, 5]  # tool response kept
    assert box.take_dropped_seconds(0.04) == pytest.approx(0.08)  # 1 and 2 never went out
    assert box.take_dropped_seconds(0.04) == 0


def test_fresh_session_drops_tool_responses():
    box = Outbox(max_audio=10)
    box.add("tool_response", ["r"])
    box.add("audio", b"x")
    dropped = box.new_connection(resumed=False)
    assert [e.payload for e in dropped] == [["r"]]  # the new session never made that call
    assert [e.kind for e in box.entries] == ["audio"]


# --------------------------------------------------------------------------- state


def content(**kw):
    return SimpleNamespace(server_content=SimpleNamespace(**{
        "input_transcription": None, "output_transcription": None, "model_turn": None,
        "interrupted": None, "turn_complete": None, **kw}), tool_call=None,
        tool_call_cancellation=None, usage_metadata=None)


def test_connection_lost_settles_partial_lines_once():
    state = ConversationState()
    state.on_message(content(input_transcription=SimpleNamespace(text="Hello")))
    state.on_message(content(output_transcription=SimpleNamespace(text="Hi the")))
    lines = state.connection_lost()
    assert [(type(e).__name__, e.text) for e in lines] == [
        ("AssistantTranscript", "Hi the")]  # the user's line settled when the reply began
    assert lines[0].interrupted and not state.in_reply
    assert state.connection_lost() == []  # nothing repeated
    # The next reply is a new turn, not a continuation of the cut one.
    events = state.on_message(content(output_transcription=SimpleNamespace(text="Next")))
    assert isinstance(events[-1], ev.AssistantTranscript) and events[-1].text == "Next"


def test_forget_tool_calls():
    state = ConversationState()
    state.pending_tool_calls["c1"] = "get_current_time"
    assert state.forget_tool_calls() == ["c1"]
    assert not state.tool_answered("c1")
