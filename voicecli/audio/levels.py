"""How loud a block of 16-bit audio is: the one loudness measure of the audio code (pure).

Runs on every 20 ms frame in the capture callback: a float32 dot product, no temporaries
beyond one conversion.
"""

from __future__ import annotations

import numpy as np

FULL_SCALE = 32768.0
SILENCE_DBFS = -120.0


def mean_square(samples: np.ndarray) -> float:
    """Mean square of int16 samples (0 for an empty block)."""
    if not len(samples):
        return 0.0
    x = samples.astype(np.float32)
    return float(np.dot(x, x)) / len(x)


def dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (−120 for silence or nothing)."""
    return 10 * float(np.log10(mean_square(samples) / FULL_SCALE**2 + 1e-12))


def floor_power(floor_dbfs: float) -> float:
    """The mean square of a signal at ``floor_dbfs`` (for :func:`above` without a log)."""
    return (10 ** (floor_dbfs / 20) * FULL_SCALE) ** 2


def above(samples: np.ndarray, floor_dbfs: float) -> bool:
    """Whether the block is louder than ``floor_dbfs``."""
    return len(samples) > 0 and mean_square(samples) > floor_power(floor_dbfs)
