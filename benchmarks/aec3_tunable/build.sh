#!/usr/bin/env bash
# Builds AEC3 from source with a small C shim (tunable config + linear output), for
# benchmarks/aec3_tunable/run.py. Not used by the app: livekit's AEC3 wheel is what ships.
#
# The source is webrtc-audio-processing 2.1 (AEC3 and abseil included) from the PyPI sdist
# of aec-audio-processing 1.0.1 (PyPI is the one source reachable here). Needs g++ (C++20),
# ninja and meson (pip). ~3.5 min on 2 cores. Output: .state/aec3/libaec3shim.so
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/../../.state/aec3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
command -v meson >/dev/null || python -m pip install -q meson
command -v ninja >/dev/null || python -m pip install -q ninja
if [[ ! -d $OUT/src ]]; then
    python -m pip download -q --no-deps aec-audio-processing==1.0.1 -d "$OUT" 2>/dev/null
    mkdir -p "$OUT/src" && tar xzf "$OUT"/aec_audio_processing-1.0.1.tar.gz -C "$OUT/src" \
        --strip-components=1
fi
SRC=$OUT/src/webrtc-audio-processing
if [[ ! -f $OUT/build/build.ninja ]]; then
    meson setup "$OUT/build" "$SRC" --buildtype=release --default-library=static >/dev/null
fi
ninja -C "$OUT/build" >/dev/null
# shellcheck disable=SC2046  # one argument per static library
g++ -std=c++20 -O2 -fPIC -shared -o "$OUT/libaec3shim.so" "$HERE/aec3shim.cc" \
    -I"$SRC/webrtc" -I"$SRC/subprojects/abseil-cpp-20240722.0" \
    -DWEBRTC_POSIX -DWEBRTC_LINUX -DWEBRTC_APM_DEBUG_DUMP=0 -DNDEBUG \
    -Wl,--start-group $(find "$OUT/build" -name '*.a') -Wl,--end-group -pthread
echo "$OUT/libaec3shim.so"
