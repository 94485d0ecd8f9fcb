"""Sharing a screen (a real X server, Xvfb) or a video file with the conversation, end to end
through the real CLI and SDK: the emulator checks, counts and looks at the JPEG frames."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from tmux import TmuxChat, chat_args

from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli.emulator.speech import sample_speech
from voicecli_testing.cli import ROOT, assert_one_line_error, clean_env, run_cli

WINDOW = str(ROOT / "tests" / "screen_window.py")


@pytest.fixture(scope="module")
def display():
    """A 1920×1080 virtual screen (Xvfb), for this module's tests."""
    assert shutil.which("Xvfb"), "Xvfb is missing (scripts/test.sh installs xvfb)"
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1920x1080x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}"
    proc.terminate()
    proc.wait(5)


class Window:
    """A full-screen window of one colour; ``show`` changes it (or "ramp": always)."""

    def __init__(self, display: str, tmp: Path, colour: str) -> None:
        self.control = tmp / "colour"
        self.control.write_text(colour)
        self.proc = subprocess.Popen([sys.executable, WINDOW, colour, str(self.control)],
                                     env={**os.environ, "DISPLAY": display},
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "ready\n"
        time.sleep(0.3)

    def show(self, colour: str) -> None:
        self.control.write_text(colour)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def speech_at(tmp_path: Path, lead_s: float, text: str = "What can you see?",
              tail_s: float = 1.0) -> str:
    parts = [np.zeros(int(16000 * lead_s), np.int16),
             np.frombuffer(sample_speech(text), dtype="<i2"),
             np.zeros(int(16000 * tail_s), np.int16)]
    path = tmp_path / f"speech-{lead_s:g}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.concatenate(parts).tobytes())
    return str(path)


def seeing(tmp_path: Path) -> Path:
    path = tmp_path / "seeing.toml"
    path.write_text('[[turn]]\nuser = "What can you see?"\n'
                    'reply = "I see {video.color} after {video.frames} frames."\n')
    return path


def chat(emu, display: str | None, *args: str):
    env = clean_env(GEMINI_API_KEY=emu.api_key)
    if display:
        env["DISPLAY"] = display
    return run_cli("chat", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
                   "--api-version", "v1beta", "--output", "/dev/null", *args, env=env)


def test_screen_frames_at_one_a_second(display, tmp_path):
    window = Window(display, tmp_path, "ramp")  # the screen changes all the time
    try:
        with EmulatorThread(EmulatorConfig(scenario=seeing(tmp_path))) as emu:
            proc = chat(emu, display, "--screen", "--media-resolution", "low",
                        "--input", speech_at(tmp_path, 8.0), "--record-video",
                        str(tmp_path / "sent"))
    finally:
        window.close()
    assert proc.returncode == 0, proc.stderr
    conn = emu.connections[0]
    frames = conn.video_frames
    gaps = np.diff([f.t for f in frames])
    assert len(frames) >= 8, len(frames)
    assert 0.8 <= statistics.median(gaps) <= 1.2 and gaps.min() >= 0.6, gaps
    assert {(f.width, f.height, f.mime_type) for f in frames} == {(960, 540, "image/jpeg")}
    assert conn.setup["generation_config"]["media_resolution"] == "MEDIA_RESOLUTION_LOW"
    kept = sorted((tmp_path / "sent").iterdir())  # --record-video keeps what was sent
    assert len(kept) == len(frames) and kept[0].read_bytes() == frames[0].data
    assert "[video] sharing screen 1 (1920×1080)" in proc.stderr


def test_an_unchanged_screen_is_not_sent_again(display, tmp_path):
    window = Window(display, tmp_path, "#d03030")
    try:
        with EmulatorThread(EmulatorConfig(scenario=seeing(tmp_path))) as emu:
            # Red for 11 s, then blue: only keep-fresh frames while it stands still.
            proc = subprocess.Popen(
                [sys.executable, "-m", "voicecli", "chat", "--base-url", emu.base_url,
                 "--ca-cert", emu.ca_cert_path, "--api-version", "v1beta", "--output",
                 "/dev/null", "--screen", "--input", speech_at(tmp_path, 13.0)],
                cwd=ROOT, env={**clean_env(GEMINI_API_KEY=emu.api_key), "DISPLAY": display},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(12.0)
            window.show("#2040e0")
            out, err = proc.communicate(timeout=60)
    finally:
        window.close()
    assert proc.returncode == 0, err
    frames = emu.connections[0].video_frames
    colours = [f.color for f in frames]
    red = [f for f in frames if f.color == "red"]
    assert 2 <= len(red) <= 4, colours  # at 0 s, then every 5 s: not one a second
    assert colours[-1] == "blue" and "blue" not in colours[:len(red)], colours
    assert "Gemini: I see blue after" in out  # the model saw the change


def test_video_file_frames_match_its_content_and_timing(tmp_path):
    import av

    path = tmp_path / "colours.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(40):  # 2 s red, then 2 s blue
            image = np.zeros((360, 640, 3), np.uint8)
            image[:] = (220, 40, 40) if i < 20 else (40, 70, 220)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with EmulatorThread(EmulatorConfig(scenario=seeing(tmp_path))) as emu:
        proc = chat(emu, None, "--video", str(path), "--fps", "2", "--format", "jsonl",
                    "--input", speech_at(tmp_path, 4.0))
    assert proc.returncode == 0, proc.stderr
    frames = emu.connections[0].video_frames
    assert [f.color for f in frames] == ["red", "blue"], frames  # each change, once
    assert 1.9 <= frames[1].t - frames[0].t <= 2.7, frames[1].t - frames[0].t
    assert (frames[0].width, frames[0].height) == (640, 360)
    assert '"reason": "the video ended", "frames": 2' in proc.stdout
    assert '"type": "video_frame"' in proc.stdout and "capture_to_send_ms" in proc.stdout


def test_screen_and_stop_video_in_the_live_view(display, tmp_path):
    window = Window(display, tmp_path, "ramp")
    try:
        with EmulatorThread(EmulatorConfig()) as emu, \
                TmuxChat(chat_args(emu, "--input", speech_at(tmp_path, 30.0), "--output",
                                   "/dev/null"),
                         {"GEMINI_API_KEY": emu.api_key, "DISPLAY": display}, tmp_path,
                         width=120) as term:
            term.wait_for("listening", 20)
            time.sleep(1.0)
            assert not emu.connections[0].video_frames  # nothing shared until asked
            term.type_line("/screen")
            term.wait_for(lambda s: "sharing screen 1" in term.status(), 10, "the marker")
            term.wait_for(lambda s: len(emu.connections[0].video_frames) >= 3, 10, "frames")
            assert " frames" in term.status()
            term.type_line("/stop-video")
            term.wait_for("stopped after", 10)
            count = len(emu.connections[0].video_frames)
            time.sleep(2.0)
            assert len(emu.connections[0].video_frames) == count  # nothing after the stop
            assert "sharing" not in term.status()
            term.send("C-c")
            assert term.wait_exit()[0] == 0
    finally:
        window.close()


def test_video_refusals_are_one_line(display, tmp_path):
    assert_one_line_error(run_cli("chat", "--emulator", "--screen", "--camera"),
                          "one thing at a time")
    assert_one_line_error(run_cli("chat", "--emulator", "--video", "/no/such.mp4"),
                          "no such file")
    assert_one_line_error(run_cli("chat", "--emulator", "--screen", "--fps", "5"),
                          "--fps must be between 0.1 and 2")
    assert_one_line_error(run_cli("chat", "--emulator", "--screen", "--model",
                                  "gemini-3.5-live-translate-preview"), "takes no video")
    assert_one_line_error(run_cli("chat", "--emulator", "--screen", "7", "--input",
                                  str(ROOT / "examples" / "hello.wav"),
                                  env=clean_env(DISPLAY=display)))
    note = run_cli("chat", "--emulator", "--screen", "--no-compression", "--input",
                   str(ROOT / "examples" / "hello.wav"), "--output", "/dev/null",
                   env=clean_env(DISPLAY=display))
    assert note.returncode == 0 and "ends after about 2 minutes" in note.stderr


def test_without_the_extra_it_says_what_to_install(monkeypatch):
    import importlib.util

    from voicecli.errors import ConfigError
    from voicecli.video import capture

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mss" else real(name, *a))
    with pytest.raises(ConfigError, match=r"--screen needs mss: pip install 'voicecli\[video\]'"):
        capture.require("screen")


def test_the_emulator_refuses_a_frame_that_is_not_an_image():
    from google import genai
    from google.genai import errors, types

    with EmulatorThread(EmulatorConfig()) as emu:
        client = genai.Client(api_key=emu.api_key, http_options=types.HttpOptions(
            base_url=emu.base_url, api_version="v1beta",
            async_client_args={"ssl": __import__("ssl").create_default_context(
                cafile=emu.ca_cert_path)}))

        async def run() -> int:
            async with client.aio.live.connect(model="gemini-3.8-live") as session:
                await session.send_realtime_input(
                    video=types.Blob(data=b"\xff\xd8 not really", mime_type="image/jpeg"))
                try:
                    async for _ in session.receive():
                        pass
                except errors.APIError as exc:
                    return exc.code
            return 0

        assert asyncio.run(run()) == 1007
    assert "Unable to process input image" in (emu.connections[0].close_reason or "")
