"""End to end on the virtual sound card: the real CLI, the real SDK, real sounddevice.

Speech is played into the virtual microphone; the emulator answers; the reply is recorded at
the virtual speaker and compared with what the emulator sent.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli_testing.audio import (
    MAX_STALL_MS,
    SpeakerRecorder,
    arrived_whole,
    play_into_mic,
    silence_after,
    speech_wav,
    wait_until,
    xcorr_peak,
)
from voicecli_testing.cli import start_chat, stop_chat

pytestmark = pytest.mark.audio


def test_conversation_through_devices(virtual_audio, tmp_path):
    transcript = tmp_path / "talk.txt"
    question = speech_wav("Hello, can you hear me?")
    with EmulatorThread(EmulatorConfig()) as emu, SpeakerRecorder() as rec:
        # --headphones: the raw microphone path, checked sample for sample below (the
        # default echo canceller filters the audio; tests/test_e2e_echo.py covers it).
        proc = start_chat(emu, virtual_audio, "--format", "jsonl", "--transcript",
                          str(transcript), "--headphones")
        play_into_mic(question).wait(10)
        rec.wait_for_sound(timeout=15)
        conn = emu.connections[0]
        assert wait_until(lambda: conn.times("turn_complete"), 15)
        rec.wait_for_silence(hold_ms=700, timeout=20)
        out, _ = stop_chat(proc)

    # Piece by piece (see test_device_that_only_does_48k_is_resampled): a machine that
    # stalls for a moment delays the rest of the audio, and voicecli cannot help that.
    reply = np.frombuffer(conn.replies[0].pcm, dtype="<i2")
    bad, _ = arrived_whole(rec.audio, reply, rec.rate)
    assert bad is None, f"speaker recording vs emulator reply: {bad}"
    # The microphone audio reached the emulator as 16 kHz PCM with the rate in the MIME type.
    audio_msgs = [m.message for m in conn.client_messages if "realtime_input" in m.message]
    assert audio_msgs[0]["realtime_input"]["audio"]["mime_type"] == "audio/pcm;rate=16000"
    bad, _ = arrived_whole(np.frombuffer(bytes(conn.input_pcm), dtype="<i2"),
                           np.frombuffer(_wav_frames(question), dtype="<i2"), 16000)
    assert bad is None, f"emulator input vs played speech: {bad}"

    rows = [json.loads(line) for line in out.splitlines()]
    said = [(r["type"], r.get("text")) for r in rows if r["type"].endswith("_transcript")]
    assert said[0] == ("user_transcript", "Hello, can you hear me?")
    assert said[1][0] == "assistant_transcript" and said[1][1].startswith("Hi there!")
    assert rows[-1]["type"] == "session_ended"
    assert transcript.read_text().splitlines()[:2] == [
        "You: Hello, can you hear me?", f"Gemini: {said[1][1]}"]


def test_barge_in_silences_the_speaker_and_drops_the_rest(virtual_audio):
    story = speech_wav("Tell me a long story please.")
    interrupt = speech_wav("Stop, stop. Wait a moment.")
    with EmulatorThread(EmulatorConfig()) as emu, \
            SpeakerRecorder() as rec:
        proc = start_chat(emu, virtual_audio)
        play_into_mic(story).wait(10)
        reply_start = rec.wait_for_sound(timeout=15)
        time.sleep(1.5)  # well into the reply (the default first reply lasts ~4.5 s)
        talk = play_into_mic(interrupt)
        talk.wait(10)
        conn = emu.connections[0]
        # After the user stops, the emulator answers the interruption with the next turn.
        assert wait_until(lambda: len(conn.replies) >= 2 and conn.replies[1].started_at, 15)
        next_reply_start = conn.replies[1].started_at
        time.sleep(0.5)
        out, err = stop_chat(proc)

    audio = rec.audio
    onset = talk.started + 0.05  # paplay start-up; the speech itself starts at once
    cut = silence_after(audio, rec.rate, onset - rec.t0, hold_ms=300)
    assert cut is not None, "the speaker never went silent"
    latency_ms = (rec.time_of(cut * rec.rate) - onset) * 1000
    assert latency_ms < 500, f"speaker kept playing {latency_ms:.0f} ms after the user spoke"
    # Nothing of the interrupted turn plays afterwards: silence until the next reply.
    quiet_from = rec.index_of(rec.time_of(cut * rec.rate) + 0.05)
    quiet_to = rec.index_of(next_reply_start)
    gap = audio[quiet_from:quiet_to]
    assert len(gap) > rec.rate // 2
    assert np.abs(gap.astype(np.int32)).max() < 300, "audio of the interrupted turn leaked"
    assert conn.replies[0].interrupted  # the server saw the barge-in too
    # The mic hears no echo here (no path from speaker to mic): the server gets the user's
    # words whole, their onset too (AEC3 with nothing to cancel cut it by ~10 dB).
    said = np.frombuffer(_wav_frames(interrupt), dtype="<i2")
    sent = np.frombuffer(bytes(conn.input_pcm), dtype="<i2")
    _, at = xcorr_peak(sent, said)  # (the input also holds the first question)
    room = 8000 + MAX_STALL_MS * 16  # samples after the words: half a second and any stalls
    bad, pieces = arrived_whole(sent[max(0, at - 8000):at + len(said) + room], said, 16000)
    assert bad is None, f"emulator input vs the interruption: {bad}; chat stderr: {err[-600:]!r}"
    assert pieces[0].corr >= 0.9, f"the interruption's onset: {pieces[0]}"  # never excused
    assert "Gemini:" in out and "[interrupted]" in out
    assert "[interrupted by you]" in err
    assert reply_start < onset


def _wav_frames(path) -> bytes:
    import wave

    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


def test_device_that_only_does_48k_is_resampled(virtual_audio):
    """'only48' rejects 16/24 kHz (a JACK-backed ALSA device): voicecli opens it at 48 kHz and
    resamples both ways instead of failing with 'Invalid sample rate'."""
    import sounddevice as sd

    with pytest.raises(sd.PortAudioError):
        sd.check_input_settings(device="only48", samplerate=16000, channels=1, dtype="int16")
    with EmulatorThread(EmulatorConfig()) as emu, SpeakerRecorder() as rec:
        proc = start_chat(emu, virtual_audio, "--input-device", "only48",
                          "--output-device", "only48", "--format", "jsonl")
        play_into_mic(speech_wav("Hello, can you hear me?")).wait(10)
        rec.wait_for_sound(timeout=15)
        conn = emu.connections[0]
        assert wait_until(lambda: conn.times("turn_complete"), 15)
        rec.wait_for_silence(hold_ms=700, timeout=20)
        out, err = stop_chat(proc)
    assert "Invalid sample rate" not in err
    # Piece by piece, not one correlation for the whole reply: the test device's JACK bridge
    # inserts silence whenever jackd runs late (measured: jackd stopped for 30 ms mid-reply
    # drops the whole-reply correlation to 0.64, with every piece still at 1.00).
    bad, _ = arrived_whole(rec.audio, np.frombuffer(conn.replies[0].pcm, dtype="<i2"), rec.rate)
    ended = out.splitlines()[-1] if out else ""  # session_ended, with the device xruns
    assert bad is None, f"48 kHz path: {bad}; {ended}; stderr: {err[-400:]!r}"
    assert '"user_transcript"' in out


def test_devices_lists_and_marks_defaults(virtual_audio):
    from voicecli_testing.cli import clean_env, run_cli

    proc = run_cli("devices", env=clean_env(**virtual_audio))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    default = [ln for ln in lines if ln.startswith("><")]
    assert len(default) == 1 and " default " in default[0]
    assert any(" only48 " in ln and "48000 Hz" in ln for ln in lines)
