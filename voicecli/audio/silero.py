"""Silero VAD on onnxruntime alone: no torch, no download at run time.

The 2.3 MB ``silero_vad.onnx`` (MIT, Silero Team; see data/SILERO_VAD_LICENSE) is vendored
in ``voicecli/audio/data``: the ``silero-vad`` package that ships it declares torch + CUDA
(5 GB) as dependencies, which this runner does not need. ``VOICECLI_SILERO_MODEL`` points at
another copy of the file (e.g. a newer model).

The model takes 512 samples at 16 kHz (32 ms) plus the previous 64 samples as context and
an LSTM state; it returns a speech probability. onnxruntime is imported lazily, so
``voicecli --help`` never loads it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from voicecli.audio import MIC_RATE
from voicecli.errors import ConfigError

CHUNK = 512  # samples per model call at 16 kHz
CONTEXT = 64
REPLAY = 8192  # quiet samples kept for the model while it is skipped (512 ms)
INSTALL_HINT = "reinstall voicecli (pip install voicecli), which ships it"
BUNDLED = Path(__file__).parent / "data" / "silero_vad.onnx"


def model_path() -> Path:
    """Where ``silero_vad.onnx`` is; ConfigError (with the install line) if nowhere."""
    override = os.environ.get("VOICECLI_SILERO_MODEL")
    if override:
        if not Path(override).is_file():
            raise ConfigError(f"VOICECLI_SILERO_MODEL: no such file: {override}")
        return Path(override)
    if BUNDLED.is_file():
        return BUNDLED
    raise ConfigError(f"the Silero VAD model (silero_vad.onnx) is not installed; {INSTALL_HINT}"
                      " (or use --headphones / --no-barge-in)")


class SileroVad:
    """Streaming speech probability over 16 kHz int16 audio of any block size."""

    def __init__(self, path: Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError(f"onnxruntime is not installed; {INSTALL_HINT}") from None
        opts = ort.SessionOptions()
        # One thread: the model is tiny and runs in the audio thread; a pool would only
        # add wake-ups and contend with the canceller on small machines.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session: Any = ort.InferenceSession(str(path or model_path()), opts,
                                                  providers=["CPUExecutionProvider"])
        self._sr = np.array(MIC_RATE, dtype=np.int64)
        self._input = np.zeros((1, CONTEXT + CHUNK), dtype=np.float32)
        self._fill = 0  # new samples in _input[0, CONTEXT:]
        # Quiet audio not yet run through the model (see skip): the latest REPLAY samples.
        self._held = np.zeros(REPLAY, dtype=np.int16)
        self._skipped = 0
        self.reset()
        # The first run allocates (several ms): do it here, not in the audio callback.
        self._session.run(None, {"input": self._input, "state": self._state, "sr": self._sr})

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._input[:] = 0
        self._fill = 0
        self._skipped = 0
        self.probability = 0.0

    def skip(self, samples: np.ndarray) -> None:
        """Quiet audio: keep it instead of running the model (most of the time is quiet).

        The next :meth:`process` runs what was kept first, so the model's state is as if it
        had heard everything; after more than ``REPLAY`` samples it starts from a clean state
        and hears only the last ``REPLAY`` of them (the state after that much quiet is the same).
        """
        n = min(len(samples), REPLAY)
        self._held[:-n] = self._held[n:]
        self._held[-n:] = samples[-n:]
        self._skipped += len(samples)
        self.probability = 0.0

    def process(self, samples: np.ndarray) -> float:
        """Feed int16 samples; returns the probability of the latest complete 32 ms chunk."""
        if self._skipped:
            if self._skipped > REPLAY:
                self.reset()
                self._skipped = REPLAY
            held, self._skipped = self._held[REPLAY - self._skipped:].copy(), 0
            self._run(held)
        return self._run(samples)

    def _run(self, samples: np.ndarray) -> float:
        pos = 0
        while pos < len(samples):
            take = min(CHUNK - self._fill, len(samples) - pos)
            start = CONTEXT + self._fill
            self._input[0, start:start + take] = samples[pos:pos + take] / 32768.0
            self._fill += take
            pos += take
            if self._fill == CHUNK:
                out, self._state = self._session.run(
                    None, {"input": self._input, "state": self._state, "sr": self._sr})
                self.probability = float(out[0, 0])
                self._input[0, :CONTEXT] = self._input[0, -CONTEXT:]  # context for the next
                self._fill = 0
        return self.probability
