"""The echo canceller, its reference alignment, the echo gate and doctor --echo's analysis:
pure, no devices (livekit's AEC3 runs on arrays)."""

import numpy as np
import pytest

from voicecli.audio.echo import (
    CAPTURE_FRAME,
    CapturePath,
    EchoCanceller,
    EchoGate,
    ReferenceAligner,
    ReferenceTap,
    RollingValues,
)
from voicecli.audio.echo_check import analyze, probe
from voicecli.audio.levels import dbfs
from voicecli.audio.resample import resample


def speechlike(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    x = rng.standard_normal(n) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * np.arange(n) / rate)) ** 2
    return (x / np.sqrt(np.mean(x**2)) * 0.1 * 32767).astype(np.int16)


def echo_of(played24: np.ndarray, delay_s: float, gain_db: float) -> np.ndarray:
    y = resample(played24, 24000, 16000).astype(np.float64) * 10 ** (gain_db / 20)
    d = int(delay_s * 16000)
    return np.concatenate([np.zeros(d), y])[: len(y)].astype(np.int16)


def through_capture_path(played24: np.ndarray, mic: np.ndarray, probe) -> list:
    """Play ``played24`` and capture ``mic`` through a CapturePath 20 ms at a time, as the
    callbacks do; ``probe(path)`` after each block."""
    tap = ReferenceTap()
    path = CapturePath(EchoCanceller(24000), tap)
    seen = []
    for k in range(len(mic) // 320):
        tap.write(played24[k * 480:(k + 1) * 480], k * 0.02)
        path.process(mic[k * 320:(k + 1) * 320], k * 0.02 + 0.02)
        seen.append(probe(path))
    return seen


def test_canceller_removes_a_delayed_echo_fed_through_the_capture_path():
    played = speechlike(6, 24000)
    mic = echo_of(played, 0.08, -10)
    tap = ReferenceTap()
    path = CapturePath(EchoCanceller(24000), tap)
    out = []
    for k in range(len(mic) // 320):  # 20 ms blocks, as the callbacks deliver them
        t = k * 0.02
        tap.write(played[k * 480:(k + 1) * 480], t)
        out.append(path.process(mic[k * 320:(k + 1) * 320], t + 0.02).frame)
    cancelled = np.concatenate(out)
    last = slice(-2 * 16000, None)
    assert dbfs(mic[last]) - dbfs(cancelled[last]) > 20  # converged: > 20 dB removed
    assert path.played_s > 5


def test_aligner_releases_reference_up_to_the_capture_time_plus_lead():
    al = ReferenceAligner(24000, lead_s=0.03)
    for k in range(10):
        assert not al.add(np.full(480, k, dtype=np.int16), 1.0 + k * 0.02)
    frames = al.release(1.05)  # reference that played before 1.05 s (+30 ms lead)
    assert len(frames) == 8 and all(len(f) == 240 for f in frames)
    assert al.release(1.05) == []
    # A gap in the output (an underrun) is filled with silence; a jump back resets.
    assert not al.add(np.ones(480, dtype=np.int16), 1.0 + 10 * 0.02 + 0.1)
    assert al.add(np.ones(480, dtype=np.int16), 0.5) and al.discontinuities == 1


def test_echo_gate_learns_the_echo_level():
    gate = EchoGate(margin_db=10)
    assert not gate.passes(-20, -25)  # nothing learnt yet: do not trust the raw mic
    for _ in range(60):
        gate.update(-20, -50)  # the mic hears the reply 30 dB down
    assert not gate.passes(-20, -45)  # echo-ish level
    assert gate.passes(-20, -30)  # a voice well above any echo
    assert gate.passes(-90, -50)  # nothing played: no echo possible


def test_capture_path_tells_a_mic_without_echo_and_notices_an_echo_at_once():
    """No echo path: echo_negligible. Then an echo appears (the volume went up, a speaker
    instead of a headset): echo_negligible goes false within 1.5 s."""
    played = speechlike(16, 24000)
    rng = np.random.default_rng(1)
    room = (rng.standard_normal(len(played)) * 10).astype(np.int16)  # about -70 dBFS
    mic = echo_of(played, 0.05, -15)
    mic[: 8 * 16000] = 0  # no echo for the first 8 s
    mic = (mic + room[: len(mic)]).astype(np.int16)
    negligible = through_capture_path(played, mic, lambda path: path.echo_negligible)
    assert negligible[200:400] == [True] * 200  # seconds 4-8
    assert not any(negligible[475:])  # from 9.5 s on


def test_doctor_analysis_finds_delay_and_cancellation():
    played = probe(24000)
    rep = analyze(played, 24000, echo_of(played, 0.12, -12))
    assert rep.echo_heard and abs(rep.delay_ms - 120) < 5
    assert abs(rep.echo_db + 12) < 3
    assert rep.works and rep.erle_db > 20
    assert any("should work" in line for line in rep.lines())


def test_doctor_analysis_without_echo():
    played = probe(16000)
    quiet = (np.random.default_rng(1).standard_normal(len(played)) * 3).astype(np.int16)
    rep = analyze(played, 16000, quiet)
    assert not rep.echo_heard and rep.works
    assert "none heard" in rep.lines()[0]


def test_capture_frame_is_10_ms():
    assert CAPTURE_FRAME == 160


def test_missing_echo_canceller_fails_loudly_suggesting_headphones(monkeypatch):
    import sys

    from voicecli.errors import ConfigError

    monkeypatch.setitem(sys.modules, "livekit", None)  # import livekit -> ImportError
    with pytest.raises(ConfigError, match="--headphones"):
        EchoCanceller(24000)


def test_silero_model_is_bundled_and_a_missing_one_is_one_clear_error(monkeypatch, tmp_path):

    from voicecli.audio import silero
    from voicecli.errors import ConfigError

    monkeypatch.setenv("VOICECLI_SILERO_MODEL", str(tmp_path / "nope.onnx"))
    with pytest.raises(ConfigError, match="no such file"):
        silero.model_path()
    monkeypatch.delenv("VOICECLI_SILERO_MODEL")
    assert silero.model_path() == silero.BUNDLED  # shipped in the package, no download
    monkeypatch.setattr(silero, "BUNDLED", tmp_path / "missing.onnx")
    with pytest.raises(ConfigError, match="reinstall voicecli"):
        silero.model_path()


def test_silero_hears_a_voice_not_silence():
    from voicecli.audio.silero import SileroVad
    from voicecli_testing.audio import read_wav, speech_wav

    vad = SileroVad()
    assert vad.process(np.zeros(1600, dtype=np.int16)) < 0.1
    voice, _ = read_wav(speech_wav("Hello, can you hear me?"))
    probs = [vad.process(voice[i:i + 512]) for i in range(0, len(voice) - 512, 512)]
    assert max(probs) > 0.8


def test_silero_skipping_quiet_audio_catches_up_exactly():
    """Skipped (quiet) audio is run before the next loud frame: same answers as running all."""
    from voicecli.audio.silero import REPLAY, SileroVad

    rng = np.random.default_rng(0)
    always, skipping = SileroVad(), SileroVad()
    for k in range(120):
        loud = (k // 7) % 2 == 0
        frame = (rng.standard_normal(320) * (3000 if loud else 30)).astype(np.int16)
        p = always.process(frame)
        if loud:
            assert skipping.process(frame) == pytest.approx(p, abs=1e-6)
        else:
            skipping.skip(frame)
    # After a long quiet stretch it starts clean and hears only the last REPLAY samples.
    for _ in range(REPLAY // 320 + 5):
        skipping.skip(np.zeros(320, dtype=np.int16))
    assert skipping.process(np.zeros(320, dtype=np.int16)) < 0.1


@pytest.mark.parametrize("ppm", [-200, 200])
def test_aligner_follows_a_drifting_speaker_clock(ppm):
    """The speaker's clock runs ``ppm`` off the capture clock, and its stamps jitter by 5 ms:
    after ten minutes the reference is still released on time (never late, at most the lead
    plus a little early), not where counting samples would put it (120 ms off)."""
    rng = np.random.default_rng(2)
    al = ReferenceAligner(24000, lead_s=0.03)
    speed = 1 + ppm * 1e-6  # seconds of samples played per second
    block = np.zeros(480, dtype=np.int16)  # 20 ms at 24 kHz
    for k in range(3):
        al.add(block, k * 0.02 / speed)
    released = 0
    for k in range(30_000):  # 600 s
        start = k * 0.02 / speed  # when block k really starts playing
        # The output callback runs 3 blocks ahead of its DAC time.
        assert not al.add(block, (k + 3) * 0.02 / speed + rng.uniform(-0.005, 0.005))
        released += len(al.release(start))
        # Frame ``released - 1`` was released; it starts playing at (released - 1) * 10 ms.
        ahead = (released - 1) * 0.01 / speed - start
        assert 0.0 <= ahead <= 0.03 + 0.004, (k, ahead)


def test_rolling_values_give_numpy_percentiles_of_the_last_n():
    rng = np.random.default_rng(3)
    values = list(rng.normal(30, 10, 500).round(1))  # rounded: repeated values too
    rolling = RollingValues(150)
    for i, v in enumerate(values):
        rolling.append(v)
        window = values[max(0, i - 149):i + 1]
        assert len(rolling) == len(window)
        for q in (0, 5, 20, 50, 100):
            assert rolling.percentile(q) == pytest.approx(np.percentile(window, q))


def test_capture_path_tells_left_over_echo_from_a_voice_it_lets_through():
    """Echo alone: the canceller cuts it by RESIDUAL_CUT_DB or more (residual). A louder
    second talker on top: it goes through (not residual)."""
    played = speechlike(12, 24000)
    mic = echo_of(played, 0.05, -10).astype(np.float64)
    user = speechlike(4, 16000, seed=3).astype(np.float64) * 10 ** (10 / 20)
    mic[8 * 16000:] += user[: len(mic) - 8 * 16000]
    mic = np.clip(mic, -32768, 32767).astype(np.int16)
    residual = through_capture_path(played, mic, lambda path: path.residual)
    assert np.mean(residual[200:400]) > 0.8  # seconds 4-8: echo only, canceller converged
    assert np.mean(residual[425:600]) < 0.2  # seconds 8.5-12: the user talks over it


def test_capture_path_tells_a_noisy_room_without_echo_from_an_echo():
    """A -50 dBFS room is only ~30 dB under the reply, so the loss alone never says "no
    echo"; the mic no louder while the reply plays than before it does. With an echo, no."""
    played = np.concatenate([np.zeros(2 * 24000, dtype=np.int16), speechlike(8, 24000)])
    rng = np.random.default_rng(2)
    room = (rng.standard_normal(len(played) * 2 // 3) * 100).astype(np.int16)  # -50 dBFS
    quiet = through_capture_path(played, room, lambda path: path.echo_negligible)
    assert all(quiet[300:])  # from 6 s on (4 s of reply)
    echo = np.clip(room + echo_of(played, 0.05, -25).astype(np.int32), -32768, 32767)
    heard = through_capture_path(played, echo.astype(np.int16),
                                 lambda path: path.echo_negligible)
    assert not any(heard)
