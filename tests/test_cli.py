"""The command line as a user meets it: real program, real SDK, offline emulator."""

import json
import subprocess
import sys
import time
import wave

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli_testing.cli import HELLO_WAV, ROOT, assert_one_line_error, clean_env, run_cli


def test_help_is_fast_and_does_not_import_the_sdk():
    code = ("import sys, time; t=time.perf_counter(); sys.argv=['voicecli','--help'];\n"
            "from voicecli.cli import app\n"
            "try: app()\nexcept SystemExit: pass\n"
            "assert 'google.genai' not in sys.modules, 'genai imported';"
            "assert 'sounddevice' not in sys.modules, 'sounddevice imported';"
            "assert 'onnxruntime' not in sys.modules;"
            "assert 'livekit' not in sys.modules, 'livekit imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "chat" in proc.stdout


def test_every_command_has_help():
    for cmd in ("chat", "devices", "voices", "languages", "models", "emulator", "doctor",
                "config"):
        proc = run_cli(cmd, "--help")
        assert proc.returncode == 0 and "Usage" in proc.stdout, (cmd, proc.stderr)


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("voicecli ")


def test_missing_credentials_one_clear_line():
    proc = run_cli("chat", "--input", str(HELLO_WAV), "--output", "/dev/null")
    assert_one_line_error(proc, "GEMINI_API_KEY")
    assert proc.returncode == 2


def test_unknown_voice_and_language_list_valid_values():
    proc = run_cli("chat", "--emulator", "--voice", "Pukc")
    assert_one_line_error(proc, "Did you mean 'Puck'", "Zephyr")
    proc = run_cli("chat", "--emulator", "--language", "xx-YY")
    assert_one_line_error(proc, "unknown language", "en-US")


def test_bad_format_and_missing_input_file():
    assert_one_line_error(run_cli("chat", "--emulator", "--format", "xml"), "--format")
    proc = run_cli("chat", "--emulator", "--input", "/nonexistent.wav", "--output", "/dev/null")
    assert_one_line_error(proc, "no such file")


def test_wrong_key_is_one_line_and_never_echoed():
    with EmulatorThread(EmulatorConfig(api_key="right-key")) as emu:
        secret = "AIzaWRONG-secret-key-123"
        proc = run_cli("chat", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
                       "--api-version", "v1beta", "--input", str(HELLO_WAV),
                       "--output", "/dev/null", env=clean_env(GEMINI_API_KEY=secret))
    assert_one_line_error(proc, "API key not valid")
    assert proc.returncode == 4
    assert secret not in proc.stderr + proc.stdout


def test_untrusted_certificate_says_use_ca_cert():
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = run_cli("chat", "--base-url", emu.base_url, "--api-version", "v1beta",
                       "--input", str(HELLO_WAV), "--output", "/dev/null",
                       env=clean_env(GEMINI_API_KEY=emu.api_key))
    assert_one_line_error(proc, "--ca-cert")


def test_emulator_file_conversation_piped_text(tmp_path):
    """The README's first command: prints the conversation, writes the reply audio."""
    reply = tmp_path / "reply.wav"
    transcript = tmp_path / "talk.txt"
    t0 = time.monotonic()
    proc = run_cli("chat", "--emulator", "--input", str(HELLO_WAV), "--output", str(reply),
                   "--transcript", str(transcript))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "You: Hello, can you hear me?"
    assert lines[1].startswith("Gemini: Hi there!")
    assert transcript.read_text().splitlines() == lines
    with wave.open(str(reply)) as w:
        assert w.getframerate() == 24000 and w.getnchannels() == 1
        assert w.getnframes() > 24000  # more than a second of reply
    assert time.monotonic() - t0 < 40


def test_jsonl_and_stdin_input(tmp_path):
    with wave.open(str(HELLO_WAV)) as w:
        raw = w.readframes(w.getnframes())
    proc = run_cli("chat", "--emulator", "--format", "jsonl", "--input", "-",
                   "--output", str(tmp_path / "r.wav"), stdin=raw)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    types = [r["type"] for r in rows]
    assert types[0] == "session_started" and types[-1] == "session_ended"
    assert {"user_transcript", "assistant_transcript", "turn_complete"} <= set(types)
    done = next(r for r in rows if r["type"] == "turn_complete")
    assert done["usage"]["total_tokens"] > 0


def test_vertex_without_cloud_credentials_is_one_line(tmp_path):
    env = clean_env(GOOGLE_CLOUD_PROJECT="my-project", GOOGLE_APPLICATION_CREDENTIALS="",
                    CLOUDSDK_CONFIG=str(tmp_path), HOME=str(tmp_path))
    env.pop("GOOGLE_APPLICATION_CREDENTIALS")
    proc = run_cli("chat", "--vertex", "--input", str(HELLO_WAV), "--output", "/dev/null",
                   env=env)
    assert_one_line_error(proc, "gcloud auth application-default login")
