"""Which frames of a shared screen or camera go to the Live API (pure).

The API takes JPEG frames at about one a second. A screen mostly stands still, so a frame
that looks like the last one sent is not sent again, except a keep-fresh frame every
``keep_fresh_s`` (the model keeps seeing it). "Looks like": the mean absolute difference of
small grey thumbnails (a blinking cursor or a clock's seconds change a few pixels; a new
window, a scrolled page or a colour changes many).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_SIDE = 1024  # frames are scaled to fit this (the Live API's own guidance)
MAX_FPS = 2.0
KEEP_FRESH_S = 5.0
SAME_BELOW = 1.5  # mean absolute thumbnail difference (0..255) under which nothing changed


def fit(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int, int]:
    """(width, height, reduce factor) for a frame scaled to fit ``max_side``: an integer
    reduction when one gets there (fast), else 1 and the exact size to resize to."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height, 1
    factor = math.ceil(longest / max_side)
    if factor <= 4:  # a box reduction by a small integer: fast, and at most a bit smaller
        return width // factor, height // factor, factor
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale)), 1


def difference(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two same-sized 8-bit thumbnails (inf if sizes differ)."""
    if len(a) != len(b) or not a:
        return math.inf
    import numpy as np

    x = np.frombuffer(a, dtype=np.uint8).astype(np.int16)
    y = np.frombuffer(b, dtype=np.uint8).astype(np.int16)
    return float(np.abs(x - y).mean())


@dataclass
class FrameGate:
    """Decides, frame by frame, what to send: a changed frame at once (at most ``fps``), an
    unchanged one only every ``keep_fresh_s``."""

    keep_fresh_s: float = KEEP_FRESH_S
    same_below: float = SAME_BELOW
    last_thumb: bytes = b""
    last_sent_at: float = -math.inf
    sent: int = 0
    skipped: int = 0

    def decide(self, thumb: bytes, now: float) -> bool:
        """Whether the frame with this thumbnail goes out now."""
        unchanged = difference(thumb, self.last_thumb) < self.same_below
        if unchanged and now - self.last_sent_at < self.keep_fresh_s:
            self.skipped += 1
            return False
        self.last_thumb = thumb
        self.last_sent_at = now
        self.sent += 1
        return True

    def reset(self) -> None:
        """A new source: its first frame always goes."""
        self.last_thumb, self.last_sent_at = b"", -math.inf
