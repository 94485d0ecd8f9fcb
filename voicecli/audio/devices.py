"""Finding and describing audio devices (thin wrapper over sounddevice/PortAudio).

``import sounddevice`` initialises PortAudio, so it happens here, on first use, not at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from voicecli.errors import DeviceError

Kind = Literal["input", "output"]


def sd() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise DeviceError(f"PortAudio is not available ({exc}); install libportaudio2 "
                          "(Debian/Ubuntu) or portaudio (Homebrew)") from None
    return sounddevice


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    inputs: int
    outputs: int
    default_rate: float
    default_input: bool
    default_output: bool


def list_devices() -> list[DeviceInfo]:
    s = sd()
    try:
        devices = s.query_devices()
        hostapis = s.query_hostapis()
    except s.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from None
    default_in, default_out = (s.default.device[0], s.default.device[1])
    return [
        DeviceInfo(index=i, name=d["name"], hostapi=hostapis[d["hostapi"]]["name"],
                   inputs=d["max_input_channels"], outputs=d["max_output_channels"],
                   default_rate=d["default_samplerate"], default_input=i == default_in,
                   default_output=i == default_out)
        for i, d in enumerate(devices)
    ]


def resolve_device(spec: str | None, kind: Kind) -> int | None:
    """An index for ``spec`` (an index, or a case-insensitive name substring); None = default."""
    if spec is None or spec == "":
        return None
    devices = [d for d in list_devices() if (d.inputs if kind == "input" else d.outputs) > 0]
    if spec.strip().isdigit():
        index = int(spec)
        if any(d.index == index for d in devices):
            return index
        raise DeviceError(f"no {kind} device with index {index}; see 'voicecli devices'")
    wanted = spec.strip().lower()
    exact = [d for d in devices if d.name.lower() == wanted]
    matches = exact or [d for d in devices if wanted in d.name.lower()]
    if len(matches) == 1:
        return matches[0].index
    if not matches:
        raise DeviceError(f"no {kind} device matches {spec!r}; see 'voicecli devices'")
    names = ", ".join(f"{d.index}: {d.name}" for d in matches)
    raise DeviceError(f"{spec!r} matches several {kind} devices ({names}); use the index")


def accepts(device: int | None, rate: int, kind: Kind) -> bool:
    """Whether PortAudio would open ``device`` as mono 16-bit at ``rate``."""
    s = sd()
    check = s.check_input_settings if kind == "input" else s.check_output_settings
    try:
        check(device=device, samplerate=rate, channels=1, dtype="int16")
        return True
    except (s.PortAudioError, ValueError):
        return False


def pick_rate(device: int | None, wanted: int, kind: Kind) -> int:
    """``wanted`` if the device supports it, else its native rate (we resample).

    Never lets PortAudio's "Invalid sample rate" reach the user.
    """
    if accepts(device, wanted, kind):
        return wanted
    s = sd()
    try:
        info = s.query_devices(device, kind)
    except (s.PortAudioError, ValueError) as exc:
        raise DeviceError(f"no usable {kind} device: {exc}") from None
    native = int(info["default_samplerate"])
    for rate in (native, 48000, 44100):
        if accepts(device, rate, kind):
            return rate
    raise DeviceError(f"{kind} device {info['name']!r} cannot be opened as mono 16-bit at "
                      f"{wanted} Hz or {native} Hz")


COMMON_RATES = (16000, 24000, 44100, 48000)


def supported_rates(device: int, kind: Kind, rates: tuple[int, ...] = COMMON_RATES) -> list[int]:
    """Which of ``rates`` the device accepts as mono 16-bit."""
    return [rate for rate in rates if accepts(device, rate, kind)]
