"""Turn connection failures into one line a person can act on.

The SDK surfaces server closes as ``APIError`` whose ``code`` is the WebSocket close code
(1007 bad argument, 1008 policy: bad key or model, 1011 internal) and ``details`` the reason.
"""

from __future__ import annotations

import socket
import ssl

from voicecli.errors import SessionError

# Setup fields the server names in a 1007 reason → the flag that sets them.
SETTING_FLAGS = (
    ("context_window_compression", "--compression-trigger-tokens or --no-compression"),
    ("voice_name", "--voice"),
    ("voice_config", "--voice"),
    ("language_code", "--language"),
    ("system_instruction", "--system"),
    ("tools", "--no-tools"),
    ("response_modalities", "--model"),
    ("thinking", "--model"),
)


def setting_hint(reason: str) -> str:
    """`` (check --flag)`` for the setting a 1007 reason names, or ``""``."""
    low = reason.lower().replace("contextwindowcompression", "context_window_compression")
    for field, flag in SETTING_FLAGS:
        if field in low:
            return f" (check {flag})"
    return ""


def describe_failure(exc: BaseException, endpoint: str) -> SessionError:
    """A :class:`SessionError` with one clear line for ``exc``."""
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        code = exc.code
        detail = (exc.details if isinstance(exc.details, str) else exc.message) or exc.status or ""
        detail = str(detail).strip()
        if code == 1008 and "key" in detail.lower():
            return SessionError(f"the API key or token was rejected by {endpoint}: {detail}")
        if code == 1008:
            return SessionError(f"the session was refused (1008): {detail}")
        if code == 1007:
            return SessionError(f"invalid session configuration (1007): {detail}"
                                + setting_hint(detail))
        if code == 1011:
            return SessionError(f"the server ended the session with an internal error "
                                f"(1011): {detail}")
        return SessionError(f"the connection ended ({code}): {detail or 'no reason given'}")
    from google.auth.exceptions import DefaultCredentialsError

    if isinstance(exc, DefaultCredentialsError):
        return SessionError("no Google Cloud credentials for Vertex AI: run 'gcloud auth "
                            "application-default login' or set GOOGLE_APPLICATION_CREDENTIALS")
    cause: BaseException = exc
    while (deeper := cause.__cause__ or cause.__context__) is not None:
        if isinstance(cause, ssl.SSLError | socket.gaierror | ConnectionRefusedError):
            break
        cause = deeper
    if isinstance(cause, ssl.SSLCertVerificationError):
        return SessionError(f"TLS certificate of {endpoint} not trusted ({cause.verify_message}); "
                            "use --ca-cert PATH for a private endpoint")
    if isinstance(cause, ssl.SSLError):
        return SessionError(f"TLS failure talking to {endpoint}: {cause.reason or cause}")
    if isinstance(cause, socket.gaierror):
        return SessionError(f"cannot resolve the host of {endpoint}: {cause.strerror}")
    if isinstance(cause, ConnectionRefusedError):
        return SessionError(f"connection refused by {endpoint}")
    if isinstance(cause, TimeoutError):
        return SessionError(f"timed out connecting to {endpoint}")
    from websockets.exceptions import InvalidProxy, InvalidStatus, ProxyError

    if isinstance(exc, ProxyError | InvalidProxy):
        return SessionError(f"the proxy refused the connection to {endpoint}: {exc}")

    if isinstance(exc, InvalidStatus):
        return SessionError(f"{endpoint} refused the connection: HTTP "
                            f"{exc.response.status_code}")
    return SessionError(f"connection to {endpoint} failed: {type(exc).__name__}: {exc}")
