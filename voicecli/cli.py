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
    profile: Annotated[str | None, typer.Option(help="Use [profiles.NAME] of the config "
                                                     "file (or VOICECLI_PROFILE).")] = None,
    vertex: Annotated[bool, typer.Option(help="Use Vertex AI (GOOGLE_CLOUD_PROJECT, "
                                              "GOOGLE_CLOUD_LOCATION, ADC).")] = False,
    base_url: Annotated[str | None, typer.Option(help="Custom endpoint (proxy), "
                                                      "e.g. https://proxy.example")] = None,
    api_version: Annotated[str | None, typer.Option(help="API version (v1, v1beta, v1alpha)."
                                                    )] = None,
    header: Annotated[list[str] | None, typer.Option(help="Extra header 'Name: value' "
                                                          "(repeatable).")] = None,
    ca_cert: Annotated[str | None, typer.Option(help="Trust this CA/certificate PEM for a "
                                                     "private TLS endpoint.")] = None,
    input_device: Annotated[str | None, typer.Option(help="Microphone: index or name "
                                                          "substring.")] = None,
    output_device: Annotated[str | None, typer.Option(help="Speaker: index or name "
                                                           "substring.")] = None,
    input: Annotated[str | None, typer.Option("--input", help="Use a WAV file as the "
                                              "microphone, or '-' for raw 16 kHz s16le "
                                              "on stdin.")] = None,
    output: Annotated[str | None, typer.Option("--output", help="Write the reply audio to "
                                               "a WAV file instead of the speaker.")] = None,
    format: Annotated[str | None, typer.Option("--format", help="stdout format: text or "
                                               "jsonl. Default text.")] = None,
    transcript: Annotated[str | None, typer.Option(help="Append finished lines to this "
                                                        "file.")] = None,
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
    tools: Annotated[bool | None, typer.Option("--tools/--no-tools", help="Offer the built-in "
                                               "tools to the model.")] = None,
    barge_in: Annotated[bool | None, typer.Option("--barge-in/--no-barge-in", help="Cut the "
                                                  "reply off locally when you start talking."
                                                  )] = None,
    headphones: Annotated[bool, typer.Option("--headphones", help="No echo canceller (the "
                                             "mic cannot hear the speaker): lowest latency "
                                             "and CPU.")] = False,
    half_duplex: Annotated[bool, typer.Option("--half-duplex", help="Mute the mic while the "
                                              "assistant speaks (last resort when the echo "
                                              "canceller fails; see 'doctor --echo').")] = False,
    emulator: Annotated[bool, typer.Option(help="Talk to a built-in offline Live API "
                                                "emulator (no key needed).")] = False,
    scenario: Annotated[str | None, typer.Option(help="With --emulator: a scenario file, or "
                                                      "'parrot'.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status lines or summary "
                                        "on stderr.")] = False,
    compression: Annotated[bool, typer.Option(help="Context window compression (sliding "
                                                   "window), so sessions can run for hours."
                                              )] = True,
    compression_trigger_tokens: Annotated[int | None, typer.Option(
        help="Compress the context once it reaches this many tokens (default: the "
             "server's).")] = None,
) -> None:
    """Have a spoken conversation (microphone in, speaker out, transcript on stdout)."""
    from voicecli import config as cfg
    from voicecli import settings as st

    flags = dict(model=model, voice=voice, language=language, system=system,
                 input_device=input_device, output_device=output_device, format=format,
                 tools=tools, barge_in=barge_in, push_to_talk=push_to_talk,
                 mute_speaker=mute_speaker, base_url=base_url, api_version=api_version)
    conf = cfg.merge(flags, os.environ, cfg.read_config(cfg.config_path()), profile)
    if conf["format"] not in ("text", "jsonl"):
        raise ConfigError(f"--format must be 'text' or 'jsonl', got {conf['format']!r}")
    if scenario is not None and not emulator:
        raise ConfigError("--scenario only applies with --emulator")
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
    voice_name, lang = st.validate_choices(conf["voice"], conf["language"])
    if system is not None or system_file is not None:
        system_instruction = st.read_system_instruction(system, system_file)
    else:
        system_instruction = conf["system"]
    if headphones and half_duplex:
        raise ConfigError("--headphones and --half-duplex exclude each other")
    echo_mode = "headphones" if headphones else "half_duplex" if half_duplex else "aec"
    with _maybe_emulator(emulator, scenario) as emu:
        creds, endpoint = _credentials(emu, conf, vertex=vertex, api_version=api_version,
                                       header=header, ca_cert=ca_cert)
        settings = st.Settings(
            model=conf["model"], voice=voice_name, language=lang,
            system_instruction=system_instruction, credentials=creds,
            input_device=conf["input_device"], output_device=conf["output_device"],
            input_file=input, output_file=output, output_format=conf["format"],
            transcript_file=transcript, tools=conf["tools"], barge_in=conf["barge_in"],
            push_to_talk=conf["push_to_talk"], text_only=text,
            mute_speaker=conf["mute_speaker"], record_file=record,
            echo_mode=echo_mode,
            compression=compression, compression_trigger_tokens=compression_trigger_tokens,
        )
        code = run_chat(settings, endpoint, quiet=quiet, live=live)
    raise typer.Exit(code)


def _credentials(emu: Any, conf: Any, *, vertex: bool, api_version: str | None,
                 header: list[str] | None, ca_cert: str | None) -> tuple[Any, str]:
    """Credentials and a readable endpoint name: the emulator's, or from the merged
    settings ``conf`` (flags, environment, config file) and the environment."""
    from voicecli import config as cfg
    from voicecli import settings as st

    if emu is not None:
        creds = st.Credentials(api_key=emu.api_key, base_url=emu.base_url,
                               api_version=api_version or "v1beta", ca_cert=emu.ca_cert_path)
        return creds, f"the emulator at {emu.base_url}"
    creds = st.resolve_credentials(cfg.key_env(os.environ, conf), vertex=vertex,
                                   base_url=conf["base_url"], api_version=conf["api_version"],
                                   headers=header, ca_cert=ca_cert)
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
    summary = SummarySink(enabled=not quiet)
    sinks: list[Any] = []
    if not live:
        sinks.append(outputs.StatusView(quiet=quiet))
        sinks.append(outputs.JsonlWriter() if settings.output_format == "jsonl"
                     else outputs.TextView())
    if settings.transcript_file:
        sinks.append(outputs.TranscriptFile(settings.transcript_file))
    sinks.append(summary)
    bus = outputs.EventBus(sinks)
    try:
        runner, mode = chat_runner(settings, bus, source, sink, endpoint=endpoint)
        if not live:
            return asyncio.run(runner.run())
        from voicecli.ui.live import LiveView

        view = LiveView(mode, model=settings.model, voice=settings.voice,
                        push_to_talk=settings.push_to_talk, text_only=settings.text_only)
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
    to: Annotated[str | None, typer.Option("--to", help="Language to translate into, e.g. de "
                                           "or de-DE (see 'voicecli languages --translate')."
                                           )] = None,
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
    vertex: Annotated[bool, typer.Option(help="Use Vertex AI.")] = False,
    base_url: Annotated[str | None, typer.Option(help="Custom endpoint (proxy).")] = None,
    api_version: Annotated[str | None, typer.Option(help="API version.")] = None,
    header: Annotated[list[str] | None, typer.Option(help="Extra header 'Name: value' "
                                                     "(repeatable).")] = None,
    ca_cert: Annotated[str | None, typer.Option(help="Trust this CA PEM.")] = None,
    input_device: Annotated[str | None, typer.Option(help="Microphone: index or name.")] = None,
    output_device: Annotated[str | None, typer.Option(help="Speaker: index or name.")] = None,
    input: Annotated[str | None, typer.Option("--input", help="Translate a WAV file (any "
                                              "rate) or raw 16 kHz s16le on stdin ('-').")
                     ] = None,
    output: Annotated[str | None, typer.Option("--output", help="Write the translated audio "
                                               "to a 24 kHz WAV (aligned with the input).")
                      ] = None,
    format: Annotated[str | None, typer.Option("--format", help="stdout format: text or "
                                               "jsonl. Default text.")] = None,
    transcript: Annotated[str | None, typer.Option(help="Append finished lines to this "
                                                        "file.")] = None,
    emulator: Annotated[bool, typer.Option(help="Use the built-in offline emulator.")] = False,
    scenario: Annotated[str | None, typer.Option(help="With --emulator: a scenario file.")
                        ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status lines on stderr."
                                        )] = False,
) -> None:
    """Translate speech live: speak one language, hear and read another."""
    from voicecli import config as cfg
    from voicecli import settings as st

    flags = dict(input_device=input_device, output_device=output_device, format=format,
                 base_url=base_url, api_version=api_version)
    conf = cfg.merge(flags, os.environ, cfg.read_config(cfg.config_path()))
    format = conf["format"]
    if to is None:
        raise ConfigError("--to is required: the language to translate into, e.g. --to de "
                          "(see 'voicecli languages --translate')")
    if format not in ("text", "jsonl"):
        raise ConfigError(f"--format must be 'text' or 'jsonl', got {format!r}")
    if scenario is not None and not emulator:
        raise ConfigError("--scenario only applies with --emulator")
    target = _translate_language("--to", to)
    source_lang = _translate_language("--from", from_) if from_ else None
    if subtitles is not None:
        from voicecli.ui.subtitles import subtitle_format

        subtitle_format(subtitles)
    with _maybe_emulator(emulator, scenario) as emu:
        creds, endpoint = _credentials(emu, conf, vertex=vertex, api_version=api_version,
                                       header=header, ca_cert=ca_cert)
        from voicecli.translate import TranslateOptions, interpreter_prompt, uses_translate_model

        system = None if uses_translate_model(model) else interpreter_prompt(target, source_lang)
        settings = st.Settings(
            model=model, system_instruction=system, credentials=creds,
            input_device=conf["input_device"], output_device=conf["output_device"],
            input_file=input,
            output_file=output, output_format=format, transcript_file=transcript,
            tools=False, barge_in=False,
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
    sinks: list[Any] = []
    if settings.input_file not in (None, "-"):
        sinks.append(ProgressView(quiet=quiet))  # before StatusView: see ProgressView
    sinks.append(outputs.StatusView(quiet=quiet))
    if settings.output_format == "jsonl":
        sinks.append(outputs.JsonlWriter())
    else:  # two columns on a terminal, Source:/Translation: lines when piped
        sinks.append(BilingualView() if sys.stdout.isatty() else outputs.TextView())
    if settings.transcript_file:
        sinks.append(outputs.TranscriptFile(settings.transcript_file))
    if subtitles is not None:
        sinks.append(SubtitleWriter(subtitles))
    echo = tr.echo_mode(settings.input_file is None, settings.output_file is None,
                        options.headphones, tr.echo_canceller_available())
    bus = outputs.EventBus(sinks)
    try:
        runner, _ = tr.translate_runner(settings, options, bus, source, sink,
                                        endpoint=endpoint, echo=echo)
        return asyncio.run(runner.run())
    finally:
        bus.close()


@app.command()
@friendly_errors
def devices() -> None:
    """List audio devices and the rates they open at; '>' marks the default input, '<' the
    default output."""
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
    scenario: Annotated[str | None, typer.Option(help="Scenario file, or 'parrot'.")] = None,
    interrupt_delay_ms: Annotated[int, typer.Option(help="Server-side delay before "
                                                         "'interrupted'.")] = 300,
) -> None:
    """Run the offline Live API emulator (TLS, self-signed) until Ctrl-C."""
    from voicecli.emulator import EmulatorConfig, serve_forever

    serve_forever(EmulatorConfig(host=host, port=port, api_key=key, scenario=scenario,
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

    conf = cfg.merge({}, os.environ, cfg.read_config(cfg.config_path()), profile)
    shown = cfg.hide_secrets(conf.values)
    for key in cfg.KEYS:
        if key in shown:
            typer.echo(f"{key} = {shown[key]!r}  ({conf.sources[key]})")


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
