"""``voicecli doctor``: verdicts (pure) and the real command on the virtual sound card."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from voicecli import doctor as dr
from voicecli_testing.audio import Playback, play_into_mic, speech_wav
from voicecli_testing.cli import ROOT, clean_env, run_cli


def test_verdicts_and_rendering():
    assert dr.level_verdict(-20.0, 5).ok
    quiet = dr.level_verdict(-70.0, 5)
    assert not quiet.ok and "silence" in quiet.detail and "volume" in quiet.fix
    assert not dr.level_verdict(None, 5).ok
    assert dr.device_verdict("input", 16000, 48000, None, "usb").detail.startswith(
        "usb opens at 48000 Hz")
    warn = dr.import_verdict("onnxruntime", False, "Silero", "ModuleNotFoundError: x")
    assert warn.severity == "warn" and not warn.failed
    assert dr.exit_code([warn, dr.CheckResult("a", True)]) == 0
    assert dr.exit_code([dr.CheckResult("a", False)]) == 1
    lines = dr.render(dr.CheckResult("speaker", False, "none", "plug it in"))
    assert lines == ["FAIL  speaker: none", "      fix: plug it in"]


def test_credentials_check_never_shows_the_key():
    ok = dr.check_credentials(dr.DoctorContext(env={"GEMINI_API_KEY": "AIza-secret-1"}))
    assert ok.ok and "GEMINI_API_KEY" in ok.detail and "AIza-secret-1" not in str(ok)
    missing = dr.check_credentials(dr.DoctorContext(env={}))
    assert not missing.ok and "GEMINI_API_KEY" in missing.fix
    from_file = dr.check_credentials(dr.DoctorContext(env={}, config_values={"api_key": "k"}))
    assert from_file.ok and "config file" in from_file.detail


def test_endpoint_check_fails_clearly_when_nothing_listens():
    ctx = dr.DoctorContext(env={}, config_values={"base_url": "https://127.0.0.1:9"})
    result = dr.check_endpoint(ctx)
    assert not result.ok and result.fix


@pytest.mark.audio
def test_doctor_passes_on_the_virtual_devices(virtual_audio):
    proc = subprocess.Popen([sys.executable, "-m", "voicecli", "doctor", "--emulator",
                             "--listen-seconds", "20"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=clean_env())
    speech = speech_wav("Hello, can you hear me? Testing the microphone.")
    done = threading.Event()
    playing: list[Playback] = []

    def talk() -> None:  # keep talking until the doctor has heard us
        while not done.is_set() and proc.poll() is None:
            playing.append(play_into_mic(speech))
            try:
                playing[-1].wait(10)
            except RuntimeError:  # stopped below
                return

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    out, err = proc.communicate(timeout=90)
    done.set()
    # Stop talking now: speech still playing would reach the next test's microphone.
    for p in playing:
        p.stop()
    talker.join(10)
    for p in playing:  # one it may have started meanwhile
        p.stop()
    assert proc.returncode == 0, out + err
    lines = out.splitlines()
    for name in ("credentials", "endpoint 127.0.0.1", "microphone:", "speaker:",
                 "microphone level: heard you", "webrtcvad", "soxr", "google-genai"):
        assert any(ln.startswith("ok") and name in ln for ln in lines), (name, out)
    assert "microphone: default opens at 16000 Hz" in out
    assert not any(ln.startswith("FAIL") for ln in lines), out
    assert "say something" in err


def test_doctor_without_devices_fails_clearly(tmp_path):
    env = clean_env(PULSE_SERVER="unix:/nonexistent/socket", XDG_CONFIG_HOME=str(tmp_path))
    env.pop("PULSE_CLIENTCONFIG", None)
    proc = run_cli("doctor", "--emulator", "--no-listen", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    for name in ("microphone", "speaker"):
        i = next(i for i, ln in enumerate(lines) if ln.startswith(f"FAIL  {name}"))
        assert lines[i + 1].startswith("      fix: is a sound server running?"), proc.stdout
    assert any(ln.startswith("ok") and "credentials" in ln for ln in lines)
    assert "microphone level: skipped" in proc.stdout
