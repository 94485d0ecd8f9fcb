"""The ``voicecli`` command line.

Start-up matters: this module imports only typer and voicecli's pure modules; the SDK
(google-genai, ≈0.5 s) and PortAudio are imported inside the commands that need them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

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

    return wrapper  # type: ignore[return-value]


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


@app.command()
@friendly_errors
def chat(
    model: Annotated[str, typer.Option(help="Live model id (any string; see 'voicecli models').",
                                       envvar="VOICECLI_MODEL")] = catalog.DEFAULT_MODEL,
    voice: Annotated[str, typer.Option(help="Prebuilt voice (see 'voicecli voices').",
                                       envvar="VOICECLI_VOICE")] = catalog.DEFAULT_VOICE,
    language: Annotated[str | None, typer.Option(help="Speech language, BCP-47 (e.g. en-US).",
                                                 envvar="VOICECLI_LANGUAGE")] = None,
    system: Annotated[str | None, typer.Option(help="System instruction text.")] = None,
    system_file: Annotated[str | None, typer.Option(help="Read the system instruction "
                                                         "from a file.")] = None,
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
    format: Annotated[str, typer.Option("--format", help="stdout format: text or jsonl."
                                        )] = "text",
    transcript: Annotated[str | None, typer.Option(help="Append finished lines to this "
                                                        "file.")] = None,
    tools: Annotated[bool, typer.Option(help="Offer the built-in tools to the model.")] = True,
    barge_in: Annotated[bool, typer.Option(help="Cut the reply off locally when you start "
                                                "talking.")] = True,
    emulator: Annotated[bool, typer.Option(help="Talk to a built-in offline Live API "
                                                "emulator (no key needed).")] = False,
    scenario: Annotated[str | None, typer.Option(help="With --emulator: a scenario file, or "
                                                      "'parrot'.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status lines on stderr."
                                        )] = False,
    compression: Annotated[bool, typer.Option(help="Context window compression (sliding "
                                                   "window), so sessions can run for hours."
                                              )] = True,
    compression_trigger_tokens: Annotated[int | None, typer.Option(
        help="Compress the context once it reaches this many tokens (default: the "
             "server's).")] = None,
) -> None:
    """Have a spoken conversation (microphone in, speaker out, transcript on stdout)."""
    from voicecli import settings as st

    if format not in ("text", "jsonl"):
        raise ConfigError(f"--format must be 'text' or 'jsonl', got {format!r}")
    if scenario is not None and not emulator:
        raise ConfigError("--scenario only applies with --emulator")
    if compression_trigger_tokens is not None and compression_trigger_tokens < 2:
        raise ConfigError("--compression-trigger-tokens must be a positive number of tokens")
    voice, language = st.validate_choices(voice, language)
    system_instruction = st.read_system_instruction(system, system_file)
    with _maybe_emulator(emulator, scenario) as emu:
        if emu is not None:
            creds = st.Credentials(api_key=emu.api_key, base_url=emu.base_url,
                                   api_version=api_version or "v1beta",
                                   ca_cert=emu.ca_cert_path)
            endpoint = f"the emulator at {emu.base_url}"
        else:
            creds = st.resolve_credentials(os.environ, vertex=vertex, base_url=base_url,
                                           api_version=api_version, headers=header,
                                           ca_cert=ca_cert)
            endpoint = base_url or ("Vertex AI" if creds.vertex else "the Gemini API")
        settings = st.Settings(
            model=model, voice=voice, language=language, system_instruction=system_instruction,
            credentials=creds, input_device=input_device, output_device=output_device,
            input_file=input, output_file=output, output_format=format,
            transcript_file=transcript, tools=tools, barge_in=barge_in,
            compression=compression, compression_trigger_tokens=compression_trigger_tokens,
        )
        code = run_chat(settings, endpoint, quiet=quiet)
    raise typer.Exit(code)


def run_chat(settings: Any, endpoint: str, quiet: bool = False) -> int:
    """Open the audio ends and outputs for ``settings`` and run the conversation."""
    from voicecli.app import ChatRunner
    from voicecli.audio import engine
    from voicecli.ui import outputs

    source: Any
    sink: Any
    if settings.input_file is not None:
        source = engine.FileSource(settings.input_file, stdin=sys.stdin.buffer)
    else:
        from voicecli.audio import devices

        dev = devices.resolve_device(settings.input_device, "input")
        source = engine.DeviceSource(dev, devices.pick_rate(dev, 16000, "input"))
    if settings.output_file is not None:
        sink = engine.FileSink(settings.output_file)
    else:
        from voicecli.audio import devices

        dev = devices.resolve_device(settings.output_device, "output")
        sink = engine.DeviceSink(dev, devices.pick_rate(dev, 24000, "output"))

    sinks: list[Any] = [outputs.StatusView(quiet=quiet)]
    sinks.append(outputs.JsonlWriter() if settings.output_format == "jsonl"
                 else outputs.TextView())
    if settings.transcript_file:
        sinks.append(outputs.TranscriptFile(settings.transcript_file))
    bus = outputs.EventBus(sinks)
    try:
        runner = ChatRunner(settings, bus, source, sink, endpoint=endpoint)
        return asyncio.run(runner.run())
    finally:
        bus.close()


@app.command()
@friendly_errors
def devices() -> None:
    """List audio devices; '>' marks the default input, '<' the default output."""
    from voicecli.audio.devices import list_devices

    found = list_devices()
    if not found:
        raise UserError("no audio devices found (is a sound server running?)")
    for d in found:
        mark = (">" if d.default_input else " ") + ("<" if d.default_output else " ")
        typer.echo(f"{mark} {d.index:3d} {d.name}  ({d.hostapi}; {d.inputs} in, "
                   f"{d.outputs} out; {d.default_rate:.0f} Hz)")


@app.command()
def voices() -> None:
    """List the prebuilt voices and their styles."""
    for name, style in catalog.VOICES.items():
        typer.echo(f"{name:<14} {style}")


@app.command()
def languages() -> None:
    """List the speech languages (BCP-47 codes)."""
    for code, name in catalog.LANGUAGES.items():
        typer.echo(f"{code:<7} {name}")


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
