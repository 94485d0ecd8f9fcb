"""Where frames come from: a screen (mss), a camera or a video file (PyAV); JPEG (Pillow).

The shell's edge: everything here blocks (a screen grab, a decode, an encode) and runs on the
sharer's own thread, never on the event loop or in an audio callback. The libraries are the
optional extra ``voicecli[video]``; :func:`require` says which to install, in one line.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from voicecli.errors import ConfigError, DeviceError
from voicecli.video.frames import fit

INSTALL = "pip install 'voicecli[video]'"
THUMB = (64, 36)
JPEG_QUALITY = 80


def require(what: str) -> None:
    """ConfigError naming the package to install when the video extra is missing."""
    import importlib.util

    needed = {"screen": ["mss", "PIL"], "camera": ["av", "PIL"], "video": ["av", "PIL"]}[what]
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        names = {"PIL": "Pillow", "av": "PyAV", "mss": "mss"}
        raise ConfigError(f"--{what} needs {', '.join(names[m] for m in missing)}: "
                          f"{INSTALL}")


NOT_YET = object()  # what grab() returns before a camera or file has its first picture


class FrameSource(Protocol):
    """Something that gives the latest picture on demand (None: it has ended; NOT_YET: no
    picture yet)."""

    label: str

    def grab(self, now: float) -> Any: ...
    def close(self) -> None: ...


def scale(image: Any) -> tuple[Any, bytes]:
    """``image`` (a PIL image) scaled to fit 1024 px, and its small grey thumbnail (to tell
    an unchanged frame without encoding it: see frames.FrameGate)."""
    from PIL import Image

    width, height, factor = fit(*image.size)
    if factor > 1:
        image = image.reduce(factor)
    elif (width, height) != image.size:
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image, image.convert("L").resize(THUMB, Image.Resampling.BOX).tobytes()


def jpeg(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


# -- screens ----------------------------------------------------------------------------

def monitors() -> list[dict[str, Any]]:
    """The screens mss sees: ``[{index, width, height, left, top, primary}]`` (1-based)."""
    import mss

    with mss.MSS() as sct:
        return [{"index": i, **{k: m[k] for k in ("width", "height", "left", "top")},
                 "primary": bool(m.get("is_primary", i == 1))}
                for i, m in enumerate(sct.monitors[1:], start=1)]


class ScreenSource:
    """One monitor (``None``: the primary)."""

    def __init__(self, monitor: int | None = None) -> None:
        import mss

        try:
            self._mss = mss.MSS()
            screens = self._mss.monitors[1:]
        except Exception as exc:  # mss raises its own errors for a missing display
            raise DeviceError(f"cannot share the screen: {exc} (DISPLAY is "
                              f"{'set' if _display() else 'not set'})") from None
        if not screens:
            raise DeviceError("no screen to share (is a display running? DISPLAY is "
                              f"{'set' if _display() else 'not set'})")
        if monitor is None:
            monitor = next((i for i, m in enumerate(screens, 1) if m.get("is_primary")), 1)
        if not 1 <= monitor <= len(screens):
            raise DeviceError(f"--screen {monitor}: there are {len(screens)} screens "
                              "(see 'voicecli devices --video')")
        self._monitor = screens[monitor - 1]
        self.label = f"screen {monitor} ({self._monitor['width']}×{self._monitor['height']})"

    def grab(self, now: float) -> Any:
        from PIL import Image

        shot = self._mss.grab(self._monitor)
        return Image.frombuffer("RGB", shot.size, shot.bgra, "raw", "BGRX", 0, 1)

    def close(self) -> None:
        self._mss.close()


def _display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# -- cameras and files (PyAV) -------------------------------------------------------------

def cameras() -> list[tuple[str, str]]:
    """(device, name) of the cameras this machine lists (Linux: /dev/video*)."""
    if sys.platform.startswith("linux"):
        out = []
        for dev in sorted(Path("/sys/class/video4linux").glob("video*")):
            name = (dev / "name").read_text().strip() if (dev / "name").exists() else dev.name
            out.append((f"/dev/{dev.name}", name))
        return out
    return []  # macOS/Windows: the platform's default camera is 0 (see camera_input)


def camera_input(spec: str | None) -> tuple[str, str | None]:
    """(what to open, PyAV format) for ``--camera [INDEX|NAME]``."""
    spec = spec or "0"
    if sys.platform.startswith("linux"):
        if spec.isdigit():
            return f"/dev/video{spec}", "v4l2"
        for device, name in cameras():
            if spec.lower() in name.lower() or spec == device:
                return device, "v4l2"
        raise DeviceError(f"--camera {spec}: no such camera (see 'voicecli devices --video')")
    if sys.platform == "darwin":
        return spec, "avfoundation"
    return f"video={spec}", "dshow"


class AvSource:
    """A camera, or a video file played as one in real time (its frames at their times).

    A thread decodes continuously and keeps only the latest picture (a camera does not wait
    for us); for a file it follows the wall clock from the first grab."""

    def __init__(self, target: str, fmt: str | None = None, *, file: bool = False) -> None:
        import av

        try:
            self._container = av.open(target, format=fmt)
        except (av.FFmpegError, OSError) as exc:
            what = "--video" if file else "--camera"
            raise DeviceError(f"{what}: cannot open {target}: {exc}") from None
        self._stream = self._container.streams.video[0]
        self._file = file
        self.label = f"video {Path(target).name}" if file else f"camera {target}"
        self._latest: Any = None
        self._latest_t = -1.0
        self._ended = threading.Event()
        self._error: str | None = None  # why decoding stopped early (a camera unplugged)
        self._stop = threading.Event()
        self._started_at: float | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._decode, name="video-decode", daemon=True)
        self._thread.start()

    def _decode(self) -> None:
        try:
            for frame in self._container.decode(self._stream):
                if self._stop.is_set():
                    return
                t = float(frame.time or 0.0)
                if self._file:  # real time: wait until this frame's moment
                    while self._started_at is None and not self._stop.is_set():
                        time.sleep(0.01)
                    start = self._started_at or time.monotonic()
                    delay = start + t - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
                image = frame.to_image()
                with self._lock:
                    self._latest, self._latest_t = image, t
        except Exception as exc:  # a broken stream ends the source; grab() says why
            self._error = f"{self.label}: {type(exc).__name__}: {exc}"
        finally:
            self._ended.set()

    def grab(self, now: float) -> Any:
        if self._started_at is None:
            self._started_at = time.monotonic()
        with self._lock:
            latest = self._latest
        if latest is None:
            if self._ended.is_set() and self._error is not None:
                raise DeviceError(self._error)  # the sharer reports it and stops sharing
            return None if self._ended.is_set() else NOT_YET
        if self._file and self._ended.is_set():
            with self._lock:
                self._latest = None  # the last frame is offered once, then the file has ended
        return latest

    @property
    def position_s(self) -> float:
        return self._latest_t

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._container.close()
