"""benchmarks/bargein.py with a tunable AEC3 in place of livekit's (a side study, not the app).

    bash benchmarks/aec3_tunable/build.sh      # once, ~3.5 min
    python benchmarks/aec3_tunable/run.py --seed 7 [--knobs=-1,-1,-1,-1,1.0,4] [--oracle-clip]

Asks whether an AEC3 whose suppressor can be tuned, or that knows the speaker's distortion,
gets the slow barge-ins of the simulated corpus under 150 ms. ``--knobs``: the shim's
EchoCanceller3Config values, in the order listed in aec3shim.cc (-1 keeps a default).
``--oracle-clip``: the canceller is given the reference through the corpus's own overdriven
speaker (×4, clipped at −12 dBFS) on the streams whose path clips: an upper bound, since the
app cannot know its speaker's distortion. Other arguments go to bargein.py; its JSON is
the last line, as there. Figures are in docs/barge-in-limits.md.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests"), str(ROOT)]

import bargein  # noqa: E402

from voicecli.audio import MIC_RATE, echo  # noqa: E402

LIB = ROOT / ".state" / "aec3" / "libaec3shim.so"
FRAME = MIC_RATE // 100


def load_lib() -> ctypes.CDLL:
    if not LIB.exists():
        sys.exit(f"run.py: error: {LIB} not built (bash benchmarks/aec3_tunable/build.sh)")
    lib = ctypes.CDLL(str(LIB))
    lib.shim_new.restype = ctypes.c_void_p
    lib.shim_new.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_int]
    lib.shim_free.argtypes = [ctypes.c_void_p]
    lib.shim_reverse.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.shim_capture.argtypes = [ctypes.c_void_p] * 4
    return lib


class TunableCanceller:
    """``voicecli.audio.echo.EchoCanceller``'s interface on the shim's AEC3."""

    lib: ctypes.CDLL
    knobs: ClassVar[list[float]] = []
    clip_reference = False  # set per stream by the oracle

    def __init__(self, reverse_rate: int) -> None:
        self.reverse_rate = reverse_rate
        self.reverse_frame = reverse_rate // 100
        values = (ctypes.c_float * max(1, len(self.knobs)))(*self.knobs)
        self._p = self.lib.shim_new(values, len(self.knobs))
        self._out = np.zeros(FRAME, np.int16)
        self.linear = np.zeros(FRAME, np.float32)

    def __del__(self) -> None:
        if getattr(self, "_p", None):
            self.lib.shim_free(self._p)

    def process_reverse(self, frame: np.ndarray) -> None:
        if TunableCanceller.clip_reference:
            frame = np.clip(frame.astype(np.int32) * 4, -8192, 8191)
        f = np.ascontiguousarray(frame, dtype=np.int16)
        self.lib.shim_reverse(self._p, f.ctypes.data, self.reverse_rate)

    def process_capture(self, frame: np.ndarray) -> np.ndarray:
        f = np.ascontiguousarray(frame, dtype=np.int16)
        self.lib.shim_capture(self._p, f.ctypes.data, self._out.ctypes.data,
                              self.linear.ctypes.data)
        return self._out.copy()


def clipping_streams(data: dict[str, np.ndarray]) -> set[int]:
    """ids of the reference arrays whose echo path clips (the corpus keeps each path)."""
    return {id(data[k.removesuffix("_path") + "_ref"]) for k in data
            if k.endswith("_path") and data[k][3]}


def main() -> int:
    args = sys.argv[1:]
    knobs = next((a.split("=", 1)[1] for a in args if a.startswith("--knobs=")), "")
    oracle = "--oracle-clip" in args
    rest = [a for a in args if not a.startswith("--knobs=") and a != "--oracle-clip"]
    TunableCanceller.lib = load_lib()
    TunableCanceller.knobs = [float(x) for x in knobs.split(",") if x]
    echo.EchoCanceller = TunableCanceller  # build_mic imports it from there at call time
    if oracle:  # whatever corpus bargein.py builds, note which of its streams clip
        clipped: set[int] = set()
        build_corpus, run_stream = bargein.build_corpus, bargein.run_stream

        def build_corpus_noting_clips(*a: Any, **k: Any) -> dict[str, np.ndarray]:
            data = build_corpus(*a, **k)
            clipped.update(clipping_streams(data))
            return data

        def run_stream_oracle(ref: np.ndarray, *a: Any, **k: Any) -> Any:
            TunableCanceller.clip_reference = id(ref) in clipped
            return run_stream(ref, *a, **k)

        bargein.build_corpus = build_corpus_noting_clips
        bargein.run_stream = run_stream_oracle
    sys.argv = ["bargein.py", *rest]
    return bargein.main()


if __name__ == "__main__":
    sys.exit(main())
