"""The text, JSONL and transcript outputs, fed events directly."""

import io
import json

from voicecli import events as ev
from voicecli.tools.builtin import BUILTIN_TOOLS, run_tool
from voicecli.ui.outputs import JsonlWriter, TextView, TranscriptFile

CONVERSATION = [
    ev.SessionStarted(model="gemini-3.8-live", voice="Puck"),
    ev.UserTranscript(text="What time", final=False),
    ev.UserTranscript(text="What time is it?"),
    ev.ToolCall(id="c1", name="get_current_time", args={}),
    ev.ToolResult(id="c1", name="get_current_time", result={"time": "12:00"}),
    ev.AssistantAudio(turn=1, pcm=b"\0\0"),
    ev.AssistantTranscript(text="It is", final=False),
    ev.AssistantTranscript(text="It is noon."),
    ev.Interrupted(source="local", turn=1),
    ev.TurnComplete(turn=1, usage=ev.Usage(total_tokens=30)),
    ev.SessionEnded(),
]


def test_piped_text_is_one_line_per_utterance():
    out = io.StringIO()
    view = TextView(out, live=False)
    for e in CONVERSATION:
        view.handle(e)
    assert out.getvalue().splitlines() == [
        "You: What time is it?",
        '[tool call] get_current_time({})',
        '[tool result] get_current_time -> {"time": "12:00"}',
        "Gemini: It is noon.",
    ]


def test_jsonl_schema():
    out = io.StringIO()
    w = JsonlWriter(out)
    for e in CONVERSATION:
        w.handle(e)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["type"] for r in rows] == [
        "session_started", "user_transcript", "tool_call", "tool_result",
        "assistant_transcript", "interrupted", "turn_complete", "session_ended"]
    assert all(isinstance(r["ts"], float) for r in rows)
    assert rows[5]["source"] == "local"
    assert rows[6]["usage"]["total_tokens"] == 30


def test_transcript_file_appends_finished_lines(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("earlier\n")
    tf = TranscriptFile(str(path))
    for e in CONVERSATION:
        tf.handle(e)
    tf.close()
    assert path.read_text().splitlines()[0] == "earlier"
    assert "Gemini: It is noon." in path.read_text()


def test_builtin_time_tool_and_errors():
    assert "time" in run_tool(BUILTIN_TOOLS, "get_current_time", {"timezone": "UTC"})
    assert "error" in run_tool(BUILTIN_TOOLS, "get_current_time", {"timezone": "Mars/Base"})
    assert "error" in run_tool(BUILTIN_TOOLS, "nope", {})


def test_dropouts_become_events_at_most_once_a_second():
    from voicecli.runner import DropoutWatch

    watch = DropoutWatch()
    assert watch.check(0, 0, 0.0) is None  # nothing skipped: nothing to say
    first = watch.check(1, 0, 0.1)
    assert first is not None and (first.speaker, first.mic) == (1, 0)
    assert watch.check(3, 0, 0.5) is None  # a device that keeps underrunning: held back...
    later = watch.check(3, 1, 1.2)  # ...and told with the totals a second later
    assert later is not None and (later.speaker, later.mic) == (3, 1)
    assert watch.check(3, 1, 5.0) is None  # no new dropout, however long it has been


def test_dropouts_are_status_not_data():
    from voicecli.ui.outputs import StatusView

    event = ev.AudioDropout(ts=1.0, speaker=2, mic=1)
    text, err, jsonl = io.StringIO(), io.StringIO(), io.StringIO()
    TextView(text).handle(event)
    StatusView(err).handle(event)
    StatusView(io.StringIO(), quiet=True).handle(event)
    JsonlWriter(jsonl).handle(event)
    assert text.getvalue() == ""  # stdout stays the transcript
    assert err.getvalue() == "[audio dropout: speaker 2, microphone 1 so far]\n"
    assert json.loads(jsonl.getvalue()) == {"type": "audio_dropout", "ts": 1.0, "speaker": 2,
                                            "mic": 1}
