"""Wire-format helpers: normalising client JSON, base64, routes, and server message builders.

Everything here is pure (no I/O). The Live API accepts camelCase and snake_case keys
anywhere, so client messages are normalised to snake_case once, with user-defined payloads
(function ``args``/``response``, JSON schemas) left untouched. Server messages are built in
camelCase, the form Google sends.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

# Close codes the real service uses.
CLOSE_INVALID = 1007  # invalid argument / unparseable message
CLOSE_POLICY = 1008  # bad API key, unknown model, bad resumption handle
CLOSE_INTERNAL = 1011  # internal error, "Deadline expired"

API_KEY_INVALID = "API key not valid. Please pass a valid API key."
MAX_REASON_BYTES = 123  # RFC 6455: a close reason fits in 123 bytes of UTF-8

# Subtrees whose keys are user data and must not be renamed.
OPAQUE_KEYS = frozenset({
    "args", "response", "parameters", "parameters_json_schema", "response_json_schema",
    "response_schema", "properties", "partial_args",
})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class ProtocolError(Exception):
    """A client error that ends the session with a WebSocket close ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = close_reason(reason)


def snake(key: str) -> str:
    """Return ``key`` in snake_case (``mimeType`` -> ``mime_type``)."""
    return _CAMEL.sub("_", key).lower()


def normalize(value: Any) -> Any:
    """Return ``value`` with every dict key in snake_case, leaving user payloads verbatim."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = snake(key) if isinstance(key, str) else key
            out[name] = item if name in OPAQUE_KEYS else normalize(item)
        return out
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value


def close_reason(text: str) -> str:
    """Trim ``text`` to what fits in a close frame (123 bytes of UTF-8)."""
    data = text.encode()
    if len(data) <= MAX_REASON_BYTES:
        return text
    return data[:MAX_REASON_BYTES].decode(errors="ignore")


def b64decode(data: str | bytes) -> bytes:
    """Decode standard or URL-safe base64, padded or not."""
    if isinstance(data, bytes):
        data = data.decode("ascii")
    data = data.strip()
    data += "=" * (-len(data) % 4)
    return base64.b64decode(data, altchars=b"-_")


def b64encode(data: bytes) -> str:
    """Encode bytes as standard padded base64, as Google's servers do."""
    return base64.b64encode(data).decode("ascii")


def pcm_rate(mime_type: str | None, default: int = 16000) -> int | None:
    """Return the sample rate of an ``audio/pcm`` MIME type, or None if it is not PCM audio."""
    if not mime_type:
        return default
    kind, *params = (p.strip() for p in mime_type.split(";"))
    if kind.lower() not in ("audio/pcm", "audio/l16", "audio/raw"):
        return None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "rate" and value.strip().isdigit():
            return int(value.strip())
    return default


# --------------------------------------------------------------------------- routes

@dataclass(frozen=True)
class Route:
    """Which endpoint a WebSocket path names."""

    api: str  # "gemini" or "vertex"
    version: str  # "v1beta", "v1", ...
    # "BidiGenerateContent", "BidiGenerateContentConstrained" (ephemeral tokens) or
    # "liveStream" (a proxy's own path, /v1beta/models/{model}/liveStream, Bearer auth)
    method: str
    model: str | None = None  # the model named by a liveStream path

    @property
    def constrained(self) -> bool:
        """The endpoint for ephemeral tokens (``auth_tokens/...``)."""
        return self.method == "BidiGenerateContentConstrained"


_GEMINI_PATH = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(v1|v1beta|v1alpha)\.GenerativeService\."
    r"(BidiGenerateContent|BidiGenerateContentConstrained)$"
)
_LIVESTREAM_PATH = re.compile(r"^/(v1|v1beta|v1alpha)/models/([A-Za-z0-9._-]+):?/?liveStream$")
_VERTEX_PATH = re.compile(
    r"^/ws/google\.cloud\.aiplatform\.(v1|v1beta1)\.LlmBidiService/(BidiGenerateContent)$"
)


def split_path(raw: str) -> tuple[str, dict[str, list[str]]]:
    """Split a request target into a normalised path (no duplicate slashes) and its query."""
    path, _, query = raw.partition("?")
    path = "/" + "/".join(part for part in path.split("/") if part)
    return path, parse_qs(query)


def parse_route(raw_path: str) -> Route | None:
    """Return the Live API route for a request path, or None for an unknown path."""
    path, _ = split_path(raw_path)
    if m := _GEMINI_PATH.match(path):
        return Route("gemini", m.group(1), m.group(2))
    if m := _VERTEX_PATH.match(path):
        return Route("vertex", m.group(1), m.group(2))
    if m := _LIVESTREAM_PATH.match(unquote(path)):
        return Route("gemini", m.group(1), "liveStream", model=m.group(2))
    return None


def is_authorized(route: Route, headers: dict[str, str], raw_path: str, api_key: str,
                  token: str | None = None) -> bool:
    """Check the credentials a client presented (header names are case-insensitive).

    The constrained endpoint takes only the ephemeral ``token`` (``Authorization: Token``,
    ``x-goog-api-key`` or ``?access_token=``), every other endpoint only the key."""
    lower = {k.lower(): v for k, v in headers.items()}
    query = split_path(raw_path)[1]
    offered: list[str] = []
    auth = lower.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in ("bearer", "token") and value:
        offered.append(value.strip())
    if "x-goog-api-key" in lower:  # Gemini API; also Vertex "express mode"
        offered.append(lower["x-goog-api-key"].strip())
    if route.constrained:
        offered.extend(query.get("access_token", []))
        wanted = token
    else:
        if route.api == "gemini":
            offered.extend(query.get("key", []))
        wanted = api_key
    if not wanted:
        return False
    return any(hmac.compare_digest(o.encode(), wanted.encode()) for o in offered)


_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization", "proxy-authorization", "cookie"})


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Return a copy of ``headers`` with credentials replaced by ``<redacted>``."""
    return {k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def redact_path(raw_path: str) -> str:
    """Return ``raw_path`` with any ``key=`` query value removed."""
    return re.sub(r"([?&](?:key|access_token)=)[^&]*", r"\1<redacted>", raw_path)


# --------------------------------------------------------------------------- server messages

def setup_complete(session_id: str) -> dict[str, Any]:
    """``setupComplete``."""
    return {"setupComplete": {"sessionId": session_id}}


def input_transcription(text: str) -> dict[str, Any]:
    """One fragment of the user's speech transcription."""
    return {"serverContent": {"inputTranscription": {"text": text}}}


def output_transcription(text: str) -> dict[str, Any]:
    """One fragment of the model's speech transcription."""
    return {"serverContent": {"outputTranscription": {"text": text}}}


def audio_chunk(pcm: bytes, rate: int = 24000) -> dict[str, Any]:
    """A model-turn part carrying PCM audio."""
    blob = {"mimeType": f"audio/pcm;rate={rate}", "data": b64encode(pcm)}
    return {"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}}


def grounding(queries: list[str], sources: list[dict[str, str]]) -> dict[str, Any]:
    """``groundingMetadata`` of a reply grounded in Google Search."""
    chunks = [{"web": {"uri": s["uri"], "title": s.get("title", s["uri"])}} for s in sources]
    return {"serverContent": {"groundingMetadata": {"webSearchQueries": queries,
                                                    "groundingChunks": chunks}}}


def generation_complete() -> dict[str, Any]:
    """``generationComplete``."""
    return {"serverContent": {"generationComplete": True}}


def interrupted() -> dict[str, Any]:
    """``interrupted`` (the user barged in)."""
    return {"serverContent": {"interrupted": True}}


def turn_complete(usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """``turnComplete``, with the turn's ``usageMetadata`` alongside as Google sends it."""
    message: dict[str, Any] = {"serverContent": {"turnComplete": True}}
    if usage is not None:
        message["usageMetadata"] = usage
    return message


def usage_metadata(
    prompt: dict[str, int], response: dict[str, int], *, vertex: bool = False
) -> dict[str, Any]:
    """``usageMetadata`` from per-modality token counts (Vertex names them ``candidates``)."""
    prompt_total, response_total = sum(prompt.values()), sum(response.values())

    def details(counts: dict[str, int]) -> list[dict[str, Any]]:
        return [{"modality": m, "tokenCount": n} for m, n in counts.items() if n]

    prefix = "candidates" if vertex else "response"
    return {
        "promptTokenCount": prompt_total,
        f"{prefix}TokenCount": response_total,
        "totalTokenCount": prompt_total + response_total,
        "promptTokensDetails": details(prompt),
        f"{prefix}TokensDetails": details(response),
    }


def tool_call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """``toolCall`` with one function call."""
    return {"toolCall": {"functionCalls": [{"id": call_id, "name": name, "args": args}]}}


def tool_call_cancellation(ids: list[str]) -> dict[str, Any]:
    """``toolCallCancellation``."""
    return {"toolCallCancellation": {"ids": ids}}


def resumption_update(handle: str, last_index: int | None = None) -> dict[str, Any]:
    """``sessionResumptionUpdate`` (int64 index sent as a string, as proto3 JSON does)."""
    body: dict[str, Any] = {"newHandle": handle, "resumable": True}
    if last_index is not None:
        body["lastConsumedClientMessageIndex"] = str(last_index)
    return {"sessionResumptionUpdate": body}


def go_away(seconds_left: float) -> dict[str, Any]:
    """``goAway`` with a Duration string."""
    return {"goAway": {"timeLeft": f"{seconds_left:g}s"}}


def elide_audio(message: dict[str, Any]) -> dict[str, Any]:
    """Return ``message`` with inline audio data replaced by ``"<N bytes>"`` (for records)."""
    parts = message.get("serverContent", {}).get("modelTurn", {}).get("parts")
    if not parts:
        return message
    new_parts = []
    for part in parts:
        blob = part.get("inlineData")
        if blob and "data" in blob:
            size = len(b64decode(blob["data"]))
            part = {**part, "inlineData": {**blob, "data": f"<{size} bytes>"}}
        new_parts.append(part)
    content = {**message["serverContent"], "modelTurn": {"parts": new_parts}}
    return {**message, "serverContent": content}
