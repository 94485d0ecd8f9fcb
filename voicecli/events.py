"""The one internal event stream.

Everything that happens in a session becomes one of these small, immutable records. The
terminal view, the piped text writer, the JSONL writer and the transcript file all consume
the same stream; nothing deep in the engine prints.

Each event has a ``type`` (the JSONL ``type`` field) and a wall-clock timestamp ``ts``
(seconds since the epoch). ``to_json_dict`` gives the JSONL form.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal


def _now() -> float:
    return time.time()


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base class: every event carries a wall-clock timestamp."""

    type: ClassVar[str] = "event"
    ts: float = field(default_factory=_now)

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        ts = data.pop("ts")
        return {"type": self.type, "ts": round(ts, 3), **data}


@dataclass(frozen=True, kw_only=True)
class SessionStarted(Event):
    type: ClassVar[str] = "session_started"
    model: str
    voice: str | None = None
    session_id: str | None = None
    detail: str = ""  # e.g. "translate to de" or "interpreter prompt on gemini-3.8-live"


@dataclass(frozen=True, kw_only=True)
class SessionEnded(Event):
    """``speaker_xruns`` / ``mic_xruns``: blocks the audio devices reported as under- or
    overrun (dropouts; each one also makes the echo canceller re-converge)."""

    type: ClassVar[str] = "session_ended"
    reason: str = "user"
    exit_code: int = 0
    speaker_xruns: int = 0
    mic_xruns: int = 0


@dataclass(frozen=True, kw_only=True)
class AudioDropout(Event):
    """The speaker or the microphone under- or overran (the sound skipped) since the last
    such event. After one the echo canceller re-converges and barge-in is stricter for 2 s,
    so this is what explains a slow barge-in then. ``speaker`` / ``mic``: the session's
    totals so far (at most one event a second, so one event may cover several)."""

    type: ClassVar[str] = "audio_dropout"
    speaker: int = 0
    mic: int = 0


@dataclass(frozen=True, kw_only=True)
class UserTranscript(Event):
    """What the user said. ``final`` is False for in-progress partial text."""

    type: ClassVar[str] = "user_transcript"
    text: str
    final: bool = True


@dataclass(frozen=True, kw_only=True)
class AssistantTranscript(Event):
    """What the assistant said (from output transcription)."""

    type: ClassVar[str] = "assistant_transcript"
    text: str
    final: bool = True
    interrupted: bool = False


@dataclass(frozen=True, kw_only=True)
class AssistantAudio(Event):
    """A chunk of reply audio: 16-bit mono PCM at ``rate`` Hz, for assistant turn ``turn``.

    Not written to JSONL (too large); consumed by the player.
    """

    type: ClassVar[str] = "assistant_audio"
    turn: int
    pcm: bytes
    rate: int = 24000


@dataclass(frozen=True, kw_only=True)
class ReplyStarted(Event):
    """The first audio of reply ``turn`` reached the player. ``latency_ms``: since the end of
    the user's speech (the last loud microphone chunk sent, a typed line or the end of
    push-to-talk); None when the user said nothing since the previous reply."""

    type: ClassVar[str] = "reply_started"
    turn: int
    latency_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class Interrupted(Event):
    """The reply was cut off: ``source`` is ``local`` (our VAD) or ``server``."""

    type: ClassVar[str] = "interrupted"
    source: Literal["local", "server"]
    turn: int | None = None


@dataclass(frozen=True, kw_only=True)
class BargeInResumed(Event):
    """A local interruption proved false (short sound, the server did not confirm it): the
    held reply plays on from where it stopped."""

    type: ClassVar[str] = "barge_in_resumed"
    turn: int | None = None


@dataclass(frozen=True, kw_only=True)
class BargeInConfirmed(Event):
    """A local interruption was real: the held reply is discarded. ``by`` says who decided:
    the ``server`` (its ``interrupted``) or ``local`` (the user kept talking)."""

    type: ClassVar[str] = "barge_in_confirmed"
    turn: int | None = None
    by: Literal["local", "server"] = "server"


@dataclass(frozen=True, kw_only=True)
class Usage:
    prompt_tokens: int | None = None
    response_tokens: int | None = None
    total_tokens: int | None = None
    by_modality: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TurnComplete(Event):
    type: ClassVar[str] = "turn_complete"
    turn: int | None = None
    usage: Usage | None = None


@dataclass(frozen=True, kw_only=True)
class ToolCall(Event):
    type: ClassVar[str] = "tool_call"
    id: str | None
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ToolResult(Event):
    """A tool's answer, sent to the model; ``elapsed_ms`` from the call's arrival (a wait
    for the user's confirmation included)."""

    type: ClassVar[str] = "tool_result"
    id: str | None
    name: str
    result: dict[str, Any]
    elapsed_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class ToolConfirmation(Event):
    """A tool that must ask first: ``state`` is ``asked`` (the user is being asked), ``yes``,
    ``no``, ``always`` (trusted for the rest of the session) or ``refused`` (nobody could be
    asked: no terminal and no ``--yes``). ``hints``: what its server says of it
    (read-only, destructive), shown but never relied on."""

    type: ClassVar[str] = "tool_confirmation"
    id: str | None
    name: str
    args: dict[str, Any]
    state: Literal["asked", "yes", "no", "always", "refused"]
    hints: str = ""


@dataclass(frozen=True, kw_only=True)
class McpServer(Event):
    """An MCP server is ``ready`` (with its ``tools``: declared name -> its own name) or
    ``failed`` to start (``error``: one line); ``declared``: ``now`` (sent to the live
    session), ``next_connection`` (the model takes no new tools mid-session: they are
    declared when the connection is next renewed) or ``setup``."""

    type: ClassVar[str] = "mcp_server"
    name: str
    state: Literal["ready", "failed"]
    tools: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    started_s: float | None = None
    declared: str = ""


@dataclass(frozen=True, kw_only=True)
class Grounding(Event):
    """What Google Search grounded reply ``turn`` on: the queries it ran and its sources
    (``{"title", "uri"}``)."""

    type: ClassVar[str] = "grounding"
    turn: int | None
    queries: list[str] = field(default_factory=list)
    sources: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ToolCancelled(Event):
    """The server cancelled these calls, or (``lost=True``) a fresh session after a
    reconnect no longer knows them, so they will never be answered."""

    type: ClassVar[str] = "tool_cancelled"
    ids: list[str]
    lost: bool = False


@dataclass(frozen=True, kw_only=True)
class Status(Event):
    """A state change for the status display (connecting, listening, speaking, ...)."""

    type: ClassVar[str] = "status"
    state: str
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Reconnecting(Event):
    """The connection dropped (or is being renewed after ``goAway``); trying again.

    ``reason``: ``go_away`` or what ended it (``1011 Deadline expired``, ...).
    """

    type: ClassVar[str] = "reconnecting"
    reason: str
    attempt: int = 1
    delay_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Resumed(Event):
    """Connected again. ``fresh``: the server refused the resumption handle, so this is a
    new session without the earlier context. ``gap_ms``: how long no connection was open."""

    type: ClassVar[str] = "resumed"
    gap_ms: float
    attempts: int = 1
    fresh: bool = False
    replayed: int = 0  # client messages sent again because the server had not seen them


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    """Something the user should know that is not an error (shown on stderr)."""

    type: ClassVar[str] = "notice"
    message: str


@dataclass(frozen=True, kw_only=True)
class TextInput(Event):
    """The user typed ``text`` into the live session (sent as realtime text input)."""

    type: ClassVar[str] = "text_input"
    text: str


@dataclass(frozen=True, kw_only=True)
class Muted(Event):
    """The microphone was muted (silence is sent instead) or unmuted."""

    type: ClassVar[str] = "muted"
    muted: bool


@dataclass(frozen=True, kw_only=True)
class PushToTalk(Event):
    """Push-to-talk: ``active`` True when activity start was sent, False at activity end."""

    type: ClassVar[str] = "push_to_talk"
    active: bool


@dataclass(frozen=True, kw_only=True)
class ErrorEvent(Event):
    type: ClassVar[str] = "error"
    message: str
    fatal: bool = False


@dataclass(frozen=True, kw_only=True)
class TimedLine(Event):
    """A line of translate mode: ``final`` is False for in-progress text; final lines carry
    where they are in the audio (``start_s``/``end_s``, seconds)."""

    text: str
    final: bool = True
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class SourceText(TimedLine):
    """What the speaker said, in their language (from input transcription).

    Times are positions in the input stream (seconds of microphone or file audio sent). The
    server transcribes with a lag, so they say when the words were recognised, not when
    they began.
    """

    type: ClassVar[str] = "source_text"


@dataclass(frozen=True, kw_only=True)
class Translation(TimedLine):
    """The translation of the speech (from output transcription).

    Times are where its audio plays in the output stream (seconds since the speaker or the
    ``--output`` file started); final lines come once the audio has played. Subtitles take
    their cue times from these.
    """

    type: ClassVar[str] = "translation"


@dataclass(frozen=True, kw_only=True)
class Progress(Event):
    """How far a finite input (``--input FILE``) has been sent: ``position_s`` of ``duration_s``.

    ``catching_up`` is True once the input is done and the translation is still coming.
    """

    type: ClassVar[str] = "progress"
    position_s: float
    duration_s: float
    catching_up: bool = False


@dataclass(frozen=True, kw_only=True)
class VideoStarted(Event):
    """Sharing began: ``source`` says what (``screen 1 (1920×1080)``, ``camera 0``,
    ``video demo.mp4``) at ``fps`` frames a second at most."""

    type: ClassVar[str] = "video_started"
    source: str
    fps: float


@dataclass(frozen=True, kw_only=True)
class VideoStopped(Event):
    """Sharing ended: ``reason`` (``stopped``, ``the video ended``, an error); ``frames``
    sent in all."""

    type: ClassVar[str] = "video_stopped"
    source: str
    reason: str
    frames: int = 0


@dataclass(frozen=True, kw_only=True)
class VideoFrameSent(Event):
    """A JPEG frame went to the server: ``index`` (from 1), its size, and
    ``capture_to_send_ms`` (from the start of its grab to the end of its send)."""

    type: ClassVar[str] = "video_frame"
    index: int
    bytes: int
    width: int
    height: int
    capture_to_send_ms: float


# Events that never go to JSONL: high-rate or internal.
NOT_IN_JSONL = frozenset({AssistantAudio.type, Progress.type})
