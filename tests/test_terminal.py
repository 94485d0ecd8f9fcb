"""The live view as a user meets it: the real program in a terminal (tmux), the real SDK,
the emulator in this process (so its records are readable), the virtual sound card."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from tmux import TmuxChat, chat_args

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli_testing.audio import play_into_mic, speech_wav, wait_until

pytestmark = pytest.mark.audio

REPLY = "Hi there! Yes, I can hear you clearly. How can I help you today?"


def _env(emu: EmulatorThread, audio: dict[str, str], **extra: str) -> dict[str, str]:
    return {**audio, "GEMINI_API_KEY": emu.api_key, **extra}


def _mic_flowing(emu: EmulatorThread) -> bool:
    return bool(emu.connections) and emu.connections[0].audio_chunks > 5


def test_live_view_partial_then_final_and_status_changes(virtual_audio, tmp_path):
    with EmulatorThread(EmulatorConfig(pace=1.0)) as emu, \
            TmuxChat(chat_args(emu), _env(emu, virtual_audio), tmp_path) as term:
        term.wait_for(lambda s: "listening" in s and "gemini-3.8-live · Puck" in s,
                      what="the status bar saying listening")
        assert wait_until(lambda: _mic_flowing(emu), 20)
        playing = play_into_mic(speech_wav("Hello, can you hear me?"))
        # The meter moves and the state follows the voice while it plays.
        term.wait_for(lambda s: "you are speaking" in s, 10, "you are speaking")
        assert re.search(r"mic █+", term.screen()), term.screen()
        playing.wait(10)
        # The reply's transcript grows in place (a partial line above the input)...
        partials: list[str] = []
        states: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            screen = term.screen()
            states.add(term.status().split("│")[0].strip())
            found = re.findall(r"^Gemini: (.*)$", screen, re.M)
            partials += [f.strip() for f in found if f.strip() != REPLY]
            if any(f.strip() == REPLY for f in found) and "listening" in term.status():
                break
            time.sleep(0.05)
        screen = term.screen()
        # ... and settles into one final line; the partial line is gone.
        assert re.findall(r"^Gemini: (.*)$", screen, re.M) == [REPLY], screen
        assert "You: Hello, can you hear me?" in screen
        assert partials and all(REPLY.startswith(p) for p in partials), partials
        assert {"speaking", "listening"} <= states, states
        assert re.search(r"\d+ tokens", term.status()) and " 0 tokens" not in term.status()


def test_typed_line_reaches_the_emulator_and_ctrl_c_ends_within_1s(virtual_audio, tmp_path):
    transcript = tmp_path / "talk.txt"
    with EmulatorThread(EmulatorConfig()) as emu, \
            TmuxChat(chat_args(emu, "--transcript", str(transcript)),
                     _env(emu, virtual_audio), tmp_path) as term:
        term.wait_for("listening")
        assert wait_until(lambda: _mic_flowing(emu), 20)
        term.type_line("hello from the keyboard")
        conn = emu.connections[0]
        assert wait_until(lambda: conn.text_inputs, 10), "typed text never arrived"
        assert conn.text_inputs == ["hello from the keyboard"]
        chunks_then = conn.audio_chunks
        term.wait_for(f"Gemini: {REPLY}", 20)
        term.wait_for(lambda s: "listening" in term.status(), 20, "listening after the reply")
        assert conn.audio_chunks > chunks_then  # the microphone stayed live meanwhile
        t = time.time()
        term.send("C-c")
        code, ended = term.wait_exit()
        took = ended - t
        screen = term.screen()
    assert code == 0, screen
    assert took < 1.0, f"Ctrl-C took {took:.2f} s"
    assert re.search(r"session: \dm\d\ds, 1 turn, 0 barge-ins", screen), screen
    assert re.search(r"tokens: \d+ total \(.*response audio \d+", screen), screen
    assert "time to first audio: median" in screen
    assert "Traceback" not in screen
    # The transcript file has every finished line, flushed before exit.
    assert transcript.read_text().splitlines() == ["You (typed): hello from the keyboard",
                                                   f"Gemini: {REPLY}"]


def test_mute_stops_audio_going_out(virtual_audio, tmp_path):
    speech = speech_wav("Testing, one, two, three, four, five.")
    with EmulatorThread(EmulatorConfig(scenario="parrot")) as emu, \
            TmuxChat(chat_args(emu), _env(emu, virtual_audio), tmp_path) as term:
        term.wait_for("listening")
        assert wait_until(lambda: _mic_flowing(emu), 20)
        conn = emu.connections[0]
        term.type_line("/mute")
        term.wait_for(lambda s: "[microphone muted]" in s and "muted" in term.status())
        time.sleep(0.3)  # chunks already on their way before the mute
        start = len(conn.input_pcm)
        play_into_mic(speech).wait(10)
        time.sleep(0.5)
        muted_part = np.frombuffer(bytes(conn.input_pcm[start:]), dtype="<i2")
        assert len(muted_part) > 16000  # audio kept flowing (as silence)
        assert np.abs(muted_part).max() == 0, "speech went out while muted"
        assert not conn.replies, "the emulator heard a turn while muted"
        term.type_line("/unmute")
        term.wait_for("[microphone on]")
        time.sleep(0.3)
        start = len(conn.input_pcm)
        play_into_mic(speech).wait(10)
        time.sleep(0.3)
        live_part = np.frombuffer(bytes(conn.input_pcm[start:]), dtype="<i2")
        assert np.abs(live_part).max() > 1000, "unmuted speech did not go out"
        term.send("C-c")
        assert term.wait_exit()[0] == 0


def test_push_to_talk_sends_activity_start_and_end(virtual_audio, tmp_path):
    with EmulatorThread(EmulatorConfig()) as emu, \
            TmuxChat(chat_args(emu, "--push-to-talk"), _env(emu, virtual_audio),
                     tmp_path) as term:
        term.wait_for(lambda s: "Space: talk" in s and "listening" in s)
        assert wait_until(lambda: _mic_flowing(emu), 20)
        conn = emu.connections[0]
        aad = conn.setup["realtime_input_config"]["automatic_activity_detection"]
        assert aad["disabled"] is True
        # Speech before the key is pressed does not go out.
        start = len(conn.input_pcm)
        play_into_mic(speech_wav("Not yet.")).wait(10)
        time.sleep(0.3)
        assert np.abs(np.frombuffer(bytes(conn.input_pcm[start:]), dtype="<i2")).max() == 0
        term.send("Space")  # tap: start talking
        term.wait_for(lambda s: "you are speaking" in term.status())
        play_into_mic(speech_wav("Hello, can you hear me?")).wait(10)
        term.send("Space")  # tap again: done
        assert wait_until(lambda: len(conn.activity) >= 2, 10), conn.activity
        assert [a.name for a in conn.activity] == ["activity_start", "activity_end"]
        term.wait_for(f"Gemini: {REPLY}", 20)
        heard = conn.input_pcm
        assert np.abs(np.frombuffer(bytes(heard), dtype="<i2")).max() > 1000
        term.send("C-c")
        assert term.wait_exit()[0] == 0


def test_text_mode_no_color_and_a_narrow_terminal(virtual_audio, tmp_path):
    with EmulatorThread(EmulatorConfig()) as emu, \
            TmuxChat(chat_args(emu, "--text", "--mute-speaker"),
                     _env(emu, virtual_audio, NO_COLOR="1"), tmp_path, width=40) as term:
        term.wait_for(lambda s: "type>" in s and "[connected]" in s)
        term.type_line("hi")
        term.wait_for("Gemini: Hi there!", 20)
        conn = emu.connections[0]
        assert conn.audio_chunks == 0  # --text: no microphone at all
        screen = term.screen(escapes=True)
        status = term.status()
        term.send("C-c")
        assert term.wait_exit()[0] == 0
    # No colours (SGR 30-37, 38;..., 90-97), though reverse video for the bar is fine.
    assert not re.search(r"\x1b\[[0-9;]*(3[0-8]|9[0-7])[;m]", screen), repr(screen)
    assert len(status) <= 40 and status.split("│")[0].strip() in ("listening", "speaking")
