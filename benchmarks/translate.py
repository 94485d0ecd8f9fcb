"""Client lag of ``voicecli translate``: from receiving translated audio to hearing it.

    python benchmarks/translate.py [--utterances 12] [--latency high|low]

The real translate client (SessionRunner in translate mode, with real sounddevice on the
virtual sound card of scripts/virtual-audio.sh, the real google-genai SDK) talks to the
emulator's translate model, which runs in a separate process so it does not compete for
this one's GIL. Speech is played into the virtual microphone one utterance at a time; the
emulator answers each with translated speech.

Method. Every server message is stamped with ``time.monotonic()`` the moment the SDK hands
it to the client (before the client does anything with it). The virtual speaker is
recorded (``vspeaker.monitor``; its clock is aligned to the monotonic clock to ~2 ms, see
voicecli_testing/audio.py). For each utterance, the received translated audio is located in the
recording by cross-correlation, which gives the time its first sample was heard. The client
lag of an utterance is ``heard - received`` for its first audio message: everything the
client adds (event dispatch, resampling, the playback buffer's 60 ms prebuffer, waiting
for the next 20 ms output block, and the output stream's own buffering in PortAudio and
the sound server). Later messages of an utterance arrive ahead of playback (the service
sends faster than real time), so they wait behind earlier audio by design and are not
counted. Figures measured while other jobs load the machine are provisional.

The last line is JSON: ``{"client_lag_ms": {"median": .., "worst": ..}, ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from voicecli_testing import audio as ah  # noqa: E402 (sets up audio before sounddevice loads)

PHRASES = ["Hello, can you hear me?", "The weather is lovely today.",
           "Where is the train station?", "Thank you very much, goodbye."]
GAP_S = 0.5  # received audio further apart than this belongs to another utterance


def start_emulator() -> tuple[subprocess.Popen[str], str, str]:
    """``voicecli emulator`` in its own process; returns (process, base URL, CA path)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "voicecli", "emulator", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    banner = ""
    assert proc.stderr is not None
    while "CA cert:" not in banner:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError(f"the emulator did not start: {banner}")
        banner += line
    ca = re.search(r"CA cert:\s+(\S+)", banner)
    assert ca is not None
    return proc, f"https://127.0.0.1:{port}", ca.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=12)
    parser.add_argument("--latency", default=None, help="PortAudio output latency: high, "
                        "low or seconds (default: what voicecli translate uses)")
    parser.add_argument("--block-ms", type=int, default=None,
                        help="output block (default: what voicecli translate uses)")
    args = parser.parse_args()
    ah.ensure_virtual_audio()

    import numpy as np

    from voicecli import events as ev
    from voicecli import settings as st
    from voicecli.audio import engine
    from voicecli.translate import TranslateOptions, translate_runner
    from voicecli.ui.outputs import EventBus

    latency: str | float = args.latency or engine.SPEAKER_LATENCY
    block_ms = args.block_ms or engine.SPEAKER_BLOCK_MS
    if isinstance(latency, str) and latency.replace(".", "", 1).isdigit():
        latency = float(latency)
    emu, base_url, ca = start_emulator()
    received: list[tuple[float, bytes]] = []  # (monotonic time the SDK delivered it, PCM)

    class Capture:
        def handle(self, event: ev.Event) -> None:
            pass

        def close(self) -> None:
            pass

    try:
        settings = st.Settings(
            model="gemini-3.5-live-translate-preview", tools=False, barge_in=False,
            credentials=st.Credentials(api_key="emulator-key", base_url=base_url,
                                       api_version="v1beta", ca_cert=ca))
        source = engine.DeviceSource(None)
        sink = engine.DeviceSink(None, latency=latency, block_ms=block_ms)
        runner, mode = translate_runner(settings, TranslateOptions(target="de"),
                                        EventBus([Capture()]), source, sink, endpoint=base_url,
                                        echo="headphones")
        on_message = mode.state.on_message

        def stamped(msg):  # the SDK just delivered ``msg``
            t = time.monotonic()
            events = on_message(msg)
            for e in events:
                if isinstance(e, ev.AssistantAudio):
                    received.append((t, e.pcm))
            return events

        mode.state.on_message = stamped  # type: ignore[method-assign]
        result: dict[str, float] = {}
        rec = ah.SpeakerRecorder().start()

        def drive() -> None:
            try:
                ah.wait_until(lambda: runner.conn is not None and runner.conn.connected, 20)
                time.sleep(0.5)
                stream = getattr(sink, "_stream", None)
                if stream is not None:
                    result["output_latency_ms"] = round(stream.latency * 1000, 1)
                for i in range(args.utterances):
                    before = len(received)
                    ah.play_into_mic(ah.speech_wav(PHRASES[i % len(PHRASES)])).wait(10)
                    # Wait for this utterance's translation to arrive and play out.
                    ah.wait_until(lambda n=before: len(received) > n
                                  and time.monotonic() - received[-1][0] > 1.5
                                  and runner.player.playback.buffered_frames == 0, 20)
                    time.sleep(0.3)
            finally:
                runner.threadsafe(runner.request_stop)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        result["exit_code"] = asyncio.run(runner.run())
        driver.join(5)
        time.sleep(0.3)
        rec.stop()
    finally:
        emu.terminate()
        emu.wait(5)

    # Group the received audio into utterances and find each in the recording.
    utterances: list[tuple[float, bytes]] = []
    last = -1e9
    for t, pcm in received:
        if t - last > GAP_S:
            utterances.append((t, b""))
        utterances[-1] = (utterances[-1][0], utterances[-1][1] + pcm)
        last = t
    audio = rec.audio
    lags = []
    for n, (t_recv, pcm) in enumerate(utterances, 1):
        ref = np.frombuffer(pcm, dtype="<i2")
        # Search near where it should be: from its arrival on, a few seconds.
        lo = max(0, rec.index_of(t_recv) - rec.rate // 10)
        window = audio[lo:lo + len(ref) + 3 * rec.rate]
        _, lag = ah.xcorr_peak(window, ref)
        piece = window[max(0, lag):max(0, lag) + len(ref)]
        corr, _ = ah.xcorr_peak(piece, ref)
        if corr < 0.9:
            print(f"utterance {n}: not found at the speaker (correlation {corr:.2f})",
                  file=sys.stderr)
            continue
        heard = rec.time_of(lo + lag)
        lags.append((heard - t_recv) * 1000)
        print(f"utterance {n}: received -> heard {lags[-1]:6.1f} ms", file=sys.stderr)
    if not lags:
        print(json.dumps({"error": "no utterance measured"}))
        return 1
    print(json.dumps({
        "client_lag_ms": {"median": round(statistics.median(lags), 1),
                          "worst": round(max(lags), 1)},
        "utterances": len(lags), "speaker_latency": latency, "block_ms": block_ms,
        "output_latency_ms": result.get("output_latency_ms"),
        "xruns": sink.xruns,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
