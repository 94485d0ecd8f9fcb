"""Pure tests of the emulator core: no sockets, a fake clock."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from google.genai import _live_converters, types

from voicecli.emulator import wire
from voicecli.emulator.config import EmulatorConfig
from voicecli.emulator.replies import fragments
from voicecli.emulator.resumption import HandleStore
from voicecli.emulator.scenario import (
    Scenario,
    ScenarioError,
    Turn,
    load_scenario,
    parse_scenario,
    render,
)
from voicecli.emulator.session import Session
from voicecli.emulator.settings import parse_setup
from voicecli.emulator.speech import Synthesizer, sample_speech
from voicecli.emulator.timeline import Close, Send
from voicecli.emulator.vad import VadSettings, VoiceActivityDetector, vad_settings

GEMINI = wire.Route("gemini", "v1beta", "BidiGenerateContent")
VERTEX = wire.Route("vertex", "v1beta1", "BidiGenerateContent")
SYNTH = Synthesizer()
SPEECH = sample_speech("Hello there, can you hear me?", synth=SYNTH)


def tone(ms: int, dbfs: float, freq: float = 440.0) -> bytes:
    t = np.arange(16 * ms) / 16000
    amp = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)
    return (amp * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(32 * ms)


# --------------------------------------------------------------------------- wire helpers

def test_normalize_renames_keys_but_not_user_payloads() -> None:
    msg = {"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": "AA"}]},
           "toolResponse": {"functionResponses": [
               {"id": "1", "name": "f", "response": {"camelKey": 1}}]}}
    out = wire.normalize(msg)
    assert out["realtime_input"]["media_chunks"][0]["mime_type"] == "audio/pcm"
    assert out["tool_response"]["function_responses"][0]["response"] == {"camelKey": 1}
    assert wire.normalize({"already_snake": {"x_y": 1}}) == {"already_snake": {"x_y": 1}}


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_b64decode_accepts_both_alphabets_padded_or_not(encode: Any) -> None:
    data = bytes(range(256)) * 3 + b"\xfb\xff"
    text = encode(data).decode()
    assert wire.b64decode(text) == data
    assert wire.b64decode(text.rstrip("=")) == data


def test_pcm_rate() -> None:
    assert wire.pcm_rate("audio/pcm;rate=24000") == 24000
    assert wire.pcm_rate("audio/pcm; rate=8000") == 8000
    assert wire.pcm_rate("audio/pcm") == 16000
    assert wire.pcm_rate("image/jpeg") is None


def test_routes() -> None:
    for v in ("v1", "v1beta", "v1alpha"):
        path = f"//ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent"
        assert wire.parse_route(path) == wire.Route("gemini", v, "BidiGenerateContent")
    constrained = ("/ws/google.ai.generativelanguage.v1alpha.GenerativeService."
                   "BidiGenerateContentConstrained?x=1")
    assert wire.parse_route(constrained).method == "BidiGenerateContentConstrained"
    vertex = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
    assert wire.parse_route(vertex) == VERTEX
    assert wire.parse_route("/ws/google.ai.generativelanguage.v2.GenerativeService.X") is None
    assert wire.parse_route("/") is None


def test_auth_and_redaction() -> None:
    path = "/ws/x"
    assert wire.is_authorized(GEMINI, {"X-Goog-Api-Key": "k"}, path, "k")
    assert wire.is_authorized(GEMINI, {"Authorization": "Bearer k"}, path, "k")
    assert wire.is_authorized(GEMINI, {}, "/ws/x?key=k", "k")
    assert not wire.is_authorized(GEMINI, {"x-goog-api-key": "bad"}, path, "k")
    assert not wire.is_authorized(GEMINI, {}, path, "k")
    assert wire.is_authorized(VERTEX, {"authorization": "Bearer k"}, path, "k")
    assert not wire.is_authorized(VERTEX, {}, "/ws/x?key=k", "k")
    redacted = wire.redact_headers({"x-goog-api-key": "k", "Authorization": "Bearer k", "A": "b"})
    assert redacted == {"x-goog-api-key": "<redacted>", "Authorization": "<redacted>", "A": "b"}
    assert "secret" not in wire.redact_path("/ws/x?key=secret&a=1")


def test_close_reason_fits_a_close_frame() -> None:
    assert len(wire.close_reason("é" * 200).encode()) <= wire.MAX_REASON_BYTES
    assert wire.close_reason("short") == "short"


def parse(message: dict[str, Any], vertex: bool = False) -> types.LiveServerMessage:
    """Parse a server message exactly as the SDK's receive() does."""
    raw = json.loads(json.dumps(message))
    convert = (_live_converters._LiveServerMessage_from_vertex if vertex
               else _live_converters._LiveServerMessage_from_mldev)
    return types.LiveServerMessage._from_response(response=convert(raw), kwargs={})


def test_every_server_message_type_parses_with_the_sdk() -> None:
    pcm = bytes(range(200)) * 4
    m = parse(wire.setup_complete("sid"))
    assert m.setup_complete.session_id == "sid"
    assert parse(wire.input_transcription("Hi")).server_content.input_transcription.text == "Hi"
    assert parse(wire.output_transcription(" yo")).server_content.output_transcription.text == \
        " yo"
    m = parse(wire.audio_chunk(pcm))
    assert m.server_content.model_turn.parts[0].inline_data.data == pcm
    assert m.server_content.model_turn.parts[0].inline_data.mime_type == "audio/pcm;rate=24000"
    assert m.data == pcm
    assert parse(wire.generation_complete()).server_content.generation_complete is True
    assert parse(wire.interrupted()).server_content.interrupted is True
    for vertex in (False, True):
        usage = wire.usage_metadata({"AUDIO": 30, "TEXT": 5}, {"AUDIO": 75}, vertex=vertex)
        m = parse(wire.turn_complete(usage), vertex=vertex)
        assert m.server_content.turn_complete is True
        u = m.usage_metadata
        assert (u.prompt_token_count, u.response_token_count, u.total_token_count) == \
            (35, 75, 110)
        assert {d.modality.value: d.token_count for d in u.prompt_tokens_details} == \
            {"AUDIO": 30, "TEXT": 5}
        assert u.response_tokens_details[0].modality == types.MediaModality.AUDIO
    m = parse(wire.tool_call("id1", "get_current_time", {"tz": "UTC"}))
    call = m.tool_call.function_calls[0]
    assert (call.id, call.name, call.args) == ("id1", "get_current_time", {"tz": "UTC"})
    assert parse(wire.tool_call_cancellation(["id1"])).tool_call_cancellation.ids == ["id1"]
    m = parse(wire.resumption_update("h", 7))
    assert m.session_resumption_update.new_handle == "h"
    assert m.session_resumption_update.resumable is True
    assert m.session_resumption_update.last_consumed_client_message_index == 7
    assert parse(wire.go_away(5)).go_away.time_left == "5s"


def test_elide_audio() -> None:
    msg = wire.elide_audio(wire.audio_chunk(b"\0" * 1920))
    assert msg["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"] == "<1920 bytes>"


# --------------------------------------------------------------------------- setup validation

def setup(model: str = "models/gemini-3.8-live", **extra: Any) -> dict[str, Any]:
    return wire.normalize({"model": model, **extra})


def error_of(body: dict[str, Any], route: wire.Route = GEMINI) -> wire.ProtocolError:
    with pytest.raises(wire.ProtocolError) as e:
        parse_setup(body, route)
    return e.value


def test_setup_accepts_known_models_in_every_spelling() -> None:
    assert parse_setup(setup(), GEMINI).model == "gemini-3.8-live"
    assert parse_setup(setup("gemini-3.1-flash-live-preview"), GEMINI).info.mid_session_text is \
        False
    vertex_name = ("projects/p/locations/us-central1/publishers/google/models/"
                   "gemini-live-2.5-flash-native-audio")
    assert parse_setup(setup(vertex_name), VERTEX).model == "gemini-live-2.5-flash-native-audio"


def test_setup_rejects_unknown_model_like_google() -> None:
    e = error_of(setup("models/gemini-9"))
    assert e.code == 1008
    assert e.reason.startswith("models/gemini-9 is not found for API version v1beta, or is not "
                               "supported for bidiGenerateContent")
    assert error_of(setup("models/gemini-3.1-flash-live-preview"), VERTEX).code == 1008


@pytest.mark.parametrize(("extra", "field"), [
    ({"generationConfig": {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {
        "voiceName": "Bogus"}}}}}, "voice_name"),
    ({"generationConfig": {"speechConfig": {"languageCode": "xx-YY"}}}, "language_code"),
    ({"generationConfig": {"responseModalities": ["TEXT"]}}, "response_modalities"),
    ({"proactivity": {"proactiveAudio": False}}, "proactive_audio"),
    ({"enableAffectiveDialog": True}, "enable_affective_dialog"),
    ({"generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH"}}}, "thinking_level"),
    ({"realtimeInputConfig": {"automaticActivityDetection": {"silenceDurationMs": "x"}}},
     "silence_duration_ms"),
    ({"realtimeInputConfig": {"automaticActivityDetection": {
        "startOfSpeechSensitivity": "LOUD"}}}, "start_of_speech_sensitivity"),
])
def test_setup_rejects_bad_values_naming_the_field(extra: dict[str, Any], field: str) -> None:
    e = error_of(setup(**extra))
    assert e.code == 1007
    assert field in e.reason


def test_setup_model_capabilities() -> None:
    s = parse_setup(setup("models/gemini-3.8-live-extended-thinking", generationConfig={
        "thinkingConfig": {"thinkingLevel": "HIGH"}}), GEMINI)
    assert s.model == "gemini-3.8-live-extended-thinking"
    s = parse_setup(setup("models/gemini-2.5-flash-native-audio-preview-12-2025",
                          enableAffectiveDialog=True), GEMINI)
    assert s.info.affective_dialog
    translate = "models/gemini-3.5-live-translate-preview"
    assert error_of(setup(translate, tools=[{"functionDeclarations": [{"name": "f"}]}])).code \
        == 1007
    assert error_of(setup(translationConfig={"targetLanguageCode": "de"})).code == 1007


def test_setup_reads_options() -> None:
    s = parse_setup(setup(
        generationConfig={"speech_config": {"voice_config": {"prebuilt_voice_config": {
            "voice_name": "kore"}}, "languageCode": "de-de"}},
        inputAudioTranscription={}, realtimeInputConfig={
            "automaticActivityDetection": {"disabled": True, "silenceDurationMs": 800},
            "activityHandling": "NO_INTERRUPTION"},
        tools=[{"functionDeclarations": [{"name": "get_current_time"}]}, {"googleSearch": {}}],
        sessionResumption={"handle": "abc"}), GEMINI)
    assert (s.voice, s.language) == ("Kore", "de-DE")
    assert s.input_transcription and not s.output_transcription
    assert not s.automatic_activity_detection and s.silence_duration_ms == 800
    assert not s.interrupts
    assert s.tools == {"get_current_time"}
    assert s.resumption and s.resumption_handle == "abc"


# --------------------------------------------------------------------------- VAD

def run_vad(pcm: bytes, settings: VadSettings | None = None, step: int = 960):
    vad = VoiceActivityDetector(settings)
    events = []
    for i in range(0, len(pcm), step):
        events += vad.feed(pcm[i:i + step])
    return vad, events


def test_vad_ignores_digital_silence_and_faint_noise() -> None:
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 32768 * 10 ** (-62 / 20), 16000 * 2)).astype("<i2").tobytes()
    for pcm in (silence(2000), noise, tone(1000, -60)):
        vad, events = run_vad(pcm, VadSettings(aggressiveness=0))
        assert events == [] and not vad.in_speech


def test_vad_detects_speech_start_and_end() -> None:
    pcm = silence(500) + SPEECH + silence(800)
    _, events = run_vad(pcm)
    assert [e.kind for e in events] == ["start", "end"]
    start, end = events
    assert 0.4 < start.sample / 16000 < 0.7  # onset near the real start of the speech
    speech_s = len(SPEECH) / 32000
    assert end.duration_ms / 1000 == pytest.approx(speech_s, abs=0.25)
    assert len(end.audio) / 32000 == pytest.approx(speech_s + 0.1, abs=0.3)  # with preroll


def test_vad_needs_enough_voiced_audio_to_start() -> None:
    blip = SPEECH[32000 * 0 + 6400: 6400 + 32 * 40]  # 40 ms of speech
    _, events = run_vad(silence(300) + blip + silence(600))
    assert events == []


def test_vad_flush_and_settings_mapping() -> None:
    vad, events = run_vad(SPEECH[: len(SPEECH) // 2])
    assert vad.in_speech and [e.kind for e in events] == ["start"]
    assert vad.flush().kind == "end" and not vad.in_speech
    assert vad.flush() is None
    s = vad_settings(silence_duration_ms=None, prefix_padding_ms=None,
                     start_sensitivity="START_SENSITIVITY_HIGH",
                     end_sensitivity="END_SENSITIVITY_LOW", default_silence_ms=500)
    assert (s.aggressiveness, s.start_ms, s.silence_ms) == (1, 60, 1000)
    s = vad_settings(silence_duration_ms=300, prefix_padding_ms=0, start_sensitivity=None,
                     end_sensitivity="END_SENSITIVITY_HIGH")
    assert (s.aggressiveness, s.start_ms, s.silence_ms) == (2, 20, 300)


# --------------------------------------------------------------------------- scenarios

def test_default_scenario() -> None:
    sc = load_scenario(None)
    assert 3 <= len(sc.turns) <= 4
    tools = [t.tool_call.name for t in sc.turns if t.tool_call]
    assert tools == ["get_current_time"]
    assert sc.turn(len(sc.turns)) == sc.turns[0]  # cycles
    assert load_scenario("parrot").parrot


def test_scenario_parsing_and_errors(tmp_path: Any) -> None:
    sc = parse_scenario("""
        after_last = "default"
        default_reply = "Bye."
        [[turn]]
        user = "u"
        reply = "r"
        tool_call = { name = "f", args = { a = 1 } }
        cancel_tool_call = true
    """)
    assert sc.turns[0].tool_call.args == {"a": 1} and sc.turns[0].cancel_tool_call
    assert sc.turn(5).reply == "Bye."
    for bad in ('[[turn]]\nuser="u"\nreply="r"\nextra=1',
                '[[turn]]\nuser="u"\nreply="r"\ncancel_tool_call=true',
                '[[turn]]\nuser="u"', 'after_last="never"', "x = ["):
        with pytest.raises(ScenarioError):
            parse_scenario(bad)
    path = tmp_path / "mine.toml"
    path.write_text('[[turn]]\nuser="a"\nreply="b"\n')
    assert load_scenario(path).turns == (Turn("a", "b"),)
    with pytest.raises(ScenarioError):
        load_scenario(tmp_path / "missing.toml")


def test_render_templates() -> None:
    assert render("It is {result}.", {"time": "10:42"}) == "It is 10:42."
    assert render("{result[time]} / {result.zone}", {"time": "1", "zone": "UTC"}) == "1 / UTC"
    assert render("{result[a][b]}", {"a": {"b": 2}}) == "2"
    assert render("{result[nope]} {args[q]}", {}, {"q": "cats"}) == "unknown cats"
    assert render("{{literal}} {result.__class__} {other}", {"x": 1}) == \
        "{literal} unknown {other}"
    assert render("{result}", {"a": 1, "b": True}) == "a 1, b yes"


def test_fragments() -> None:
    text = "Hi there! Supercalifragilisticexpialidocious, I am here."
    parts = fragments(text)
    assert "".join(parts) == text
    assert all(2 <= len(p) <= 10 for p in parts)


# --------------------------------------------------------------------------- session core

class Driver:
    """Runs a Session on a fake clock and collects its output."""

    def __init__(self, scenario: Scenario | None = None, authorized: bool = True,
                 route: wire.Route = GEMINI, handles: HandleStore | None = None,
                 **cfg: Any) -> None:
        cfg.setdefault("response_delay_ms", 100)
        self.config = EmulatorConfig(**cfg)
        self.now = 100.0
        self.session = Session(self.config, scenario or load_scenario(None), SYNTH,
                               handles or HandleStore(), route, authorized=authorized)
        self.out: list[tuple[float, Send | Close]] = []

    def send(self, message: dict[str, Any] | str) -> None:
        raw = message if isinstance(message, str) else json.dumps(message)
        self.session.receive(raw, self.now)
        self.poll()

    def poll(self) -> None:
        self.out += [(self.now, o) for o in self.session.poll(self.now)]

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            deadline = self.session.next_deadline()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self.poll()
        self.now = end
        self.poll()

    def audio(self, pcm: bytes, chunk_ms: int = 20, speed: float = 1.0) -> None:
        step = 32 * chunk_ms
        for i in range(0, len(pcm), step):
            data = base64.urlsafe_b64encode(pcm[i:i + step]).decode()
            self.send({"realtime_input": {"audio": {"data": data,
                                                    "mime_type": "audio/pcm;rate=16000"}}})
            self.advance(chunk_ms / 1000 / speed)

    def setup(self, **extra: Any) -> None:
        self.send({"setup": {"model": "models/gemini-3.8-live", "inputAudioTranscription": {},
                             "outputAudioTranscription": {}, **extra}})

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [o.message for _, o in self.out if isinstance(o, Send)]

    def kinds(self) -> list[str]:
        names = []
        for m in self.messages:
            sc = m.get("serverContent", {})
            names.append(next(iter(sc)) if sc else next(iter(m)))
        return names

    def closed(self) -> Close:
        closes = [o for _, o in self.out if isinstance(o, Close)]
        assert closes, self.kinds()
        return closes[-1]

    def text(self, key: str) -> str:
        return "".join(m["serverContent"][key]["text"] for m in self.messages
                       if key in m.get("serverContent", {}))


def test_session_setup_and_first_message_rules() -> None:
    d = Driver()
    d.setup()
    assert d.kinds() == ["setupComplete"]
    assert parse(d.messages[0]).setup_complete.session_id
    d = Driver()
    d.send({"realtime_input": {"text": "hi"}})
    assert d.closed().code == 1007
    d = Driver()
    d.send("{not json")
    assert d.closed().code == 1007
    d = Driver(authorized=False)
    d.setup()
    assert d.closed() == Close(1008, wire.API_KEY_INVALID)
    d = Driver()
    d.setup()
    d.send({"bogusField": {}})
    assert d.closed().code == 1007 and "bogus_field" in d.closed().reason


def test_session_speech_turn_order_pacing_and_usage() -> None:
    d = Driver(pace=2.0)
    d.setup()
    d.audio(silence(200) + SPEECH + silence(700))
    d.advance(10)
    kinds = d.kinds()
    sc = load_scenario(None)
    assert d.text("inputTranscription") == sc.turns[0].user
    assert d.text("outputTranscription") == sc.turns[0].reply
    first_audio = kinds.index("modelTurn")
    assert set(kinds[1:first_audio]) == {"inputTranscription"}
    assert kinds[-2:] == ["generationComplete", "turnComplete"]
    reply = d.session.record.replies[0]
    audio = b"".join(base64.b64decode(m["serverContent"]["modelTurn"]["parts"][0]
                                      ["inlineData"]["data"]) for m in d.messages
                     if "modelTurn" in m.get("serverContent", {}))
    assert audio == reply.pcm and reply.sent_bytes == len(audio)
    assert len(d.messages[first_audio]["serverContent"]["modelTurn"]["parts"][0]
               ["inlineData"]["data"]) == len(base64.b64encode(b"\0" * 1920))
    times = [t for (t, o) in d.out if isinstance(o, Send) and "modelTurn" in
             o.message.get("serverContent", {})]
    assert times[-1] - times[0] == pytest.approx(reply.duration_s / 2, abs=0.25)
    usage = parse(d.messages[-1]).usage_metadata
    assert usage.response_token_count == pytest.approx(reply.duration_s * 25, abs=1)
    assert usage.total_token_count == usage.prompt_token_count + usage.response_token_count
    events = [e.name for e in d.session.record.events]
    assert events.index("speech_start") < events.index("speech_end") < events.index(
        "first_audio") < events.index("turn_complete")
    for m in d.messages:
        parse(m)


def test_session_interruption_while_playing() -> None:
    d = Driver(pace=0)  # all audio sent at once; it still "plays" in real time
    d.setup()
    d.audio(SPEECH + silence(700))
    d.advance(0.2)
    assert "turnComplete" in d.kinds()  # sent, but still playing
    reply = d.session.record.replies[0]
    assert reply.duration_s > 2
    d.audio(SPEECH + silence(700))
    assert "interrupted" in d.kinds()
    rec = d.session.record
    t_int = rec.times("interrupted")[0]
    assert t_int - rec.times("speech_start")[1] >= 0.3 - 0.1
    assert rec.replies[0].interrupted
    d.advance(10)
    assert len(rec.replies) == 2  # the interrupting speech became the next user turn


def test_session_interruption_stops_sending_and_short_sounds_are_ignored() -> None:
    d = Driver(pace=1.0)
    d.setup()
    d.audio(SPEECH + silence(700))
    d.advance(0.3)
    d.audio(SPEECH[6400:6400 + 32 * 200] + silence(700))  # 200 ms: below interrupt delay
    assert "interrupted" not in d.kinds()
    assert d.session.record.times("speech_ignored")
    d.audio(SPEECH[:32 * 600])
    assert "interrupted" in d.kinds()
    n = len(d.kinds())
    d.advance(0.3)
    assert d.kinds()[n:].count("modelTurn") == 0
    r = d.session.record.replies[0]
    assert 0 < r.sent_bytes < len(r.pcm)


def test_session_no_interruption_handling() -> None:
    d = Driver(pace=0)
    d.setup(realtimeInputConfig={"activityHandling": "NO_INTERRUPTION"})
    d.audio(SPEECH + silence(700))
    d.audio(SPEECH + silence(700))
    assert "interrupted" not in d.kinds()


def test_session_manual_activity_and_stream_end() -> None:
    d = Driver(pace=0)
    d.setup(realtimeInputConfig={"automaticActivityDetection": {"disabled": True}})
    d.send({"realtime_input": {"activityStart": {}}})
    d.audio(SPEECH)
    assert "modelTurn" not in d.kinds()
    d.send({"realtime_input": {"activityEnd": {}}})
    d.advance(1)
    assert "turnComplete" in d.kinds()
    d.send({"realtime_input": {"activityStart": {}}})  # barge in while it plays
    assert d.kinds()[-1] == "interrupted"

    d = Driver()
    d.setup()
    d.send({"realtime_input": {"activityStart": {}}})
    assert d.closed().code == 1007

    d = Driver(pace=0)
    d.setup()
    d.audio(SPEECH)
    assert d.session.record.replies == []
    d.send({"realtime_input": {"audioStreamEnd": True}})
    d.advance(1)
    assert "turnComplete" in d.kinds()


def test_session_resamples_other_rates() -> None:
    from voicecli.emulator.speech import resample

    d = Driver(pace=0)
    d.setup()
    pcm48 = resample(SPEECH + silence(700), 16000, 48000)
    step = 96 * 20
    for i in range(0, len(pcm48), step):
        d.send({"realtimeInput": {"mediaChunks": [{
            "mimeType": "audio/pcm;rate=48000",
            "data": base64.b64encode(pcm48[i:i + step]).decode()}]}})
        d.advance(0.02)
    d.advance(1)
    assert "turnComplete" in d.kinds()
    assert len(d.session.record.input_pcm) == pytest.approx(len(SPEECH) + 32 * 700, rel=0.02)


def test_session_tool_call_round_trip_and_silent() -> None:
    sc = parse_scenario('[[turn]]\nuser="t"\nreply="It is {result[time]}."\n'
                        'tool_call={name="get_current_time"}\n')
    tools = [{"functionDeclarations": [{"name": "get_current_time"}]}]
    d = Driver(scenario=sc, pace=0)
    d.setup(tools=tools)
    d.send({"realtime_input": {"text": "what time is it?"}})
    d.advance(1)
    assert d.kinds()[-1] == "toolCall"
    call = d.messages[-1]["toolCall"]["functionCalls"][0]
    d.send({"tool_response": {"functionResponses": [
        {"id": call["id"], "name": call["name"], "response": {"time": "10:42"}}]}})
    d.advance(1)
    assert d.text("outputTranscription") == "It is 10:42."
    assert d.kinds()[-1] == "turnComplete"
    assert "inputTranscription" not in d.kinds()  # typed text is not transcribed

    d.send({"realtime_input": {"text": "again"}})
    d.advance(1)
    call = d.messages[-1]["toolCall"]["functionCalls"][0]
    n = len(d.kinds())
    d.send({"tool_response": {"functionResponses": [
        {"id": call["id"], "name": call["name"], "response": {}, "scheduling": "SILENT"}]}})
    d.advance(1)
    assert d.kinds()[n:] == ["generationComplete", "turnComplete"]


def test_session_tool_call_cancellation_and_undeclared_tool() -> None:
    sc = parse_scenario('[[turn]]\nuser="t"\nreply="Never mind."\n'
                        'tool_call={name="search", args={q="x"}}\ncancel_tool_call=true\n')
    d = Driver(scenario=sc, pace=0)
    d.setup(tools=[{"functionDeclarations": [{"name": "search"}]}])
    d.send({"realtime_input": {"text": "search"}})
    d.advance(2)
    kinds = d.kinds()
    assert kinds.index("toolCall") < kinds.index("toolCallCancellation") < kinds.index(
        "modelTurn")
    call_id = d.messages[kinds.index("toolCall")]["toolCall"]["functionCalls"][0]["id"]
    assert d.messages[kinds.index("toolCallCancellation")]["toolCallCancellation"]["ids"] == \
        [call_id]
    assert kinds[-1] == "turnComplete"

    d = Driver(scenario=sc, pace=0)
    d.setup()  # no tools declared: the model cannot call one
    d.send({"realtime_input": {"text": "search"}})
    d.advance(2)
    assert "toolCall" not in d.kinds()
    assert d.text("outputTranscription") == sc.turns[0].no_tool_reply


def test_session_parrot_and_client_content() -> None:
    d = Driver(scenario=load_scenario("parrot"), pace=0)
    d.setup()
    d.audio(silence(100) + SPEECH + silence(700))
    d.advance(1)
    reply = d.session.record.replies[0]
    assert d.text("outputTranscription") == "(parrot)"
    assert reply.duration_s == pytest.approx(len(SPEECH) / 32000 + 0.1, abs=0.3)

    d = Driver(pace=0)
    d.setup()
    d.send({"client_content": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                               "turn_complete": True}})
    d.advance(2)
    assert d.kinds()[-1] == "turnComplete"
    assert d.session.record.replies[0].user_text == "hi"

    d = Driver(pace=0)
    d.send({"setup": {"model": "models/gemini-3.1-flash-live-preview"}})
    d.send({"client_content": {"turns": [{"role": "user", "parts": [{"text": "seed"}]}]}})
    d.send({"realtime_input": {"text": "hi"}})
    d.advance(2)
    d.send({"client_content": {"turns": [{"role": "user", "parts": [{"text": "x"}]}],
                               "turnComplete": True}})
    assert d.closed().code == 1007


def test_session_resumption() -> None:
    handles = HandleStore()
    d = Driver(handles=handles, pace=0)
    d.setup(sessionResumption={})
    assert d.kinds() == ["setupComplete", "sessionResumptionUpdate"]
    d.send({"realtime_input": {"text": "hi"}})
    d.advance(2)
    assert d.kinds()[-1] == "sessionResumptionUpdate" and "turnComplete" in d.kinds()[-3:]
    handle = d.messages[-1]["sessionResumptionUpdate"]["newHandle"]
    assert parse(d.messages[-1]).session_resumption_update.resumable

    d2 = Driver(handles=handles, pace=0)
    d2.setup(sessionResumption={"handle": handle})
    assert d2.kinds()[0] == "setupComplete"
    d2.send({"realtime_input": {"text": "hi"}})
    d2.advance(2)
    assert d2.session.record.replies[0].index == 1  # the conversation went on

    d3 = Driver(handles=handles)
    d3.setup(sessionResumption={"handle": "nope"})
    assert d3.closed().code == 1008


def test_session_go_away() -> None:
    d = Driver(go_away_after_s=3, go_away_time_left_s=2)
    d.setup()
    d.advance(3.5)
    assert d.kinds()[-1] == "goAway"
    assert parse(d.messages[-1]).go_away.time_left == "2s"
    d.advance(2)
    assert d.closed() == Close(1011, "Deadline expired")
    assert d.session.closed


# --------------------------------------------------------------------------- speech

def level_dbfs(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(float)
    x = x[np.abs(x) > 32768 * 10 ** (-50 / 20)]
    return 20 * np.log10(np.sqrt(np.mean(x * x)) / 32768)


def test_synthesis_espeak_and_fallback() -> None:
    from voicecli.emulator.speech import espeak_available, fallback_clip, wav_pcm

    fallback = Synthesizer("fallback")
    pcm = fallback.speak("Anything at all.")
    assert pcm == fallback_clip() and 1.5 < len(pcm) / 48000 < 4
    assert level_dbfs(pcm) == pytest.approx(-20, abs=1)
    assert fallback.speak("  ") == b""
    if espeak_available():
        synth = Synthesizer("espeak")
        a = synth.speak("Testing one two three.", "Kore", "en-GB")
        assert a is synth.speak("Testing one two three.", "Kore", "en-GB")  # cached
        assert level_dbfs(a) == pytest.approx(-20, abs=1)
        assert synth.speak("Hallo Welt", "Puck", "de-DE")
    # A WAV written to a pipe has bogus sizes; the reader copes.
    header = (b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
              + (22050).to_bytes(4, "little") + (44100).to_bytes(4, "little")
              + b"\x02\x00\x10\x00data\xff\xff\xff\xff")
    assert wav_pcm(header + b"\x01\x00\x02\x00") == (b"\x01\x00\x02\x00", 22050, 1)
