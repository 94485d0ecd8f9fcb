"""Barge-in decisions and the mic pipeline: pure, with a scripted voice detector."""

import numpy as np

from voicecli.audio.engine import MicPipeline
from voicecli.audio.playback import PlaybackBuffer
from voicecli.audio.vad import (
    FRAME_SAMPLES,
    BargeInConfig,
    BargeInDetector,
    FrameSplitter,
    webrtc_is_speech,
)

LOUD = np.full(FRAME_SAMPLES, 3000, dtype=np.int16)
QUIET = np.zeros(FRAME_SAMPLES, dtype=np.int16)


def energy_vad(frame: np.ndarray) -> bool:
    return bool(np.abs(frame).mean() > 1000)


def test_fires_once_after_min_speech_while_playing():
    det = BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=60))
    fired = [det.process(LOUD, playing=True) for _ in range(10)]
    assert fired == [False, False, True] + [False] * 7


def test_no_barge_in_when_nothing_plays():
    det = BargeInDetector(energy_vad)
    assert not any(det.process(LOUD, playing=False) for _ in range(20))


def test_rearms_after_release_silence():
    det = BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=40, release_ms=100))
    assert any(det.process(LOUD, True) for _ in range(3))
    for _ in range(5):
        det.process(QUIET, True)
    assert any(det.process(LOUD, True) for _ in range(3))


def test_short_click_does_not_fire():
    det = BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=60))
    seq = [LOUD, QUIET, QUIET, QUIET, LOUD, QUIET, QUIET, QUIET]
    assert not any(det.process(f, True) for f in seq)


def test_webrtc_detector_ignores_silence_and_hears_a_voice_like_signal():
    is_speech = webrtc_is_speech()
    assert not is_speech(QUIET)
    t = np.arange(FRAME_SAMPLES) / 16000
    # A crude voiced sound: 150 Hz pulse train through formant-ish harmonics.
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    frame = (voiced / np.abs(voiced).max() * 8000).astype(np.int16)
    assert isinstance(is_speech(frame), bool)


def test_frame_splitter_handles_odd_chunks():
    sp = FrameSplitter(320)
    frames = sp.split(np.arange(500, dtype=np.int16)) + sp.split(np.arange(500, 800,
                                                                           dtype=np.int16))
    assert [len(f) for f in frames] == [320, 320]
    assert frames[1][0] == 320


def test_mic_pipeline_holds_playback_in_the_capture_thread():
    playback = PlaybackBuffer(24000, prebuffer_ms=0)
    playback.push(np.full(24000, 500, dtype=np.int16), turn=1)
    chunks: list[bytes] = []
    barge: list[int | None] = []
    mic = MicPipeline(playback, BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=40)),
                      chunks.append, barge.append)
    mic.process(np.concatenate([LOUD, LOUD, LOUD]))
    assert barge == [1]
    # Silent before the event loop hears of it; the audio is kept in case it was a cough.
    assert playback.held and playback.buffered_frames == 24000
    out = np.ones(480, dtype=np.int16)
    assert playback.read_into(out) == 0 and not out.any()
    assert len(chunks) == 1 and len(chunks[0]) == 2 * 2 * FRAME_SAMPLES  # 40 ms chunks


def test_mic_pipeline_muted_sends_silence_and_never_barges_in():
    playback = PlaybackBuffer(24000, prebuffer_ms=0)
    playback.push(np.full(24000, 500, dtype=np.int16), turn=1)
    chunks: list[bytes] = []
    mic = MicPipeline(playback, BargeInDetector(energy_vad), chunks.append, lambda t: None)
    mic.muted = True
    mic.process(np.concatenate([LOUD] * 6))
    assert all(not any(c) for c in chunks)
    assert playback.buffered_frames == 24000
