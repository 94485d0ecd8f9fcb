"""Sharing a screen, a camera or a video file with the conversation (the shell).

:class:`VideoSharer` runs its own thread: every ``1/fps`` it grabs the latest picture, scales
it to fit 1024 px, asks the :class:`~voicecli.video.frames.FrameGate` whether it goes out
(an unchanged screen only every few seconds), encodes it as JPEG and hands it to ``send``
(which queues it for the connection's writer, thread-safely). Nothing here runs on the event
loop or in an audio callback, and nothing is written to disk unless ``record_dir`` is given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voicecli.video.capture import NOT_YET, FrameSource, jpeg, scale

if TYPE_CHECKING:
    from voicecli.settings import VideoRequest
from voicecli.video.frames import FrameGate


@dataclass
class Frame:
    """A frame on its way out; ``captured_at``: when its grab began (monotonic)."""

    jpeg: bytes
    width: int
    height: int
    captured_at: float
    index: int


class VideoSharer:
    """One source shared at ``fps`` until :meth:`stop` (or the end of a file)."""

    def __init__(self, source: FrameSource, fps: float, send: Callable[[Frame], None],
                 on_end: Callable[[str], None], record_dir: str | None = None,
                 gate: FrameGate | None = None) -> None:
        self.source = source
        self.period = 1.0 / fps
        self.send = send
        self.on_end = on_end  # called (on this thread) with why it ended
        self.record_dir = Path(record_dir) if record_dir else None
        self.gate = gate or FrameGate()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="video-share", daemon=True)

    @property
    def label(self) -> str:
        return self.source.label

    def start(self) -> VideoSharer:
        self._thread.start()
        return self

    def _run(self) -> None:
        why = "stopped"
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                captured_at = time.monotonic()
                image = self.source.grab(captured_at)
                if image is None:
                    why = "the video ended"
                    break
                if image is NOT_YET:
                    self._stop.wait(0.05)
                    continue
                scaled, thumb = scale(image)
                if self.gate.decide(thumb, captured_at):
                    frame = Frame(jpeg(scaled), scaled.width, scaled.height, captured_at,
                                  self.gate.sent)
                    if self.record_dir is not None:
                        self._keep(frame)
                    self.send(frame)
                next_at += self.period
                delay = next_at - time.monotonic()
                if delay < 0:  # fell behind (a slow grab): do not try to catch up
                    next_at, delay = time.monotonic(), 0.0
                self._stop.wait(delay)
        except Exception as exc:  # a device that went away ends the sharing, not the session
            why = f"{type(exc).__name__}: {exc}"
        finally:
            self.source.close()
            if not self._stop.is_set() or why != "stopped":
                self.on_end(why)

    def _keep(self, frame: Frame) -> None:
        assert self.record_dir is not None
        self.record_dir.mkdir(parents=True, exist_ok=True)
        (self.record_dir / f"frame-{frame.index:05d}.jpg").write_bytes(frame.jpeg)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(3)


def open_source(request: VideoRequest) -> FrameSource:
    """The frame source for ``--screen``, ``--camera`` or ``--video`` (DeviceError if it
    cannot be opened; ConfigError if the video extra is missing)."""
    from voicecli.video import capture

    capture.require(request.kind)
    if request.kind == "screen":
        return capture.ScreenSource(int(request.target) if request.target else None)
    if request.kind == "camera":
        target, fmt = capture.camera_input(request.target)
        return capture.AvSource(target, fmt)
    return capture.AvSource(request.target or "", None, file=True)
