"""Streaming resampling between the API's rates and whatever a device supports.

soxr is a band-limited resampler (no aliasing, unlike linear interpolation) and its
streaming mode keeps filter state across chunks, so chunk boundaries are seamless.
"""

from __future__ import annotations

import numpy as np


class StreamResampler:
    """Resample a stream of mono int16 chunks from ``in_rate`` to ``out_rate``.

    A pass-through when the rates are equal. Output length per chunk varies slightly
    (the filter has a delay); the total over a stream is exact after :meth:`flush`.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = None
        if in_rate != out_rate:
            import soxr

            self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16",
                                               quality=quality)

    @property
    def passthrough(self) -> bool:
        return self._stream is None

    def process(self, chunk: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample one chunk of int16 samples; ``last`` flushes the filter tail."""
        if self._stream is None:
            return chunk
        return self._stream.resample_chunk(np.ascontiguousarray(chunk, dtype=np.int16),
                                           last=last)


def resample(samples: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Resample a whole int16 signal at once."""
    if in_rate == out_rate:
        return samples
    import soxr

    return soxr.resample(np.ascontiguousarray(samples, dtype=np.int16), in_rate, out_rate)
