"""A protocol-faithful local Gemini Live API server (the "emulator").

The real google-genai SDK connects to it over TLS exactly as it does to Google::

    from voicecli.emulator import EmulatorConfig, EmulatorThread, client_ssl_context

    with EmulatorThread(EmulatorConfig()) as emu:
        client = genai.Client(api_key=emu.api_key, http_options=types.HttpOptions(
            base_url=emu.base_url, api_version="v1beta",
            async_client_args={"ssl": client_ssl_context(emu.ca_cert_path)}))

Layout: :mod:`.wire` (message normalising, routes, server message builders),
:mod:`.settings` (setup validation), :mod:`.vad` (server-side VAD), :mod:`.scenario`
(scripted turns, TOML format documented there), :mod:`.speech` (reply audio),
:mod:`.session` (the sans-I/O protocol core), :mod:`.server` (asyncio/websockets shell),
:mod:`.tls` (cached local CA + certificate), :mod:`.record` (what tests can inspect).
"""

from voicecli.emulator.config import EmulatorConfig
from voicecli.emulator.record import ConnectionRecord, RecordedEvent, RecordedMessage, ReplyRecord
from voicecli.emulator.scenario import Scenario, ScenarioError, load_scenario
from voicecli.emulator.server import Emulator, EmulatorThread, serve_forever
from voicecli.emulator.tls import client_ssl_context

__all__ = [
    "ConnectionRecord",
    "Emulator",
    "EmulatorConfig",
    "EmulatorThread",
    "RecordedEvent",
    "RecordedMessage",
    "ReplyRecord",
    "Scenario",
    "ScenarioError",
    "client_ssl_context",
    "load_scenario",
    "serve_forever",
]
