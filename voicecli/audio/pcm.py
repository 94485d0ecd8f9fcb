"""Small conversions between PCM bytes and numpy arrays."""

from __future__ import annotations

import numpy as np


def from_bytes(pcm: bytes) -> np.ndarray:
    """16-bit little-endian mono PCM bytes → int16 array (a copy-free view when possible)."""
    return np.frombuffer(pcm, dtype="<i2")


def to_bytes(samples: np.ndarray) -> bytes:
    """int16 array → 16-bit little-endian PCM bytes."""
    return np.ascontiguousarray(samples, dtype="<i2").tobytes()


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level of int16 samples in dBFS (−120 for silence)."""
    if samples.size == 0:
        return -120.0
    x = samples.astype(np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(x * x)))
    return 20.0 * np.log10(rms) if rms > 1e-6 else -120.0
