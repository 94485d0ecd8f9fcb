"""The emulator through the real google-genai SDK, over TLS, in-process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from google import genai
from google.genai import errors, types

from voicecli.emulator import (
    Emulator,
    EmulatorConfig,
    EmulatorThread,
    client_ssl_context,
    load_scenario,
)
from voicecli.emulator.speech import Synthesizer, sample_speech
from voicecli.emulator.tls import default_cert_dir, ensure_certificates

MODEL = "gemini-3.8-live"
SPEECH = sample_speech("Hello there, can you hear me?", synth=Synthesizer())
SILENCE = bytes(32 * 700)
DEFAULT = load_scenario(None)
TOOLS = [types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_current_time", description="Current local time")])]
FAST = {"pace": 8.0, "response_delay_ms": 50, "silence_duration_ms": 400}


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("certs")


@pytest.fixture(scope="module")
def emu(cert_dir: Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig(cert_dir=cert_dir, **FAST)) as emulator:
        yield emulator


def client_for(emu: Any, api_key: str | None = None) -> genai.Client:
    return genai.Client(api_key=api_key or emu.api_key, http_options=types.HttpOptions(
        base_url=emu.base_url, api_version="v1beta",
        async_client_args={"ssl": client_ssl_context(emu.ca_cert_path)}))


def live_config(**extra: Any) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(), **extra)


async def send_audio(session: Any, pcm: bytes, chunk_ms: int = 40, speed: float = 4.0) -> None:
    """Send 16 kHz PCM in chunks, ``speed`` times faster than real time."""
    step = 32 * chunk_ms
    for i in range(0, len(pcm), step):
        await session.send_realtime_input(
            audio=types.Blob(data=pcm[i:i + step], mime_type="audio/pcm;rate=16000"))
        await asyncio.sleep(chunk_ms / 1000 / speed)


class Turn:
    """What one ``receive()`` pass collected."""

    def __init__(self) -> None:
        self.messages: list[types.LiveServerMessage] = []
        self.audio = bytearray()
        self.input_text = ""
        self.output_text = ""

    def add(self, m: types.LiveServerMessage) -> None:
        self.messages.append(m)
        sc = m.server_content
        if m.data:
            self.audio += m.data
        if sc and sc.input_transcription:
            self.input_text += sc.input_transcription.text or ""
        if sc and sc.output_transcription:
            self.output_text += sc.output_transcription.text or ""

    def has(self, field: str) -> bool:
        for m in self.messages:
            if getattr(m, field, None) or (m.server_content and getattr(
                    m.server_content, field, None)):
                return True
        return False


async def collect(session: Any, until: str = "turn_complete", timeout: float = 10) -> Turn:
    """Read messages (across receive() passes) until one has ``until``."""
    turn = Turn()

    async def run() -> None:
        while True:
            async for m in session.receive():
                turn.add(m)
                if turn.has(until):
                    return

    await asyncio.wait_for(run(), timeout)
    return turn


def connect_error(emu: Any, config: types.LiveConnectConfig | None = None,
                  model: str = MODEL, api_key: str | None = None) -> errors.APIError:
    async def run() -> None:
        async with client_for(emu, api_key).aio.live.connect(model=model, config=config):
            pass

    with pytest.raises(errors.APIError) as e:
        asyncio.run(run())
    return e.value


# --------------------------------------------------------------------------- connecting

def test_setup_ok_and_recorded_without_the_key(emu: EmulatorThread) -> None:
    async def run() -> str | None:
        async with client_for(emu).aio.live.connect(model=MODEL, config=live_config()) as s:
            return s.session_id

    n = len(emu.connections)
    asyncio.run(run())
    rec = emu.connections[n]
    assert rec.path.endswith("/ws/google.ai.generativelanguage.v1beta.GenerativeService."
                             "BidiGenerateContent")
    assert rec.setup["model"] == f"models/{MODEL}"
    assert rec.raw_setup["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert rec.session_id and rec.sent[0].message == {"setupComplete": {
        "sessionId": rec.session_id}}
    assert {k.lower(): v for k, v in rec.headers.items()}["x-goog-api-key"] == "<redacted>"
    assert emu.api_key not in repr(rec)


def test_wrong_key_unknown_model_and_bad_voice(emu: EmulatorThread) -> None:
    e = connect_error(emu, api_key="wrong-key")
    assert e.code == 1008 and "API key not valid" in str(e.details)
    e = connect_error(emu, model="gemini-0-nonsense")
    assert e.code == 1008 and "models/gemini-0-nonsense is not found" in str(e.details)
    e = connect_error(emu, live_config(speech_config=types.SpeechConfig(
        voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(
            voice_name="Nobody")))))
    assert e.code == 1007 and "voice_name" in str(e.details)
    assert "wrong-key" not in repr(emu.connections)


def test_unknown_path_is_404(emu: EmulatorThread) -> None:
    async def run() -> None:
        url = emu.base_url.replace("https", "wss") + "/ws/nothing.here"
        async with websockets.connect(url, ssl=client_ssl_context(emu.ca_cert_path)):
            pass

    with pytest.raises(websockets.InvalidStatus) as e:
        asyncio.run(run())
    assert e.value.response.status_code == 404


def test_vertex_path_with_bearer_token(emu: EmulatorThread) -> None:
    async def run() -> dict[str, Any]:
        url = (emu.base_url.replace("https", "wss")
               + "//ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent")
        async with websockets.connect(
                url, ssl=client_ssl_context(emu.ca_cert_path),
                additional_headers={"Authorization": f"Bearer {emu.api_key}"}) as ws:
            await ws.send(json.dumps({"setup": {"model": (
                "projects/p/locations/us-central1/publishers/google/models/"
                "gemini-live-2.5-flash-native-audio")}}))
            return json.loads(await ws.recv())

    assert "setupComplete" in asyncio.run(run())


def test_vertex_express_mode_through_the_sdk(emu: EmulatorThread) -> None:
    client = genai.Client(vertexai=True, api_key=emu.api_key, http_options=types.HttpOptions(
        base_url=emu.base_url, api_version="v1beta1",
        async_client_args={"ssl": client_ssl_context(emu.ca_cert_path)}))

    async def run() -> Turn:
        model = "gemini-live-2.5-flash-native-audio"
        async with client.aio.live.connect(model=model, config=live_config()) as s:
            await s.send_realtime_input(text="hi")
            return await collect(s)

    turn = asyncio.run(run())
    usage = turn.messages[-1].usage_metadata  # Vertex names it candidatesTokenCount
    assert usage.response_token_count and turn.output_text == DEFAULT.turns[0].reply


# --------------------------------------------------------------------------- conversations

def test_speech_turn(emu: EmulatorThread) -> None:
    async def run() -> Turn:
        async with client_for(emu).aio.live.connect(model=MODEL, config=live_config()) as s:
            await send_audio(s, SPEECH + SILENCE)
            return await collect(s)

    n = len(emu.connections)
    turn = asyncio.run(run())
    rec = emu.connections[n]
    assert turn.input_text == DEFAULT.turns[0].user
    assert turn.output_text == DEFAULT.turns[0].reply
    assert bytes(turn.audio) == rec.replies[0].pcm
    assert rec.replies[0].duration_s > 1
    assert turn.has("generation_complete") and turn.has("turn_complete")
    usage = turn.messages[-1].usage_metadata
    assert usage.response_token_count > 0 and usage.prompt_token_count > 0
    assert usage.response_tokens_details[0].modality == types.MediaModality.AUDIO
    assert len(rec.input_pcm) == len(SPEECH + SILENCE) and rec.audio_chunks > 10
    assert all(m.message.get("realtime_input", {}).get("audio", {}).get("bytes", 1) > 0
               for m in rec.client_messages[1:])


def test_text_input_and_tool_round_trip(emu: EmulatorThread) -> None:
    async def run() -> tuple[Turn, Turn, Turn]:
        config = live_config(tools=TOOLS)
        async with client_for(emu).aio.live.connect(model=MODEL, config=config) as s:
            await s.send_realtime_input(text="Hello!")
            first = await collect(s)
            await s.send_realtime_input(text="What time is it?")
            call_turn = await collect(s, until="tool_call")
            call = call_turn.messages[-1].tool_call.function_calls[0]
            await s.send_tool_response(function_responses=[types.FunctionResponse(
                id=call.id, name=call.name, response={"time": "10:42"})])
            return first, call_turn, await collect(s)

    n = len(emu.connections)
    first, call_turn, answer = asyncio.run(run())
    assert first.output_text == DEFAULT.turns[0].reply and first.input_text == ""
    call = call_turn.messages[-1].tool_call.function_calls[0]
    assert call.name == "get_current_time" and call.id
    assert answer.output_text == "It is 10:42 right now."
    rec = emu.connections[n]
    assert rec.text_inputs == ["Hello!", "What time is it?"]
    assert rec.tool_responses == [{"id": call.id, "name": "get_current_time",
                                   "response": {"time": "10:42"}}]


def test_client_content_turn(emu: EmulatorThread) -> None:
    async def run() -> Turn:
        async with client_for(emu).aio.live.connect(model=MODEL, config=live_config()) as s:
            await s.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="Hi")]),
                turn_complete=True)
            return await collect(s)

    assert asyncio.run(run()).output_text == DEFAULT.turns[0].reply


def test_tool_call_cancellation(cert_dir: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "cancel.toml"
    scenario.write_text('[[turn]]\nuser = "Find it."\nreply = "Never mind that."\n'
                        'tool_call = { name = "get_current_time" }\ncancel_tool_call = true\n')
    cfg = EmulatorConfig(cert_dir=cert_dir, scenario=scenario, **FAST)
    with EmulatorThread(cfg) as emulator:
        async def run() -> Turn:
            config = live_config(tools=TOOLS)
            async with client_for(emulator).aio.live.connect(model=MODEL, config=config) as s:
                await s.send_realtime_input(text="Find it.")
                return await collect(s)

        turn = asyncio.run(run())
    call_id = next(m.tool_call for m in turn.messages if m.tool_call).function_calls[0].id
    cancel = next(m.tool_call_cancellation for m in turn.messages if m.tool_call_cancellation)
    assert cancel.ids == [call_id]
    assert turn.output_text == "Never mind that."


def test_parrot_mode(cert_dir: Path) -> None:
    with EmulatorThread(EmulatorConfig(cert_dir=cert_dir, scenario="parrot", **FAST)) as em:
        async def run() -> Turn:
            async with client_for(em).aio.live.connect(model=MODEL, config=live_config()) as s:
                await send_audio(s, SPEECH + SILENCE)
                return await collect(s)

        turn = asyncio.run(run())
    assert turn.input_text == turn.output_text == "(parrot)"
    seconds = len(turn.audio) / 2 / 24000
    assert seconds == pytest.approx(len(SPEECH) / 32000, abs=0.35)


def test_interruption(emu: EmulatorThread) -> None:
    async def run() -> tuple[Turn, Turn]:
        async with client_for(emu).aio.live.connect(model=MODEL, config=live_config()) as s:
            await send_audio(s, SPEECH + SILENCE)
            first = await collect(s)  # all sent (pace 8), still "playing" for seconds
            talk = asyncio.create_task(send_audio(s, SPEECH + SILENCE, speed=2.0))
            interrupted = await collect(s, until="interrupted")
            await talk
            second = await collect(s)
            first.messages += interrupted.messages
            return first, second

    n = len(emu.connections)
    first, second = asyncio.run(run())
    assert first.has("interrupted")
    rec = emu.connections[n]
    assert rec.replies[0].interrupted and not rec.replies[1].interrupted
    t_int = rec.times("interrupted")[0]
    assert rec.times("first_audio")[0] < rec.times("speech_start")[1] < t_int
    assert t_int < rec.replies[0].started_at + rec.replies[0].duration_s
    assert second.input_text == DEFAULT.turns[1].user  # the barge-in became the next turn


def test_session_resumption(emu: EmulatorThread) -> None:
    async def run() -> tuple[str, Turn]:
        config = live_config(session_resumption=types.SessionResumptionConfig())
        async with client_for(emu).aio.live.connect(model=MODEL, config=config) as s:
            await s.send_realtime_input(text="Hi")
            await collect(s)
            update = await collect(s, until="session_resumption_update")
        handle = [m.session_resumption_update.new_handle for m in update.messages
                  if m.session_resumption_update][-1]
        config = live_config(session_resumption=types.SessionResumptionConfig(handle=handle))
        async with client_for(emu).aio.live.connect(model=MODEL, config=config) as s:
            await s.send_realtime_input(text="Hi again")
            return handle, await collect(s)

    handle, turn = asyncio.run(run())
    assert handle
    assert turn.output_text == DEFAULT.turns[1].no_tool_reply  # turn 2 (no tools declared)
    e = connect_error(emu, live_config(
        session_resumption=types.SessionResumptionConfig(handle="made-up")))
    assert e.code == 1008 and "resumption handle" in str(e.details)


def test_every_sent_message_parses(emu: EmulatorThread) -> None:
    """Everything any connection of this module was sent parses as a LiveServerMessage."""
    seen: set[str] = set()
    for rec in emu.connections:
        for sent in rec.sent:
            msg = json.loads(json.dumps(sent.message))
            parts = msg.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
            for part in parts:
                part["inlineData"]["data"] = "AAAA"
            m = types.LiveServerMessage._from_response(response=msg, kwargs={})
            seen |= {k for k, v in m.model_dump(exclude_none=True).items() if v}
            if m.server_content:
                seen |= set(m.server_content.model_dump(exclude_none=True))
    assert {"setup_complete", "input_transcription", "output_transcription", "model_turn",
            "generation_complete", "turn_complete", "usage_metadata", "tool_call",
            "interrupted", "session_resumption_update"} <= seen


# --------------------------------------------------------------------------- plumbing

def test_async_emulator_and_certificates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cert_dir() == tmp_path / "voicecli" / "emulator"
    paths = ensure_certificates()
    before = paths.ca_cert.read_bytes()
    assert ensure_certificates().ca_cert.read_bytes() == before  # cached
    assert oct(paths.server_key.stat().st_mode & 0o777) == "0o600"

    async def run() -> None:
        emu = Emulator(EmulatorConfig(**FAST))
        await emu.start()
        try:
            assert emu.base_url.startswith("https://127.0.0.1:")
            assert emu.ca_cert_path == str(paths.ca_cert)
            ctx = client_ssl_context(emu.ca_cert_path)
            assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
            async with client_for(emu).aio.live.connect(model=MODEL) as s:
                await s.send_realtime_input(text="hi")
                assert (await collect(s)).audio
        finally:
            await emu.stop()

    asyncio.run(run())


def test_serve_forever_stops_on_ctrl_c(cert_dir: Path) -> None:
    code = ("from voicecli.emulator import EmulatorConfig, serve_forever\n"
            f"serve_forever(EmulatorConfig(cert_dir={str(cert_dir)!r}))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent.parent)
    try:
        line = proc.stderr.readline()
        assert "listening on https://127.0.0.1:" in line
        time.sleep(0.1)
        os.kill(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"no exit 10 s after Ctrl-C: {proc.communicate()[1]}") from None
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_thread_start_errors_are_raised(emu: EmulatorThread, cert_dir: Path) -> None:
    taken = EmulatorThread(EmulatorConfig(cert_dir=cert_dir, port=emu.port))
    with pytest.raises(OSError):
        taken.start()


def test_stopping_the_emulator_ends_its_tts_prewarm_thread():
    """The prewarm thread must not outlive the emulator as a daemon: one still inside soxr
    (C++) when the interpreter exits aborts the process (exit 134)."""
    import threading

    before = set(threading.enumerate())  # other tests' emulators may still be stopping
    with EmulatorThread(EmulatorConfig()):
        # Started before the port is bound; still synthesising (several texts to speak).
        prewarm = [t for t in set(threading.enumerate()) - before
                   if t.name == "emulator-tts-prewarm"]
    assert len(prewarm) == 1
    assert not prewarm[0].daemon
    prewarm[0].join(timeout=10)  # stopped with the emulator: after one text at most
    assert not prewarm[0].is_alive()
