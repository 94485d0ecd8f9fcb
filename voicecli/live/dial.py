"""Open a Live session on a WebSocket voicecli opens itself, for endpoints the SDK cannot build.

The SDK's ``client.aio.live.connect`` builds the URL and the auth from the client: a Google
key (header ``x-goog-api-key``), an ephemeral token, or Vertex credentials. Two kinds of
endpoint need more:

- a proxy on Google's path that takes only ``Authorization: Bearer ...`` (no Google key at
  all: the SDK refuses to make a client without one);
- a proxy with its own path, ``wss://HOST/v1beta/models/{model}/liveStream``.

For those, :func:`open_session` opens the WebSocket with our headers and TLS settings, does
the setup exchange exactly as ``google.genai.live.AsyncLive.connect`` does (same setup JSON
from the SDK's own converters, same errors for a close during setup) and wraps the socket in
the SDK's :class:`~google.genai.live.AsyncSession`, so the rest of voicecli (sending,
receiving, reconnecting, resuming) cannot tell the difference. It uses three private pieces
of the SDK (the config transformer and the mldev converter, as ``connect`` does);
``tests/test_endpoints.py`` pins them.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from google import genai
from google.genai import _common, errors, live, types
from google.genai import _live_converters as converters
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from voicecli.settings import Credentials

GOOGLE_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"


def needs_own_socket(creds: Credentials) -> bool:
    """True when the SDK cannot open this endpoint itself (see the module docstring)."""
    return creds.url is not None or (not creds.vertex and not creds.api_key)


def websocket_url(creds: Credentials, model: str) -> str:
    """The URL to open: ``--url`` with ``{model}`` filled in (and ``?key=`` when a key is
    given), or the base URL with Google's path."""
    bare = model.removeprefix("models/")
    if creds.url is not None:
        url = creds.url.replace("{model}", quote(bare, safe=""))
        if creds.api_key:
            url += ("&" if "?" in url else "?") + "key=" + quote(creds.api_key, safe="")
        return url
    base = (creds.base_url or "").rstrip("/")
    scheme, sep, rest = base.partition("://")
    ws_scheme = "ws" if scheme == "ws" else "wss"  # as the SDK does: https -> wss
    return f"{ws_scheme}{sep}{rest}" + GOOGLE_PATH.format(version=creds.api_version or "v1beta")


def placeholder_client() -> genai.Client:
    """A client for the SDK's converters and session types only: its key never goes out
    (the socket is ours, and so are its headers)."""
    return genai.Client(vertexai=False, api_key="unused-by-voicecli")


async def setup_request(api_client: Any, model: str,
                        config: types.LiveConnectConfig) -> tuple[str, types.LiveConnectConfig]:
    """The setup message the SDK would send for ``model`` and ``config`` (Gemini API form),
    and the transformed config (the SDK parses the setup response against it)."""
    from google.genai import _transformers as t

    transformed_model = t.t_model(api_client, model)
    parameter_model = await live._t_live_connect_config(api_client, config)
    request_dict = _common.convert_to_dict(
        converters._LiveConnectParameters_to_mldev(
            api_client=api_client,
            from_object=types.LiveConnectParameters(
                model=transformed_model, config=parameter_model,
            ).model_dump(exclude_none=True),
        )
    )
    request_dict.pop("config", None)
    encoded: dict[str, Any] = _common.encode_unserializable_types(request_dict)
    encoded.setdefault("setup", {})["model"] = transformed_model
    return json.dumps(encoded), parameter_model


@contextlib.asynccontextmanager
async def open_session(creds: Credentials, model: str, config: types.LiveConnectConfig,
                       api_client: Any, **ws_args: Any) -> AsyncIterator[live.AsyncSession]:
    """Open one connection and do the setup exchange; yields the SDK's AsyncSession."""
    url = websocket_url(creds, model)
    request, parameter_model = await setup_request(api_client, model, config)
    tls: Any = None
    if url.startswith("wss://"):
        tls = ssl.create_default_context(cafile=creds.ca_cert) if creds.ca_cert else True
    async with ws_connect(url, additional_headers=dict(creds.headers) or None, ssl=tls,
                          **ws_args) as ws:
        await ws.send(request)
        try:
            raw = await ws.recv(decode=False)
        except ConnectionClosed as e:  # as the SDK reports a close during setup
            code, reason = (e.rcvd.code, e.rcvd.reason) if e.rcvd else (1006,
                                                                        "Abnormal closure.")
            errors.APIError.raise_error(code, reason, None)
        response = json.loads(raw) if raw else {}
        setup = types.LiveServerMessage._from_response(
            response=response, kwargs=parameter_model.model_dump())
        complete = setup.setup_complete
        yield live.AsyncSession(api_client=api_client, websocket=ws,
                                session_id=complete.session_id if complete else None,
                                setup_complete=complete)
