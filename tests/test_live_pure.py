"""Pure parts of the terminal experience: view state, status bar, meter, push-to-talk key,
commands, and the end-of-session summary."""

from __future__ import annotations

from voicecli import events as ev
from voicecli.summary import SessionSummary
from voicecli.ui.live import (
    PushToTalkKey,
    fit,
    meter,
    next_state,
    parse_command,
    shown_state,
    status_line,
)


def test_state_follows_the_conversation():
    state = "connecting"
    seq = [(ev.Status(state="connecting"), "connecting"), (ev.SessionStarted(model="m"),
           "listening"), (ev.UserTranscript(text="he", final=False), "you are speaking"),
           (ev.UserTranscript(text="hello"), "thinking"),
           (ev.ReplyStarted(turn=1), "speaking"),
           (ev.Interrupted(source="local", turn=1), "you are speaking"),
           (ev.TurnComplete(turn=1), "listening"), (ev.TextInput(text="hi"), "thinking"),
           (ev.Status(state="reconnecting"), "reconnecting"),
           (ev.PushToTalk(active=True), "you are speaking"),
           (ev.PushToTalk(active=False), "thinking"), (ev.SessionEnded(), "ended")]
    for event, want in seq:
        state = next_state(state, event)
        assert state == want, (event, state)


def test_shown_state_uses_live_readings():
    assert shown_state("listening", muted=False, level_dbfs=-20, playing=False) == \
        "you are speaking"
    assert shown_state("listening", muted=False, level_dbfs=-70, playing=False) == "listening"
    assert shown_state("listening", muted=True, level_dbfs=-20, playing=False) == "muted"
    assert shown_state("thinking", muted=False, level_dbfs=-70, playing=True) == "speaking"
    assert shown_state("speaking", muted=False, level_dbfs=-70, playing=False) == "listening"
    assert shown_state("reconnecting", muted=True, level_dbfs=0, playing=True) == "reconnecting"


def test_meter_and_status_line_fit_any_width():
    assert meter(-120) == "·" * 10 and meter(0) == "█" * 10 and meter(-30) == "█" * 5 + "·" * 5
    assert meter(float("-inf")) == "·" * 10
    full = status_line("listening", width=200, level_dbfs=-30, model="m", voice="Puck",
                       tokens=12, ptt=True)
    assert "mic █████·····" in full and "m · Puck" in full and "12 tokens" in full
    assert "Space: talk" in full
    for width in (8, 20, 40, 60):
        line = status_line("you are speaking", width=width, level_dbfs=-30, model="model",
                           voice="Puck", tokens=5)
        assert len(line) <= width
        assert line.strip().startswith("you are speaking"[: max(1, width - 2)])
    assert fit("abcdef", 4) == "…def" and fit("ab", 4) == "ab"


def test_commands():
    assert parse_command("/mute") == ("mute", "")
    assert parse_command("  /HELP me ") == ("help", "me")
    assert parse_command("hello") is None
    assert parse_command("//not a command") is None


def test_push_to_talk_tap_toggles_and_hold_releases():
    key = PushToTalkKey()
    assert key.press(0.0) == "start"
    assert key.tick(1.0) is None and key.active  # a tap: stays on
    assert key.press(3.0) == "stop" and not key.active
    # Held: auto-repeat after 0.5 s, then every 33 ms; released when the repeats stop.
    assert key.press(10.0) == "start"
    t = 10.5
    while t < 12.0:
        assert key.press(t) is None
        assert key.tick(t + 0.01) is None
        t += 0.033
    assert key.tick(t + 0.2) == "stop" and not key.active


def _usage(total: int, audio: int) -> ev.Usage:
    return ev.Usage(total_tokens=total, by_modality={"prompt_audio": audio,
                                                     "response_audio": total - audio})


def test_summary_from_events():
    s = SessionSummary()
    events = [ev.SessionStarted(model="m", ts=100.0),
              ev.UserTranscript(text="hi", final=False, ts=101.0),
              ev.UserTranscript(text="hi", ts=101.2),
              ev.ReplyStarted(turn=1, latency_ms=300.0, ts=101.5),
              ev.Interrupted(source="local", turn=1, ts=102.0),
              ev.Interrupted(source="server", turn=1, ts=102.3),  # the same barge-in
              ev.TurnComplete(turn=1, usage=_usage(100, 30), ts=102.4),
              ev.TextInput(text="and?", ts=110.0),
              ev.ReplyStarted(turn=2, latency_ms=900.0, ts=110.9),
              ev.ReplyStarted(turn=3, latency_ms=None, ts=111.0),  # proactive: not counted
              ev.TurnComplete(turn=2, usage=_usage(50, 10), ts=112.0),
              ev.SessionEnded(ts=165.0)]
    for e in events:
        s.add(e)
    assert s.turns == 2 and s.barge_ins == 1 and s.total_tokens == 150
    assert s.tokens == {"prompt_audio": 40, "response_audio": 110}
    assert round(s.median_first_audio_ms or 0) == 600  # median of 300 ms and 900 ms
    assert s.lines() == ["session: 1m05s, 2 turns, 1 barge-in",
                         "tokens: 150 total (prompt audio 40, response audio 110)",
                         "time to first audio: median 600 ms over 2 replies"]
    s.add(ev.SessionEnded(ts=165.0, speaker_xruns=2, mic_xruns=1))
    assert s.lines()[-1] == "audio dropouts: speaker 2, microphone 1"
