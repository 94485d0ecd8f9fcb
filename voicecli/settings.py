"""Settings for a session: validated once, up front, into one immutable record.

Pure: reads only the mapping of environment variables it is given. Every problem becomes a
:class:`~voicecli.errors.ConfigError` with one line that says what to do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicecli import catalog
from voicecli.errors import ConfigError
from voicecli.live.reconnect import ReconnectPolicy
from voicecli.tools.mcp_config import Broken, McpServerConfig

TRUE_VALUES = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Credentials:
    """How to reach the Live API. ``api_key`` is never printed (see ``__repr__``)."""

    api_key: str | None = None  # or an ephemeral token, ``auth_tokens/...``
    vertex: bool = False
    project: str | None = None
    location: str | None = None
    base_url: str | None = None
    api_version: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    ca_cert: str | None = None
    url: str | None = None  # a full WebSocket URL (a proxy's own path); ``{model}`` filled in

    def __repr__(self) -> str:
        key = "<redacted>" if self.api_key else None
        headers = tuple((k, redact_header(k, v)) for k, v in self.headers)
        return (f"Credentials(api_key={key}, vertex={self.vertex}, project={self.project!r}, "
                f"location={self.location!r}, base_url={self.base_url!r}, "
                f"api_version={self.api_version!r}, headers={headers!r}, "
                f"ca_cert={self.ca_cert!r}, url={redact_url(self.url)!r})")

    __str__ = __repr__


SECRET_HEADERS = {"authorization", "x-goog-api-key", "proxy-authorization", "api-key", "x-api-key"}


def redact_header(name: str, value: str) -> str:
    return "<redacted>" if name.lower() in SECRET_HEADERS else value


def redact_url(url: str | None) -> str | None:
    """``url`` with the value of a ``key=`` or ``access_token=`` query parameter hidden."""
    if not url:
        return url
    import re

    return re.sub(r"((?:^|[?&])(?:key|access_token)=)[^&]*", r"\1<redacted>", url)


def redact(text: str, secrets: list[str | None]) -> str:
    """Replace every occurrence of each secret in ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "<redacted>")
    return text


@dataclass(frozen=True)
class LiveOptions:
    """The Live API settings a user picks (flags, ``VOICECLI_*``, the config file); each
    maps to one ``LiveConnectConfig`` field (see ``voicecli.live.client``). None: the
    server's default."""

    vad_start_sensitivity: str | None = None  # "low" | "high"
    vad_end_sensitivity: str | None = None  # "low" | "high"
    vad_prefix_padding_ms: int | None = None
    vad_silence_ms: int | None = None
    interruption: bool = True  # False: activity_handling NO_INTERRUPTION
    turn_coverage: str | None = None  # "activity" | "all"
    temperature: float | None = None
    thinking: str | None = None  # "low" | "medium" | "high"
    proactive_audio: bool | None = None
    affective_dialog: bool | None = None
    media_resolution: str | None = None  # "low" | "medium" | "high": frames' token cost

    @property
    def vad(self) -> bool:
        """Any automatic activity detection option is set."""
        return any(v is not None for v in (self.vad_start_sensitivity, self.vad_end_sensitivity,
                                           self.vad_prefix_padding_ms, self.vad_silence_ms))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> LiveOptions:
        """The options among merged config ``values`` (keys named as the fields)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in names and v is not None})


def check_live_options(model: str, options: LiveOptions, *, push_to_talk: bool = False) -> None:
    """A ConfigError (one line) for a setting ``model`` does not take. Unknown model ids
    pass: the server will say."""
    if push_to_talk and options.vad:
        raise ConfigError("the --vad-* settings tune the server's voice detection, which "
                          "--push-to-talk turns off")
    info = catalog.model_info(model)
    if info is None:
        return

    def refuse(flag: str, what: str, test: str) -> ConfigError:
        which = ", ".join(catalog.models_with(test)) or "none of the known models"
        return ConfigError(f"{flag}: {info.id} does not take {what} (models that do: {which})")

    checks = (("vad", options.vad, "--vad-* settings"),
              ("interruption", not options.interruption, "--no-interruption"),
              ("turn_coverage", options.turn_coverage is not None, "--turn-coverage"),
              ("temperature", options.temperature is not None, "--temperature"))
    for setting, given, flag in checks:
        if given and setting not in info.settings:
            raise ConfigError(f"{flag}: {info.id} does not take this setting")
    if options.thinking is not None:
        if not info.thinking_levels:
            raise refuse("--thinking", "a thinking level", "thinking_levels")
        if options.thinking not in info.thinking_levels:
            raise ConfigError(f"--thinking: {info.id} takes "
                              f"{', '.join(info.thinking_levels)}, got {options.thinking!r}")
    if options.affective_dialog and not info.affective_dialog:
        raise refuse("--affective-dialog", "affective dialog", "affective_dialog")
    if options.proactive_audio is not None:
        if info.proactive_audio == "no":
            raise refuse("--proactive-audio", "proactive audio", "proactive_audio")
        if info.proactive_audio == "always" and not options.proactive_audio:
            raise ConfigError(f"--no-proactive-audio: proactive audio is always on on "
                              f"{info.id}")


@dataclass(frozen=True)
class VideoRequest:
    """What to share: ``kind`` ``screen`` (``target``: a monitor number, None: the primary),
    ``camera`` (an index or a name) or ``video`` (a file played as the camera)."""

    kind: str
    target: str | None = None


def check_video(model: str, request: VideoRequest | None, fps: float, *,
                compression: bool, media_resolution: str | None) -> list[str]:
    """ConfigError for video the model cannot take; returns warnings worth saying."""
    info = catalog.model_info(model)
    if (request is not None or media_resolution) and info is not None and not info.video:
        raise ConfigError(f"--{request.kind if request else 'media-resolution'}: {info.id} "
                          "takes no video")
    warnings = []
    if request is not None and not compression:
        warnings.append("with --no-compression a session with video ends after about 2 "
                        "minutes (the Live API's limit for audio and video)")
    return warnings


def check_tools(model: str, *, search: bool, files: tuple[str, ...]) -> None:
    """A ConfigError for tools the model cannot take (unknown models pass)."""
    info = catalog.model_info(model)
    if info is None:
        return
    if search and not info.search:
        which = ", ".join(catalog.models_with("search"))
        raise ConfigError(f"--search: {info.id} does not take Google Search (models that do: "
                          f"{which})")
    if files and not info.tools:
        raise ConfigError(f"--tools-file: {info.id} takes no tools")


@dataclass(frozen=True)
class Settings:
    """Everything one ``voicecli chat`` run needs to know."""

    model: str = catalog.DEFAULT_MODEL
    voice: str = catalog.DEFAULT_VOICE
    language: str | None = None
    system_instruction: str | None = None
    credentials: Credentials = field(default_factory=Credentials)
    input_device: str | None = None
    output_device: str | None = None
    input_file: str | None = None  # a WAV path, or "-" for raw 16 kHz s16le on stdin
    output_file: str | None = None  # a WAV path
    output_format: str = "text"  # text | jsonl
    transcript_file: str | None = None
    tools: bool = True
    barge_in: bool = True
    push_to_talk: bool = False  # manual activity start/end instead of server VAD
    text_only: bool = False  # no microphone: type only
    mute_speaker: bool = False  # transcripts only, no reply audio played
    record_file: str | None = None  # stereo WAV: microphone left, assistant right
    # How the microphone lives with the speaker: "aec" (echo cancellation, open speakers),
    # "headphones" (no canceller) or "half_duplex" (mic muted while the assistant speaks).
    echo_mode: str = "aec"
    live: LiveOptions = field(default_factory=LiveOptions)  # the Live API settings
    tool_files: tuple[str, ...] = ()  # --tools-file: the user's own Python functions
    mcp_servers: tuple[McpServerConfig, ...] = ()
    mcp_broken: tuple[Broken, ...] = ()  # configured, but their configuration is unusable
    search: bool = False  # Google Search grounding
    yes: bool = False  # run tools that ask first without asking (no terminal to ask in)
    tool_scheduling: tuple[tuple[str, str], ...] = ()  # declared tool name -> scheduling
    video: VideoRequest | None = None  # share a screen, a camera or a file from the start
    fps: float = 1.0
    record_video: str | None = None  # keep the JPEGs that were sent in this folder
    compression: bool = True  # context window compression (sliding window)
    compression_trigger_tokens: int | None = None  # None: the server's default
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)


TOKEN_PREFIX = "auth_tokens/"  # an ephemeral token minted by a backend, used as the key


def is_ephemeral_token(key: str | None) -> bool:
    """True for a short-lived token (``auth_tokens/...``) rather than an API key."""
    return bool(key) and str(key).startswith(TOKEN_PREFIX)


def parse_header(raw: str) -> tuple[str, str]:
    """``Name: value`` as a pair; ConfigError for anything a server would reject."""
    name, sep, value = raw.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name or any(c.isspace() for c in name):
        raise ConfigError(f"--header must look like 'Name: value', got {redact_raw(raw)!r}")
    if "\r" in value or "\n" in value:
        raise ConfigError(f"--header {name}: the value must be one line")
    return name, value


def redact_raw(raw: str) -> str:
    """A ``--header`` argument fit for an error message (a secret's value hidden)."""
    name, sep, value = raw.partition(":")
    return f"{name}{sep} {redact_header(name.strip(), value.strip())}" if sep else raw


def check_endpoint_flags(*, base_url: str | None = None, url: str | None = None,
                         ca_cert: str | None = None,
                         headers: list[str] | None = None) -> tuple[tuple[str, str], ...]:
    """Validate the endpoint flags (the same way in every mode); returns the headers."""
    parsed = tuple(parse_header(h) for h in headers or [])
    if ca_cert is not None and not Path(ca_cert).is_file():
        raise ConfigError(f"--ca-cert: no such file: {ca_cert}")
    if base_url is not None and not base_url.startswith(("https://", "http://", "wss://")):
        raise ConfigError(f"--base-url must start with https://, got {base_url!r}")
    if url is not None:
        if not url.startswith(("wss://", "ws://")):
            raise ConfigError(f"--url must be a WebSocket URL (wss://...), got {url!r}")
        if base_url is not None:
            raise ConfigError("use either --url (a full WebSocket URL) or --base-url, not both")
    return parsed


def resolve_credentials(
    env: Mapping[str, str],
    *,
    vertex: bool | None = None,
    base_url: str | None = None,
    url: str | None = None,
    api_version: str | None = None,
    headers: list[str] | None = None,
    ca_cert: str | None = None,
) -> Credentials:
    """Find credentials the way google-genai users already know them.

    Gemini API: ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY`` (an ephemeral token
    ``auth_tokens/...`` works there too). Vertex AI: ``--vertex`` or
    ``GOOGLE_GENAI_USE_VERTEXAI=true`` with ``GOOGLE_CLOUD_PROJECT``/``GOOGLE_CLOUD_LOCATION``
    and application default credentials. A custom ``--base-url`` may carry its own auth in
    ``--header`` instead of a key; a full ``--url`` needs none of ours.
    """
    parsed_headers = check_endpoint_flags(base_url=base_url, url=url, ca_cert=ca_cert,
                                          headers=headers)
    use_vertex = bool(vertex) or env.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in TRUE_VALUES
    if use_vertex:
        if url is not None:
            raise ConfigError("--url is for Gemini API proxies; it does not apply to Vertex AI")
        project = env.get("GOOGLE_CLOUD_PROJECT")
        location = env.get("GOOGLE_CLOUD_LOCATION", "us-central1")
        key = env.get("GOOGLE_API_KEY")  # Vertex express mode
        if not project and not key and not base_url:
            raise ConfigError(
                "Vertex AI needs a project: set GOOGLE_CLOUD_PROJECT (and GOOGLE_CLOUD_LOCATION, "
                "default us-central1) and run 'gcloud auth application-default login'"
            )
        return Credentials(api_key=key if not project else None, vertex=True, project=project,
                           location=location, base_url=base_url, api_version=api_version,
                           headers=parsed_headers, ca_cert=ca_cert)
    key = env.get("GEMINI_API_KEY") or env.get("GOOGLE_API_KEY")
    has_header_auth = any(k.lower() in SECRET_HEADERS for k, _ in parsed_headers)
    if not key and url is None and not (base_url and has_header_auth):
        raise ConfigError(
            "no API key: set GEMINI_API_KEY (get one at https://aistudio.google.com/apikey), "
            "or use --vertex, or try it offline with 'voicecli chat --emulator'"
        )
    if is_ephemeral_token(key) and api_version is None:
        api_version = "v1alpha"  # the constrained endpoint tokens work on
    return Credentials(api_key=key, base_url=base_url, url=url, api_version=api_version,
                       headers=parsed_headers, ca_cert=ca_cert)


def read_system_instruction(text: str | None, path: str | None) -> str | None:
    if text is not None and path is not None:
        raise ConfigError("use either --system or --system-file, not both")
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"--system-file: cannot read {path}: {exc.strerror}") from None
    return text


def validate_choices(voice: str, language: str | None) -> tuple[str, str | None]:
    """Canonical voice and language, or a ConfigError listing the valid values."""
    try:
        voice = catalog.resolve_voice(voice)
        language = catalog.resolve_language(language) if language else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return voice, language


def environment() -> Mapping[str, str]:
    return os.environ
