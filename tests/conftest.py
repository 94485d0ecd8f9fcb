"""Shared pytest setup.

The virtual audio devices (scripts/virtual-audio.sh) are started in ``pytest_configure``, before
any test module is imported, because the environment they need (PULSE_SERVER, XDG_*, JACK_*)
must be set before PortAudio is loaded by ``import sounddevice``. The daemon is left running
after the session (starting it costs ~0.4 s; ``scripts/virtual-audio.sh stop`` stops it).

If PulseAudio is missing, tests marked ``audio`` (or using the ``virtual_audio`` fixture) FAIL
with the reason; they are never skipped.
"""

from __future__ import annotations

import pytest

from voicecli_testing.audio import VirtualAudioUnavailable, ensure_virtual_audio

_audio_env: dict[str, str] | None = None
_audio_error: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _audio_env, _audio_error
    try:
        _audio_env = ensure_virtual_audio()
    except VirtualAudioUnavailable as e:
        _audio_error = str(e)


def _fail_without_audio() -> None:
    if _audio_error is not None:
        pytest.fail(f"virtual audio is unavailable: {_audio_error}", pytrace=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("audio") is not None:
        _fail_without_audio()


@pytest.fixture(scope="session")
def virtual_audio() -> dict[str, str]:
    """The running virtual audio devices; returns the client environment variables (already
    in os.environ). Use voicecli_testing/audio.py to play into the mic and record the speaker."""
    _fail_without_audio()
    assert _audio_env is not None
    return _audio_env
