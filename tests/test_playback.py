"""The playback (jitter) buffer: pure, no devices."""

import numpy as np

from voicecli.audio.playback import PlaybackBuffer


def tone(n: int, value: int = 1000) -> np.ndarray:
    return np.full(n, value, dtype=np.int16)


def test_plays_in_order_and_zero_pads():
    buf = PlaybackBuffer(rate=24000, prebuffer_ms=0)
    buf.push(np.arange(1, 301, dtype=np.int16), turn=1)
    out = np.empty(480, dtype=np.int16)
    assert buf.read_into(out) == 300
    assert list(out[:300]) == list(range(1, 301))
    assert not out[300:].any()


def test_prebuffer_waits_until_enough_or_turn_end():
    buf = PlaybackBuffer(rate=24000, prebuffer_ms=60)  # 1440 frames
    out = np.empty(480, dtype=np.int16)
    buf.push(tone(1000), turn=1)
    assert buf.read_into(out) == 0  # still filling
    buf.push(tone(1000), turn=1)
    assert buf.read_into(out) == 480
    buf2 = PlaybackBuffer(rate=24000, prebuffer_ms=60)
    buf2.push(tone(100), turn=1)
    buf2.end_turn(1)  # a short last chunk plays without waiting
    assert buf2.read_into(out) == 100


def test_flush_drops_queued_and_late_audio_of_that_turn():
    buf = PlaybackBuffer(rate=24000, prebuffer_ms=0)
    buf.push(tone(4800), turn=3)
    assert buf.flush() == 3
    assert buf.buffered_frames == 0
    assert buf.push(tone(480), turn=3) is False  # late audio of the interrupted turn
    out = np.empty(480, dtype=np.int16)
    assert buf.read_into(out) == 0
    assert buf.push(tone(480), turn=4) is True  # the next turn plays
    assert buf.read_into(out) == 480
    assert buf.stats.frames_dropped == 4800 + 480


def test_flush_with_nothing_playing_reports_none():
    buf = PlaybackBuffer(rate=24000)
    assert buf.flush() is None


def test_underrun_counted_mid_turn_only():
    buf = PlaybackBuffer(rate=24000, prebuffer_ms=0)
    out = np.empty(480, dtype=np.int16)
    buf.push(tone(200), turn=1)
    buf.read_into(out)
    assert buf.stats.underruns == 1
    buf.push(tone(200), turn=1)
    buf.end_turn(1)
    buf.read_into(out)
    assert buf.stats.underruns == 1


def test_is_playing_grace():
    buf = PlaybackBuffer(rate=24000, prebuffer_ms=0)
    assert not buf.is_playing(0.5)
    buf.push(tone(480), turn=1)
    assert buf.is_playing()
    buf.read_into(np.empty(480, dtype=np.int16))
    assert not buf.is_playing()
    assert buf.is_playing(0.5)


def test_hold_silences_keeps_audio_and_resumes_where_it_stopped():
    pb = PlaybackBuffer(1000, prebuffer_ms=0)
    pb.push(np.arange(1, 101, dtype=np.int16), turn=1)
    out = np.zeros(10, dtype=np.int16)
    pb.read_into(out)
    assert out[0] == 1
    assert pb.hold() == 1 and pb.held
    assert pb.hold() is None  # already held
    assert pb.read_into(out) == 0 and not out.any()  # silent at once
    assert pb.push(np.arange(101, 111, dtype=np.int16), turn=1)  # the turn keeps coming
    assert not pb.is_playing()
    pb.resume()
    pb.read_into(out)
    assert out[0] == 11  # where it stopped
    assert pb.buffered_frames == 100 - 20 + 10


def test_discard_drops_the_held_turn_and_its_late_audio():
    pb = PlaybackBuffer(1000, prebuffer_ms=0)
    pb.push(np.ones(100, dtype=np.int16), turn=3)
    assert pb.hold() == 3
    assert pb.discard() == 3
    assert not pb.held and pb.buffered_frames == 0
    assert not pb.push(np.ones(10, dtype=np.int16), turn=3)
    assert pb.push(np.ones(10, dtype=np.int16), turn=4)
