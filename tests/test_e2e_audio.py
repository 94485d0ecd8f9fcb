"""End to end on the virtual sound card: the real CLI, the real SDK, real sounddevice.

Speech is played into the virtual microphone; the emulator answers; the reply is recorded at
the virtual speaker and compared with what the emulator sent.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from audio_harness import (
    SpeakerRecorder,
    play_into_mic,
    silence_after,
    speech_wav,
    wait_until,
    xcorr_peak,
)
from helpers import ROOT, clean_env

from voicecli.emulator import EmulatorConfig, EmulatorThread

pytestmark = pytest.mark.audio


def start_chat(emu, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicecli", "chat", "--base-url", emu.base_url,
         "--ca-cert", emu.ca_cert_path, "--api-version", "v1beta", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=clean_env(GEMINI_API_KEY=emu.api_key, **env),
    )
    # Ready when the emulator hears microphone audio from it.
    assert wait_until(lambda: emu.connections and emu.connections[0].audio_chunks > 5, 20), \
        proc.stderr.read() if proc.poll() is not None else "no microphone audio arrived"
    return proc


def stop_chat(proc: subprocess.Popen[str]) -> tuple[str, str]:
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert time.monotonic() - t < 3, "Ctrl-C took too long"
    assert "Traceback" not in err, err
    return out, err


def test_conversation_through_devices(virtual_audio, tmp_path):
    transcript = tmp_path / "talk.txt"
    question = speech_wav("Hello, can you hear me?")
    with EmulatorThread(EmulatorConfig()) as emu, SpeakerRecorder() as rec:
        proc = start_chat(emu, virtual_audio, "--format", "jsonl", "--transcript",
                          str(transcript))
        play_into_mic(question).wait(10)
        rec.wait_for_sound(timeout=15)
        conn = emu.connections[0]
        assert wait_until(lambda: conn.times("turn_complete"), 15)
        rec.wait_for_silence(hold_ms=700, timeout=20)
        out, _ = stop_chat(proc)

    reply = np.frombuffer(conn.replies[0].pcm, dtype="<i2")
    corr, _lag = xcorr_peak(rec.audio, reply)
    assert corr >= 0.9, f"speaker recording vs emulator reply: correlation {corr:.3f}"
    # The microphone audio reached the emulator as 16 kHz PCM with the rate in the MIME type.
    audio_msgs = [m.message for m in conn.client_messages if "realtime_input" in m.message]
    assert audio_msgs[0]["realtime_input"]["audio"]["mime_type"] == "audio/pcm;rate=16000"
    heard, _ = xcorr_peak(np.frombuffer(bytes(conn.input_pcm), dtype="<i2"),
                          np.frombuffer(_wav_frames(question), dtype="<i2"))
    assert heard >= 0.9, f"emulator input vs played speech: correlation {heard:.3f}"

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
        time.sleep(1.0)  # well into the reply (the default first reply lasts ~4.5 s)
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
    assert "Gemini:" in out and "[interrupted]" in out
    assert "[interrupted by you]" in err
    assert reply_start < onset


def _wav_frames(path) -> bytes:
    import wave

    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())
