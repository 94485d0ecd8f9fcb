"""Validating the client's ``setup`` message into :class:`SessionSettings` (pure).

Errors raise :class:`~voicecli.emulator.wire.ProtocolError` with the close code the real
service uses: 1008 for an unknown model, 1007 for a bad value (the reason names the field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from voicecli import catalog
from voicecli.emulator.wire import CLOSE_INVALID, CLOSE_POLICY, ProtocolError, Route

START_SENSITIVITIES = frozenset({
    "START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW",
})
END_SENSITIVITIES = frozenset({
    "END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW",
})
ACTIVITY_HANDLING = frozenset({
    "ACTIVITY_HANDLING_UNSPECIFIED", "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION",
})
TURN_COVERAGE = frozenset({
    "TURN_COVERAGE_UNSPECIFIED", "TURN_INCLUDES_ONLY_ACTIVITY", "TURN_INCLUDES_ALL_INPUT",
    "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
})
MEDIA_RESOLUTIONS = frozenset({"MEDIA_RESOLUTION_UNSPECIFIED", "MEDIA_RESOLUTION_LOW",
                               "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH"})
THINKING_LEVELS = frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"})


@dataclass(frozen=True)
class SessionSettings:
    """What a valid setup asked for."""

    model: str  # bare model id, e.g. "gemini-3.8-live"
    info: catalog.ModelInfo
    voice: str = catalog.DEFAULT_VOICE
    language: str | None = None
    input_transcription: bool = False
    output_transcription: bool = False
    automatic_activity_detection: bool = True
    silence_duration_ms: int | None = None
    prefix_padding_ms: int | None = None
    start_sensitivity: str | None = None
    end_sensitivity: str | None = None
    interrupts: bool = True  # activityHandling != NO_INTERRUPTION
    turn_coverage: str | None = None
    temperature: float | None = None
    thinking_level: str | None = None
    proactive_audio: bool | None = None
    affective_dialog: bool | None = None
    media_resolution: str | None = None
    tools: frozenset[str] = frozenset()
    search: bool = False  # google_search declared
    declarations: tuple[dict[str, Any], ...] = ()  # the function declarations, as sent
    system_instruction: str = ""
    resumption: bool = False
    resumption_handle: str | None = None
    transparent_resumption: bool = False
    target_language: str | None = None  # translate model: translation_config
    echo_target_language: bool = False


CONTEXT_WINDOW_TOKENS = 131072  # 128k, the documented Live context window


def _invalid(text: str) -> ProtocolError:
    return ProtocolError(CLOSE_INVALID, f"Invalid argument: {text}")


def _dict(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(f"{field} must be an object")
    return value


def _int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(f"{field} must be an integer, got {value!r}") from None
    if number < 0:
        raise _invalid(f"{field} must not be negative")
    return number


def _enum(value: Any, allowed: frozenset[str], field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in allowed:
        raise _invalid(f"{field}: unknown value {value!r}")
    return value.upper()


def model_id(name: str) -> str:
    """Return the bare model id of ``models/X``, ``publishers/google/models/X`` or ``X``."""
    return name.rsplit("models/", 1)[-1] if "models/" in name else name


def _resolve_model(name: Any, route: Route) -> tuple[str, catalog.ModelInfo]:
    if not isinstance(name, str) or not name:
        raise _invalid("setup.model is required")
    bare = model_id(name)
    info = catalog.MODELS.get(bare)
    if route.api == "vertex":
        if info is None or not info.vertex:
            raise ProtocolError(
                CLOSE_POLICY,
                f"Publisher Model `{name}` was not found or your project does not have "
                "access to it.",
            )
    elif info is None:
        raise ProtocolError(
            CLOSE_POLICY,
            f"models/{bare} is not found for API version {route.version}, or is not "
            "supported for bidiGenerateContent. Call ListModels to see the list of available "
            "models and their supported methods.",
        )
    return bare, info


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = _dict(content, "system_instruction").get("parts") or []
    return " ".join(p.get("text", "") for p in parts if isinstance(p, dict))


def parse_setup(setup: Any, route: Route) -> SessionSettings:
    """Validate a normalised (snake_case) ``setup`` body and return its settings."""
    setup = _dict(setup, "setup")
    model, info = _resolve_model(setup.get("model") or route.model, route)
    gen = _dict(setup.get("generation_config"), "generation_config")

    modalities = gen.get("response_modalities") or ["AUDIO"]
    if not isinstance(modalities, list) or [str(m).upper() for m in modalities] != ["AUDIO"]:
        raise _invalid(
            f"generation_config.response_modalities: {model} supports only [AUDIO], "
            f"got {modalities!r}"
        )

    speech = _dict(gen.get("speech_config") or setup.get("speech_config"), "speech_config")
    if speech.get("multi_speaker_voice_config") is not None:
        raise _invalid("speech_config.multi_speaker_voice_config is not supported in Live")
    voice_name = (
        _dict(_dict(speech.get("voice_config"), "voice_config").get("prebuilt_voice_config"),
              "prebuilt_voice_config").get("voice_name")
    )
    voice = catalog.DEFAULT_VOICE
    if voice_name is not None:
        try:
            voice = catalog.resolve_voice(str(voice_name))
        except ValueError:
            raise _invalid(
                f"speech_config.voice_config.prebuilt_voice_config.voice_name: unknown voice "
                f"{voice_name!r}"
            ) from None
    language = speech.get("language_code")
    if language is not None:
        try:
            language = catalog.resolve_language(str(language))
        except ValueError:
            raise _invalid(f"speech_config.language_code: unsupported {language!r}") from None

    thinking = _dict(gen.get("thinking_config"), "thinking_config")
    level = _enum(thinking.get("thinking_level"), THINKING_LEVELS, "thinking_level")
    if level is not None:
        if not info.thinking_levels:
            raise _invalid(f"thinking_config.thinking_level is not supported by {model}")
        if level.lower() not in info.thinking_levels:
            raise _invalid(f"thinking_config.thinking_level: unsupported {level!r} for {model}")
    temperature = gen.get("temperature", setup.get("temperature"))
    if temperature is not None:
        if "temperature" not in info.settings:
            raise _invalid(f"generation_config.temperature is not supported by {model}")
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) \
                or not 0.0 <= temperature <= 2.0:
            raise _invalid(f"generation_config.temperature must be between 0 and 2, got "
                           f"{temperature!r}")

    # The SDK sends it in generationConfig; accept it at the top of setup as well.
    resolution = _enum(gen.get("media_resolution"), MEDIA_RESOLUTIONS, "media_resolution")
    if resolution is not None and not info.video:
        raise _invalid(f"generation_config.media_resolution is not supported by {model}")
    affective = gen.get("enable_affective_dialog", setup.get("enable_affective_dialog"))
    if affective is not None and not info.affective_dialog:
        raise _invalid(f"enable_affective_dialog is not supported by {model}")
    proactivity = _dict(setup.get("proactivity"), "proactivity")
    proactive = proactivity.get("proactive_audio")
    if proactive is not None and info.proactive_audio == "no":
        raise _invalid(f"proactivity.proactive_audio is not supported by {model}")
    if proactive is False and info.proactive_audio == "always":
        raise _invalid(f"proactivity.proactive_audio cannot be disabled on {model}")

    tools, search, declarations = parse_tools(setup.get("tools"))
    system = _text_of(setup.get("system_instruction"))
    if info.translation:
        if setup.get("tools"):
            raise _invalid(f"tools are not supported by {model}")
        if system:
            raise _invalid(f"system_instruction is not supported by {model}")
    # The SDK sends it in generationConfig; accept it at the top of setup as well.
    translation = gen.get("translation_config", setup.get("translation_config"))
    target, echo_target = None, False
    if info.translation:
        target, echo_target = _translation_config(translation)
    elif translation is not None:
        raise _invalid(f"translation_config is only supported by {catalog.TRANSLATE_MODEL}")

    ric = _dict(setup.get("realtime_input_config"), "realtime_input_config")
    aad = _dict(ric.get("automatic_activity_detection"), "automatic_activity_detection")
    handling = _enum(ric.get("activity_handling"), ACTIVITY_HANDLING, "activity_handling")
    coverage = _enum(ric.get("turn_coverage"), TURN_COVERAGE, "turn_coverage")
    for setting, given in (("interruption", handling is not None),
                           ("turn_coverage", coverage is not None),
                           ("vad", bool(aad) and not aad.get("disabled"))):
        if given and setting not in info.settings:
            field = {"interruption": "activity_handling", "vad":
                     "automatic_activity_detection"}.get(setting, setting)
            raise _invalid(f"realtime_input_config.{field} is not supported by {model}")

    cwc = _dict(setup.get("context_window_compression"), "context_window_compression")
    trigger = _int(cwc.get("trigger_tokens"), "context_window_compression.trigger_tokens")
    keep = _int(_dict(cwc.get("sliding_window"), "sliding_window").get("target_tokens"),
                "context_window_compression.sliding_window.target_tokens")
    if trigger is not None and trigger > CONTEXT_WINDOW_TOKENS:
        raise _invalid(f"context_window_compression.trigger_tokens: {trigger} exceeds the "
                       f"context window of {model} ({CONTEXT_WINDOW_TOKENS} tokens)")
    if trigger is not None and keep is not None and keep >= trigger:
        raise _invalid("context_window_compression.sliding_window.target_tokens must be "
                       "less than trigger_tokens")

    resumption = setup.get("session_resumption")
    resumption_cfg = _dict(resumption, "session_resumption")
    handle = resumption_cfg.get("handle")

    return SessionSettings(
        model=model,
        info=info,
        voice=voice,
        language=language,
        input_transcription=setup.get("input_audio_transcription") is not None,
        output_transcription=setup.get("output_audio_transcription") is not None,
        automatic_activity_detection=not bool(aad.get("disabled", False)),
        silence_duration_ms=_int(aad.get("silence_duration_ms"), "silence_duration_ms"),
        prefix_padding_ms=_int(aad.get("prefix_padding_ms"), "prefix_padding_ms"),
        start_sensitivity=_enum(aad.get("start_of_speech_sensitivity"), START_SENSITIVITIES,
                                "start_of_speech_sensitivity"),
        end_sensitivity=_enum(aad.get("end_of_speech_sensitivity"), END_SENSITIVITIES,
                              "end_of_speech_sensitivity"),
        interrupts=handling != "NO_INTERRUPTION",
        turn_coverage=coverage,
        temperature=None if temperature is None else float(temperature),
        thinking_level=level,
        proactive_audio=proactive if isinstance(proactive, bool) else None,
        affective_dialog=affective if isinstance(affective, bool) else None,
        media_resolution=resolution,
        tools=frozenset(tools),
        search=search,
        declarations=declarations,
        system_instruction=system,
        resumption=resumption is not None,
        resumption_handle=str(handle) if handle else None,
        transparent_resumption=bool(resumption_cfg.get("transparent", False)),
        target_language=target,
        echo_target_language=echo_target,
    )


def parse_tools(value: Any) -> tuple[set[str], bool, tuple[dict[str, Any], ...]]:
    """(function names, google_search declared, the declarations) of a ``tools`` list."""
    if value is None:
        return set(), False, ()
    if not isinstance(value, list):
        raise _invalid("tools must be a list")
    names: set[str] = set()
    declarations: list[dict[str, Any]] = []
    search = False
    for tool in value:
        tool = _dict(tool, "tools")
        search = search or "google_search" in tool
        for decl in tool.get("function_declarations") or []:
            if not isinstance(decl, dict) or not decl.get("name"):
                raise _invalid("tools.function_declarations[].name is required")
            if "parameters" in decl and "parameters_json_schema" in decl:
                raise _invalid(f"function {decl['name']}: parameters and "
                               "parameters_json_schema are mutually exclusive")
            name = str(decl["name"])
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}", name):
                raise _invalid(f"tools.function_declarations: invalid function name {name!r}")
            names.add(name)
            declarations.append(decl)
    return names, search, tuple(declarations)


def _translation_config(value: Any) -> tuple[str, bool]:
    """The target language and echo flag of a translate model's ``translation_config``."""
    config = _dict(value, "translation_config")
    code = config.get("target_language_code")
    if not isinstance(code, str) or not code:
        raise _invalid("translation_config.target_language_code is required")
    try:
        target = catalog.resolve_translate_language(code)
    except ValueError:
        raise _invalid(f"translation_config.target_language_code: unsupported language "
                       f"{code!r}") from None
    echo = config.get("echo_target_language", False)
    if not isinstance(echo, bool):
        raise _invalid("translation_config.echo_target_language must be a boolean")
    return target, echo
