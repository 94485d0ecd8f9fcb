"""What happened on one emulator connection, recorded for tests (no credentials kept)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedMessage:
    """A message with the ``time.monotonic()`` at which it was received or sent."""

    t: float
    message: dict[str, Any]


@dataclass
class RecordedEvent:
    """A notable moment: ``speech_start``, ``interrupted``, ``turn_complete``, ..."""

    t: float
    name: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReplyRecord:
    """One model turn: what was meant to be said and how much of it went out."""

    index: int  # scenario turn index
    user_text: str  # input transcription (or the text the user typed)
    reply_text: str
    pcm: bytes = b""  # the whole reply, 24 kHz mono s16le
    sent_bytes: int = 0  # how much of ``pcm`` was sent before the end or an interruption
    started_at: float | None = None  # first audio chunk sent
    interrupted: bool = False
    tool_call: dict[str, Any] | None = None  # {"id", "name", "args"} if the turn called a tool
    resumed: bool = False  # restored from a resumption handle, waiting for its tool response

    @property
    def duration_s(self) -> float:
        """Length of the whole reply audio."""
        return len(self.pcm) / 2 / 24000


@dataclass
class ConnectionRecord:
    """Everything one connection did.

    ``client_messages`` holds every client message in order (normalised to snake_case);
    audio payloads are replaced by ``{"bytes": n, "mime_type": ...}`` and the decoded audio is
    joined in ``input_pcm`` (16 kHz mono s16le after resampling). ``sent`` holds every server
    message with audio data elided; ``replies`` the reply PCM per turn. ``events`` names:
    setup_complete, resumed, context_update, speech_start, speech_end, speech_ignored,
    user_turn, reply_start,
    tool_call, tool_call_cancellation, tool_response, tool_response_unmatched, first_audio,
    video_frame,
    interrupted, turn_complete, go_away, closed (by the emulator), client_closed.
    """

    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # credentials redacted
    authorized: bool = False
    setup: dict[str, Any] | None = None  # normalised to snake_case
    raw_setup: dict[str, Any] | None = None  # as sent
    session_id: str | None = None
    client_messages: list[RecordedMessage] = field(default_factory=list)
    input_pcm: bytearray = field(default_factory=bytearray)
    audio_chunks: int = 0
    text_inputs: list[str] = field(default_factory=list)
    client_contents: list[dict[str, Any]] = field(default_factory=list)
    tool_responses: list[dict[str, Any]] = field(default_factory=list)
    context_updates: list[dict[str, Any]] = field(default_factory=list)
    video_frames: list[Any] = field(default_factory=list)  # emulator.video.SeenFrame
    declared_tools: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> decl
    activity: list[RecordedEvent] = field(default_factory=list)  # activityStart/End, streamEnd
    sent: list[RecordedMessage] = field(default_factory=list)
    replies: list[ReplyRecord] = field(default_factory=list)
    events: list[RecordedEvent] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None

    def event(self, t: float, name: str, /, **detail: Any) -> None:
        """Append an event."""
        self.events.append(RecordedEvent(t, name, detail))

    def times(self, name: str) -> list[float]:
        """Timestamps of every event called ``name``."""
        return [e.t for e in self.events if e.name == name]

    def sent_of(self, key: str) -> list[dict[str, Any]]:
        """Sent messages having top-level ``key`` or ``serverContent.key``."""
        out = []
        for rec in self.sent:
            msg = rec.message
            if key in msg or key in msg.get("serverContent", {}):
                out.append(msg)
        return out
