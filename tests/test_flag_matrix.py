"""Every chat and translate flag that touches audio or output, once through PortAudio on the
virtual devices: speech into the microphone, a reply at the speaker, no traceback, and the
flag's own effect. (``--input FILE`` never runs a device callback: a code path only ever run
with it is not tested.) Covered elsewhere on the devices: the 48 kHz-only device
(test_e2e_audio), --push-to-talk in a terminal (test_terminal), translate --subtitles
(test_translate_e2e), the echo canceller with an echo path (test_e2e_echo)."""

from __future__ import annotations

import json
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from voicecli.audio.resample import resample
from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli_testing.audio import (
    SpeakerRecorder,
    play_into_mic,
    speech_wav,
    wait_until,
    xcorr_peak,
)
from voicecli_testing.cli import start_chat, stop_chat

pytestmark = pytest.mark.audio

QUESTION = "Hello, can you hear me?"
OVER = "Stop, stop. Wait a moment please."


@dataclass
class Run:
    out: str
    err: str
    emu: EmulatorThread
    speaker: np.ndarray  # what the virtual speaker played (24 kHz)
    rate: int
    tmp: Path
    over_at: float | None = None  # when the talking-over began (monotonic)

    @property
    def conn(self):
        return self.emu.connections[0]


def run(virtual_audio, tmp_path, *flags: str, command: str = "chat",
        talk_over: bool = False) -> Run:
    """One session on the devices: a question; with ``talk_over`` a second line 1.5 s into
    the reply; stopped with Ctrl-C once the replies have played."""
    with EmulatorThread(EmulatorConfig()) as emu, SpeakerRecorder() as rec:
        proc = start_chat(emu, virtual_audio, *flags, command=command)
        conn = emu.connections[0]
        play_into_mic(speech_wav(QUESTION)).wait(10)
        assert wait_until(lambda: conn.replies and conn.replies[0].started_at, 15)
        over_at = None
        if talk_over:
            time.sleep(1.5)
            over = play_into_mic(speech_wav(OVER))
            over.wait(10)
            over_at = over.started
            wait_until(lambda: len(conn.replies) >= 2 and conn.replies[1].started_at, 15)
        last = conn.replies[-1]
        end = (last.started_at or time.monotonic()) + last.duration_s
        rec.wait_for_silence(hold_ms=600, timeout=20, after=end)
        out, err = stop_chat(proc)
    assert "Traceback" not in err and "Exception" not in err, err
    return Run(out, err, emu, rec.audio, rec.rate, tmp_path, over_at)


def heard(r: Run, reply: int = 0, whole: bool = False) -> float:
    """How well the speaker recording matches what the emulator sent for ``reply``: the
    correlation where it was found, over its first second of sound (``whole``: all of it)."""
    sent = np.frombuffer(r.conn.replies[reply].pcm, dtype="<i2")
    voiced = np.flatnonzero(np.abs(sent) > 300)
    sent = sent[voiced[0]:] if len(voiced) else sent
    if not whole:
        sent = sent[:r.rate]
    _, lag = xcorr_peak(r.speaker, sent)
    found = r.speaker[max(0, lag):lag + len(sent)]
    return xcorr_peak(found, sent)[0]


def assert_reply_heard(r: Run) -> None:
    assert r.conn.replies and heard(r) >= 0.9, f"no reply at the speaker: {r.err[-500:]}"


def read_wav(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels()), w.getframerate()


def test_record_with_a_real_microphone(virtual_audio, tmp_path):
    """The regression: every capture callback raised TypeError and the mic died."""
    path = tmp_path / "session.wav"
    r = run(virtual_audio, tmp_path, "--record", str(path), "--headphones")
    assert_reply_heard(r)
    stereo, rate = read_wav(path)
    assert stereo.shape[1] == 2 and rate == 24000
    question, q_rate = read_wav(speech_wav(QUESTION))
    corr_l, lag_l = xcorr_peak(stereo[:, 0], resample(question[:, 0], q_rate, 24000))
    reply = np.frombuffer(r.conn.replies[0].pcm, dtype="<i2")
    corr_r, lag_r = xcorr_peak(stereo[:, 1], reply)
    assert corr_l > 0.9 and corr_r > 0.9, (corr_l, corr_r)  # user left, reply right
    assert lag_r > lag_l + len(question) * 24000 // q_rate  # the reply after the question
    assert np.abs(stereo[:lag_l, 1]).max(initial=0) < 100  # nothing on the right before it


def test_mute_speaker_transcripts_only(virtual_audio, tmp_path):
    r = run(virtual_audio, tmp_path, "--mute-speaker")
    assert r.conn.replies[0].sent_bytes > 0
    assert np.abs(r.speaker.astype(np.int32)).max(initial=0) < 100  # nothing played
    assert r.out.splitlines()[:2] == [f"You: {QUESTION}",
                                      f"Gemini: {r.conn.replies[0].reply_text}"]


def test_half_duplex_mutes_the_mic_during_the_reply(virtual_audio, tmp_path):
    r = run(virtual_audio, tmp_path, "--half-duplex", talk_over=True)
    assert_reply_heard(r)
    assert not r.conn.replies[0].interrupted  # nobody heard the user over the reply
    starts = r.conn.times("speech_start")
    assert len(starts) == 1, starts  # only the question: the line over the reply went unheard


def test_headphones_sends_the_raw_microphone(virtual_audio, tmp_path):
    r = run(virtual_audio, tmp_path, "--headphones")
    assert_reply_heard(r)
    sent = np.frombuffer(bytes(r.conn.input_pcm), dtype="<i2")
    question, _ = read_wav(speech_wav(QUESTION))
    assert xcorr_peak(sent, question[:, 0])[0] > 0.97


def test_no_barge_in_leaves_it_to_the_server(virtual_audio, tmp_path):
    r = run(virtual_audio, tmp_path, "--no-barge-in", talk_over=True)
    assert_reply_heard(r)
    assert r.conn.replies[0].interrupted
    assert "[interrupted by the server]" in r.err and "[interrupted by you]" not in r.err


def test_default_mode_cuts_in_locally(virtual_audio, tmp_path):
    r = run(virtual_audio, tmp_path, talk_over=True)
    assert_reply_heard(r)
    assert "[interrupted by you]" in r.err


def test_no_interruption_plays_the_reply_through_on_the_devices(virtual_audio, tmp_path):
    r = run(virtual_audio, tmp_path, "--no-interruption", talk_over=True)
    first = r.conn.replies[0]
    assert not first.interrupted and first.sent_bytes == len(first.pcm)
    assert heard(r, whole=True) >= 0.9  # all of it, at the speaker
    assert "[interrupted" not in r.err and "--no-interruption" in r.err


def test_transcript_jsonl_and_quiet(virtual_audio, tmp_path):
    transcript = tmp_path / "talk.txt"
    r = run(virtual_audio, tmp_path, "--format", "jsonl", "--quiet", "--transcript",
            str(transcript))
    assert_reply_heard(r)
    rows = [json.loads(line) for line in r.out.splitlines()]
    types = [row["type"] for row in rows]
    assert types[0] == "session_started" and types[-1] == "session_ended"
    assert {"user_transcript", "reply_started", "assistant_transcript", "turn_complete"} \
        <= set(types)
    assert r.err.strip() == ""  # --quiet: no status lines, no summary
    assert transcript.read_text().splitlines()[:2] == [
        f"You: {QUESTION}", f"Gemini: {r.conn.replies[0].reply_text}"]


def test_translate_headphones_full_duplex(virtual_audio, tmp_path):
    r = run(virtual_audio, tmp_path, "--to", "de", "--headphones", command="translate")
    assert_reply_heard(r)
    assert "[echo] full duplex (--headphones)" in r.err
    assert any(line.startswith("Translation: ") for line in r.out.splitlines())
