"""The ``voicecli`` command line.

Start-up matters: this module imports only typer and voicecli's pure modules; the SDK
(google-genai, ≈0.5 s) and PortAudio are imported inside the commands that need them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar, cast

import typer

from voicecli import __version__, catalog
from voicecli.errors import ConfigError, UserError

app = typer.Typer(
    name="voicecli",
    help="Talk to Gemini Live from your terminal. Try it offline: voicecli chat --emulator",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line on stderr and return the Exit to raise."""
    typer.echo(f"voicecli: error: {message}", err=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn UserError into one line on stderr and its exit code; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return cast(F, wrapper)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"voicecli {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Talk to Gemini Live from your terminal."""


@contextlib.contextmanager
def _maybe_emulator(enabled: bool, scenario: str | None) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from voicecli.emulator import EmulatorConfig, EmulatorThread

    with EmulatorThread(EmulatorConfig(scenario=scenario)) as emu:
        yield emu


PTT_KEY_HELP = ("Push-to-talk (needs a terminal): Space on an empty input line talks; tap "
                "it to start and again to stop (any terminal), or hold it (where the "
                "terminal repeats held keys).")

# -- options chat and translate share, declared once -------------------------------------
SessionProfileOpt = Annotated[str | None, typer.Option(
    "--profile", help="Use [profiles.NAME] of the config file (or VOICECLI_PROFILE).")]
VertexOpt = Annotated[bool, typer.Option(
    "--vertex", help="Use Vertex AI (GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION, ADC).")]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--base-url", help="Custom endpoint (a proxy), e.g. https://proxy.example; its auth may "
    "be a --header instead of a key.")]
UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="A proxy's own WebSocket URL, e.g. "
    "wss://HOST/v1beta/models/{model}/liveStream ({model} is filled in; a key goes as ?key=).")]
ApiVersionOpt = Annotated[str | None, typer.Option(
    "--api-version", help="API version (v1, v1beta, v1alpha).")]
HeaderOpt = Annotated[list[str] | None, typer.Option(
    "--header", help="Extra header 'Name: value' (repeatable).")]
CaCertOpt = Annotated[str | None, typer.Option(
    "--ca-cert", help="Trust this CA/certificate PEM for a private TLS endpoint.")]
InputDeviceOpt = Annotated[str | None, typer.Option(
    "--input-device", help="Microphone: index or name substring.")]
OutputDeviceOpt = Annotated[str | None, typer.Option(
    "--output-device", help="Speaker: index or name substring.")]
InputOpt = Annotated[str | None, typer.Option(
    "--input", help="A WAV file (any rate) instead of the microphone, or '-' for raw 16 kHz "
    "s16le on stdin.")]
OutputOpt = Annotated[str | None, typer.Option(
    "--output", help="Write the audio to a 24 kHz WAV instead of the speaker.")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", help="stdout format: text or jsonl. Default text.")]
TranscriptOpt = Annotated[str | None, typer.Option(
    "--transcript", help="Append finished lines to this file.")]
EmulatorOpt = Annotated[bool, typer.Option(
    "--emulator", help="Talk to a built-in offline Live API emulator (no key needed).")]
ScenarioOpt = Annotated[str | None, typer.Option(
    "--scenario", help="With --emulator: a scenario file, or 'parrot'.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No status lines or summary on stderr.")]
VadStartOpt = Annotated[str | None, typer.Option(
    "--vad-start-sensitivity", help="The server's voice detection: how easily speech "
    "starts (low or high).")]
VadEndOpt = Annotated[str | None, typer.Option(
    "--vad-end-sensitivity", help="How easily speech ends (low or high).")]
VadPrefixOpt = Annotated[int | None, typer.Option(
    "--vad-prefix-padding-ms", help="Speech needed before a start of speech is committed.")]
VadSilenceOpt = Annotated[int | None, typer.Option(
    "--vad-silence-ms", help="Silence that ends the user's turn.")]

SearchOpt = Annotated[bool | None, typer.Option(
    "--search/--no-search", help="Ground replies in Google Search; the sources are shown "
    "under the reply.")]
ToolsFileOpt = Annotated[list[str] | None, typer.Option(
    "--tools-file", help="Offer the public, type-hinted, documented functions of this "
    "Python file as tools (repeatable).")]
McpConfigOpt = Annotated[list[str] | None, typer.Option(
    "--mcp-config", help="MCP servers from an mcpServers JSON file (Claude Desktop, Cursor, "
    "Gemini CLI format; repeatable).")]
YesOpt = Annotated[bool, typer.Option(
    "--yes", "-y", help="Run tools that ask first without asking (needed when there is no "
    "terminal to ask in).")]

LIVE_KEYS = ("vad_start_sensitivity", "vad_end_sensitivity", "vad_prefix_padding_ms",
             "vad_silence_ms")


def _merged(flags: dict[str, Any], profile: str | None) -> Any:
    """Flags over ``VOICECLI_*`` over the config file over defaults, every value checked."""
    from voicecli import config as cfg

    return cfg.merge(flags, os.environ, cfg.read_config(cfg.config_path()), profile)


def _mcp_servers(conf: Any, mcp_config: list[str] | None) -> tuple[list[Any], list[Any]]:
    """The MCP servers to start (config tables, then --mcp-config files) and those whose
    configuration is broken (each becomes one 'failed' line)."""
    from voicecli.tools import mcp_config as mc

    tables = mc.from_tables(conf["mcp_servers"] or {}, os.environ)
    files = [mc.from_json_file(path, os.environ) for path in mcp_config or []]
    servers = mc.combine(tables, *files)
    return ([s for s in servers if isinstance(s, mc.McpServerConfig)],
            [s for s in servers if isinstance(s, mc.Broken)])


def _video_request(screen: str | None, camera: str | None, video: str | None) -> Any:
    """What --screen, --camera or --video ask to share (one at most), checked now: the
    package to install, the file to play."""
    from voicecli.settings import VideoRequest
    from voicecli.video.capture import require

    given = [(k, v) for k, v in (("screen", screen), ("camera", camera), ("video", video))
             if v is not None]
    if not given:
        return None
    if len(given) > 1:
        raise ConfigError("share one thing at a time: --screen, --camera or --video")
    kind, target = given[0]
    require(kind)
    if kind == "screen" and target != "primary" and not target.isdigit():
        raise ConfigError(f"--screen takes a screen number, got {target!r}")
    if kind == "video" and not os.path.isfile(target):
        raise ConfigError(f"--video: no such file: {target}")
    return VideoRequest(kind, None if target == "primary" else target)


def _check_common(*, emulator: bool, scenario: str | None, base_url: str | None,
                  url: str | None, ca_cert: str | None, vertex: bool, header: list[str] | None,
                  input: str | None, outputs: dict[str, str | None]) -> None:
    """What chat and translate check alike, before anything starts: the endpoint flags (the
    same way with or without --emulator) and that every output can be written."""
    from voicecli import settings as st
    from voicecli.outfiles import check_writable

    st.check_endpoint_flags(base_url=base_url, url=url, ca_cert=ca_cert, headers=header)
    if scenario is not None and not emulator:
        raise ConfigError("--scenario only applies with --emulator")
    if emulator:
        for flag, given in (("--base-url", base_url), ("--url", url), ("--ca-cert", ca_cert),
                            ("--vertex", vertex or None)):
            if given is not None:
                raise ConfigError(f"{flag} does not apply with --emulator (it runs its own "
                                  "endpoint)")
    for flag, path in outputs.items():
        if path is not None:
            if path == input:
                raise ConfigError(f"{flag} would overwrite --input {path}")
            check_writable(path, flag)


@app.command(epilog="Settings come from flags, then VOICECLI_* environment variables, then "
                    "the config file ('voicecli config path'), then defaults. In the live view "
                    "type a line to send it as text; /mute /unmute /quit /help. "
                    + PTT_KEY_HELP)
@friendly_errors
def chat(
    model: Annotated[str | None, typer.Option(help="Live model id (any string; see 'voicecli "
                                              f"models'). Default {catalog.DEFAULT_MODEL}."
                                              )] = None,
    voice: Annotated[str | None, typer.Option(help="Prebuilt voice (see 'voicecli voices'). "
                                              f"Default {catalog.DEFAULT_VOICE}.")] = None,
    language: Annotated[str | None, typer.Option(help="Speech language, BCP-47 (e.g. en-US)."
                                                 )] = None,
    system: Annotated[str | None, typer.Option(help="System instruction text.")] = None,
    system_file: Annotated[str | None, typer.Option(help="Read the system instruction "
                                                         "from a file.")] = None,
    profile: SessionProfileOpt = None,
    vertex: VertexOpt = False,
    base_url: BaseUrlOpt = None,
    url: UrlOpt = None,
    api_version: ApiVersionOpt = None,
    header: HeaderOpt = None,
    ca_cert: CaCertOpt = None,
    input_device: InputDeviceOpt = None,
    output_device: OutputDeviceOpt = None,
    input: InputOpt = None,
    output: OutputOpt = None,
    format: FormatOpt = None,
    transcript: TranscriptOpt = None,
    record: Annotated[str | None, typer.Option(help="Save the session as a stereo WAV: "
                                                    "microphone left, assistant right."
                                               )] = None,
    text: Annotated[bool, typer.Option("--text", help="No microphone: type only (needs a "
                                       "terminal).")] = False,
    mute_speaker: Annotated[bool | None, typer.Option("--mute-speaker", help="Do not play "
                                                      "the reply: transcripts only.")] = None,
    push_to_talk: Annotated[bool | None, typer.Option(
        "--push-to-talk", help="Talk only while the key is on; turns off the server's "
        "automatic voice detection. " + PTT_KEY_HELP)] = None,
    tools: Annotated[bool | None, typer.Option("--tools/--no-tools", help="Offer tools to the "
                                               "model (--no-tools: none at all: built-in, "
                                               "files, MCP servers, search).")] = None,
    search: SearchOpt = None,
    tools_file: ToolsFileOpt = None,
    mcp_config: McpConfigOpt = None,
    yes: YesOpt = False,
    barge_in: Annotated[bool | None, typer.Option("--barge-in/--no-barge-in", help="Cut the "
                                                  "reply off locally when you start talking."
                                                  )] = None,
    headphones: Annotated[bool, typer.Option("--headphones", help="No echo canceller (the "
                                             "mic cannot hear the speaker): lowest latency "
                                             "and CPU.")] = False,
    half_duplex: Annotated[bool, typer.Option("--half-duplex", help="Mute the mic while the "
                                              "assistant speaks (last resort when the echo "
                                              "canceller fails; see 'doctor --echo').")] = False,
    emulator: EmulatorOpt = False,
    scenario: ScenarioOpt = None,
    quiet: QuietOpt = False,
    compression: Annotated[bool, typer.Option(help="Context window compression (sliding "
                                                   "window), so sessions can run for hours."
                                              )] = True,
    compression_trigger_tokens: Annotated[int | None, typer.Option(
        help="Compress the context once it reaches this many tokens (default: the "
             "server's).")] = None,
    vad_start_sensitivity: VadStartOpt = None,
    vad_end_sensitivity: VadEndOpt = None,
    vad_prefix_padding_ms: VadPrefixOpt = None,
    vad_silence_ms: VadSilenceOpt = None,
    interruption: Annotated[bool | None, typer.Option(
        "--interruption/--no-interruption", help="--no-interruption: the reply always plays "
        "to its end, whoever talks (the server's NO_INTERRUPTION; local barge-in is off "
        "too).")] = None,
    turn_coverage: Annotated[str | None, typer.Option(
        help="What a user turn includes: 'activity' (only detected speech) or 'all' (all "
             "input since the last turn).")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature, 0 to 2."
                                                      )] = None,
    thinking: Annotated[str | None, typer.Option(
        help="Thinking level (low, medium, high) on the models that take one.")] = None,
    proactive_audio: Annotated[bool | None, typer.Option(
        "--proactive-audio/--no-proactive-audio", help="Let the model decide not to answer "
        "speech that is not meant for it (models that have it).")] = None,
    affective_dialog: Annotated[bool | None, typer.Option(
        "--affective-dialog", help="Let the model adapt its tone to the user's (models "
        "that have it).")] = None,
    screen: Annotated[str | None, typer.Option(
        "--screen", metavar="[N]",
        help="Share a screen (N: its number in 'voicecli devices --video'; default the "
             "primary).")] = None,
    camera: Annotated[str | None, typer.Option(
        "--camera", metavar="[INDEX|NAME]",
        help="Share a camera (default the first).")] = None,
    video: Annotated[str | None, typer.Option(
        "--video", help="Play a video file as the camera, in real time (for scripts and "
                        "tests).")] = None,
    fps: Annotated[float | None, typer.Option(help="Frames a second at most (default 1, at "
                                                   "most 2).")] = None,
    media_resolution: Annotated[str | None, typer.Option(
        help="How many tokens a frame costs: low, medium or high.")] = None,
    record_video: Annotated[str | None, typer.Option(
        help="Keep the JPEG frames that were sent in this folder.")] = None,
) -> None:
    """Have a spoken conversation (microphone in, speaker out, transcript on stdout)."""
    from voicecli import settings as st

    flags = dict(model=model, voice=voice, language=language, system=system,
                 input_device=input_device, output_device=output_device, format=format,
                 tools=tools, barge_in=barge_in, push_to_talk=push_to_talk,
                 mute_speaker=mute_speaker, base_url=base_url, api_version=api_version,
                 vad_start_sensitivity=vad_start_sensitivity,
                 vad_end_sensitivity=vad_end_sensitivity,
                 vad_prefix_padding_ms=vad_prefix_padding_ms, vad_silence_ms=vad_silence_ms,
                 interruption=interruption, turn_coverage=turn_coverage,
                 temperature=temperature, thinking=thinking, proactive_audio=proactive_audio,
                 affective_dialog=affective_dialog, search=search, tools_files=tools_file,
                 fps=fps, media_resolution=media_resolution)
    conf = _merged(flags, profile)
    _check_common(emulator=emulator, scenario=scenario, base_url=base_url, url=url,
                  ca_cert=ca_cert, vertex=vertex, header=header, input=input,
                  outputs={"--output": output, "--record": record, "--transcript": transcript})
    if compression_trigger_tokens is not None and compression_trigger_tokens < 2:
        raise ConfigError("--compression-trigger-tokens must be a positive number of tokens")
    live = sys.stdout.isatty() and sys.stdin.isatty() and conf["format"] == "text"
    if text and input is not None:
        raise ConfigError("use either --text (type only) or --input, not both")
    if (text or conf["push_to_talk"]) and not live:
        what = "--text" if text else "--push-to-talk"
        raise ConfigError(f"{what} needs a terminal on stdin and stdout (and --format text)")
    if conf["push_to_talk"] and (text or input is not None):
        raise ConfigError("--push-to-talk needs the microphone (not --text or --input)")
    if system is not None or system_file is not None:
        system_instruction = st.read_system_instruction(system, system_file)
    else:
        system_instruction = conf["system"]
    if headphones and half_duplex:
        raise ConfigError("--headphones and --half-duplex exclude each other")
    live_options = st.LiveOptions.from_values(conf.values)
    st.check_live_options(conf["model"], live_options, push_to_talk=conf["push_to_talk"])
    servers, broken = _mcp_servers(conf, mcp_config)
    video_request = _video_request(screen, camera, video)
    video_notes = st.check_video(conf["model"], video_request, conf["fps"] or 1.0,
                                 compression=compression,
                                 media_resolution=live_options.media_resolution)
    if video_request is not None and video_request.kind == "screen":
        from voicecli.video.capture import ScreenSource

        ScreenSource(int(video_request.target) if video_request.target else None).close()
    if video_request is not None and text:
        raise ConfigError(f"--{video_request.kind} needs a session with audio (not --text)")
    if record_video is not None and video_request is None and not live:
        raise ConfigError("--record-video keeps the frames of --screen, --camera or --video")
    st.check_tools(conf["model"], search=bool(conf["search"]) and conf["tools"],
                   files=tuple(conf["tools_files"] or ()))
    echo_mode = "headphones" if headphones else "half_duplex" if half_duplex else "aec"
    with _maybe_emulator(emulator, scenario) as emu:
        creds, endpoint = _credentials(emu, conf, vertex=vertex, url=url,
                                       api_version=api_version, header=header, ca_cert=ca_cert)
        settings = st.Settings(
            model=conf["model"], voice=conf["voice"], language=conf["language"],
            system_instruction=system_instruction, credentials=creds,
            input_device=conf["input_device"], output_device=conf["output_device"],
            input_file=input, output_file=output, output_format=conf["format"],
            transcript_file=transcript, tools=conf["tools"],
            # NO_INTERRUPTION: the reply plays to its end, so nothing may cut it locally.
            barge_in=conf["barge_in"] and live_options.interruption,
            push_to_talk=conf["push_to_talk"], text_only=text,
            mute_speaker=conf["mute_speaker"], record_file=record,
            echo_mode=echo_mode, live=live_options,
            compression=compression, compression_trigger_tokens=compression_trigger_tokens,
            tool_files=tuple(conf["tools_files"] or ()), mcp_servers=tuple(servers),
            mcp_broken=tuple(broken), search=bool(conf["search"]), yes=yes,
            tool_scheduling=tuple((conf["tool_scheduling"] or {}).items()),
            video=video_request, fps=conf["fps"] or 1.0, record_video=record_video,
        )
        for note in video_notes:
            typer.echo(f"[note] {note}", err=True)
        code = run_chat(settings, endpoint, quiet=quiet, live=live)
    raise typer.Exit(code)


def _credentials(emu: Any, conf: Any, *, vertex: bool, url: str | None,
                 api_version: str | None, header: list[str] | None,
                 ca_cert: str | None) -> tuple[Any, str]:
    """Credentials and a readable endpoint name: the emulator's (with the ``--header``s),
    or from the merged settings ``conf`` (flags, environment, config file) and the
    environment."""
    from voicecli import config as cfg
    from voicecli import settings as st

    if emu is not None:
        creds = st.Credentials(api_key=emu.api_key, base_url=emu.base_url,
                               api_version=api_version or "v1beta", ca_cert=emu.ca_cert_path,
                               headers=st.check_endpoint_flags(headers=header))
        return creds, f"the emulator at {emu.base_url}"
    creds = st.resolve_credentials(cfg.key_env(os.environ, conf), vertex=vertex,
                                   base_url=conf["base_url"], url=url,
                                   api_version=conf["api_version"], headers=header,
                                   ca_cert=ca_cert)
    if url is not None:
        from voicecli.settings import redact_url

        return creds, str(redact_url(url.split("?", 1)[0]))
    return creds, conf["base_url"] or ("Vertex AI" if creds.vertex else "the Gemini API")


def open_audio(settings: Any, keep_leading: bool = False) -> tuple[Any, Any]:
    """The source and sink ``settings`` ask for (devices, files, none; recorded or not).

    ``keep_leading``: an output WAV starts when the session does (see FileSink)."""
    from voicecli.audio import engine

    source: Any
    sink: Any
    if settings.text_only:
        source = engine.NullSource()
    elif settings.input_file is not None:
        source = engine.FileSource(settings.input_file, stdin=sys.stdin.buffer)
    else:
        from voicecli.audio import devices

        dev = devices.resolve_device(settings.input_device, "input")
        source = engine.DeviceSource(dev, devices.pick_rate(dev, 16000, "input"))
    if settings.output_file is not None:
        sink = engine.FileSink(settings.output_file, keep_leading=keep_leading)
    elif settings.mute_speaker:
        sink = engine.NullSink()
    else:
        from voicecli.audio import devices

        dev = devices.resolve_device(settings.output_device, "output")
        sink = engine.DeviceSink(dev, devices.pick_rate(dev, 24000, "output"))
    if settings.record_file:
        from voicecli.audio import recorder

        rec = recorder.SessionRecorder(settings.record_file)
        source, sink = recorder.RecordingSource(source, rec), recorder.RecordingSink(sink, rec)
    return source, sink


def build_outputs(settings: Any, *, quiet: bool, view: Any, status: bool = True,
                  first: tuple[Any, ...] = (), last: tuple[Any, ...] = ()) -> Any:
    """The event bus for a session: ``first``, status lines on stderr (``status``), stdout
    (JSONL, or ``view``), the transcript file, ``last``."""
    from voicecli.ui import outputs

    sinks: list[Any] = list(first)
    if status:
        sinks.append(outputs.StatusView(quiet=quiet))
    if settings.output_format == "jsonl":
        sinks.append(outputs.JsonlWriter())
    elif view is not None:
        sinks.append(view)
    if settings.transcript_file:
        sinks.append(outputs.TranscriptFile(settings.transcript_file))
    sinks.extend(last)
    return outputs.EventBus(sinks)


def run_chat(settings: Any, endpoint: str, quiet: bool = False, live: bool = False) -> int:
    """Open the audio ends and outputs for ``settings`` and run the conversation.

    ``live``: stdin and stdout are a terminal, so the prompt-toolkit view replaces the
    text and status lines (piped and JSONL outputs are unchanged).
    """
    import asyncio

    from voicecli.app import chat_runner
    from voicecli.summary import SummarySink
    from voicecli.ui import outputs

    source, sink = open_audio(settings)
    bus = build_outputs(settings, quiet=quiet, view=None if live else outputs.TextView(),
                        status=not live, last=(SummarySink(enabled=not quiet),))
    try:
        runner, mode = chat_runner(settings, bus, source, sink, endpoint=endpoint)
        bus.on_closed_pipe = runner.request_stop
        if not live:
            return asyncio.run(runner.run())
        from voicecli.ui.live import LiveView

        view = LiveView(mode, model=settings.model, voice=settings.voice,
                        push_to_talk=settings.push_to_talk, text_only=settings.text_only)
        mode.tools.policy.interactive = True  # the view asks before tools that must ask
        mode.tools.ask = view.ask_tool
        bus.sinks.insert(0, view)
        return asyncio.run(_run_live(runner, view))
    finally:
        bus.close()  # the summary prints here, after the live view has left the screen


async def _run_live(runner: Any, view: Any) -> int:
    """Run the session with the live view on the same event loop."""
    import asyncio

    ui = asyncio.create_task(view.run(), name="live-view")
    try:
        return await runner.run()
    finally:
        view.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ui, timeout=2)


@app.command()
@friendly_errors
def translate(
    to: Annotated[str | None, typer.Option("--to", help="Language to translate into, e.g. de, "
                                           "de-DE or deu (see 'voicecli languages "
                                           "--translate').")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="The speaker's language (a hint "
                                              "for the transcription; detected if omitted)."
                                              )] = None,
    echo_target: Annotated[bool, typer.Option("--echo-target", help="Also speak when the "
                                              "speaker already talks the target language "
                                              "(the model's echo option).")] = False,
    headphones: Annotated[bool, typer.Option(help="Full duplex: keep talking while the "
                                             "translation plays (otherwise the microphone "
                                             "is muted meanwhile).")] = False,
    subtitles: Annotated[str | None, typer.Option(help="Write the translation as subtitles: "
                                                  "FILE.srt or FILE.vtt.")] = None,
    model: Annotated[str, typer.Option(help="Model id; a conversational model gets an "
                                       "interpreter prompt instead.")] = catalog.TRANSLATE_MODEL,
    profile: SessionProfileOpt = None,
    vertex: VertexOpt = False,
    base_url: BaseUrlOpt = None,
    url: UrlOpt = None,
    api_version: ApiVersionOpt = None,
    header: HeaderOpt = None,
    ca_cert: CaCertOpt = None,
    input_device: InputDeviceOpt = None,
    output_device: OutputDeviceOpt = None,
    input: InputOpt = None,
    output: OutputOpt = None,
    format: FormatOpt = None,
    transcript: TranscriptOpt = None,
    emulator: EmulatorOpt = False,
    scenario: ScenarioOpt = None,
    quiet: QuietOpt = False,
    vad_start_sensitivity: VadStartOpt = None,
    vad_end_sensitivity: VadEndOpt = None,
    vad_prefix_padding_ms: VadPrefixOpt = None,
    vad_silence_ms: VadSilenceOpt = None,
) -> None:
    """Translate speech live: speak one language, hear and read another."""
    from voicecli import config as cfg
    from voicecli import settings as st

    flags = dict(input_device=input_device, output_device=output_device, format=format,
                 base_url=base_url, api_version=api_version,
                 vad_start_sensitivity=vad_start_sensitivity,
                 vad_end_sensitivity=vad_end_sensitivity,
                 vad_prefix_padding_ms=vad_prefix_padding_ms, vad_silence_ms=vad_silence_ms)
    conf = _merged(flags, profile)
    model = cfg.check_value("model", model, "--model")
    if to is None:
        raise ConfigError("--to is required: the language to translate into, e.g. --to de "
                          "(see 'voicecli languages --translate')")
    _check_common(emulator=emulator, scenario=scenario, base_url=base_url, url=url,
                  ca_cert=ca_cert, vertex=vertex, header=header, input=input,
                  outputs={"--output": output, "--subtitles": subtitles,
                           "--transcript": transcript})
    target = _translate_language("--to", to)
    source_lang = _translate_language("--from", from_) if from_ else None
    if subtitles is not None:
        from voicecli.ui.subtitles import subtitle_format

        subtitle_format(subtitles)
    live_options = st.LiveOptions(**{k: conf[k] for k in LIVE_KEYS})
    st.check_live_options(model, live_options)
    with _maybe_emulator(emulator, scenario) as emu:
        creds, endpoint = _credentials(emu, conf, vertex=vertex, url=url,
                                       api_version=api_version, header=header, ca_cert=ca_cert)
        from voicecli.translate import TranslateOptions, interpreter_prompt, uses_translate_model

        system = None if uses_translate_model(model) else interpreter_prompt(target, source_lang)
        settings = st.Settings(
            model=model, system_instruction=system, credentials=creds,
            input_device=conf["input_device"], output_device=conf["output_device"],
            input_file=input, output_file=output, output_format=conf["format"],
            transcript_file=transcript, tools=False, barge_in=False, live=live_options,
        )
        options = TranslateOptions(target=target, source=source_lang,
                                   echo_target=echo_target, headphones=headphones)
        code = run_translate(settings, options, endpoint, subtitles=subtitles, quiet=quiet)
    raise typer.Exit(code)


def _translate_language(flag: str, code: str) -> str:
    try:
        return catalog.resolve_translate_language(code)
    except ValueError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def run_translate(settings: Any, options: Any, endpoint: str, subtitles: str | None = None,
                  quiet: bool = False) -> int:
    """Open the audio ends and outputs and run one translation session."""
    import asyncio

    from voicecli import translate as tr
    from voicecli.ui import outputs
    from voicecli.ui.subtitles import SubtitleWriter
    from voicecli.ui.translate_view import BilingualView, ProgressView

    source, sink = open_audio(settings, keep_leading=True)
    file_input = settings.input_file not in (None, "-")
    view = BilingualView() if sys.stdout.isatty() else outputs.TextView()
    bus = build_outputs(settings, quiet=quiet, view=view,
                        # ProgressView before StatusView: see ProgressView
                        first=(ProgressView(quiet=quiet),) if file_input else (),
                        last=(SubtitleWriter(subtitles),) if subtitles is not None else ())
    echo = tr.echo_mode(settings.input_file is None, settings.output_file is None,
                        options.headphones, tr.echo_canceller_available())
    try:
        runner, _ = tr.translate_runner(settings, options, bus, source, sink,
                                        endpoint=endpoint, echo=echo)
        bus.on_closed_pipe = runner.request_stop
        return asyncio.run(runner.run())
    finally:
        bus.close()


@app.command()
@friendly_errors
def devices(
    video: Annotated[bool, typer.Option("--video", help="List screens and cameras instead.")
                     ] = False,
) -> None:
    """List audio devices and the rates they open at; '>' marks the default input, '<' the
    default output."""
    if video:
        _video_devices()
        return
    from voicecli.audio.devices import list_devices, supported_rates

    found = list_devices()
    if not found:
        raise UserError("no audio devices found (is a sound server running?)")
    for d in found:
        mark = (">" if d.default_input else " ") + ("<" if d.default_output else " ")
        typer.echo(f"{mark} {d.index:3d} {d.name}  ({d.hostapi}; {d.inputs} in, "
                   f"{d.outputs} out; {d.default_rate:.0f} Hz)")
        kinds: tuple[tuple[Literal["input", "output"], int], ...] = (
            ("input", d.inputs), ("output", d.outputs))
        for kind, count in kinds:
            if count:
                rates = supported_rates(d.index, kind)
                typer.echo(f"          {kind} rates: "
                           f"{', '.join(str(r) for r in rates) if rates else 'none of the usual'}")


def _video_devices() -> None:
    """``devices --video``: screens (for --screen N) and cameras (for --camera)."""
    from voicecli.video import capture

    capture.require("screen")
    try:
        screens = capture.monitors()
    except Exception as exc:  # no display: say so and list the cameras anyway
        typer.echo(f"screens: none ({type(exc).__name__}: {exc})")
        screens = []
    for m in screens:
        mark = " (primary)" if m["primary"] else ""
        typer.echo(f"screen {m['index']}: {m['width']}×{m['height']} at "
                   f"{m['left']},{m['top']}{mark}")
    found = capture.cameras()
    for i, (device, name) in enumerate(found):
        typer.echo(f"camera {i}: {name} ({device})")
    if not found:
        typer.echo("cameras: none found" if sys.platform.startswith("linux")
                   else "cameras: use --camera 0 for the default one")


@app.command()
def voices() -> None:
    """List the prebuilt voices and their styles."""
    for name, style in catalog.VOICES.items():
        typer.echo(f"{name:<14} {style}")


@app.command()
def languages(
    translate: Annotated[bool, typer.Option("--translate", help="List the languages the "
                                            "translate model translates into instead.")
                         ] = False,
) -> None:
    """List the speech languages (BCP-47 codes), or with --translate the translation targets."""
    table = catalog.TRANSLATE_LANGUAGES if translate else catalog.LANGUAGES
    for code, name in table.items():
        typer.echo(f"{code:<7} {name}")
    if translate:
        typer.echo("(a region may follow: de-DE, pt-BR, es-419)")


@app.command()
def models() -> None:
    """List the known Live models and what they support (any other id works too)."""
    for m in catalog.MODELS.values():
        default = " (default)" if m.id == catalog.DEFAULT_MODEL else ""
        features = [f for f, on in (("tools", m.tools), ("translation", m.translation),
                                    ("thinking", bool(m.thinking_levels))) if on]
        typer.echo(f"{m.id}{default}\n    {m.summary}; {', '.join(features) or 'audio'}")


@app.command()
@friendly_errors
def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8765,
    key: Annotated[str, typer.Option(help="The API key clients must send.",
                                     envvar="VOICECLI_EMULATOR_KEY")] = "emulator-key",
    token: Annotated[str, typer.Option(help="The ephemeral token (auth_tokens/...) clients "
                                       "may use on the constrained endpoint.")
                     ] = "auth_tokens/emulator-token",
    scenario: Annotated[str | None, typer.Option(help="Scenario file, or 'parrot'.")] = None,
    interrupt_delay_ms: Annotated[int, typer.Option(help="Server-side delay before "
                                                         "'interrupted'.")] = 300,
) -> None:
    """Run the offline Live API emulator (TLS, self-signed) until Ctrl-C."""
    from voicecli.emulator import EmulatorConfig, serve_forever

    if not token.startswith("auth_tokens/"):
        raise ConfigError(f"--token must start with auth_tokens/, got {token!r}")
    serve_forever(EmulatorConfig(host=host, port=port, api_key=key, token=token,
                                 scenario=scenario,
                                 interrupt_delay_ms=interrupt_delay_ms))


config_app = typer.Typer(help="Show or change the config file (TOML).",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(config_app, name="config")
ProfileOpt = Annotated[str | None, typer.Option(help="Work on [profiles.NAME].")]


@config_app.command("path")
def config_path_cmd() -> None:
    """Print where the config file is (or would be)."""
    from voicecli import config as cfg

    typer.echo(str(cfg.config_path()))


@config_app.command("show")
@friendly_errors
def config_show(profile: ProfileOpt = None) -> None:
    """Show the effective settings and where each comes from (secrets hidden)."""
    from voicecli import config as cfg

    conf = cfg.merge({}, os.environ, cfg.read_config(cfg.config_path()), profile, check=False)
    shown = cfg.hide_secrets(conf.values)
    for key in cfg.KEYS:
        if key in shown:
            try:
                cfg.check_value(key, conf.values[key])
                problem = ""
            except ConfigError as exc:
                problem = f"  INVALID: {exc}"
            typer.echo(f"{key} = {shown[key]!r}  ({conf.sources[key]}){problem}")


@config_app.command("set")
@friendly_errors
def config_set(key: str, value: str, profile: ProfileOpt = None) -> None:
    """Set KEY to VALUE in the config file (owner-only permissions)."""
    from voicecli import config as cfg

    path = cfg.config_path()
    data = cfg.set_value(cfg.read_config(path), key, value, profile)
    cfg.write_config(path, data)
    shown = "<hidden>" if key in cfg.SECRET_KEYS else repr(cfg.parse_value(key, value))
    typer.echo(f"{key} = {shown}" + (f" in profile {profile}" if profile else ""), err=True)


@config_app.command("unset")
@friendly_errors
def config_unset(key: str, profile: ProfileOpt = None) -> None:
    """Remove KEY from the config file."""
    from voicecli import config as cfg

    path = cfg.config_path()
    cfg.write_config(path, cfg.unset_value(cfg.read_config(path), key, profile))


mcp_app = typer.Typer(help="MCP servers: list them (started, with their tools), add or remove "
                             "one in the config file.", no_args_is_help=True,
                      rich_markup_mode=None)
app.add_typer(mcp_app, name="mcp")


@mcp_app.command("list")
@friendly_errors
def mcp_list(profile: ProfileOpt = None, mcp_config: McpConfigOpt = None) -> None:
    """Start every configured server, then show each: ready (and its tools, as the model
    sees them) or the reason it failed. Exit 1 if any failed."""
    from voicecli.tools.mcp_client import McpHub, default_log_dir
    from voicecli.tools.session import add_server_tools
    from voicecli.tools.toolbox import Toolbox
    from voicecli.ui.outputs import use_color

    servers, broken = _mcp_servers(_merged({}, profile), mcp_config)
    if not servers and not broken:
        typer.echo("no MCP servers configured: add one with 'voicecli mcp add NAME -- "
                   "COMMAND ARGS...' or pass --mcp-config FILE", err=True)
        return
    hub = McpHub(servers, os.environ, default_log_dir(), lambda _status: None).start()
    try:
        statuses = hub.wait_settled(max((s.connect_timeout_s for s in servers), default=1) + 2)
        toolbox = Toolbox()
        bold = use_color(sys.stdout)
        failed = len(broken)
        for cfg in servers:
            status = statuses.get(cfg.name)
            trust = "runs without asking" if cfg.trust else "asks before each call"
            name = f"\x1b[1m{cfg.name}\x1b[0m" if bold else cfg.name
            if status is None or status.state != "ready":
                failed += 1
                why = status.error if status is not None and status.error else "did not start"
                log = f" (log: {status.log})" if status is not None and status.log else ""
                typer.echo(f"{name}: failed: {why}{log}")
                continue
            added = add_server_tools(toolbox, cfg, status.tools, hub)
            typer.echo(f"{name}: ready in {status.started_s:.1f} s, {len(added)} tools, "
                       f"{trust}; {cfg.transport}: {cfg.describe()}")
            for declared, original in added.items():
                entry = toolbox.entries[declared]
                hints = f" [{entry.hints()}]" if entry.hints() else ""
                typer.echo(f"    {declared}  <- {original}{hints}: "
                           f"{_first_line(entry.description)}")
        for b in broken:
            typer.echo(f"{b.name}: failed: {b.error}")
    finally:
        hub.close()
    raise typer.Exit(1 if failed else 0)


def _first_line(text: str, width: int = 70) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[:width - 1] + "…"


@mcp_app.command("add")
@friendly_errors
def mcp_add(
    name: Annotated[str, typer.Argument(help="The server's name (its tools are NAME__tool).")],
    command: Annotated[list[str] | None, typer.Argument(help="After --: the command and its "
                                                         "arguments (a stdio server).")] = None,
    url: Annotated[str | None, typer.Option(help="A streamable HTTP server's URL instead.")
                   ] = None,
    header: HeaderOpt = None,
    env: Annotated[list[str] | None, typer.Option(help="NAME=VALUE for the server's "
                                                  "environment (repeatable; $VAR works).")
                   ] = None,
    trust: Annotated[bool, typer.Option(help="Run its tools without asking first.")] = False,
    profile: ProfileOpt = None,
) -> None:
    """Add a server to the config file: 'voicecli mcp add git -- uvx mcp-server-git'."""
    from voicecli import config as cfg
    from voicecli import settings as st
    from voicecli.tools import mcp_config as mc

    if bool(command) == bool(url):
        raise ConfigError("give either a command (after --) or --url")
    table: dict[str, Any] = {"url": url}
    if command:
        table = {"command": command[0], "args": list(command[1:])}
    if header:
        table["headers"] = dict(st.check_endpoint_flags(headers=header))
    if env:
        pairs = [e.partition("=") for e in env]
        if any(not k or not sep for k, sep, _ in pairs):
            raise ConfigError("--env must look like NAME=VALUE")
        table["env"] = {k: v for k, _, v in pairs}
    if trust:
        table["trust"] = True
    mc.check_tables({name: table}, "mcp add")
    path = cfg.config_path()
    data = cfg.read_config(path)
    section = data.setdefault("profiles", {}).setdefault(profile, {}) if profile else data
    servers = dict(section.get("mcp_servers", {}))
    servers[name] = table
    section["mcp_servers"] = servers
    cfg.write_config(path, data)
    where = f" in profile {profile}" if profile else ""
    typer.echo(f"added MCP server {name}{where}; check it with 'voicecli mcp list'", err=True)


@mcp_app.command("remove")
@friendly_errors
def mcp_remove(name: str, profile: ProfileOpt = None) -> None:
    """Remove a server from the config file."""
    from voicecli import config as cfg

    path = cfg.config_path()
    data = cfg.read_config(path)
    section = data.get("profiles", {}).get(profile, {}) if profile else data
    servers = dict(section.get("mcp_servers", {}))
    if name not in servers:
        known = ", ".join(servers) or "none"
        raise ConfigError(f"no MCP server {name!r} in the config file (servers: {known})")
    del servers[name]
    section["mcp_servers"] = servers
    cfg.write_config(path, data)
    typer.echo(f"removed MCP server {name}", err=True)


@app.command()
@friendly_errors
def doctor(
    emulator: Annotated[bool, typer.Option(help="Check against the built-in emulator instead "
                                                "of the real endpoint.")] = False,
    listen: Annotated[bool, typer.Option("--listen/--no-listen", help="Run the 'say "
                                         "something' microphone check (skip it in scripts)."
                                         )] = True,
    listen_seconds: Annotated[float, typer.Option(help="How long to wait for your voice."
                                                  )] = 8.0,
    vertex: Annotated[bool, typer.Option(help="Check Vertex AI instead of the Gemini API."
                                         )] = False,
    input_device: Annotated[str | None, typer.Option(help="Microphone to check.")] = None,
    output_device: Annotated[str | None, typer.Option(help="Speaker to check.")] = None,
    profile: ProfileOpt = None,
    echo: Annotated[bool, typer.Option("--echo", help="Instead: play a short chirp, measure "
                                       "the echo from the speaker into the microphone and "
                                       "whether open-speaker barge-in will work here.")] = False,
) -> None:
    """Check credentials, endpoint, audio devices, microphone level and dependencies.

    One line per check; a failure comes with a fix. Exit code 1 if anything required failed.
    """
    from voicecli import config as cfg
    from voicecli import doctor as dr
    from voicecli.ui.outputs import use_color

    conf = cfg.merge({"input_device": input_device, "output_device": output_device},
                     os.environ, cfg.read_config(cfg.config_path()), profile)
    if echo:
        _doctor_echo(conf["input_device"], conf["output_device"])
    color = use_color(sys.stdout)
    with _maybe_emulator(emulator, None) as emu:
        ctx = dr.DoctorContext(
            env=os.environ, config_values=conf.values, input_device=conf["input_device"],
            output_device=conf["output_device"], emulator=emu, vertex=vertex,
            listen_s=listen_seconds if listen else None,
            say=lambda text: typer.echo(text, err=True))

        def show(result: Any) -> None:
            for line in dr.render(result, color):
                typer.echo(line)

        results = dr.run_checks(ctx, dr.default_checks(), show)
    raise typer.Exit(dr.exit_code(results))


def _doctor_echo(input_device: str | None, output_device: str | None) -> None:
    """``doctor --echo``: exit 0 if open-speaker barge-in will work, 1 if not."""
    from voicecli.audio import devices
    from voicecli.audio.echo_check import measure

    typer.echo("[doctor] playing a 5 s probe on the speaker; stay quiet...", err=True)
    report = measure(devices.resolve_device(input_device, "input"),
                     devices.resolve_device(output_device, "output"))
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(0 if report.works else 1)


OPTIONAL_VALUES = {"--screen": "primary", "--camera": "0"}  # an option whose value may be left out


def optional_values(argv: list[str]) -> list[str]:
    """``--screen`` alone means the primary screen, ``--camera`` alone the first camera:
    give them their default value before the parser, which wants one."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg in OPTIONAL_VALUES:
            following = argv[i + 1] if i + 1 < len(argv) else None
            if following is None or following.startswith("-"):
                out.append(OPTIONAL_VALUES[arg])
    return out


def main() -> None:
    sys.argv[1:] = optional_values(sys.argv[1:])
    app()


if __name__ == "__main__":
    main()
