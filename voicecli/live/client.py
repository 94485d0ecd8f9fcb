"""Build the google-genai client and Live config from :class:`~voicecli.settings.Settings`.

This module imports google-genai (≈0.5 s), so only the session path imports it.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from voicecli import catalog
from voicecli.settings import Credentials, LiveOptions, Settings, is_ephemeral_token

MIC_MIME = "audio/pcm;rate=16000"

# Opens one Live connection: (model, config) -> ``async with`` yielding an AsyncSession.
Dialer = Callable[[str, types.LiveConnectConfig], AbstractAsyncContextManager[Any]]


def make_dialer(creds: Credentials, **ws_args: Any) -> Dialer:
    """How to open each connection of a session for ``creds``: the SDK's own connect, or
    (a Bearer-only proxy, a full ``--url``) a socket of ours wrapped in the SDK's session
    (see :mod:`voicecli.live.dial`)."""
    from voicecli.live import dial as own

    if own.needs_own_socket(creds):
        api_client = own.placeholder_client()._api_client

        def dial_own(model: str,
                     config: types.LiveConnectConfig) -> AbstractAsyncContextManager[Any]:
            return own.open_session(creds, model, config, api_client, **ws_args)

        return dial_own
    client = make_client(creds, **ws_args)

    def dial(model: str, config: types.LiveConnectConfig) -> AbstractAsyncContextManager[Any]:
        return client.aio.live.connect(model=model, config=config)

    return dial


def make_client(creds: Credentials, **ws_args: Any) -> genai.Client:
    """A client for ``creds``. ``ws_args`` go to ``websockets.connect`` (ping settings...)."""
    async_args: dict[str, Any] = dict(ws_args)
    if creds.ca_cert:
        async_args["ssl"] = ssl.create_default_context(cafile=creds.ca_cert)
    http = types.HttpOptions(
        base_url=creds.base_url,
        api_version=creds.api_version,
        headers=dict(creds.headers) or None,
        async_client_args=async_args or None,
    )
    if is_ephemeral_token(creds.api_key):
        # The SDK warns on every connect that token support is experimental; the warning
        # would land in the user's terminal, and it is ours to know, not theirs.
        warnings.filterwarnings("ignore", category=genai_errors.ExperimentalWarning)
    if creds.vertex:
        if creds.project:
            return genai.Client(vertexai=True, project=creds.project, location=creds.location,
                                http_options=http)
        return genai.Client(vertexai=True, api_key=creds.api_key, http_options=http)
    return genai.Client(api_key=creds.api_key, http_options=http)


def make_config(settings: Settings, declarations: list[dict[str, Any]],
                search: bool = False) -> types.LiveConnectConfig:
    """The session setup: audio out, transcription both ways, voice, tools (function
    ``declarations`` and ``search``: Google Search grounding), resumption, context window
    compression."""
    info = catalog.model_info(settings.model)
    speech = types.SpeechConfig(
        voice_config=types.VoiceConfig(
            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=settings.voice)),
        language_code=settings.language,
    )
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=speech,
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    # Resumption always on (the handle is filled in per connection); on Vertex the server can
    # also say which client message it consumed last, so replays are exact.
    config.session_resumption = types.SessionResumptionConfig(
        transparent=True if settings.credentials.vertex else None)
    if settings.compression:  # sliding window: sessions can run for hours
        trigger = settings.compression_trigger_tokens
        config.context_window_compression = types.ContextWindowCompressionConfig(
            trigger_tokens=trigger,
            sliding_window=types.SlidingWindow(
                target_tokens=trigger // 2 if trigger else None))
    if settings.system_instruction and (info is None or info.system_instruction):
        config.system_instruction = types.Content(
            role="user", parts=[types.Part(text=settings.system_instruction)])
    live = settings.live
    config.realtime_input_config = realtime_input(live, push_to_talk=settings.push_to_talk)
    config.temperature = live.temperature
    if live.thinking is not None:
        config.thinking_config = types.ThinkingConfig(
            thinking_level=types.ThinkingLevel(live.thinking.upper()))
    if live.proactive_audio is not None:
        config.proactivity = types.ProactivityConfig(proactive_audio=live.proactive_audio)
    config.enable_affective_dialog = live.affective_dialog
    if live.media_resolution is not None:
        config.media_resolution = types.MediaResolution(
            f"MEDIA_RESOLUTION_{live.media_resolution.upper()}")
    tools = tool_list(declarations, search)
    if tools and (info is None or info.tools):
        config.tools = list(tools)
    return config


def tool_list(declarations: list[dict[str, Any]], search: bool = False) -> list[Any]:
    """The setup's (or a context update's) ``tools``."""
    out: list[Any] = []
    if search:
        out.append(types.Tool(google_search=types.GoogleSearch()))
    if declarations:
        out.append(types.Tool(function_declarations=[
            types.FunctionDeclaration(**d) for d in declarations]))
    return out


START_SENSITIVITY = {"low": types.StartSensitivity.START_SENSITIVITY_LOW,
                     "high": types.StartSensitivity.START_SENSITIVITY_HIGH}
END_SENSITIVITY = {"low": types.EndSensitivity.END_SENSITIVITY_LOW,
                   "high": types.EndSensitivity.END_SENSITIVITY_HIGH}
TURN_COVERAGE = {"activity": types.TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY,
                 "all": types.TurnCoverage.TURN_INCLUDES_ALL_INPUT}


def realtime_input(live: LiveOptions, *, push_to_talk: bool = False,
                   interruption: bool | None = None) -> types.RealtimeInputConfig | None:
    """``realtime_input_config`` for the options (None when all are the server's defaults).

    ``push_to_talk``: the user says when they talk (activity start/end), so the server's
    detection is off. ``interruption`` overrides ``live.interruption``."""
    detection = None
    if push_to_talk:
        detection = types.AutomaticActivityDetection(disabled=True)
    elif live.vad:
        detection = types.AutomaticActivityDetection(
            start_of_speech_sensitivity=START_SENSITIVITY.get(live.vad_start_sensitivity or ""),
            end_of_speech_sensitivity=END_SENSITIVITY.get(live.vad_end_sensitivity or ""),
            prefix_padding_ms=live.vad_prefix_padding_ms,
            silence_duration_ms=live.vad_silence_ms)
    interrupts = live.interruption if interruption is None else interruption
    handling = None if interrupts else types.ActivityHandling.NO_INTERRUPTION
    coverage = TURN_COVERAGE.get(live.turn_coverage or "")
    if detection is None and handling is None and coverage is None:
        return None
    return types.RealtimeInputConfig(automatic_activity_detection=detection,
                                     activity_handling=handling, turn_coverage=coverage)


def audio_blob(pcm: bytes) -> types.Blob:
    return types.Blob(data=pcm, mime_type=MIC_MIME)


def jpeg_blob(jpeg: bytes) -> types.Blob:
    return types.Blob(data=jpeg, mime_type="image/jpeg")


def function_response(call_id: str | None, name: str, result: dict[str, Any],
                      scheduling: str | None = None) -> Any:
    """A tool's answer; ``scheduling`` (silent, when_idle, interrupt) says when a model with
    asynchronous calls speaks of it."""
    return types.FunctionResponse(
        id=call_id, name=name, response=result,
        scheduling=types.FunctionResponseScheduling(scheduling.upper()) if scheduling else None)


def make_translate_config(target: str, source: str | None = None,
                          echo_target: bool = False,
                          live: LiveOptions | None = None) -> types.LiveConnectConfig:
    """The translate model's setup: its translation configuration, transcription both ways,
    and (``live``) its voice detection options, which decide where utterances end.

    No voice, tools or system instruction (the model takes none). ``source`` is a hint for
    the input transcription's language.
    """
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        translation_config=types.TranslationConfig(target_language_code=target,
                                                   echo_target_language=echo_target),
        input_audio_transcription=types.AudioTranscriptionConfig(
            language_codes=[source] if source else None),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        realtime_input_config=realtime_input(live) if live is not None else None,
    )


def make_interpreter_config(settings: Settings) -> types.LiveConnectConfig:
    """A conversational model as an interpreter: ``settings.system_instruction`` holds the
    interpreter prompt; the user talking over the translation must not cut it off."""
    config = make_config(settings, [])
    config.realtime_input_config = realtime_input(settings.live, interruption=False)
    return config


def activity(start: bool) -> dict[str, Any]:
    """``send_realtime_input`` arguments for push-to-talk's activity start or end."""
    if start:
        return {"activity_start": types.ActivityStart()}
    return {"activity_end": types.ActivityEnd()}
