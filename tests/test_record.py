"""``--record``: the session as stereo, microphone left and assistant right, aligned."""

from __future__ import annotations

import wave

import numpy as np

from voicecli.audio.recorder import mux_stereo
from voicecli_testing.audio import xcorr_peak
from voicecli_testing.cli import HELLO_WAV, run_cli


def test_mux_aligns_by_start_time():
    left = np.array([1, 2, 3], dtype=np.int16)
    right = np.array([7, 8], dtype=np.int16)
    out = mux_stereo(left, 10.0, right, 10.002, 1000)  # right started 2 samples later
    assert out[:, 0].tolist() == [1, 2, 3, 0] and out[:, 1].tolist() == [0, 0, 7, 8]


def _read(path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels()), w.getframerate(), w.getnchannels()


def test_record_is_stereo_mic_left_assistant_right(tmp_path):
    rec, reply = tmp_path / "session.wav", tmp_path / "reply.wav"
    proc = run_cli("chat", "--emulator", "--input", str(HELLO_WAV), "--output", str(reply),
                   "--record", str(rec), "-q")
    assert proc.returncode == 0, proc.stderr
    stereo, rate, channels = _read(rec)
    assert channels == 2 and rate == 24000
    said, _, _ = _read(reply)
    with wave.open(str(HELLO_WAV)) as w:
        hello = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        hello_rate = w.getframerate()
    from voicecli.audio.resample import resample

    left, right = stereo[:, 0], stereo[:, 1]
    corr_l, lag_l = xcorr_peak(left, resample(hello, hello_rate, 24000))
    corr_r, lag_r = xcorr_peak(right, said[:, 0])
    assert corr_l > 0.9 and corr_r > 0.9, (corr_l, corr_r)
    # Time-aligned: the reply starts after the question ends, not on top of it.
    assert lag_r / 24000 > len(hello) / hello_rate + lag_l / 24000
    assert np.abs(right[: lag_l + len(hello) * 24000 // hello_rate]).max() < 100
