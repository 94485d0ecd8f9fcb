"""Open speakers, end to end: an echo path inside PulseAudio loops the virtual speaker back
into the virtual microphone (voicecli_testing/audio.py ``echo_path``). The real CLI in its
default mode (echo canceller on) must neither interrupt itself nor let the echo reach the
server, and the user must still be able to cut in. ``doctor --echo`` measures that path.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli_testing.audio import (
    SpeakerRecorder,
    echo_path,
    play_into_mic,
    read_wav,
    silence_after,
    speech_wav,
    wait_until,
)
from voicecli_testing.cli import clean_env, run_cli, start_chat, stop_chat

pytestmark = pytest.mark.audio
LONG_REPLIES = Path(__file__).resolve().parents[1] / "benchmarks/scenarios/long-replies.toml"


def _envelope(x: np.ndarray, rate: int) -> np.ndarray:
    """10 ms RMS envelope in dB: compares speech without caring for phase (the canceller's
    high-pass filter changes the waveform, not the words)."""
    w = rate // 100
    x = x[: len(x) // w * w].astype(np.float64).reshape(-1, w)
    return 10 * np.log10(np.mean(x**2, axis=1) + 1.0)


def test_open_speakers_reply_plays_to_its_end_and_user_can_still_cut_in(virtual_audio):
    with EmulatorThread(EmulatorConfig(scenario=LONG_REPLIES)) as emu, \
            echo_path(volume_percent=50), SpeakerRecorder() as rec:
        proc = start_chat(emu, virtual_audio, "--format", "jsonl")
        conn = emu.connections[0]
        question = speech_wav("Tell me about the sea.")
        play_into_mic(question).wait(10)
        assert wait_until(lambda: conn.replies and conn.replies[0].started_at, 20)
        first = conn.replies[0]
        # Nobody talks: the whole reply must play although the mic hears it at -18 dB.
        assert wait_until(lambda: first.sent_bytes >= len(first.pcm), 30)
        end = rec.wait_for_silence(hold_ms=700, timeout=30, after=first.started_at + 0.5)
        assert end - first.started_at >= first.duration_s - 0.5, "the reply was cut off"
        assert not first.interrupted, "the echo reached the server's voice detector"
        play_into_mic(speech_wav("Tell me about mountains.")).wait(10)
        assert wait_until(lambda: len(conn.replies) > 1 and conn.replies[1].started_at, 20)
        time.sleep(1.5)  # the canceller has converged on the first reply
        talk = play_into_mic(speech_wav("Stop, wait a moment."))
        talk.wait(10)
        assert wait_until(lambda: len(conn.replies) > 2 and conn.replies[2].started_at, 20)
        out, _ = stop_chat(proc)

    onset = talk.started + 0.05
    cut = silence_after(rec.audio, rec.rate, onset - rec.t0, hold_ms=300)
    assert cut is not None
    latency_ms = (rec.time_of(cut * rec.rate) - onset) * 1000
    assert latency_ms < 500, f"speaker kept playing {latency_ms:.0f} ms after the user spoke"
    rows = [json.loads(line) for line in out.splitlines()]
    local = [r for r in rows if r["type"] == "interrupted" and r["source"] == "local"]
    assert [r["turn"] for r in local] == [2], rows  # only the real barge-in, on reply 2
    assert any(r["type"] == "barge_in_confirmed" and r["turn"] == 2 for r in rows)
    # The server heard the user's words through the canceller.
    heard = np.frombuffer(bytes(conn.input_pcm), dtype="<i2")
    q, _ = read_wav(question)
    env_q, env_h = _envelope(q, 16000), _envelope(heard, 16000)
    # Windows of pure silence (the server gets silence while the reply plays) have no
    # correlation at all: NaN, skipped (a NaN first would also have won max()).
    with np.errstate(invalid="ignore", divide="ignore"):
        best = np.nanmax([np.corrcoef(env_h[i:i + len(env_q)], env_q)[0, 1]
                          for i in range(0, len(env_h) - len(env_q), 2)])
    assert best > 0.8, f"the question is not recognisable in what the server got ({best:.2f})"


def test_doctor_echo_measures_the_echo_path(virtual_audio):
    env = clean_env(**virtual_audio)
    with echo_path(volume_percent=50):
        proc = run_cli("doctor", "--echo", env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    delay = [ln for ln in proc.stdout.splitlines() if ln.startswith("echo delay:")]
    assert delay, proc.stdout
    ms = float(delay[0].split()[2])
    assert 20 < ms < 400, proc.stdout
    assert "should work" in proc.stdout
    proc = run_cli("doctor", "--echo", env=env, timeout=60)  # no echo path: nothing heard
    assert proc.returncode == 0 and "none heard" in proc.stdout, proc.stdout + proc.stderr
