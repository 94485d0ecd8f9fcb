"""Small conversions between PCM bytes and numpy arrays."""

from __future__ import annotations

import numpy as np


def from_bytes(pcm: bytes) -> np.ndarray:
    """16-bit little-endian mono PCM bytes → int16 array (a copy-free view when possible)."""
    return np.frombuffer(pcm, dtype="<i2")


def to_bytes(samples: np.ndarray) -> bytes:
    """int16 array → 16-bit little-endian PCM bytes."""
    return np.ascontiguousarray(samples, dtype="<i2").tobytes()
