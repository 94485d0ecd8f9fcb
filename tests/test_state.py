"""ConversationState: server messages (real SDK types) → events. No sockets."""

import base64

from google.genai import types

from voicecli import events as ev
from voicecli.live.state import ConversationState


def msg(**kw) -> types.LiveServerMessage:
    return types.LiveServerMessage.model_validate(kw)


def audio(pcm: bytes = b"\x01\x00" * 240) -> dict:
    return {"serverContent": {"modelTurn": {"parts": [{"inlineData": {
        "mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(pcm).decode()}}]}}}


def kinds(events):
    return [(type(e).__name__, getattr(e, "final", None)) for e in events]


def test_a_full_turn():
    st = ConversationState()
    out = []
    for m in [
        {"serverContent": {"inputTranscription": {"text": "What time"}}},
        {"serverContent": {"inputTranscription": {"text": " is it?"}}},
        audio(),
        {"serverContent": {"outputTranscription": {"text": "It is "}}},
        {"serverContent": {"outputTranscription": {"text": "noon."}}},
        {"serverContent": {"generationComplete": True}},
        {"serverContent": {"turnComplete": True},
         "usageMetadata": {"promptTokenCount": 10, "responseTokenCount": 20,
                           "totalTokenCount": 30,
                           "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 20}]}},
    ]:
        out += st.on_message(msg(**m))
    finals = [e for e in out if getattr(e, "final", False)]
    assert [(type(e).__name__, e.text) for e in finals] == [
        ("UserTranscript", "What time is it?"), ("AssistantTranscript", "It is noon.")]
    audio_events = [e for e in out if isinstance(e, ev.AssistantAudio)]
    assert audio_events[0].turn == 1 and audio_events[0].rate == 24000
    assert len(audio_events[0].pcm) == 480
    done = out[-1]
    assert isinstance(done, ev.TurnComplete) and done.turn == 1
    assert done.usage.total_tokens == 30
    assert done.usage.by_modality == {"response_audio": 20}


def test_server_interruption_drops_late_audio_and_marks_text():
    st = ConversationState()
    st.on_message(msg(**audio()))
    st.on_message(msg(serverContent={"outputTranscription": {"text": "Once upon"}}))
    out = st.on_message(msg(serverContent={"interrupted": True}))
    assert isinstance(out[0], ev.AssistantTranscript) and out[0].interrupted
    assert isinstance(out[1], ev.Interrupted) and out[1].source == "server"
    # the next reply is a new turn and plays
    out = st.on_message(msg(**audio()))
    assert isinstance(out[-1], ev.AssistantAudio) and out[-1].turn == 2


def names(events):
    return [type(e).__name__ for e in events]


def test_local_interrupt_holds_then_local_confirm_drops_rest_of_turn():
    st = ConversationState()
    st.on_message(msg(**audio()))
    st.on_message(msg(serverContent={"outputTranscription": {"text": "Hello the"}}))
    out = st.local_interrupt()
    assert names(out) == ["Interrupted"]  # held: the line waits for the verdict
    assert out[0].source == "local" and out[0].turn == 1
    assert st.local_interrupt() == []  # once per hold
    # While held, the turn keeps arriving (it may still be resumed).
    assert names(st.on_message(msg(**audio()))) == ["AssistantAudio"]
    out = st.confirm_local()
    assert names(out) == ["AssistantTranscript", "BargeInConfirmed"]
    assert out[0].interrupted and out[1].by == "local" and out[1].turn == 1
    assert st.on_message(msg(**audio())) == []  # late audio of turn 1: dropped
    assert st.on_message(msg(serverContent={"outputTranscription": {"text": "re"}})) == []
    assert st.local_interrupt() == []  # turn 1 is over
    out = st.on_message(msg(serverContent={"turnComplete": True}))
    assert names(out) == ["TurnComplete"]
    out = st.on_message(msg(**audio()))
    assert out[-1].turn == 2


def test_false_barge_in_resumes_and_the_line_is_not_marked():
    st = ConversationState()
    st.on_message(msg(**audio()))
    st.on_message(msg(serverContent={"outputTranscription": {"text": "It is noon."}}))
    st.local_interrupt()
    # The turn completes while held: its line waits for the verdict.
    assert names(st.on_message(msg(serverContent={"turnComplete": True}))) == ["TurnComplete"]
    out = st.resume_local()
    assert names(out) == ["BargeInResumed", "AssistantTranscript"]
    assert out[1].text == "It is noon." and not out[1].interrupted
    assert st.resume_local() == [] and st.held_turn == 0


def test_server_interrupted_confirms_a_held_barge_in():
    st = ConversationState()
    st.on_message(msg(**audio()))
    st.on_message(msg(serverContent={"outputTranscription": {"text": "Once upon"}}))
    st.local_interrupt()
    out = st.on_message(msg(serverContent={"interrupted": True}))
    assert names(out) == ["AssistantTranscript", "Interrupted", "BargeInConfirmed"]
    assert out[0].interrupted and out[1].source == "server" and out[2].by == "server"
    assert st.held_turn == 0


def test_local_interrupt_without_reply_is_nothing():
    assert ConversationState().local_interrupt() == []


def test_tool_call_and_cancellation():
    st = ConversationState()
    out = st.on_message(msg(toolCall={"functionCalls": [
        {"id": "c1", "name": "get_current_time", "args": {"timezone": "UTC"}}]}))
    assert out == [ev.ToolCall(id="c1", name="get_current_time", args={"timezone": "UTC"},
                               ts=out[0].ts)]
    out = st.on_message(msg(toolCallCancellation={"ids": ["c1"]}))
    assert isinstance(out[0], ev.ToolCancelled) and out[0].ids == ["c1"]
    assert st.tool_answered("c1") is False  # cancelled: do not answer


def test_user_transcript_finalised_at_turn_complete_without_reply():
    st = ConversationState()
    st.on_message(msg(serverContent={"inputTranscription": {"text": "hmm"}}))
    out = st.on_message(msg(serverContent={"turnComplete": True}))
    assert isinstance(out[0], ev.UserTranscript) and out[0].text == "hmm"


def test_finish_settles_half_heard_lines():
    st = ConversationState()
    st.on_message(msg(serverContent={"inputTranscription": {"text": "and then"}}))
    out = st.finish()
    assert [(type(e).__name__, e.text, e.final) for e in out] == [
        ("UserTranscript", "and then", True)]
    st.on_message(msg(**audio()))
    st.on_message(msg(serverContent={"outputTranscription": {"text": "Well"}}))
    out = st.finish()
    assert isinstance(out[0], ev.AssistantTranscript) and out[0].interrupted
    assert st.finish() == []
