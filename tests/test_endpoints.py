"""Any endpoint a user has: a Bearer-only proxy, a proxy's own WebSocket URL, ephemeral
tokens. End to end: the real CLI and the real SDK against the emulator, a conversation
from a WAV file; plus the pure route and auth checks."""

from __future__ import annotations

import asyncio

import pytest

from voicecli.emulator import EmulatorConfig, EmulatorThread, wire
from voicecli.live import dial
from voicecli.settings import Credentials
from voicecli_testing.cli import HELLO_WAV, assert_one_line_error, clean_env, run_cli

LIVESTREAM = "/v1beta/models/{model}/liveStream"
GOOGLE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def converse(emu, *endpoint: str, env: dict[str, str] | None = None):
    return run_cli("chat", *endpoint, "--ca-cert", emu.ca_cert_path, "--input", str(HELLO_WAV),
                   "--output", "/dev/null", env=env or clean_env())


def assert_conversation(proc) -> None:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "You: Hello, can you hear me?"
    assert lines[1].startswith("Gemini: Hi there!")


def test_base_url_with_only_a_bearer_header():
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = converse(emu, "--base-url", emu.base_url, "--api-version", "v1beta",
                        "--header", f"Authorization: Bearer {emu.api_key}")
    assert_conversation(proc)
    conn = emu.connections[0]
    assert conn.path == GOOGLE_PATH
    assert conn.headers["Authorization"] == "<redacted>"  # recorded without the token
    assert not any(k.lower() == "x-goog-api-key" for k in conn.headers)  # no Google key sent


def test_a_wrong_bearer_token_is_one_line_and_never_echoed():
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = converse(emu, "--base-url", emu.base_url,
                        "--header", "Authorization: Bearer sk-wrong-secret-token")
    assert_one_line_error(proc, "rejected")
    assert proc.returncode == 4
    assert "sk-wrong-secret-token" not in proc.stderr + proc.stdout


def test_full_websocket_url_with_bearer_and_model_filled_in():
    with EmulatorThread(EmulatorConfig()) as emu:
        url = f"wss://127.0.0.1:{emu.port}{LIVESTREAM}"
        proc = converse(emu, "--url", url, "--header", f"Authorization: Bearer {emu.api_key}")
    assert_conversation(proc)
    assert emu.connections[0].path == "/v1beta/models/gemini-3.8-live/liveStream"
    assert "[connecting] wss://127.0.0.1" in proc.stderr  # the endpoint, named


def test_full_websocket_url_takes_the_key_as_a_query_parameter():
    with EmulatorThread(EmulatorConfig()) as emu:
        url = f"wss://127.0.0.1:{emu.port}{LIVESTREAM}"
        proc = converse(emu, "--url", url, env=clean_env(GEMINI_API_KEY=emu.api_key))
    assert_conversation(proc)
    assert emu.connections[0].path.endswith("liveStream?key=<redacted>")
    assert emu.api_key not in proc.stderr


def test_full_websocket_url_reconnects_and_resumes():
    faults = ({"kind": "drop", "on": "first_audio", "delay_s": 0.1, "connection": 1},)
    with EmulatorThread(EmulatorConfig(faults=faults)) as emu:
        url = f"wss://127.0.0.1:{emu.port}{LIVESTREAM}"
        proc = converse(emu, "--url", url, "--header", f"Authorization: Bearer {emu.api_key}")
    assert proc.returncode == 0, proc.stderr
    assert "[reconnecting]" in proc.stderr and "[resumed]" in proc.stderr, proc.stderr
    assert len(emu.connections) == 2
    assert emu.connections[1].setup["session_resumption"]["handle"]  # resumed, not fresh
    assert proc.stdout.splitlines()[0] == "You: Hello, can you hear me?"


def test_ephemeral_token_uses_the_constrained_endpoint():
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = converse(emu, "--base-url", emu.base_url, env=clean_env(GEMINI_API_KEY=emu.token))
        bad = converse(emu, "--base-url", emu.base_url,
                       env=clean_env(GEMINI_API_KEY="auth_tokens/expired-one"))
    assert_conversation(proc)
    assert emu.connections[0].path.endswith("v1alpha.GenerativeService."
                                            "BidiGenerateContentConstrained")
    assert "Warning" not in proc.stderr  # the SDK's experimental warning is ours to know
    assert_one_line_error(bad, "rejected")


def test_endpoint_flags_are_checked_with_the_emulator_too():
    assert_one_line_error(run_cli("chat", "--emulator", "--header", "NoColon"), "--header")
    assert_one_line_error(run_cli("chat", "--emulator", "--ca-cert", "/nonexistent.pem"),
                          "--ca-cert")
    assert_one_line_error(run_cli("chat", "--emulator", "--base-url", "https://x.example"),
                          "--base-url does not apply with --emulator")
    assert_one_line_error(run_cli("chat", "--url", "https://x.example/live",
                                  env=clean_env(GEMINI_API_KEY="k")), "--url must be")
    assert_one_line_error(run_cli("translate", "--to", "de", "--emulator", "--url",
                                  "wss://x.example/{model}"), "--url does not apply")


# --------------------------------------------------------------------------- pure

def test_routes_and_who_may_use_them():
    stream = wire.parse_route("/v1beta/models/gemini-3.8-live/liveStream")
    assert stream == wire.Route("gemini", "v1beta", "liveStream", model="gemini-3.8-live")
    constrained = wire.parse_route("/ws/google.ai.generativelanguage.v1alpha.GenerativeService."
                                   "BidiGenerateContentConstrained")
    assert constrained is not None and constrained.constrained
    key, token = "emulator-key", "auth_tokens/t"
    assert wire.is_authorized(stream, {"Authorization": "Bearer emulator-key"}, "/", key, token)
    assert wire.is_authorized(stream, {}, "/x?key=emulator-key", key, token)
    assert not wire.is_authorized(stream, {"Authorization": "Bearer auth_tokens/t"}, "/", key,
                                  token)
    assert wire.is_authorized(constrained, {"Authorization": "Token auth_tokens/t"}, "/", key,
                              token)
    assert wire.is_authorized(constrained, {}, "/x?access_token=auth_tokens/t", key, token)
    assert not wire.is_authorized(constrained, {"x-goog-api-key": key}, "/", key, token)
    assert wire.redact_path("/x?access_token=secret&key=k") == \
        "/x?access_token=<redacted>&key=<redacted>"


def test_websocket_url_for_each_endpoint():
    proxy = Credentials(base_url="https://proxy.example/", headers=(("Authorization", "B"),))
    assert dial.needs_own_socket(proxy)
    assert dial.websocket_url(proxy, "models/m") == f"wss://proxy.example{GOOGLE_PATH}"
    own = Credentials(api_key="k&1", url="wss://h/v1beta/models/{model}/liveStream?alt=1")
    assert dial.websocket_url(own, "models/gemini-3.8-live") == \
        "wss://h/v1beta/models/gemini-3.8-live/liveStream?alt=1&key=k%261"
    assert not dial.needs_own_socket(Credentials(api_key="k", base_url="https://proxy"))
    assert "k&1" not in repr(own)


@pytest.mark.parametrize("with_tools", [False, True])
def test_own_socket_sends_the_setup_the_sdk_would(with_tools):
    """The two private SDK pieces dial.py uses still produce the SDK's own setup message."""
    from voicecli.live import client as live_client
    from voicecli.settings import Settings
    from voicecli.tools.builtin import BUILTIN_TOOLS
    from voicecli.tools.session import builtin_entries

    setups = []
    with EmulatorThread(EmulatorConfig()) as emu:
        settings = Settings(credentials=Credentials(api_key=emu.api_key, base_url=emu.base_url,
                                                    api_version="v1beta",
                                                    ca_cert=emu.ca_cert_path))
        declarations = [entry.declaration() for entry, _ in builtin_entries(BUILTIN_TOOLS)]
        config = live_client.make_config(settings, declarations if with_tools else [],
                                         search=with_tools)
        own = Credentials(url=f"wss://127.0.0.1:{emu.port}{LIVESTREAM}",
                          headers=(("Authorization", f"Bearer {emu.api_key}"),),
                          ca_cert=emu.ca_cert_path)

        async def both() -> None:
            for creds in (settings.credentials, own):
                async with live_client.make_dialer(creds)(settings.model,
                                                          config.model_copy()) as session:
                    setups.append(session.setup_complete)

        asyncio.run(both())
    assert all(s is not None and s.session_id for s in setups)
    sdk, ours = (c.raw_setup for c in emu.connections)
    assert ours == sdk
