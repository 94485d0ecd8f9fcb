"""Translate mode, the pure parts: catalog, translation state, playout clock, subtitles,
views, echo handling, and the emulator's translate model on a fake clock. No sockets,
no devices."""

from __future__ import annotations

import io
from types import SimpleNamespace as NS
from typing import Any

import numpy as np
import pytest
from test_emulator_core import SPEECH, Driver, error_of, parse, setup, silence

from voicecli import catalog
from voicecli import events as ev
from voicecli.audio.mic import MicPipeline
from voicecli.audio.playback import PlaybackBuffer
from voicecli.audio.playout import PlayoutClock
from voicecli.emulator.scenario import ScenarioError, load_scenario, parse_scenario
from voicecli.live.translation import TranslationState
from voicecli.translate import echo_mode, interpreter_prompt, uses_translate_model
from voicecli.ui import subtitles as subs
from voicecli.ui.outputs import JsonlWriter, TextView, format_line
from voicecli.ui.translate_view import BilingualView, ProgressView, columns, progress_bar

TRANSLATE = "models/gemini-3.5-live-translate-preview"


# --------------------------------------------------------------------------- catalog

def test_translate_languages_accept_base_and_regional_codes() -> None:
    assert len(catalog.TRANSLATE_LANGUAGES) >= 70
    assert catalog.resolve_translate_language("de") == "de"
    assert catalog.resolve_translate_language("de-DE") == "de-DE"
    assert catalog.resolve_translate_language(" DE_de ") == "de-DE"
    assert catalog.resolve_translate_language("es-419") == "es-419"
    assert catalog.language_name("pt-BR") == "Portuguese (BR)"


@pytest.mark.parametrize(("given", "hint"), [("german", "'de' (German)"), ("Germna", "'de'"),
                                             ("dee", "'de'"), ("spanich", "'es'")])
def test_unknown_translate_language_suggests(given: str, hint: str) -> None:
    with pytest.raises(ValueError, match="unknown translation language") as e:
        catalog.resolve_translate_language(given)
    assert f"Did you mean {hint}" in str(e.value)
    with pytest.raises(ValueError):
        catalog.resolve_translate_language("de-Bavaria")


def test_model_choice_and_interpreter_prompt() -> None:
    assert uses_translate_model(catalog.TRANSLATE_MODEL)
    assert uses_translate_model("gemini-9-live-translate-exp")
    assert not uses_translate_model("gemini-3.8-live")
    prompt = interpreter_prompt("de", "en")
    assert "German (de)" in prompt and "interpreter" in prompt and "English" in prompt


# --------------------------------------------------------------------------- playout clock

class FakeBuffer:
    """Hands out scripted runs: each read returns the next count of real frames."""

    rate = 1000

    def __init__(self, reals: list[int]) -> None:
        self.reals = reals

    def read_into(self, out: np.ndarray) -> int:
        return self.reals.pop(0) if self.reals else 0


def test_playout_clock_maps_received_audio_to_output_positions() -> None:
    # blocks of 100 frames (0.1 s at 1 kHz): silence, two full blocks, 50 then dry,
    # silence, silence, then a new run.
    clock = PlayoutClock(FakeBuffer([0, 100, 100, 50, 0, 0, 100]))
    out = np.zeros(100, np.int16)
    assert clock.played_at(0.0) is None
    for _ in range(7):
        clock.read_into(out)
    assert clock.position_s == pytest.approx(0.7)
    assert clock.played_s == pytest.approx(0.35)
    assert clock.played_at(0.0) == pytest.approx(0.1)  # the first run began at block 1
    assert clock.played_at(0.2) == pytest.approx(0.3)
    assert clock.played_at(0.25, end=True) == pytest.approx(0.35)  # end of the first run
    assert clock.played_at(0.25) == pytest.approx(0.6)  # the second run's start
    assert clock.played_at(0.36) is None
    assert clock.estimate(0.45) == pytest.approx(0.8)


def test_playout_clock_with_a_real_buffer() -> None:
    buf = PlaybackBuffer(1000, prebuffer_ms=0)
    clock = PlayoutClock(buf)
    out = np.zeros(20, np.int16)
    clock.read_into(out)
    buf.push(np.ones(30, np.int16), 0)
    clock.read_into(out)
    clock.read_into(out)
    assert clock.played_at(0.0) == pytest.approx(0.02)
    assert clock.played_at(0.03, end=True) == pytest.approx(0.05)


# --------------------------------------------------------------------------- translation state

def msg(**content: Any) -> Any:
    fields = {"input_transcription": None, "output_transcription": None, "model_turn": None,
              "turn_complete": None, "interrupted": None}
    fields.update(content)
    return NS(server_content=NS(**fields))


def src(text: str) -> Any:
    return msg(input_transcription=NS(text=text))


def out_text(text: str) -> Any:
    return msg(output_transcription=NS(text=text))


def audio(seconds: float, rate: int = 24000) -> Any:
    pcm = bytes(int(seconds * rate) * 2)
    return msg(model_turn=NS(parts=[NS(inline_data=NS(data=pcm,
                                                      mime_type=f"audio/pcm;rate={rate}"))]))


class World:
    """A fake clock and playback: audio plays the moment it arrives, at +offset s."""

    def __init__(self, offset: float = 10.0) -> None:
        self.t = 0.0
        self.drained = True
        self.offset = offset
        self.played = 0.0  # received seconds played so far

    def played_at(self, received_s: float, end: bool = False) -> float | None:
        return None if received_s > self.played + 1e-9 else received_s + self.offset

    def estimate(self, received_s: float, end: bool = False) -> float:
        return received_s + self.offset + 100

    def state(self) -> TranslationState:
        return TranslationState(self, now=lambda: self.t, drained=lambda: self.drained)


def finals(events: list[ev.Event]) -> list[ev.Event]:
    return [e for e in events if getattr(e, "final", False)]


def test_state_assembles_source_and_translation_lines_with_positions() -> None:
    w = World()
    st = w.state()
    st.on_input(1.0)
    out = st.on_message(src("Hello,"))
    assert out == [ev.SourceText(text="Hello,", final=False, ts=out[0].ts)]
    st.on_input(0.5)
    out = st.on_message(src(" how are"))
    w.drained = False
    out += st.on_message(audio(0.5))  # the translation begins: the source line is done
    source = finals(out)
    assert [(s.text, s.start_s, s.end_s) for s in source] == [("Hello, how are", 1.0, 1.5)]
    assert any(isinstance(e, ev.AssistantAudio) and e.turn == 0 for e in out)
    out = st.on_message(out_text("Hola,")) + st.on_message(audio(0.5))
    out += st.on_message(out_text(" ¿qué tal?"))
    assert [e.text for e in out if isinstance(e, ev.Translation)] == ["Hola,", "Hola, ¿qué tal?"]
    assert st.release() == []  # the line is still open
    # A pause: the audio has drained and nothing came for a while.
    w.drained, w.t = True, 1.0
    assert st.tick() == []
    assert st.release() == []  # closed, but not played yet
    w.played = 1.0
    line = finals(st.release())
    assert [(e.text, e.start_s, e.end_s) for e in line] == [("Hola, ¿qué tal?", 10.0, 11.0)]
    # The next utterance is a new line starting where its audio is.
    w.drained = False
    st.on_message(out_text("Adiós."))
    st.on_message(audio(0.25))
    w.t, w.drained, w.played = 2.0, True, 1.25
    st.tick()
    assert [(e.text, e.start_s, e.end_s) for e in finals(st.release())] == [
        ("Adiós.", 11.0, 11.25)]
    assert st.lines == 2 and not st.pending


def test_state_sentence_end_idle_and_finish() -> None:
    w = World()
    st = w.state()
    assert [e.text for e in finals(st.on_message(src("Done here.")))] == ["Done here."]
    st.on_message(src("and then"))
    w.t = 5.0
    assert [e.text for e in finals(st.tick())] == ["and then"]
    # Unplayed audio at the end still gets a line, with an estimated time.
    st.on_message(audio(0.5))
    st.on_message(out_text("Y luego"))
    st.on_message(src("bye"))
    out = finals(st.finish())
    assert [type(e).__name__ for e in out] == ["SourceText", "Translation"]
    assert out[1].start_s == pytest.approx(110.0)


def test_state_turn_complete_and_long_lines_split() -> None:
    w = World()
    st = w.state()
    w.drained = False
    st.on_message(audio(1.0))
    st.on_message(out_text("Interpreter turn one."))
    st.on_message(msg(turn_complete=True))  # the conversational-model fallback
    st.on_message(audio(1.0))
    long = "A sentence that goes on and on, well past what one subtitle line pair can hold nicely."
    st.on_message(out_text(long))
    st.on_message(audio(1.0))
    st.on_message(out_text("Next."))
    w.played = 10.0
    texts = [(e.text, e.start_s, e.end_s) for e in finals(st.release())]
    assert texts == [("Interpreter turn one.", 10.0, 11.0), (long, 11.0, 12.0)]
    assert [e.text for e in finals(st.finish())] == ["Next."]


def test_state_ignores_audio_without_text_and_messages_without_content() -> None:
    w = World()
    st = w.state()
    assert st.on_message(NS(server_content=None)) == []
    w.drained = False
    st.on_message(audio(0.5))
    w.t, w.drained, w.played = 1.0, True, 0.5
    st.tick()
    assert finals(st.release()) == [] and not st.pending


# --------------------------------------------------------------------------- subtitles

def test_subtitle_formats() -> None:
    assert subs.timestamp(3725.5, "srt") == "01:02:05,500"
    assert subs.timestamp(0.0004, "vtt") == "00:00:00.000"
    cues = [(1.0, 2.5, "Hola"), (3.0, 3.1, "una frase bastante larga que necesita dos líneas "
                                           "para caber en pantalla")]
    srt = subs.document(cues, "srt")
    assert srt.startswith("1\n00:00:01,000 --> 00:00:02,500\nHola\n\n2\n00:00:03,000 --> ")
    assert "00:00:03,300" in srt  # a cue lasts at least MIN_CUE_S
    assert all(len(line) <= 42 for line in srt.splitlines())
    vtt = subs.document(cues, "vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHola\n\n")
    assert subs.subtitle_format("a/b.VTT") == "vtt"
    with pytest.raises(Exception, match=r"\.srt or \.vtt"):
        subs.subtitle_format("x.txt")


def test_subtitle_writer_writes_final_translations(tmp_path: Any) -> None:
    path = tmp_path / "t.srt"
    w = subs.SubtitleWriter(str(path))
    w.handle(ev.Translation(text="partial", final=False))
    w.handle(ev.SourceText(text="Hello", start_s=0.0, end_s=1.0))
    w.handle(ev.Translation(text="Hallo", start_s=1.25, end_s=2.0))
    w.handle(ev.Translation(text="Tschüss", start_s=3.0, end_s=4.0))
    w.close()
    assert path.read_text() == ("1\n00:00:01,250 --> 00:00:02,000\nHallo\n\n"
                                "2\n00:00:03,000 --> 00:00:04,000\nTschüss\n\n")


# --------------------------------------------------------------------------- text outputs

def test_piped_lines_jsonl_and_columns() -> None:
    assert format_line(ev.SourceText(text="Hi")) == "Source: Hi"
    assert format_line(ev.Translation(text="Hallo")) == "Translation: Hallo"
    assert format_line(ev.Translation(text="Hal", final=False)) is None
    buf = io.StringIO()
    view = TextView(buf, live=False)
    for e in (ev.SourceText(text="Hi", final=False), ev.SourceText(text="Hi"),
              ev.Translation(text="Hallo")):
        view.handle(e)
    assert buf.getvalue() == "Source: Hi\nTranslation: Hallo\n"
    buf = io.StringIO()
    jsonl = JsonlWriter(buf)
    jsonl.handle(ev.Translation(text="Hal", final=False))
    jsonl.handle(ev.Progress(position_s=1, duration_s=2))
    jsonl.handle(ev.Translation(text="Hallo", start_s=1.0, end_s=2.0))
    assert buf.getvalue().count("\n") == 1 and '"start_s": 1.0' in buf.getvalue()
    rows = columns("the source words here", "die Übersetzung", 60)
    assert rows[0].startswith("the source words here") and " │ die Übersetzung" in rows[0]


def test_bilingual_view_prints_pairs_side_by_side() -> None:
    buf = io.StringIO()
    view = BilingualView(buf)
    view.handle(ev.SourceText(text="Hello", final=False))
    view.handle(ev.SourceText(text="Hello there."))
    view.handle(ev.Translation(text="Hallo", final=False))
    view.handle(ev.Translation(text="Hallo zusammen."))
    view.handle(ev.SourceText(text="Bye."))
    view.close()
    lines = [ln.split("\r\x1b[2K")[-1] for ln in buf.getvalue().split("\n")]
    pair = [ln for ln in lines if "Hallo zusammen." in ln]
    assert pair and pair[0].startswith("Hello there.") and " │ " in pair[0]
    assert lines[-2].startswith("Bye.")


def test_progress_view() -> None:
    assert progress_bar(15, 60, width=8) == "[##......] 0:15 / 1:00  25%"
    buf = io.StringIO()
    view = ProgressView(buf, live=False)
    for p in range(0, 61, 5):
        view.handle(ev.Progress(position_s=p, duration_s=60))
    view.handle(ev.Progress(position_s=60, duration_s=60, catching_up=True))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 6 and lines[-1].endswith("(input done, translating the rest)")
    buf = io.StringIO()
    view = ProgressView(buf, live=True)
    view.handle(ev.Progress(position_s=30, duration_s=60))
    view.handle(ev.Status(state="x"))
    view.close()
    assert buf.getvalue().startswith("\r\x1b[2K[") and buf.getvalue().endswith("\r\x1b[2K")


# --------------------------------------------------------------------------- echo

def test_echo_mode_and_half_duplex_mic() -> None:
    assert echo_mode(True, True, headphones=False, canceller=False) == "half-duplex"
    assert echo_mode(True, True, headphones=False, canceller=True) == "canceller"
    assert echo_mode(True, True, headphones=True, canceller=True) == "headphones"
    assert echo_mode(False, True, headphones=False, canceller=False) == "none"
    buf = PlaybackBuffer(24000)
    sent: list[bytes] = []
    mic = MicPipeline(buf, None, on_chunk=sent.append, on_barge_in=lambda _t: None,
                      half_duplex=True)
    voice = np.full(640, 1000, np.int16)
    mic.process(voice)
    assert sent and any(sent[0])
    buf.push(np.ones(2400, np.int16), 0)  # the translation is playing
    mic.process(voice)
    assert not any(sent[-1])  # silence goes out while the translation plays
    assert not mic.muted  # the user's own mute is left alone


# --------------------------------------------------------------------------- emulator

def test_translate_setup_validation() -> None:
    from voicecli.emulator.settings import parse_setup
    from voicecli.emulator.wire import Route

    gemini = Route("gemini", "v1beta", "BidiGenerateContent")
    s = parse_setup(setup(TRANSLATE, generationConfig={"translationConfig": {
        "targetLanguageCode": "de-de", "echoTargetLanguage": True}}), gemini)
    assert (s.target_language, s.echo_target_language) == ("de-DE", True)
    assert "required" in error_of(setup(TRANSLATE)).reason
    bad = error_of(setup(TRANSLATE, generationConfig={"translationConfig": {
        "targetLanguageCode": "klingon"}}))
    assert bad.code == 1007 and "klingon" in bad.reason
    assert error_of(setup(generationConfig={"translationConfig": {
        "targetLanguageCode": "de"}})).code == 1007


def test_translation_scenarios() -> None:
    sc = parse_scenario('[[translation]]\nsource = "Hi"\ntarget = "Hola"\n'
                        'targets = { de = "Hallo" }\n')
    assert sc.translations[0].text_for("de-AT") == "Hallo"
    assert sc.translations[0].text_for("fr") == "Hola"
    for bad in ('[[translation]]\nsource = "Hi"\n', '[[translation]]\nsource = "x"\n'
                'target = "y"\nsay = 1\n', 'translation = 3\n'):
        with pytest.raises(ScenarioError):
            parse_scenario(bad)
    assert len(load_scenario("translate").translations) >= 4


def translate_driver(target: str = "es", **cfg: Any) -> Driver:
    d = Driver(**cfg)
    d.send({"setup": {"model": TRANSLATE, "inputAudioTranscription": {},
                      "outputAudioTranscription": {},
                      "generationConfig": {"translationConfig": {"targetLanguageCode": target}}}})
    return d


def test_emulator_translates_continuously_without_turns() -> None:
    d = translate_driver("de", pace=2.0)
    script = load_scenario("translate").translations
    d.audio(silence(200) + SPEECH)
    # Source words arrive while the speaker is still talking.
    assert d.text("inputTranscription")
    assert "outputTranscription" not in d.kinds()
    d.audio(silence(600) + SPEECH + silence(600))
    d.advance(10)
    kinds = d.kinds()
    assert "turnComplete" not in kinds and "generationComplete" not in kinds
    assert d.text("inputTranscription") == script[0].source + script[1].source
    assert d.text("outputTranscription") == (script[0].targets["de"]
                                             + script[1].targets["de"])
    replies = d.session.record.replies
    assert [r.reply_text for r in replies] == [script[0].targets["de"], script[1].targets["de"]]
    assert all(r.sent_bytes == len(r.pcm) > 0 for r in replies)
    assert replies[1].started_at > replies[0].started_at
    for m in d.messages:
        parse(m)


def test_emulator_translate_rejects_text_input() -> None:
    d = translate_driver()
    d.send({"realtime_input": {"text": "hello"}})
    assert d.closed().code == 1007 and "audio input only" in d.closed().reason
    d = translate_driver()
    d.audio(SPEECH[:16000])
    d.send({"realtime_input": {"audioStreamEnd": True}})
    d.advance(5)
    assert d.session.record.replies  # the stream end finished the utterance
