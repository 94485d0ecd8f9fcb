"""Video frames in the emulator: checked, counted, recorded, and seen (pure but for Pillow).

Each ``realtime_input.video`` blob must be a JPEG (or PNG) the service could decode, within
its limits; an invalid one closes the session with 1007, as the service does for an invalid
argument. What a frame shows is read with Pillow when it is installed (the ``video``
extra): its mean colour, named, so a scenario can answer from what it saw
(``{video.color}``, ``{video.frames}``).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from voicecli.emulator import wire

MAX_FRAME_BYTES = 7 * 2**20  # an inline image's limit (7 MB)
MAX_SIDE = 3072  # larger images are refused (the client scales to 1024)
IMAGE_TYPES = ("image/jpeg", "image/png")
COLOURS = {
    "black": (0, 0, 0), "white": (255, 255, 255), "red": (220, 40, 40),
    "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (235, 215, 40),
    "orange": (240, 140, 30), "purple": (140, 50, 180), "grey": (128, 128, 128),
    "cyan": (40, 200, 220), "pink": (240, 130, 190),
}


@dataclass(frozen=True)
class SeenFrame:
    """A frame as the emulator received it."""

    t: float
    size: int  # bytes
    width: int
    height: int
    mime_type: str
    color: str | None  # the named mean colour (None without Pillow)
    data: bytes


def _invalid(text: str) -> wire.ProtocolError:
    return wire.ProtocolError(wire.CLOSE_INVALID, f"Invalid argument: {text}")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's frame header; ProtocolError if it is not a JPEG."""
    if data[:2] != b"\xff\xd8" or not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise _invalid("realtime_input.video: Unable to process input image (not a JPEG)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    raise _invalid("realtime_input.video: Unable to process input image (no frame header)")


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        raise _invalid("realtime_input.video: Unable to process input image (not a PNG)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def named_colour(rgb: tuple[float, float, float]) -> str:
    return min(COLOURS, key=lambda n: sum((a - b) ** 2 for a, b in zip(COLOURS[n], rgb,
                                                                       strict=True)))


def mean_colour(data: bytes) -> str | None:
    """The frame's mean colour, named (None when Pillow is missing or cannot read it)."""
    try:
        from PIL import Image, ImageStat
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            mean = ImageStat.Stat(image.convert("RGB").reduce(8)).mean
    except Exception:
        return None
    return named_colour((mean[0], mean[1], mean[2]))


def check_frame(blob: object, data: bytes, now: float) -> SeenFrame:
    """Validate one frame (ProtocolError with 1007 if the service would refuse it)."""
    mime = str(blob.get("mime_type") or "") if isinstance(blob, dict) else ""
    if mime not in IMAGE_TYPES:
        raise _invalid(f"realtime_input.video.mime_type: unsupported {mime!r}")
    if len(data) > MAX_FRAME_BYTES:
        raise _invalid(f"realtime_input.video: the image is {len(data)} bytes; the limit is "
                       f"{MAX_FRAME_BYTES}")
    width, height = jpeg_size(data) if mime == "image/jpeg" else png_size(data)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise _invalid(f"realtime_input.video: {width}x{height} is outside the supported "
                       f"size ({MAX_SIDE} px a side)")
    return SeenFrame(now, len(data), width, height, mime, mean_colour(data), data)
