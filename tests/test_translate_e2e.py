"""``voicecli translate`` end to end: the real CLI, the real google-genai SDK, the emulator's
translate model and (for the live test) real sounddevice on the virtual sound card.

Cue times are checked against where the emulator's translated audio actually is: in the
speaker recording (live) or in the output WAV (file mode), found by cross-correlation.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli.emulator.scenario import load_scenario
from voicecli_testing.audio import (
    SpeakerRecorder,
    play_into_mic,
    read_wav,
    speech_wav,
    wait_until,
    write_wav,
    xcorr_peak,
)
from voicecli_testing.cli import assert_one_line_error, clean_env, run_cli, start_chat, stop_chat

TOLERANCE_S = 0.1
SCRIPT = load_scenario("translate").translations
SAID = [SCRIPT[0].source, SCRIPT[1].source]

_CUE = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{3}) --> (\d+):(\d\d):(\d\d)[,.](\d{3})")


def parse_subtitles(text: str, fmt: str) -> list[tuple[float, float, str]]:
    """(start, end, text) cues; asserts the file is well-formed SRT or WebVTT."""
    if fmt == "vtt":
        assert text.startswith("WEBVTT\n\n"), text[:20]
        text = text[len("WEBVTT\n\n"):]
    cues = []
    for n, block in enumerate(text.strip().split("\n\n"), 1):
        lines = block.split("\n")
        if fmt == "srt":
            assert lines.pop(0) == str(n), block
        m = _CUE.fullmatch(lines[0])
        assert m, block
        assert ("," if fmt == "srt" else ".") in lines[0]
        v = [int(g) for g in m.groups()]
        start = v[0] * 3600 + v[1] * 60 + v[2] + v[3] / 1000
        end = v[4] * 3600 + v[5] * 60 + v[6] + v[7] / 1000
        assert end > start and lines[1:], block
        cues.append((start, end, " ".join(lines[1:])))
    assert all(a[1] <= b[0] + 1e-6 for a, b in itertools.pairwise(cues)), cues
    return cues


def locate(audio: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """(correlation of the aligned piece, where ``ref`` starts in ``audio``)."""
    _, lag = xcorr_peak(audio, ref)
    piece = audio[max(0, lag):max(0, lag) + len(ref)]
    corr, _ = xcorr_peak(piece, ref[max(0, -lag):])
    return corr, lag


def pcm(reply) -> np.ndarray:
    return np.frombuffer(reply.pcm, dtype="<i2")


@pytest.mark.audio
def test_live_translation_through_the_devices(virtual_audio, tmp_path):
    vtt = tmp_path / "live.de.vtt"
    started = time.monotonic()
    with EmulatorThread(EmulatorConfig()) as emu, SpeakerRecorder() as rec:
        proc = start_chat(emu, virtual_audio, "--to", "de-DE", "--subtitles", str(vtt),
                          command="translate")
        conn = emu.connections[0]
        first_audio_in = next(m.t for m in conn.client_messages if "realtime_input" in m.message)
        for i, text in enumerate(SAID):
            play_into_mic(speech_wav(text)).wait(10)
            assert wait_until(lambda i=i: len(conn.replies) > i
                              and conn.replies[i].pcm
                              and conn.replies[i].sent_bytes == len(conn.replies[i].pcm), 20)
            # Speak again once the translation has played (one utterance per cue).
            rec.wait_for_silence(hold_ms=500, timeout=20,
                                 after=conn.replies[i].started_at + conn.replies[i].duration_s)
        out, err = stop_chat(proc)

    assert "[echo] full duplex with echo cancellation" in err  # the canceller is installed
    assert conn.setup["generation_config"]["translation_config"]["target_language_code"] \
        == "de-DE"
    assert "system_instruction" not in conn.setup and "tools" not in conn.setup
    # Bilingual lines on stdout, in order.
    lines = [ln for ln in out.splitlines() if ln.startswith(("Source:", "Translation:"))]
    targets = [r.reply_text for r in conn.replies]
    assert lines == [f"Source: {SAID[0]}", f"Translation: {targets[0]}",
                     f"Source: {SAID[1]}", f"Translation: {targets[1]}"], out
    assert targets == [SCRIPT[0].targets["de"], SCRIPT[1].targets["de"]]
    # The translated audio reached the speaker, each utterance where the subtitles say.
    cues = parse_subtitles(vtt.read_text(), "vtt")
    assert [c[2] for c in cues] == targets
    heard = []
    for reply in conn.replies:
        corr, lag = locate(rec.audio, pcm(reply))
        assert corr >= 0.9, f"speaker recording vs translated audio: correlation {corr:.3f}"
        heard.append((rec.time_of(lag), rec.time_of(lag) + reply.duration_s))
    # Cue times are output-stream positions: one offset (when the speaker stream started)
    # maps them onto the monotonic clock of the recording.
    origin = heard[0][0] - cues[0][0]
    assert started < origin < first_audio_in + 0.5
    for (start, end, _), (t_start, t_end) in zip(cues, heard, strict=True):
        assert abs(start + origin - t_start) <= TOLERANCE_S, (start + origin - t_start)
        assert abs(end + origin - t_end) <= TOLERANCE_S, (end + origin - t_end)


def test_file_translation_44k_in_24k_wav_and_subtitles_out(tmp_path):
    talk = tmp_path / "talk.wav"
    pieces = [np.zeros(22050, np.int16)]
    for text in SAID:
        pieces += [read_wav(speech_wav(text, rate=44100))[0], np.zeros(int(44100 * 1.2),
                                                                        np.int16)]
    write_wav(talk, np.concatenate(pieces), 44100)
    out_wav, srt, transcript = tmp_path / "talk.es.wav", tmp_path / "talk.es.srt", \
        tmp_path / "talk.txt"
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = run_cli("translate", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
                       "--api-version", "v1beta", "--to", "es", "--input", str(talk),
                       "--output", str(out_wav), "--subtitles", str(srt), "--format", "jsonl",
                       "--transcript", str(transcript),
                       env=clean_env(GEMINI_API_KEY=emu.api_key), timeout=60)
        conn = emu.connections[0]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "[progress] 0:00 / 0:0" in proc.stderr and "input done" in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows[0]["type"] == "session_started" and "Spanish" in rows[0]["detail"]
    assert rows[-1] == {**rows[-1], "type": "session_ended", "reason": "input_finished"}
    assert [r["text"] for r in rows if r["type"] == "source_text"] == SAID
    targets = [r["text"] for r in rows if r["type"] == "translation"]
    assert targets == [SCRIPT[0].targets["es"], SCRIPT[1].targets["es"]]
    assert transcript.read_text().splitlines() == [
        f"Source: {SAID[0]}", f"Source: {SAID[1]}", f"Translation: {targets[0]}",
        f"Translation: {targets[1]}"] or transcript.read_text().splitlines() == [
        f"Source: {SAID[0]}", f"Translation: {targets[0]}", f"Source: {SAID[1]}",
        f"Translation: {targets[1]}"]
    # The emulator heard the whole file, resampled to 16 kHz.
    assert len(conn.input_pcm) / 2 / 16000 >= len(np.concatenate(pieces)) / 44100
    with wave.open(str(out_wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
    audio, _ = read_wav(out_wav)
    cues = parse_subtitles(srt.read_text(), "srt")
    assert [c[2] for c in cues] == targets
    input_ends = [0.5 + len(pieces[1]) / 44100, 0.5 + (len(pieces[1]) + len(pieces[2])
                                                        + len(pieces[3])) / 44100]
    for (start, end, _), reply, said_end in zip(cues, conn.replies, input_ends, strict=True):
        corr, lag = locate(audio, pcm(reply))
        assert corr >= 0.95, f"output WAV vs translated audio: correlation {corr:.3f}"
        at = lag / 24000
        assert abs(start - at) <= TOLERANCE_S, (start, at)
        assert abs(end - (at + reply.duration_s)) <= TOLERANCE_S, (end, at + reply.duration_s)
        assert at > said_end - 0.3  # the WAV lines up with the input: translation follows speech


def test_conversational_model_gets_an_interpreter_prompt(tmp_path):
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = run_cli("translate", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
                       "--api-version", "v1beta", "--to", "fr", "--from", "en",
                       "--model", "gemini-3.8-live", "--input",
                       str(Path(__file__).parents[1] / "examples" / "hello.wav"),
                       "--output", str(tmp_path / "out.wav"), "--format", "jsonl",
                       env=clean_env(GEMINI_API_KEY=emu.api_key), timeout=60)
        setup = emu.connections[0].setup
    assert proc.returncode == 0, proc.stderr
    assert "[interpreter] interpreter prompt on gemini-3.8-live" in proc.stderr
    started = json.loads(proc.stdout.splitlines()[0])
    assert "interpreter prompt" in started["detail"] and "French" in started["detail"]
    system = " ".join(p["text"] for p in setup["system_instruction"]["parts"])
    assert "interpreter" in system and "French (fr)" in system and "English" in system
    assert "translation_config" not in setup.get("generation_config", {})
    assert setup["realtime_input_config"]["activity_handling"] == "NO_INTERRUPTION"
    assert "tools" not in setup
    assert any(json.loads(ln)["type"] == "translation" for ln in proc.stdout.splitlines())


def test_translate_errors_are_one_line():
    assert "--to" in run_cli("translate", "--help").stdout
    proc = run_cli("translate", "--emulator")
    assert_one_line_error(proc, "--to is required", "languages --translate")
    proc = run_cli("translate", "--emulator", "--to", "germna")
    assert_one_line_error(proc, "--to", "Did you mean 'de' (German)")
    proc = run_cli("translate", "--emulator", "--to", "de", "--from", "xx")
    assert_one_line_error(proc, "--from", "unknown translation language 'xx'")
    proc = run_cli("translate", "--emulator", "--to", "de", "--subtitles", "out.txt")
    assert_one_line_error(proc, ".srt or .vtt")
    assert proc.returncode == 2


def test_languages_translate_lists_the_targets():
    proc = run_cli("languages", "--translate")
    assert proc.returncode == 0
    codes = [ln.split()[0] for ln in proc.stdout.splitlines() if not ln.startswith("(")]
    assert len(codes) >= 70 and "de" in codes and "es" in codes
