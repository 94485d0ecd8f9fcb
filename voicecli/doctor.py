"""``voicecli doctor``: a checklist of what a conversation needs, each with a fix.

Every check is a function returning :class:`CheckResult` (name, ok, detail, fix). The
verdicts (what counts as a pass, what fix to suggest) are pure functions of what was measured;
the measuring (sockets, devices) is kept in small shells next to them. More checks (e.g.
``--echo``) are added by appending a function to the list :func:`default_checks` returns.
"""

from __future__ import annotations

import importlib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

from voicecli.errors import UserError

Severity = Literal["fail", "warn"]


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist. ``severity`` says what a not-ok result means."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""
    severity: Severity = "fail"

    @property
    def failed(self) -> bool:
        return not self.ok and self.severity == "fail"


@dataclass
class DoctorContext:
    """What the checks may use; built once by the command."""

    env: Mapping[str, str]
    config_values: dict[str, Any] = field(default_factory=dict)
    input_device: str | None = None
    output_device: str | None = None
    emulator: Any = None  # a running EmulatorThread when --emulator
    vertex: bool = False
    listen_s: float | None = 5.0  # the "say something" check; None = skipped
    say: Callable[[str], None] = lambda _text: None  # prompts for the user (stderr)


Check = Callable[[DoctorContext], CheckResult]

# -- rendering (pure) ------------------------------------------------------------------

def render(result: CheckResult, color: bool = False) -> list[str]:
    """The result as one line (plus an indented fix line when it did not pass)."""
    if result.ok:
        mark, style = "ok  ", "\x1b[32m"
    elif result.severity == "warn":
        mark, style = "warn", "\x1b[33m"
    else:
        mark, style = "FAIL", "\x1b[31m"
    head = f"{style}{mark}\x1b[0m" if color else mark
    lines = [f"{head}  {result.name}" + (f": {result.detail}" if result.detail else "")]
    if not result.ok and result.fix:
        lines.append(f"      fix: {result.fix}")
    return lines


def exit_code(results: list[CheckResult]) -> int:
    """1 if any required check failed (warnings do not count), else 0."""
    return 1 if any(r.failed for r in results) else 0


# -- credentials -----------------------------------------------------------------------

def check_credentials(ctx: DoctorContext) -> CheckResult:
    """Credentials are found (the key itself is never shown)."""
    from voicecli import config, settings

    name = "credentials"
    if ctx.emulator is not None:
        return CheckResult(name, True, "the emulator's built-in key (--emulator)")
    resolved = config.Resolved(ctx.config_values, {})
    env = config.key_env(ctx.env, resolved)
    try:
        creds = settings.resolve_credentials(env, vertex=ctx.vertex,
                                             base_url=ctx.config_values.get("base_url"))
    except UserError as exc:
        return CheckResult(name, False, "none found", str(exc).removeprefix("no API key: "))
    if creds.vertex:
        return CheckResult(name, True, f"Vertex AI, project {creds.project or '(express key)'}, "
                                       f"location {creds.location}")
    where = next((v for v in config.KEY_ENV_VARS if ctx.env.get(v)), "the config file")
    return CheckResult(name, True, f"Gemini API key from {where} (not shown)")


# -- endpoint --------------------------------------------------------------------------

def endpoint_of(ctx: DoctorContext) -> tuple[str, int, str | None]:
    """Host, port and CA file of the endpoint a chat would use."""
    if ctx.emulator is not None:
        url = urlparse(ctx.emulator.base_url)
        return url.hostname or "127.0.0.1", url.port or 443, ctx.emulator.ca_cert_path
    base_url = ctx.config_values.get("base_url")
    if base_url:
        url = urlparse(base_url)
        return url.hostname or "", url.port or 443, None
    if ctx.vertex or ctx.env.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in ("1", "true"):
        location = ctx.env.get("GOOGLE_CLOUD_LOCATION", "us-central1")
        host = ("aiplatform.googleapis.com" if location == "global"
                else f"{location}-aiplatform.googleapis.com")
        return host, 443, None
    return "generativelanguage.googleapis.com", 443, None


def tls_handshake(host: str, port: int, cafile: str | None, timeout: float = 5.0) -> str:
    """Connect and complete a TLS handshake; returns the TLS version. Raises OSError."""
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            context.wrap_socket(sock, server_hostname=host) as tls:
        return tls.version() or "TLS"


def check_endpoint(ctx: DoctorContext) -> CheckResult:
    """The Live API endpoint answers a TLS handshake."""
    host, port, cafile = endpoint_of(ctx)
    name = f"endpoint {host}:{port}"
    t = time.monotonic()
    try:
        version = tls_handshake(host, port, cafile)
    except ssl.SSLCertVerificationError as exc:
        return CheckResult(name, False, f"certificate not trusted ({exc.verify_message})",
                           "for a private endpoint pass its CA with --ca-cert PATH")
    except socket.gaierror as exc:
        return CheckResult(name, False, f"cannot resolve the host ({exc.strerror})",
                           "check your network and DNS (or proxy settings)")
    except (OSError, ssl.SSLError) as exc:
        return CheckResult(name, False, f"no TLS connection ({exc})",
                           "check your network, firewall or proxy; try --emulator offline")
    return CheckResult(name, True, f"{version} handshake in {1000 * (time.monotonic() - t):.0f} ms")


# -- audio devices ---------------------------------------------------------------------

DEVICE_FIX = ("is a sound server running? (PulseAudio/PipeWire: 'pactl info'); "
              "pick another device with --input-device/--output-device (see 'voicecli devices')")


def device_verdict(kind: str, wanted: int, opened: int | None, error: str | None,
                   name: str) -> CheckResult:
    """The verdict for opening a device: pass at ``wanted`` Hz, or at a rate we resample."""
    label = "microphone" if kind == "input" else "speaker"
    if error is not None:
        return CheckResult(label, False, error, DEVICE_FIX)
    if opened == wanted:
        return CheckResult(label, True, f"{name} opens at {wanted} Hz")
    return CheckResult(label, True, f"{name} opens at {opened} Hz (resampled to/from {wanted} Hz)")


def _open_device(kind: Literal["input", "output"], spec: str | None,
                 wanted: int) -> tuple[int | None, str | None, str]:
    """Open the device briefly at the rate a chat would use; (rate, error, device name)."""
    from voicecli.audio import devices

    try:
        index = devices.resolve_device(spec, kind)
        rate = devices.pick_rate(index, wanted, kind)
        s = devices.sd()
        info = s.query_devices(index, kind)
        cls = s.InputStream if kind == "input" else s.OutputStream
        with cls(device=index, samplerate=rate, channels=1, dtype="int16"):
            time.sleep(0.05)
        return rate, None, info["name"]
    except UserError as exc:
        return None, str(exc), ""
    except Exception as exc:  # PortAudioError and friends
        return None, f"cannot open the {kind} device: {exc}", ""


def check_input(ctx: DoctorContext) -> CheckResult:
    rate, error, name = _open_device("input", ctx.input_device, 16000)
    return device_verdict("input", 16000, rate, error, name)


def check_output(ctx: DoctorContext) -> CheckResult:
    rate, error, name = _open_device("output", ctx.output_device, 24000)
    return device_verdict("output", 24000, rate, error, name)


# -- "say something" -------------------------------------------------------------------

HEARD_DBFS = -45.0  # voice at a normal distance from a laptop mic is about -35..-20 dBFS


def level_verdict(peak_dbfs: float | None, seconds: float) -> CheckResult:
    """Did the microphone hear something louder than room noise?"""
    name = "microphone level"
    if peak_dbfs is None:
        return CheckResult(name, False, "no audio arrived from the microphone", DEVICE_FIX)
    if peak_dbfs >= HEARD_DBFS:
        return CheckResult(name, True, f"heard you (peak {peak_dbfs:.0f} dBFS)")
    return CheckResult(name, False, f"only silence in {seconds:.0f} s (peak {peak_dbfs:.0f} dBFS)",
                       "check the input is not muted and its volume is up, or pick another "
                       "device with --input-device")


def check_level(ctx: DoctorContext) -> CheckResult:
    """Listen for up to ``ctx.listen_s`` seconds; pass as soon as speech-level audio arrives."""
    from voicecli.audio import devices
    from voicecli.audio.levels import dbfs

    if ctx.listen_s is None:
        return CheckResult("microphone level", True, "skipped (--no-listen)")
    peak: list[float] = []
    try:
        index = devices.resolve_device(ctx.input_device, "input")
        rate = devices.pick_rate(index, 16000, "input")
        s = devices.sd()

        def callback(data: Any, frames: int, _t: Any, status: Any) -> None:
            peak.append(dbfs(data[:, 0]))

        ctx.say(f"say something (listening for up to {ctx.listen_s:.0f} s)...")
        with s.InputStream(device=index, samplerate=rate, channels=1, dtype="int16",
                           blocksize=rate // 50, callback=callback):
            deadline = time.monotonic() + ctx.listen_s
            while time.monotonic() < deadline and not (peak and max(peak) >= HEARD_DBFS):
                time.sleep(0.05)
    except UserError as exc:
        return CheckResult("microphone level", False, str(exc), DEVICE_FIX)
    except Exception as exc:
        return CheckResult("microphone level", False, f"cannot listen: {exc}", DEVICE_FIX)
    return level_verdict(max(peak) if peak else None, ctx.listen_s)


# -- dependencies ----------------------------------------------------------------------

# (label, module, required, what it is for). Optional ones are warnings when absent.
DEPENDENCIES: list[tuple[str, str, bool, str]] = [
    ("google-genai", "google.genai", True, "the Live API client"),
    ("sounddevice", "sounddevice", True, "microphone and speaker (PortAudio)"),
    ("webrtcvad", "webrtcvad", True, "local barge-in detection"),
    ("soxr", "soxr", True, "resampling for devices that cannot open at 16/24 kHz"),
    ("prompt-toolkit", "prompt_toolkit", True, "the live terminal view"),
    ("echo canceller (livekit)", "livekit.rtc", False,
     "talking over the reply on open speakers (pip install livekit)"),
    ("onnxruntime", "onnxruntime", False, "the Silero voice detector (pip install onnxruntime)"),
]


def import_verdict(label: str, required: bool, purpose: str, error: str | None) -> CheckResult:
    if error is None:
        return CheckResult(label, True, "importable")
    return CheckResult(label, False, f"not importable ({error})",
                       f"needed for {purpose}" if required else f"optional, for {purpose}",
                       "fail" if required else "warn")


def check_imports(ctx: DoctorContext) -> list[CheckResult]:
    results = []
    for label, module, required, purpose in DEPENDENCIES:
        try:
            importlib.import_module(module)
            error = None
        except Exception as exc:  # ImportError, or OSError for a missing shared library
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
        results.append(import_verdict(label, required, purpose, error))
    return results


def default_checks() -> list[Callable[[DoctorContext], CheckResult | list[CheckResult]]]:
    """The checks in the order they are shown. Append to add more (e.g. an echo check)."""
    return [check_credentials, check_endpoint, check_input, check_output, check_level,
            check_imports]


def run_checks(ctx: DoctorContext, checks: list[Callable[[DoctorContext], Any]],
               report: Callable[[CheckResult], None]) -> list[CheckResult]:
    """Run each check, reporting results as they come (a crash in one is a failure line)."""
    results: list[CheckResult] = []
    for check in checks:
        try:
            out = check(ctx)
        except Exception as exc:
            out = CheckResult(check.__name__.removeprefix("check_"), False,
                              f"the check itself failed: {type(exc).__name__}: {exc}")
        for result in out if isinstance(out, list) else [out]:
            results.append(result)
            report(result)
    return results
