"""Replies and turns: the shared types and arithmetic of the emulator's speech (pure)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from voicecli.emulator.record import ReplyRecord
from voicecli.emulator.scenario import Turn

AUDIO_TOKENS_PER_S = 25


def fragments(text: str) -> list[str]:
    """Split ``text`` into transcription fragments of 2–10 characters, as the API streams."""
    pieces: list[str] = []
    for token in re.findall(r"\s*\S+", text):
        while len(token) > 10:
            pieces.append(token[:8])
            token = token[8:]
        pieces.append(token)
    out: list[str] = []
    for piece in pieces:
        if out and (len(piece) < 2 or len(out[-1]) < 2) and len(out[-1]) + len(piece) <= 10:
            out[-1] += piece
        else:
            out.append(piece)
    return out


def text_tokens(text: str) -> int:
    """A plausible token count for text (about four characters a token)."""
    return math.ceil(len(text) / 4) if text else 0


def audio_tokens(pcm: bytes, rate: int) -> int:
    """Audio tokens: 25 per second."""
    return math.ceil(len(pcm) / 2 / rate * AUDIO_TOKENS_PER_S)


@dataclass
class UserTurn:
    """What the user said (or typed) that a reply answers."""

    kind: str  # "audio" or "text"
    pcm: bytes = b""  # 16 kHz
    text: str = ""


@dataclass
class Reply:
    """One model turn, from the scenario's turn to its audio going out."""

    turn: Turn
    user: UserTurn
    record: ReplyRecord
    prompt_tokens: dict[str, int]
    duration: float = 0.0
    started_at: float | None = None
    done: bool = False
    cancelled: bool = False
    call_id: str | None = None  # waiting for this tool response
    call_sent: bool = False  # the toolCall went out (only then can a resume restore it)
    speech_scheduled: bool = False  # record.reply_text is what it will say
    call_args: dict[str, Any] = field(default_factory=dict)


