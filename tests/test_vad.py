"""Barge-in decisions and the mic pipeline: pure, with a scripted voice detector."""

import numpy as np

from voicecli.audio.echo import Captured
from voicecli.audio.mic import MicPipeline
from voicecli.audio.playback import PlaybackBuffer
from voicecli.audio.vad import (
    FRAME_SAMPLES,
    BargeInConfig,
    BargeInDetector,
    DualVad,
    FrameSplitter,
    HoldPolicy,
    hold_decision,
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


def test_guard_needs_longer_speech_then_relaxes():
    cfg = BargeInConfig(min_speech_ms=40, guarded_min_speech_ms=100, converge_s=0.2)
    det = BargeInDetector(energy_vad, cfg)
    assert det.guarded
    fired = [det.process(LOUD, True) for _ in range(6)]
    assert fired.index(True) == 4  # 100 ms while the canceller converges
    for _ in range(20):
        det.process(QUIET, True)
    assert not det.guarded
    assert [det.process(LOUD, True) for _ in range(2)] == [False, True]  # 40 ms after
    det.guard(0.1)  # an xrun: strict again for a while
    assert det.guarded


def test_guard_needs_no_longer_speech_when_the_mic_hears_no_echo():
    cfg = BargeInConfig(min_speech_ms=40, guarded_min_speech_ms=160, converge_s=5)
    det = BargeInDetector(energy_vad, cfg)
    fired = [det.process(LOUD, True, echo_free=True) for _ in range(3)]
    assert det.guarded and fired == [False, True, False]
    # Still guarded: the raw mic must be louder than any echo could be.
    det = BargeInDetector(energy_vad, cfg)
    assert not any(det.process(LOUD, True, loud=False, echo_free=True) for _ in range(20))


def test_raw_mic_counts_after_the_guard_only_when_it_hears_no_echo():
    det = BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=40))
    assert not det.guarded
    # The canceller suppresses the user (QUIET) while the raw mic hears a voice above any
    # echo: with an echo path, the cancelled signal alone decides...
    assert not any(det.process(QUIET, True, raw_speech=True) for _ in range(10))
    # ...with none (a headset), the raw mic counts, and still only above the echo gate.
    assert not any(det.process(QUIET, True, raw_speech=True, loud=False, echo_free=True)
                   for _ in range(10))
    fired = [det.process(QUIET, True, raw_speech=True, echo_free=True) for _ in range(3)]
    assert fired == [False, True, False]


def test_deeply_cancelled_voice_is_left_over_echo():
    det = BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=40))
    # A burst the canceller cut by 15 dB or more: what it left of the echo.
    assert not any(det.process(LOUD, True, residual=True) for _ in range(10))
    assert [det.process(LOUD, True) for _ in range(2)] == [False, True]


def test_guarded_detector_needs_the_raw_mic_above_the_echo():
    det = BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=40, converge_s=5))
    # Echo left by an unconverged canceller: loud, but not louder than any echo could be.
    assert not any(det.process(LOUD, True, loud=False) for _ in range(20))
    # The canceller still suppresses the user, but the raw mic clearly hears a voice.
    assert any(det.process(QUIET, True, raw_speech=True, loud=True) for _ in range(10))


def test_hold_decision():
    policy = HoldPolicy(window_s=1.0, real_speech_ms=400)
    assert hold_decision(0.2, 100, policy) == "wait"
    assert hold_decision(1.1, 100, policy) == "resume"  # a cough; the server said nothing
    assert hold_decision(0.5, 420, policy) == "discard"  # the user keeps talking


class FakeSilero:
    def __init__(self, probs):
        self.probs = list(probs)
        self.probability = 0.0

    def process(self, frame):
        self.probability = self.probs.pop(0)
        return self.probability

    def reset(self):
        pass

    def skip(self, frame):
        self.skipped = getattr(self, "skipped", 0) + 1


def test_dual_vad_needs_both_and_credits_the_voiced_run():
    vad = DualVad(energy_vad, FakeSilero([0.0, 0.05, 0.6, 0.9, 0.9]), threshold=0.1)
    det = BargeInDetector(vad, BargeInConfig(min_speech_ms=60), voiced_run=vad)
    # webrtcvad hears a voice from the first frame; Silero agrees only at the third:
    # the whole run counts (Silero lags by a chunk), so it fires there.
    assert [det.process(LOUD, True) for _ in range(3)] == [False, False, True]
    click = DualVad(energy_vad, FakeSilero([0.9, 0.9]))
    assert not click(QUIET) and click.run_ms == 0


def test_dual_vad_skips_silero_on_quiet_frames_when_asked():
    silero = FakeSilero([0.9])
    vad = DualVad(energy_vad, silero, skip_quiet=True)
    assert not vad(QUIET) and silero.skipped == 1  # the model did not run
    assert vad(LOUD) and not silero.probs  # it ran on the loud frame


def test_raw_mic_test_is_as_strict_as_headphones_mode_when_it_hears_no_echo():
    vad = DualVad(energy_vad, FakeSilero([]), raw_silero=FakeSilero([0.4, 0.4]))
    assert not vad.raw(LOUD)  # echo on the raw mic too: Silero must be surer (0.5)
    assert vad.raw(LOUD, echo_free=True)  # no echo: headphones mode's 0.3


def test_half_duplex_mutes_while_playing_only():
    playback = PlaybackBuffer(24000, prebuffer_ms=0)
    chunks: list[bytes] = []
    mic = MicPipeline(playback, None, chunks.append, lambda t: None, half_duplex=True)
    mic.process(np.concatenate([LOUD] * 2))
    assert any(chunks[-1])  # nothing playing: the mic is live
    playback.push(np.full(24000, 500, dtype=np.int16), turn=1)
    mic.process(np.concatenate([LOUD] * 2))
    assert not any(chunks[-1])  # the assistant speaks: silence goes out


class PassThroughCapture:
    """A stand-in for echo.CapturePath: no echo to remove."""

    echo_negligible = False

    def remove(self, frame):
        return frame

    def process(self, frame, end_t, user_heard=False):
        return Captured(self.remove(frame), discontinuity=False, loud=True, residual=False,
                        echo_free=self.echo_negligible)


def test_server_hears_silence_during_the_reply_until_the_user_talks():
    playback = PlaybackBuffer(24000, prebuffer_ms=0)
    playback.push(np.full(240000, 500, dtype=np.int16), turn=1)
    chunks: list[bytes] = []
    det = BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=40))
    mic = MicPipeline(playback, det, chunks.append, lambda t: None,
                      capture=PassThroughCapture())
    faint = np.full(FRAME_SAMPLES, 300, dtype=np.int16)  # residual echo, not speech
    mic.process(np.concatenate([faint] * 4))
    assert chunks and not any(b"".join(chunks))  # the echo residue never leaves
    mic.process(np.concatenate([LOUD] * 2))
    sent = np.frombuffer(b"".join(chunks[2:]), dtype=np.int16)
    # The held-back 80 ms (preroll) and the speech itself go out once speech is heard.
    assert (sent == 300).sum() == 4 * FRAME_SAMPLES and (sent == 3000).sum() >= FRAME_SAMPLES


class SuppressingCapture(PassThroughCapture):
    """A canceller with no echo to learn from: it removes the user too (see vad.py)."""

    echo_negligible = True

    def remove(self, frame):
        return np.zeros_like(frame)


def test_headset_user_barges_in_and_is_heard_through_the_raw_mic():
    playback = PlaybackBuffer(24000, prebuffer_ms=0)
    playback.push(np.full(240000, 500, dtype=np.int16), turn=1)

    det = BargeInDetector(energy_vad, BargeInConfig(min_speech_ms=40))
    fired: list[int | None] = []
    chunks: list[bytes] = []
    mic = MicPipeline(playback, det, chunks.append, fired.append,
                      capture=SuppressingCapture(),
                      raw_speech=lambda frame, echo_free: energy_vad(frame))  # as DualVad.raw
    mic.process(np.concatenate([LOUD] * 2))
    assert fired == [1] and playback.held
    # The server gets the raw mic too, not the canceller's cut of it.
    sent = np.frombuffer(b"".join(chunks), dtype=np.int16)
    assert len(sent) == 2 * FRAME_SAMPLES and (sent == 3000).all()
