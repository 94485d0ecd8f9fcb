"""The test harness itself: the virtual devices carry audio through PortAudio intact."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import sounddevice as sd

from voicecli_testing import audio as ah

TEXT = "The quick brown fox jumps over the lazy dog."


def _capture(device, rate: int, during) -> np.ndarray:
    """Record ``device`` (int16 mono at ``rate``) while ``during()`` runs, then until 0.2 s of
    silence (at most 3 s more: a path that stalled delivers the end late)."""
    chunks: list[np.ndarray] = []
    lock = threading.Lock()

    def callback(indata, frames, t, status):
        with lock:
            chunks.append(indata[:, 0].copy())

    def quiet_tail() -> bool:
        with lock:
            tail = np.concatenate(chunks[-40:]) if chunks else np.zeros(0, np.int16)
        return len(tail) >= rate // 5 and np.abs(tail[-rate // 5 :]).max() < 300

    with sd.InputStream(
        device=device, samplerate=rate, channels=1, dtype="int16", callback=callback
    ):
        during()
        time.sleep(0.2)
        ah.wait_until(quiet_tail, timeout=3)
    return np.concatenate(chunks)


def _play_through_output(device, rate: int, x: np.ndarray) -> None:
    """Play float audio on an OutputStream; pads with silence so the end is not cut off."""
    with sd.OutputStream(device=device, samplerate=rate, channels=1, dtype="float32") as out:
        pad = np.zeros(int(0.15 * rate), dtype=np.float32)
        out.write(np.concatenate([x, pad]).astype(np.float32).reshape(-1, 1))


@pytest.mark.audio
def test_mic_roundtrip(virtual_audio):
    speech, rate = ah.read_wav(ah.speech_wav(TEXT, rate=16000))
    got = _capture(None, 16000, lambda: ah.play_into_mic(speech, rate).wait(10))
    # Piece by piece: a stalled feeder inserts silence (CI once: whole-capture correlation 0.61).
    bad, pieces = ah.arrived_whole(got, speech, rate)
    assert bad is None, f"capture: {bad}"
    assert pieces[0].delay_s >= 0


@pytest.mark.audio
def test_speaker_roundtrip(virtual_audio):
    speech, _ = ah.read_wav(ah.speech_wav(TEXT, rate=24000))
    with ah.SpeakerRecorder() as rec:
        started = time.monotonic()
        _play_through_output(None, 24000, speech.astype(np.float32) / 32768)
        rec.wait_for_silence(hold_ms=200, timeout=5)
    bad, pieces = ah.arrived_whole(rec.audio, speech, 24000)
    assert bad is None, f"playback: {bad}"
    # the speech is heard shortly after the stream opened (PortAudio latency ~35 ms)
    heard = rec.time_of(pieces[0].delay_s * 24000)  # where the speech's sample 0 lies
    assert 0 < heard - started < 0.5, heard - started


@pytest.mark.audio
def test_only48_rejects_16k_and_24k(virtual_audio):
    for rate in (16000, 24000):
        with pytest.raises(sd.PortAudioError):
            sd.check_input_settings(ah.ONLY48_DEVICE, samplerate=rate, channels=1, dtype="int16")
        with pytest.raises(sd.PortAudioError):
            sd.check_output_settings(ah.ONLY48_DEVICE, samplerate=rate, channels=1, dtype="int16")
    sd.check_input_settings(ah.ONLY48_DEVICE, samplerate=48000, channels=1, dtype="int16")
    sd.check_output_settings(ah.ONLY48_DEVICE, samplerate=48000, channels=1, dtype="int16")


@pytest.mark.audio
def test_only48_carries_mic_and_speaker(virtual_audio):
    speech, rate = ah.read_wav(ah.speech_wav(TEXT, rate=16000))
    got = _capture(ah.ONLY48_DEVICE, 48000, lambda: ah.play_into_mic(speech, rate).wait(10))
    # The JACK bridge inserts silence when jackd is late (CI, a busy machine).
    bad, _ = ah.arrived_whole(ah.resample(got, 48000, 16000), speech, 16000)
    assert bad is None, f"capture: {bad}"

    with ah.SpeakerRecorder() as rec:
        _play_through_output(ah.ONLY48_DEVICE, 48000, ah.resample(speech, 16000, 48000))
        rec.wait_for_silence(hold_ms=200, timeout=5)
    bad, _ = ah.arrived_whole(rec.audio, ah.resample(speech, 16000, 24000), 24000)
    assert bad is None, f"playback: {bad}"


# ---------------------------------------------------------------- pure helpers (no audio)


def test_xcorr_peak_lag_and_scale():
    rng = np.random.default_rng(1)
    b = rng.normal(size=800)
    a = np.concatenate([np.zeros(300), 0.5 * b, np.zeros(100)])
    corr, lag = ah.xcorr_peak(a, b)
    assert corr == pytest.approx(1.0) and lag == 300
    corr, lag = ah.xcorr_peak(a[400:], b)  # a starts inside b
    assert lag == -100 and 0.5 < corr < 1.0
    assert ah.xcorr_peak(np.zeros(10), b) == (0.0, 0)


def test_find_pieces_tolerates_inserted_gaps_but_not_lost_or_warped_audio():
    rng = np.random.default_rng(2)
    rate = 8000
    b = np.convolve(rng.normal(size=4 * rate), np.ones(4) / 4, "same")  # 4 s, 8 pieces
    lead = np.zeros(rate // 3)
    whole = np.concatenate([lead, b, lead])
    assert ah.check_pieces(ah.find_pieces(whole, b, rate)) is None
    # 30 ms of silence inserted at 1.7 s (a stalled device path): one lag no longer fits...
    stalled = np.concatenate([lead, b[: int(1.7 * rate)], np.zeros(240), b[int(1.7 * rate):]])
    assert ah.xcorr_peak(stalled, b)[0] < 0.9
    pieces = ah.find_pieces(stalled, b, rate)
    assert ah.check_pieces(pieces) is None  # ...but every piece is there, in order
    assert pieces[-1].delay_s - pieces[0].delay_s == pytest.approx(0.03)
    # Gaps inside three pieces (each matches less): excused, the delay steps up around them.
    cuts = [int(x * rate) for x in (0.75, 1.75, 2.75)]
    parts = np.split(b, cuts)
    gappy = np.concatenate([lead, *[np.concatenate([p, np.zeros(160)]) for p in parts]])
    pieces = ah.find_pieces(gappy, b, rate)
    assert sum(p.corr < 0.9 for p in pieces) == 3
    assert ah.check_pieces(pieces) is None
    # The last second lost, 250 ms skipped, half a second played twice, a 1 % rate error:
    # all caught.
    assert "match" in ah.check_pieces(ah.find_pieces(whole[: -rate - len(lead)], b, rate))
    skipped = np.concatenate([lead, b[: 2 * rate], b[int(2.25 * rate) :]])
    assert "order" in ah.check_pieces(ah.find_pieces(skipped, b, rate))
    repeated = np.concatenate([lead, b[: 2 * rate], b[rate // 2 : rate], b[2 * rate :]])
    assert "repeated" in ah.check_pieces(ah.find_pieces(repeated, b, rate))
    warped = np.interp(np.arange(0, len(b), 1.01), np.arange(len(b)), b)
    assert "match" in ah.check_pieces(ah.find_pieces(warped, b, rate))
    assert ah.check_pieces(ah.find_pieces(whole, np.zeros(rate), rate)) is not None


def test_arrived_whole_lets_long_stalls_through_but_not_added_sound():
    rng = np.random.default_rng(3)
    rate = 8000
    b = np.convolve(rng.normal(size=4 * rate), np.ones(4) / 4, "same")
    lead, k = np.zeros(rate // 3), int(1.7 * rate)

    def arrived(*parts):
        return ah.arrived_whole(0.5 * np.concatenate([lead, *parts, lead]), b, rate)[0]

    assert arrived(b) is None
    # 800 ms of silence (over check_pieces' default 300 ms), and two stalls around one period
    # that got through (measured: the daemon stopped for 400 ms mid-capture does that).
    assert arrived(b[:k], np.zeros(6400), b[k:]) is None
    assert arrived(b[:k], np.zeros(1500), b[k : k + 160], np.zeros(1300), b[k + 160 :]) is None
    # ...but not 50 ms played twice, 100 ms of noise, or silence past the limit.
    assert "not the reference" in arrived(b[:k], b[k - 400 : k], b[k:])
    assert "not the reference" in arrived(b[:k], 0.3 * rng.normal(size=800), b[k:])
    assert "inserted" in arrived(b[:k], np.zeros(3 * rate), b[k:])


def test_sound_and_silence_detection():
    rate = 16000
    rng = np.random.default_rng(2)
    x = (rng.normal(size=rate * 2) * 20).astype(np.int16)  # noise at ~-64 dBFS
    tone = (3000 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate)).astype(np.int16)
    x[4000 : 4000 + len(tone)] += tone  # 0.25 s .. 0.75 s
    x[20000:20005] = 300  # a 5-sample tick at -40 dBFS peak: below -45 dBFS RMS over 10 ms
    assert ah.first_sound(x, rate) == pytest.approx(0.25, abs=0.002)
    assert ah.last_sound(x, rate) == pytest.approx(0.75, abs=0.002)
    assert ah.silence_after(x, rate, 0.3) == pytest.approx(0.75, abs=0.002)
    assert ah.silence_after(x, rate, 0.1, hold_ms=100) == pytest.approx(0.1)
    assert ah.silence_after(x, rate, 0.1) == pytest.approx(0.75, abs=0.002)  # 0.15 s < hold
    assert ah.silence_after(x, rate, 0.3, hold_ms=5000) is None
    assert ah.first_sound(np.zeros(rate, np.int16), rate) is None
