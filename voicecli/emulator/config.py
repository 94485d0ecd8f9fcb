"""Emulator configuration (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class EmulatorConfig:
    """How the emulator listens and behaves.

    ``scenario``: None (bundled default), ``"parrot"``, a bundled name or a TOML path.
    ``pace``: how much faster than real time reply audio is sent (0 = all at once).
    ``go_away_after_s``: if set, send ``goAway`` that long after setup and close the
    connection 1011 "Deadline expired" ``go_away_time_left_s`` later, as the real service
    does near its connection time limit.
    ``speed``: the client runs this much faster than real time (benchmarks only): a reply
    counts as still playing for its duration divided by ``speed``. Keep 1 for real clients.
    ``faults``: failures to inject (:class:`~voicecli.emulator.faults.Fault` or tables, see
    :mod:`voicecli.emulator.faults`); ``refuse_resumption``: refuse every resumption handle.
    ``tts``: ``"auto"`` (espeak-ng when installed), ``"espeak"`` or ``"fallback"`` (the
    bundled clip).
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = "emulator-key"
    token: str = "auth_tokens/emulator-token"  # an ephemeral token, on the constrained path
    scenario: str | Path | None = None
    interrupt_delay_ms: int = 300
    audio_chunk_ms: int = 40
    pace: float = 1.5
    silence_duration_ms: int = 500
    cert_dir: str | Path | None = None
    response_delay_ms: int = 200  # "thinking" time between the user's turn end and the reply
    burst_ms: int = 200  # reply audio is sent in bursts of this much audio
    tool_cancel_delay_ms: int = 300  # toolCall -> toolCallCancellation for cancel_tool_call
    go_away_after_s: float | None = None
    go_away_time_left_s: float = 5.0
    tts: str = "auto"
    speed: float = 1.0
    faults: tuple[Any, ...] = ()
    refuse_resumption: bool = False
    translate_lag_ms: int = 300  # translate model: end of an utterance -> its translation
    translate_silence_ms: int = 400  # translate model: the pause that ends an utterance
