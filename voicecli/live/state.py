"""Conversation state: turns Live API server messages into typed events.

Sans-I/O: :class:`ConversationState` gets each ``LiveServerMessage`` (any object with the
SDK's attribute names; nothing here imports the SDK) and returns the events it implies. It
numbers assistant turns, joins the small transcription fragments into utterances, and
drops the audio and text of a turn once it was interrupted, locally or by the server.

A local barge-in first only HOLDS the reply (``local_interrupt``): its audio and text keep
coming, and its transcript line waits, until the interruption is confirmed (by the server's
``interrupted`` or ``confirm_local``: the line is marked interrupted) or proves false
(``resume_local``: the line is not marked).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

from voicecli import events as ev


def _usage(meta: Any) -> ev.Usage | None:
    if meta is None:
        return None
    by_modality: dict[str, int] = {}
    for attr, prefix in (("prompt_tokens_details", "prompt"),
                         ("response_tokens_details", "response")):
        for detail in getattr(meta, attr, None) or []:
            modality = getattr(detail, "modality", None)
            name = getattr(modality, "value", modality) or "UNKNOWN"
            key = f"{prefix}_{str(name).lower()}"
            by_modality[key] = by_modality.get(key, 0) + (detail.token_count or 0)
    return ev.Usage(
        prompt_tokens=getattr(meta, "prompt_token_count", None),
        response_tokens=getattr(meta, "response_token_count", None),
        total_tokens=getattr(meta, "total_token_count", None),
        by_modality=by_modality,
    )


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    return base64.b64decode(data) if data else b""


@dataclass
class ConversationState:
    """What the conversation looks like from the client, message by message."""

    turn: int = 0  # the current (or next) assistant turn number, from 1
    in_reply: bool = False  # the model is producing output for ``turn``
    interrupted_turn: int = 0  # highest turn cut off (its late output is dropped)
    user_text: str = ""
    assistant_text: str = ""
    pending_tool_calls: dict[str, str] = field(default_factory=dict)  # id -> name
    turns_completed: int = 0
    held_turn: int = 0  # turn held by a local barge-in, awaiting confirm/resume (0: none)
    _usage: Any = None
    _held_line: bool = False  # the held turn completed: its transcript line waits
    _queries: list[str] = field(default_factory=list)  # Google Search grounding of the turn
    _sources: list[dict[str, str]] = field(default_factory=list)

    # -- helpers ---------------------------------------------------------------------
    def _start_reply(self, out: list[ev.Event]) -> None:
        if not self.in_reply:
            self.turn += 1
            self.in_reply = True
            out.extend(self._finish_user())

    def _finish_user(self) -> list[ev.Event]:
        text, self.user_text = self.user_text.strip(), ""
        return [ev.UserTranscript(text=text)] if text else []

    def _finish_assistant(self, interrupted: bool = False) -> list[ev.Event]:
        text, self.assistant_text = self.assistant_text.strip(), ""
        out: list[ev.Event] = []
        if text:
            out.append(ev.AssistantTranscript(text=text, interrupted=interrupted))
        if self._queries or self._sources:  # shown under the reply it grounded
            out.append(ev.Grounding(turn=self.turn, queries=self._queries,
                                    sources=self._sources))
            self._queries, self._sources = [], []
        return out

    def _on_grounding(self, meta: Any) -> None:
        for query in getattr(meta, "web_search_queries", None) or []:
            if query not in self._queries:
                self._queries.append(str(query))
        for chunk in getattr(meta, "grounding_chunks", None) or []:
            web = getattr(chunk, "web", None)
            uri = getattr(web, "uri", None)
            if uri and all(s["uri"] != uri for s in self._sources):
                title = getattr(web, "title", None) or getattr(web, "domain", None) or uri
                self._sources.append({"title": str(title), "uri": str(uri)})

    def _dropping(self) -> bool:
        return self.in_reply and self.interrupted_turn >= self.turn

    # -- inputs ----------------------------------------------------------------------
    def local_interrupt(self, turn: int | None = None) -> list[ev.Event]:
        """Our own VAD heard the user over reply ``turn`` (default: the current one); the
        playback is already held. Empty if that turn is already held or interrupted."""
        turn = self.turn if turn is None else turn
        if turn <= 0 or self.held_turn or self.interrupted_turn >= turn:
            return []
        self.held_turn = turn
        return [ev.Interrupted(source="local", turn=turn)]

    def resume_local(self) -> list[ev.Event]:
        """The held barge-in was false: the reply plays on; its line is not marked."""
        turn, self.held_turn = self.held_turn, 0
        if not turn:
            return []
        out: list[ev.Event] = [ev.BargeInResumed(turn=turn)]
        if self._held_line:
            self._held_line = False
            out.extend(self._finish_assistant())
        return out

    def confirm_local(self) -> list[ev.Event]:
        """The held barge-in was real (decided here): drop the rest of the turn."""
        return self._confirm("local")

    def _confirm(self, by: Literal["local", "server"]) -> list[ev.Event]:
        turn, self.held_turn = self.held_turn, 0
        if not turn:
            return []
        out: list[ev.Event] = []
        if self.interrupted_turn < turn and (self._held_line or self.in_reply):
            out.extend(self._finish_assistant(interrupted=True))
        self._held_line = False
        self.interrupted_turn = max(self.interrupted_turn, turn)
        out.append(ev.BargeInConfirmed(turn=turn, by=by))
        return out

    def on_message(self, msg: Any) -> list[ev.Event]:
        """Translate one server message into events."""
        out: list[ev.Event] = []
        usage = getattr(msg, "usage_metadata", None)
        if usage is not None:
            self._usage = usage  # may come before or with turn_complete
        content = getattr(msg, "server_content", None)
        if content is not None:
            out.extend(self._on_content(content))
        tool_call = getattr(msg, "tool_call", None)
        if tool_call is not None:
            self._start_reply(out)
            for call in tool_call.function_calls or []:
                if call.id:
                    self.pending_tool_calls[call.id] = call.name or ""
                out.append(ev.ToolCall(id=call.id, name=call.name or "",
                                       args=dict(call.args or {})))
        cancel = getattr(msg, "tool_call_cancellation", None)
        if cancel is not None:
            ids = list(cancel.ids or [])
            for call_id in ids:
                self.pending_tool_calls.pop(call_id, None)
            out.append(ev.ToolCancelled(ids=ids))
        return out

    def finish(self) -> list[ev.Event]:
        """The session is ending: settle any half-heard utterance into a final line."""
        return [*self._finish_user(),
                *self._finish_assistant(interrupted=self.in_reply or bool(self.held_turn))]

    def connection_lost(self) -> list[ev.Event]:
        """The connection dropped: settle half-heard lines now (nothing received is lost or
        repeated later); a reply in flight will not continue, so its turn is over."""
        out = self.finish()
        self.in_reply = False
        return out

    def forget_tool_calls(self) -> list[str]:
        """A fresh session replaced the old one: pending calls can no longer be answered."""
        ids = list(self.pending_tool_calls)
        self.pending_tool_calls.clear()
        return ids

    def tool_answered(self, call_id: str | None) -> bool:
        """Record that we answered ``call_id``; False if it had been cancelled meanwhile."""
        if call_id is None:
            return True
        return self.pending_tool_calls.pop(call_id, None) is not None

    def _on_content(self, content: Any) -> list[ev.Event]:
        out: list[ev.Event] = []
        grounding = getattr(content, "grounding_metadata", None)
        if grounding is not None and not self._dropping():
            self._on_grounding(grounding)
        it = getattr(content, "input_transcription", None)
        if it is not None and it.text:
            self.user_text += it.text
            out.append(ev.UserTranscript(text=self.user_text.strip(), final=False))

        model_turn = getattr(content, "model_turn", None)
        if model_turn is not None and model_turn.parts:
            self._start_reply(out)
            if not self._dropping():
                for part in model_turn.parts:
                    blob = getattr(part, "inline_data", None)
                    if blob is not None and blob.data:
                        rate = _rate_of(blob.mime_type)
                        out.append(ev.AssistantAudio(turn=self.turn, pcm=_as_bytes(blob.data),
                                                     rate=rate))

        ot = getattr(content, "output_transcription", None)
        if ot is not None and ot.text:
            self._start_reply(out)
            if not self._dropping():
                self.assistant_text += ot.text
                out.append(ev.AssistantTranscript(text=self.assistant_text.strip(), final=False))

        if getattr(content, "interrupted", None):
            turn = self.turn
            held_line = self._held_line and self.held_turn == turn
            if (self.in_reply or held_line) and self.interrupted_turn < turn:
                out.extend(self._finish_assistant(interrupted=True))
            self._held_line = False
            self.interrupted_turn = max(self.interrupted_turn, turn)
            out.append(ev.Interrupted(source="server", turn=turn))
            out.extend(self._confirm("server"))
            self.in_reply = False

        if getattr(content, "turn_complete", None):
            if self.held_turn == self.turn and self.in_reply:
                self._held_line = True  # wait: confirmed or resumed decides how it ends
            elif self.in_reply or self.assistant_text:
                out.extend(self._finish_assistant())
            else:
                out.extend(self._finish_user())
            self.turns_completed += 1
            out.append(ev.TurnComplete(turn=self.turn, usage=_usage(self._usage)))
            self._usage = None
            self.in_reply = False
        return out


def _rate_of(mime: str | None, default: int = 24000) -> int:
    """The ``rate=`` parameter of an ``audio/pcm;rate=N`` MIME type."""
    for param in (mime or "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key == "rate" and value.isdigit():
            return int(value)
    return default
