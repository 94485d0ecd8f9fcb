"""Exits that tell the truth, and nothing the user had is lost because a run failed."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli_testing.cli import HELLO_WAV, ROOT, assert_one_line_error, clean_env, run_cli


def old_files(tmp_path):
    wav, srt = tmp_path / "old.wav", tmp_path / "old.srt"
    shutil.copy(HELLO_WAV, wav)
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nan earlier run\n")
    return wav, srt, wav.read_bytes(), srt.read_bytes()


@pytest.mark.parametrize("failure", ["bad model", "refused port"])
def test_a_failed_run_leaves_earlier_output_as_it_was(tmp_path, failure):
    wav, srt, wav_bytes, srt_bytes = old_files(tmp_path)
    rec = tmp_path / "rec.wav"
    shutil.copy(HELLO_WAV, rec)
    if failure == "bad model":
        where = ("--emulator", "--model", "gemini-0-nonexistent")
        env = clean_env()
    else:
        where = ("--base-url", "https://127.0.0.1:9", "--api-version", "v1beta")
        env = clean_env(GEMINI_API_KEY="k")
    chat = run_cli("chat", *where, "--input", str(HELLO_WAV), "--output", str(wav),
                   "--record", str(rec), env=env)
    trans = run_cli("translate", "--to", "de", *where, "--input", str(HELLO_WAV),
                    "--output", str(wav), "--subtitles", str(srt), env=env)
    for proc in (chat, trans):
        assert_one_line_error(proc)
        assert proc.returncode == 4
    assert wav.read_bytes() == wav_bytes and srt.read_bytes() == srt_bytes
    assert rec.read_bytes() == HELLO_WAV.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.srt", "old.wav", "rec.wav"]


def test_a_successful_run_replaces_them(tmp_path):
    wav, srt, wav_bytes, _ = old_files(tmp_path)
    proc = run_cli("translate", "--to", "de", "--emulator", "--input", str(HELLO_WAV),
                   "--output", str(wav), "--subtitles", str(srt))
    assert proc.returncode == 0, proc.stderr
    assert wav.read_bytes() != wav_bytes and "Hallo" in srt.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.srt", "old.wav"]  # no leftovers


def test_output_paths_are_checked_before_connecting(tmp_path):
    for flag in ("--output", "--record", "--transcript"):
        proc = run_cli("chat", "--emulator", "--input", str(HELLO_WAV), flag,
                       "/no/such/dir/x.wav")
        assert_one_line_error(proc, flag, "no such folder")
        assert "[connecting]" not in proc.stderr and proc.returncode == 3
    proc = run_cli("translate", "--emulator", "--to", "de", "--input", str(HELLO_WAV),
                   "--subtitles", str(tmp_path))
    assert_one_line_error(proc, "--subtitles", "is a folder")
    proc = run_cli("chat", "--emulator", "--input", str(HELLO_WAV), "--output", str(HELLO_WAV))
    assert_one_line_error(proc, "would overwrite --input")


def test_translating_a_file_with_no_speech_says_so(tmp_path):
    import wave

    silent = tmp_path / "silent.wav"
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(bytes(2 * 16000 * 2))
    proc = run_cli("translate", "--emulator", "--to", "de", "--input", str(silent),
                   "--output", str(tmp_path / "out.wav"), "--subtitles",
                   str(tmp_path / "out.srt"))
    assert proc.returncode == 0, proc.stderr
    assert "no speech was heard in the input" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silent.wav"]


@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_a_closed_stdout_ends_quietly(fmt):
    """``voicecli chat ... | head -1``: the reader is done; so is voicecli, without a word."""
    cmd = (f"{sys.executable} -m voicecli chat --emulator --format {fmt} --input {HELLO_WAV} "
           "--output /dev/null | head -1; echo \"exit=${PIPESTATUS[0]}\"")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT,
                          env=clean_env(), timeout=60)
    first, status = proc.stdout.splitlines()
    assert status == "exit=0", proc.stderr
    assert first.startswith("You:" if fmt == "text" else '{"type": "session_started"')
    assert "error" not in proc.stderr and "Traceback" not in proc.stderr
    assert "BrokenPipe" not in proc.stderr


def test_usage_errors_are_exit_2():
    for args in (("chat", "--emulator", "--model", ""),
                 ("translate", "--emulator", "--to", "de", "--model", " ")):
        proc = run_cli(*args)
        assert_one_line_error(proc, "--model must name a model")
        assert proc.returncode == 2


def test_translate_takes_three_letter_codes_and_suggests_by_name():
    ok = run_cli("translate", "--emulator", "--to", "deu", "--input", str(HELLO_WAV),
                 "--output", "/dev/null", "--format", "jsonl")
    assert ok.returncode == 0, ok.stderr
    assert '"detail": "translating into German (de)"' in ok.stdout
    assert_one_line_error(run_cli("translate", "--emulator", "--to", "germna"),
                          "Did you mean 'de' (German)?")


def test_time_to_first_audio_counts_from_the_end_of_speech():
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = run_cli("chat", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
                       "--api-version", "v1beta", "--input", str(HELLO_WAV), "--output",
                       "/dev/null", "--format", "jsonl",
                       env=clean_env(GEMINI_API_KEY=emu.api_key))
    assert proc.returncode == 0, proc.stderr
    import json

    started = [json.loads(r) for r in proc.stdout.splitlines() if "reply_started" in r]
    # The emulator waits for 500 ms of silence, then thinks for 200 ms.
    assert len(started) == 1 and 600 <= started[0]["latency_ms"] <= 1500, started
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("time to first audio"))
    assert not line.startswith("time to first audio: median 0 ms")
