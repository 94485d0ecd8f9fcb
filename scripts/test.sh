#!/usr/bin/env bash
# Set up everything the tests need and run them: one command for developers and CI.
#
#   scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k virtual_audio
#   scripts/test.sh --ci                 CI: always `apt-get update` + install (see .ci/run)
#
# 1. system packages (apt), only those missing (--ci: all, after apt-get update)
# 2. the project with its test extras (`pip install -e '.[test]'`), skipped when pyproject.toml
#    did not change since the last install; into .venv if the Python is externally managed
#    (PEP 668, Debian's python3) or has no `python` command
# 3. the virtual audio devices (scripts/virtual-audio.sh start; left running afterwards)
# 4. the test command (TEST_COMMAND below; keep README.md in sync): the tests that do not
#    use the audio devices run 3 at a time (they mostly wait on the emulator), then the
#    real-time ones on the devices alone
set -euo pipefail

TEST_COMMAND='ruff check . && mypy && python -m pytest -q -m "not audio" -n 3 --dist loadfile && python -m pytest -q -m audio'
APT_PACKAGES=(
    pulseaudio pulseaudio-utils libasound2-plugins libportaudio2 espeak-ng sox tmux git
    xvfb # a real screen for the screen-sharing tests
    jackd2 pulseaudio-module-jack # the 48 kHz-only device `only48`
)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
CI_MODE=""
if [[ ${1:-} == --ci ]]; then
    CI_MODE=1
    shift
fi
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

T_START=$(date +%s.%N)
T_PHASE=$T_START
phase_done() { # print how long the phase took
    local now
    now=$(date +%s.%N)
    awk -v a="$T_PHASE" -v b="$now" -v n="$1" 'BEGIN { printf "==> %-22s %6.1f s\n", n, b - a }'
    T_PHASE=$now
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "test.sh: need root (or sudo) for: $*" >&2
        exit 1
    fi
}

# ----------------------------------------------------------------------------- 1. apt
PY=${PYTHON:-python3}
USE_VENV=""
if [[ -z ${VIRTUAL_ENV:-} ]]; then
    if ! command -v "$PY" >/dev/null || ! command -v python >/dev/null ||
        "$PY" -c 'import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)'; then
        USE_VENV=1
        APT_PACKAGES+=(python3 python3-venv)
    fi
fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if [[ -n $CI_MODE ]] ||
        ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    echo "==> apt-get install ${missing[*]}"
    as_root apt-get update -qq </dev/null
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi
phase_done "system packages"

# ----------------------------------------------------------------------------- 2. pip
if [[ -n $USE_VENV ]]; then
    [[ -x .venv/bin/python ]] || python3 -m venv .venv
    export VIRTUAL_ENV=$REPO/.venv
    export PATH=$VIRTUAL_ENV/bin:$PATH
    PY=$VIRTUAL_ENV/bin/python
fi
STAMP=$REPO/.state/pip-installed
want=$(cat pyproject.toml <(command -v "$PY") | sha256sum | cut -c1-16)
if [[ -n $CI_MODE || ! -f $STAMP || $(cat "$STAMP") != "$want" ]] ||
    ! "$PY" -c 'import voicecli, pytest' 2>/dev/null || ! command -v ruff >/dev/null; then
    echo "==> pip install -e '.[test]'"
    "$PY" -m pip install -q -e '.[test]' </dev/null
    mkdir -p "$(dirname "$STAMP")"
    echo "$want" >"$STAMP"
fi
phase_done "python packages"

# ----------------------------------------------------------------------------- 3. audio
bash scripts/virtual-audio.sh start </dev/null
eval "$(bash scripts/virtual-audio.sh env)"
phase_done "virtual audio"

# ----------------------------------------------------------------------------- 3b. README line 1
# CI runs the README's first command as written (install + the main job, offline), with the
# oldest Python voicecli supports (3.10, Ubuntu 22.04's) as python3 where there is one, in a
# throwaway HOME.
if [[ -n $CI_MODE ]]; then
    first_line=$(awk '/^```sh/{getline; print; exit}' README.md)
    home=$REPO/.state/readme-home
    rm -rf "$home" && mkdir -p "$home/bin"
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python python3.10; do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            ln -s "$(command -v "$candidate")" "$home/bin/python3"
            break
        fi
    done
    echo "==> README line 1 with $(PATH=$home/bin:$PATH python3 --version): $first_line"
    (export HOME=$home PATH=$home/bin:$PATH VOICECLI_CONFIG=/nonexistent
     bash -c "$first_line" </dev/null | grep -q '^Gemini: ')
    rm -f reply.wav
    phase_done "README line 1"
fi

# ----------------------------------------------------------------------------- 4. tests
echo "==> $TEST_COMMAND $*"
rc=0
# pytest's exit code 5 (no tests collected) is non-zero, so it fails here too.
bash -c "$TEST_COMMAND \"\$@\"" test.sh "$@" </dev/null || rc=$?
phase_done "tests (exit $rc)"
T_PHASE=$T_START
phase_done "total"
exit "$rc"
