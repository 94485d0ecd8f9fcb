#!/usr/bin/env bash
# Private PulseAudio daemon with virtual devices, so PortAudio/sounddevice get a real-time
# microphone and speaker on machines without a sound card (CI, containers).
#
#   scripts/virtual-audio.sh start    start (no-op if already running); returns once it answers
#   scripts/virtual-audio.sh stop     stop the daemon, its idle readers and the JACK server
#   scripts/virtual-audio.sh status   print state; exit 0 if running, 3 if not
#   scripts/virtual-audio.sh env      print `export VAR=...` lines:  eval "$(scripts/virtual-audio.sh env)"
#
# Clients (sounddevice, paplay, ...) need the `env` variables set BEFORE PortAudio is loaded
# (i.e. before `import sounddevice`).
#
# PulseAudio devices:
#   vmic_feed  null sink, 16 kHz mono. Tests play INTO it; its monitor `vmic_feed.monitor` is the
#              default source, i.e. the app's microphone.
#   vspeaker   null sink, 24 kHz mono, the default sink, i.e. the app's speaker. Tests record
#              `vspeaker.monitor`.
# ALSA devices, as PortAudio/sounddevice list them ($XDG_CONFIG_HOME/alsa/asoundrc):
#   default    PulseAudio defaults (capture vmic_feed.monitor, playback vspeaker)
#   vmic       capture vmic_feed.monitor, playback vmic_feed
#   vspeaker   playback vspeaker, capture vspeaker.monitor
#   only48     capture vmic_feed.monitor, playback vspeaker, but ONLY at 48000 Hz (16/24 kHz are
#              rejected): for the resampling path. Needs jackd2 + pulseaudio-module-jack; see
#              start_only48 below. Optional: skipped with a warning when jackd is missing.
#
# State lives in $VOICECLI_AUDIO_STATE (default: <repo>/.state/audio).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$(realpath -m "${VOICECLI_AUDIO_STATE:-$REPO/.state/audio}")
RUNTIME=$STATE/run # XDG_RUNTIME_DIR (pulse keeps its pid file and socket in run/pulse/)
CONFIG=$STATE/config # XDG_CONFIG_HOME (alsa/asoundrc; pulse/ client state)
SOCKET=$RUNTIME/pulse/native
PIDFILE=$RUNTIME/pulse/pid
PA_FILE=$STATE/voicecli.pa
CLIENT_CONF=$STATE/client.conf
LOG=$STATE/pulseaudio.log
READERS=$STATE/readers.pid
JACK_PIDFILE=$STATE/jackd.pid
JACK_LOG=$STATE/jackd.log
LOCK=$STATE/lock
# JACK servers live per user and machine (/dev/shm), not per directory: name ours after $STATE.
JACK_SERVER_FILE=$STATE/jack-server
JACK_SERVER=$(cat "$JACK_SERVER_FILE" 2>/dev/null ||
    echo "voicecli-$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)")
# JACK client names of the bridge. PortAudio's JACK host API lists them as devices, so they must
# not contain "only48" (sounddevice matches device names by substring).
JACK_SINK=pa_jack_sink
JACK_SOURCE=pa_jack_source

die() {
    echo "virtual-audio: $*" >&2
    exit 1
}

client_env() {
    export PULSE_SERVER="unix:$SOCKET"
    export PULSE_CLIENTCONFIG="$CLIENT_CONF"
    export XDG_RUNTIME_DIR="$RUNTIME"
    export XDG_CONFIG_HOME="$CONFIG"
    export JACK_DEFAULT_SERVER="$JACK_SERVER"
    export JACK_NO_START_SERVER=1
}

is_running() {
    [[ -S $SOCKET ]] || return 1
    (client_env && timeout 5 pactl info >/dev/null 2>&1)
}

live_pids() { # live pids listed in file $1
    [[ -f $1 ]] || return 0
    local pid
    while read -r pid; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
    done <"$1"
    return 0
}

start_readers() {
    # One idle reader with a small latency on each monitor: without them an idle null sink
    # renders up to 2 s ahead and a newly opened capture stream waits 0.6-1.9 s for its first data.
    [[ $(live_pids "$READERS" | wc -l) -eq 2 ]] && return 0
    local pid src
    for pid in $(live_pids "$READERS"); do kill "$pid" 2>/dev/null || true; done
    : >"$READERS"
    for src in vmic_feed.monitor vspeaker.monitor; do
        (client_env && exec setsid parec --latency-msec=10 --client-name=voicecli-idle-reader \
            -d "$src" --raw </dev/null >/dev/null 2>>"$LOG" 9>&-) &
        echo $! >>"$READERS"
    done
}

start_only48() {
    # The 48 kHz-only device. No ALSA plugin that can reach PulseAudio rejects a rate (type pulse,
    # plug and rate all convert; hw, dmix, dsnoop need a sound card), but the ALSA JACK plugin
    # accepts only the JACK server's rate. So: a private JACK server (dummy driver, 48 kHz),
    # bridged to PulseAudio both ways by module-jack-sink/-source and module-loopback:
    #   capture:  vmic_feed.monitor -> loopback -> sink pa_jack_sink -> JACK -> ALSA only48
    #   playback: ALSA only48 -> JACK -> source pa_jack_source -> loopback -> vspeaker
    # adjust_time=0: the loopbacks never adjust their rate (all clocks here are the system
    # monotonic clock, so nothing drifts); with the default adaptive rate the audio is warped
    # enough to drop its correlation with the source to ~0.9.
    if ! command -v jackd >/dev/null; then
        echo "virtual-audio: jackd not installed, so no 'only48' device" \
            "(apt-get install jackd2 pulseaudio-module-jack)" >&2
        return 0
    fi
    if (client_env && pactl list short modules | grep -q module-jack-source); then
        return 0
    fi
    if [[ -z $(live_pids "$JACK_PIDFILE") ]]; then
        # A stable name per state dir: JACK reclaims a dead server's registry slot only when
        # the new one has the same name, and the registry holds just 8 (/dev/shm, per machine).
        JACK_SERVER=voicecli-$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)
        echo "$JACK_SERVER" >"$JACK_SERVER_FILE"
        # A server of a lost state dir (rm -rf .state while running) would hold the name.
        pkill -f -- "jackd --no-realtime --name $JACK_SERVER " 2>/dev/null && sleep 0.2
        if ! pgrep -x jackd >/dev/null; then
            # No JACK server runs at all, so every registry entry is stale: clear them, or
            # crashed servers' entries fill the registry ("Too many servers already active").
            uid=$(id -u)
            rm -f /dev/shm/jack-shm-registry /dev/shm/jack-"$uid"-* /dev/shm/jack_db-"$uid" \
                /dev/shm/jack_sem."$uid"_* 2>/dev/null || true
        fi
        (client_env && exec setsid jackd --no-realtime --name "$JACK_SERVER" \
            -d dummy -r 48000 -p 480 -C 0 -P 0 </dev/null >"$JACK_LOG" 2>&1 9>&-) &
        echo $! >"$JACK_PIDFILE"
    fi
    local i ok=""
    for i in $(seq 1 100); do # the JACK server is up in ~0.1 s
        if (client_env && pactl load-module module-jack-sink sink_name="$JACK_SINK" \
            server_name="$JACK_SERVER" client_name="$JACK_SINK" channels=1 connect=no) \
            >/dev/null 2>&1; then
            ok=1
            break
        fi
        sleep 0.05
    done
    if [[ -z $ok ]]; then
        tail -n 5 "$JACK_LOG" >&2 || true
        echo "virtual-audio: JACK bridge failed, so no 'only48' device (logs: $JACK_LOG $LOG)" >&2
        return 0
    fi
    (
        client_env
        pactl load-module module-loopback source=vmic_feed.monitor sink="$JACK_SINK" \
            latency_msec=20 adjust_time=0 source_dont_move=1 sink_dont_move=1
        pactl load-module module-jack-source source_name="$JACK_SOURCE" \
            server_name="$JACK_SERVER" client_name="$JACK_SOURCE" channels=1 connect=no
        pactl load-module module-loopback source="$JACK_SOURCE" sink=vspeaker \
            latency_msec=20 adjust_time=0 source_dont_move=1 sink_dont_move=1
    ) >/dev/null || echo "virtual-audio: JACK bridge incomplete, 'only48' may not work (log: $LOG)" >&2
}

write_config() {
    mkdir -p "$RUNTIME" "$CONFIG/alsa" "$CONFIG/pulse"
    chmod 700 "$RUNTIME"
    cat >"$PA_FILE" <<EOF
# Generated by scripts/virtual-audio.sh. The daemon ignores /etc/pulse/default.pa (-n -F).
load-module module-native-protocol-unix auth-anonymous=1 socket=$SOCKET
load-module module-null-sink sink_name=vmic_feed format=s16le rate=16000 channels=1 norewinds=1 sink_properties=device.description=voicecli-mic-feed
load-module module-null-sink sink_name=vspeaker format=s16le rate=24000 channels=1 norewinds=1 sink_properties=device.description=voicecli-speaker
set-default-source vmic_feed.monitor
set-default-sink vspeaker
EOF
    # No shared memory between clients and the daemon (enable-shm = no here, --disable-shm
    # below): audio goes over the socket. With memfd the daemon crashed once in a CI dry run
    # ("Cannot send block reference with non-registered memfd ID", PulseAudio issue 824, then
    # an assertion in memblock_replace_import), taking every later audio test with it.
    cat >"$CLIENT_CONF" <<EOF
autospawn = no
default-server = unix:$SOCKET
enable-shm = no
enable-memfd = no
EOF
    cat >"$CONFIG/alsa/asoundrc" <<EOF
# Generated by scripts/virtual-audio.sh; alsa-lib reads \$XDG_CONFIG_HOME/alsa/asoundrc.
pcm.!default {
    type pulse
    hint.description "voicecli virtual audio (PulseAudio defaults)"
}
ctl.!default {
    type pulse
}
pcm.vmic {
    type asym
    capture.pcm { type pulse device "vmic_feed.monitor" }
    playback.pcm { type pulse device "vmic_feed" }
    hint.description "voicecli virtual mic: capture vmic_feed.monitor, playback vmic_feed"
}
pcm.vspeaker {
    type asym
    playback.pcm { type pulse device "vspeaker" }
    capture.pcm { type pulse device "vspeaker.monitor" }
    hint.description "voicecli virtual speaker: playback vspeaker, capture vspeaker.monitor"
}
# 48 kHz only (the JACK server's rate); see start_only48 in scripts/virtual-audio.sh.
# Needs JACK_DEFAULT_SERVER=$JACK_SERVER in the environment.
pcm.only48 {
    type jack
    capture_ports { 0 "$JACK_SINK:mono" }
    playback_ports { 0 "$JACK_SOURCE:mono" }
    hint.description "voicecli 48 kHz-only device: capture vmic_feed.monitor, playback vspeaker"
}
EOF
}

cmd_start() {
    command -v pulseaudio >/dev/null ||
        die "pulseaudio is not installed (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)"
    command -v pactl >/dev/null || die "pactl is not installed (apt-get install pulseaudio-utils)"
    # sockaddr_un.sun_path holds 108 bytes.
    [[ ${#SOCKET} -lt 100 ]] ||
        die "socket path too long (${#SOCKET} > 99 bytes): $SOCKET; set VOICECLI_AUDIO_STATE to a shorter directory"
    if is_running; then
        start_readers
        start_only48
        return 0
    fi
    cmd_stop # a stale daemon or socket of an earlier run
    write_config
    if ! (
        client_env
        exec pulseaudio -n -F "$PA_FILE" --daemonize=yes --use-pid-file=yes --exit-idle-time=-1 \
            --disallow-exit --realtime=no --high-priority=no --disable-shm=yes \
            --log-target="file:$LOG" \
            </dev/null >/dev/null 2>>"$LOG" 9>&-
    ); then
        tail -n 20 "$LOG" >&2 || true
        die "pulseaudio failed to start (log: $LOG)"
    fi
    local i
    for i in $(seq 1 100); do
        is_running && break
        sleep 0.05
    done
    if ! is_running; then
        tail -n 20 "$LOG" >&2 || true
        die "pulseaudio does not answer on $SOCKET (log: $LOG)"
    fi
    start_readers
    start_only48
}

stop_pid() { # kill $1, wait up to 5 s, then SIGKILL
    local i
    kill "$1" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -9 "$1" 2>/dev/null || true
}

cmd_stop() {
    local pid
    for pid in $(live_pids "$READERS") $(live_pids "$JACK_PIDFILE") $(live_pids "$PIDFILE"); do
        stop_pid "$pid"
    done
    rm -f "$READERS" "$JACK_PIDFILE" "$JACK_SERVER_FILE" "$PIDFILE" "$SOCKET"
}

cmd_status() {
    if is_running; then
        echo "running: PULSE_SERVER=unix:$SOCKET pid=$(cat "$PIDFILE" 2>/dev/null || echo '?')" \
            "idle-readers=$(live_pids "$READERS" | wc -l)/2" \
            "jackd=$(live_pids "$JACK_PIDFILE" || true)"
        (client_env && pactl list short sinks && pactl list short sources)
        return 0
    fi
    echo "not running (state: $STATE)"
    return 3
}

cmd_env() {
    printf 'export PULSE_SERVER=%q\n' "unix:$SOCKET"
    printf 'export PULSE_CLIENTCONFIG=%q\n' "$CLIENT_CONF"
    printf 'export XDG_RUNTIME_DIR=%q\n' "$RUNTIME"
    printf 'export XDG_CONFIG_HOME=%q\n' "$CONFIG"
    printf 'export JACK_DEFAULT_SERVER=%q\n' "$JACK_SERVER"
    printf 'export JACK_NO_START_SERVER=1\n'
}

locked() { # run "$@" holding $LOCK: concurrent starts (parallel test runs) must not race.
    # Daemons started under the lock must close fd 9 (9>&-), or they would hold it forever.
    mkdir -p "$STATE"
    exec 9>>"$LOCK"
    flock -w 30 9 || die "timed out waiting for $LOCK"
    "$@"
}

case ${1:-} in
start) locked cmd_start ;;
stop) locked cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
*)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
