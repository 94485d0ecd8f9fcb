"""The sans-I/O core of the emulator: one Live API session as a state machine.

A :class:`Session` is fed client frames with :meth:`Session.receive` and asked for what to
send with :meth:`Session.poll`; :meth:`Session.next_deadline` says when to poll again. Every
call takes ``now`` (``time.monotonic()`` seconds), so tests can drive it with a fake clock.
Outputs are :class:`Send` (a JSON-ready server message) and :class:`Close` (end the
connection with a WebSocket close code). The only blocking work is text-to-speech through
the injected :class:`~voicecli.emulator.speech.Synthesizer` (tens of milliseconds, cached).

Behaviour in brief: the first frame must be ``setup`` (validated by
:func:`~voicecli.emulator.settings.parse_setup`); each user turn (server VAD end of speech,
``activityEnd``, ``audioStreamEnd``, text) is answered by the next scenario turn with input
transcription fragments, paced bursts of 24 kHz audio chunks interleaved with output
transcription fragments, ``generationComplete`` and ``turnComplete`` + ``usageMetadata``.
User speech longer than ``interrupt_delay_ms`` while the reply is playing (first chunk sent
until first chunk + audio duration) sends ``interrupted`` and drops the rest of the turn.
An unknown session resumption handle closes the connection 1008 (policy), like other
credential-type failures. Handles are issued at setup, when a user turn is taken, after a tool
call is sent, when its response is consumed, when a reply's first audio goes out and at each
turn's end; a resumed connection continues from there: the scenario position, a tool call
still waiting for its response, a reply not a word of which was sent yet (it is said in full).
The rest of a reply in flight when a connection ends is lost, as with the real service.
Injected faults (:mod:`~voicecli.emulator.faults`) come out as :class:`Drop`,
:class:`Stall`, :class:`SendRaw` or :class:`Close`.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from voicecli.audio.resample import StreamResampler
from voicecli.emulator import wire
from voicecli.emulator.config import EmulatorConfig
from voicecli.emulator.faults import FaultInjector
from voicecli.emulator.record import ConnectionRecord, RecordedEvent, RecordedMessage, ReplyRecord
from voicecli.emulator.replies import Reply, UserTurn, audio_tokens, fragments, text_tokens
from voicecli.emulator.resumption import HandleStore, ResumeState
from voicecli.emulator.scenario import PARROT_TEXT, Scenario, render
from voicecli.emulator.settings import SessionSettings, parse_setup, parse_tools
from voicecli.emulator.speech import OUTPUT_RATE, Synthesizer, resample
from voicecli.emulator.timeline import Close, Drop, Output, Send, SendRaw, Stall, Timeline
from voicecli.emulator.translate import Translator
from voicecli.emulator.vad import RATE as INPUT_RATE
from voicecli.emulator.vad import VadEvent, VoiceActivityDetector, vad_settings
from voicecli.emulator.video import check_frame

__all__ = ["Close", "Drop", "HandleStore", "Output", "ResumeState", "Send", "SendRaw",
           "Session", "Stall", "fragments"]

FRAGMENT_SPACING_S = 0.01  # between input transcription fragments


class Session:
    """One Live API connection's protocol logic (see the module docstring)."""

    def __init__(
        self,
        config: EmulatorConfig,
        scenario: Scenario,
        synth: Synthesizer,
        handles: HandleStore,
        route: wire.Route,
        *,
        authorized: bool,
        record: ConnectionRecord | None = None,
        connection: int = 1,
    ) -> None:
        self.config = config
        self.scenario = scenario
        self.synth = synth
        self.handles = handles
        self.route = route
        self.authorized = authorized
        self.record = record if record is not None else ConnectionRecord()
        self.record.authorized = authorized
        self.settings: SessionSettings | None = None
        self.closed = False
        self.session_id = uuid.uuid4().hex
        self.timeline = Timeline()
        self._vad: VoiceActivityDetector | None = None
        self._resamplers: dict[int, StreamResampler] = {}
        self._turn_index = 0
        self._context_tokens = 0
        self._client_index = -1  # index of the last client message consumed
        self._reply: Reply | None = None  # latest reply (may be done but still playing)
        self._queue: list[UserTurn] = []
        self._had_turn = False
        self._seg_started_speaking = False
        self._seg_interrupted = False
        self._manual_active = False
        self._manual_buf = bytearray()
        self.connection = connection  # 1-based, for faults aimed at one connection
        self.faults = FaultInjector((*config.faults, *scenario.faults), connection,
                                    self.timeline, self.record)
        self._sent_count = 0
        self._translator: Translator | None = None  # on a translation model

    # ------------------------------------------------------------------ driver interface

    def receive(self, raw: str | bytes, now: float) -> None:
        """Handle one client frame."""
        if self.closed:
            return
        try:
            self._receive(raw, now)
        except wire.ProtocolError as e:
            self._close(e.code, e.reason, now)

    def poll(self, now: float) -> list[Output]:
        """Return everything due at ``now``, in order; a :class:`Close` is always last."""
        out: list[Output] = []
        self.faults.check(now, self._sent_count)
        for item in self.timeline.due(now):
            if self.closed:
                break
            result = item.build(now)
            if result is None:
                continue
            out.append(result)
            if isinstance(result, Send):
                self._sent_count += 1
                self.record.sent.append(
                    RecordedMessage(now, wire.elide_audio(result.message)))
            elif isinstance(result, Close | Drop):
                self.closed = True
                self.timeline.clear()
                code, reason = (result.code, result.reason) if isinstance(result, Close) \
                    else (None, "dropped")
                self.record.close_code, self.record.close_reason = code, reason
                self.record.event(now, "closed", code=code, reason=reason)
        self.faults.check(now, self._sent_count)
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`poll` next has something to do (None: only on the next frame)."""
        return self.timeline.next_deadline()

    def connection_lost(self, now: float, code: int | None = None, reason: str = "") -> None:
        """The client went away; nothing more will be sent."""
        if not self.closed:
            self.closed = True
            self.timeline.clear()
            self.record.close_code, self.record.close_reason = code, reason
            self.record.event(now, "client_closed", code=code, reason=reason)

    # ------------------------------------------------------------------ scheduling helpers

    def _at(self, t: float, build: Callable[[float], Output | None],
            reply: Reply | None = None) -> None:
        self.timeline.at(t, build, reply)

    def send(self, t: float, message: dict[str, Any], reply: Reply | None = None) -> None:
        """Send ``message`` at ``t`` (dropped if ``reply`` is interrupted first)."""
        self.timeline.send(t, message, reply)

    def _close(self, code: int, reason: str, now: float) -> None:
        self.timeline.clear()
        self._at(now, lambda _now: Close(code, wire.close_reason(reason)))

    # ------------------------------------------------------------------ client frames

    def _receive(self, raw: str | bytes, now: float) -> None:
        if not self.authorized:
            raise wire.ProtocolError(wire.CLOSE_POLICY, wire.API_KEY_INVALID)
        try:
            message = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise wire.ProtocolError(
                wire.CLOSE_INVALID, "Invalid JSON payload received. Unexpected token.") from None
        if not isinstance(message, dict):
            raise wire.ProtocolError(wire.CLOSE_INVALID, "Invalid JSON payload received.")
        if self.settings is None:
            self.record.raw_setup = message.get("setup")
            self._on_setup(wire.normalize(message), now)
            return
        message = wire.normalize(message)
        self._client_index += 1
        known = {"realtime_input", "client_content", "tool_response", "context_update"}
        unknown = set(message) - known
        if "setup" in unknown:
            raise wire.ProtocolError(wire.CLOSE_INVALID, "setup must be the first message only")
        if unknown:
            name = sorted(unknown)[0]
            raise wire.ProtocolError(
                wire.CLOSE_INVALID,
                f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
        self._record_client(message, now)
        if "realtime_input" in message:
            self._on_realtime(message["realtime_input"], now)
        if "client_content" in message:
            self._on_client_content(message["client_content"], now)
        if "tool_response" in message:
            self._on_tool_response(message["tool_response"], now)
        if "context_update" in message:
            self._on_context_update(message["context_update"], now)

    def _on_context_update(self, body: Any, now: float) -> None:
        """New tools (or a system instruction) mid-session, on the models that take them."""
        assert self.settings is not None
        if not self.settings.info.tools_mid_session:
            raise wire.ProtocolError(wire.CLOSE_INVALID,
                                     f"context_update is not supported by {self.settings.model}")
        body = body if isinstance(body, dict) else {}
        self.record.context_updates.append(body)
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, dict):
                raise wire.ProtocolError(wire.CLOSE_INVALID, "context_update.tools must be an "
                                         "object")
            names, search, declarations = parse_tools(tools.get("tools") or [])
            self.settings = dataclasses.replace(self.settings, tools=frozenset(names),
                                                search=search, declarations=declarations)
            self.record.declared_tools = {d["name"]: d for d in declarations}
        self.record.event(now, "context_update", tools=sorted(self.settings.tools))

    def _record_client(self, message: dict[str, Any], now: float) -> None:
        ri = message.get("realtime_input")
        if isinstance(ri, dict) and ({"audio", "media_chunks", "video"} & set(ri)):
            ri = dict(ri)
            for key in ("audio", "media_chunks", "video"):
                blobs = ri.get(key)
                if isinstance(blobs, dict):
                    ri[key] = self._blob_summary(blobs)
                elif isinstance(blobs, list):
                    ri[key] = [self._blob_summary(b) for b in blobs]
            message = {**message, "realtime_input": ri}
        self.record.client_messages.append(RecordedMessage(now, message))

    @staticmethod
    def _blob_summary(blob: Any) -> Any:
        if not isinstance(blob, dict):
            return blob
        try:
            size = len(wire.b64decode(blob.get("data", "")))
        except ValueError:
            size = -1
        return {"bytes": size, "mime_type": blob.get("mime_type")}

    def _on_setup(self, message: dict[str, Any], now: float) -> None:
        if set(message) != {"setup"}:
            raise wire.ProtocolError(wire.CLOSE_INVALID,
                                     "The first message must be a setup message.")
        self.record.setup = message["setup"]
        self.record.client_messages.append(RecordedMessage(now, message))
        settings = parse_setup(message["setup"], self.route)
        if settings.resumption_handle:
            state = self.handles.get(settings.resumption_handle)
            if state is None or self.config.refuse_resumption \
                    or self.scenario.refuse_resumption:
                raise wire.ProtocolError(
                    wire.CLOSE_POLICY, "Session resumption handle is invalid or has expired.")
            self.settings = settings  # the resumed reply is spoken with these settings
            self._resume(state, now)
        else:
            self._context_tokens = text_tokens(settings.system_instruction)
        self.settings = settings
        self.record.declared_tools = {d["name"]: d for d in settings.declarations}
        self.record.session_id = self.session_id
        if settings.info.translation:
            self._translator = Translator(self)
        self._vad = VoiceActivityDetector(vad_settings(
            silence_duration_ms=settings.silence_duration_ms,
            prefix_padding_ms=settings.prefix_padding_ms,
            start_sensitivity=settings.start_sensitivity,
            end_sensitivity=settings.end_sensitivity,
            default_silence_ms=self.config.silence_duration_ms,
        ))
        self.send(now, wire.setup_complete(self.session_id))
        self.record.event(now, "setup_complete", model=settings.model)
        self.faults.arm(now)
        if settings.resumption:
            self._at(now, self._resumption_update)
        if self.config.go_away_after_s is not None:
            left = self.config.go_away_time_left_s
            t = now + self.config.go_away_after_s
            self._at(t, lambda n: self._event_send(n, "go_away", wire.go_away(left)))
            self._at(t + left, lambda _n: Close(wire.CLOSE_INTERNAL, "Deadline expired"))

    def _event_send(self, now: float, name: str, message: dict[str, Any]) -> Output:
        self.record.event(now, name)
        return Send(message)

    def _resume(self, state: ResumeState, now: float) -> None:
        """Continue the conversation a handle describes."""
        self.session_id = state.session_id
        self._turn_index = state.turn_index
        self._context_tokens = state.context_tokens
        self._had_turn = state.turn_index > 0
        if state.pending_call is not None:
            call_id, name, args = state.pending_call
            turn = self.scenario.turn(state.pending_turn)
            record = ReplyRecord(index=state.pending_turn, user_text=turn.user,
                                 reply_text=turn.reply,
                                 tool_call={"id": call_id, "name": name, "args": args},
                                 resumed=True)
            self._reply = Reply(turn=turn, user=UserTurn("audio"), record=record,
                                 prompt_tokens={"TEXT": 0, "AUDIO": 0}, call_id=call_id,
                                 call_sent=True, call_args=args)
            self.record.replies.append(record)
        elif state.pending_reply is not None:  # say it all on this connection
            index, text = state.pending_reply
            turn = self.scenario.turn(index)
            record = ReplyRecord(index=index, user_text=turn.user, reply_text=turn.reply,
                                 resumed=True)
            self._reply = Reply(turn=turn, user=UserTurn("audio"), record=record,
                                 prompt_tokens={"TEXT": 0, "AUDIO": 0})
            self.record.replies.append(record)
            if text is None:
                self._begin(self._reply, now)
            else:
                self.speak(self._reply, text, None, now + self.config.response_delay_ms / 1000)
        self.record.event(now, "resumed", turn_index=state.turn_index,
                          pending_call=state.pending_call is not None,
                          pending_reply=state.pending_reply is not None)

    def _resumption_update(self, now: float) -> Output:
        reply = self._reply
        pending = None
        if reply is not None and reply.call_id and reply.call_sent and not reply.cancelled:
            pending = (reply.call_id, reply.record.tool_call["name"] if reply.record.tool_call
                       else "", reply.call_args)
        unsaid = None
        if pending is None and reply is not None and not reply.cancelled \
                and not reply.done and reply.started_at is None:
            unsaid = (reply.record.index,
                      reply.record.reply_text if reply.speech_scheduled else None)
        handle = self.handles.issue(ResumeState(
            self.session_id, self._turn_index, self._context_tokens, pending,
            reply.record.index if reply is not None else 0, unsaid))
        assert self.settings is not None
        index = self._client_index if self.settings.transparent_resumption else None
        return Send(wire.resumption_update(handle, index))

    # ------------------------------------------------------------------ realtime input

    def _on_realtime(self, body: Any, now: float) -> None:
        if not isinstance(body, dict):
            raise wire.ProtocolError(wire.CLOSE_INVALID, "realtime_input must be an object")
        assert self.settings is not None
        blobs: list[Any] = []
        if "audio" in body:
            blobs.append(body["audio"])
        if isinstance(body.get("media_chunks"), list):
            blobs.extend(body["media_chunks"])
        for blob in blobs:
            self._on_blob(blob, now)
        if "video" in body:
            self._on_video(body["video"], now)
        if self._translator is not None:
            self._on_translate_input(body, now)
            return
        manual = not self.settings.automatic_activity_detection
        for key in ("activity_start", "activity_end"):
            if key in body and not manual:
                raise wire.ProtocolError(
                    wire.CLOSE_INVALID,
                    "Explicit activity control is not supported when automatic activity "
                    "detection is enabled.")
        if "activity_start" in body:
            self.record.activity.append(RecordedEvent(now, "activity_start"))
            self._manual_active = True
            self._manual_buf = bytearray()
            self._speech_started(now)
            if self._speaking(now) and self.settings.interrupts:
                self._interrupt(now, "activity_start")
        if "activity_end" in body:
            self.record.activity.append(RecordedEvent(now, "activity_end"))
            if self._manual_active:
                self._manual_active = False
                self.record.event(now, "speech_end", source="activity_end")
                self._user_turn(UserTurn("audio", bytes(self._manual_buf)), now)
        if body.get("audio_stream_end"):
            self.record.activity.append(RecordedEvent(now, "audio_stream_end"))
            if self._vad is not None and not manual:
                event = self._vad.flush()
                if event is not None:
                    self._speech_ended(event, now)
        if isinstance(body.get("text"), str) and body["text"]:
            self.record.text_inputs.append(body["text"])
            self._text_turn(body["text"], now)

    def _on_blob(self, blob: Any, now: float) -> None:
        if not isinstance(blob, dict):
            raise wire.ProtocolError(wire.CLOSE_INVALID, "realtime_input.audio must be a Blob")
        rate = wire.pcm_rate(blob.get("mime_type"))
        if rate is None:  # video frames and other media are accepted and ignored
            return
        try:
            pcm = wire.b64decode(blob.get("data", ""))
        except ValueError:
            raise wire.ProtocolError(
                wire.CLOSE_INVALID,
                "Invalid value at 'realtime_input.audio.data' (TYPE_BYTES), "
                "Base64 decoding failed") from None
        pcm = self._to_16k(pcm[: len(pcm) // 2 * 2], rate)
        self.record.audio_chunks += 1
        self.record.input_pcm += pcm
        if self._translator is not None:
            self._translator.feed(pcm, now)
            return
        assert self.settings is not None
        if not self.settings.automatic_activity_detection:
            if self._manual_active:
                self._manual_buf += pcm
            return
        assert self._vad is not None
        for event in self._vad.feed(pcm):
            if event.kind == "start":
                self._speech_started(now, event)
            else:
                self._speech_ended(event, now)
        if self._vad.in_speech:
            self._check_barge_in(self._vad.voiced_ms, now)

    def _seen(self) -> dict[str, Any]:
        """What the scenario's ``{video...}`` fields read: the frames so far, the last one's
        colour and size."""
        frames = self.record.video_frames
        last = frames[-1] if frames else None
        return {"frames": len(frames), "color": last.color if last else None,
                "width": last.width if last else None, "height": last.height if last else None}

    def _on_video(self, blob: Any, now: float) -> None:
        """A screen or camera frame: checked like the service does, counted, recorded."""
        assert self.settings is not None
        if not self.settings.info.video:
            raise wire.ProtocolError(wire.CLOSE_INVALID,
                                     f"{self.settings.model} accepts audio input only")
        try:
            data = wire.b64decode(blob.get("data", "") if isinstance(blob, dict) else "")
        except ValueError:
            raise wire.ProtocolError(
                wire.CLOSE_INVALID, "Invalid value at 'realtime_input.video.data' "
                "(TYPE_BYTES), Base64 decoding failed") from None
        frame = check_frame(blob, data, now)
        self.record.video_frames.append(frame)
        self.record.event(now, "video_frame", index=len(self.record.video_frames),
                          width=frame.width, height=frame.height, color=frame.color)

    def _to_16k(self, pcm: bytes, rate: int) -> bytes:
        if rate == INPUT_RATE or not pcm:
            return pcm
        stream = self._resamplers.get(rate)
        if stream is None:
            stream = self._resamplers[rate] = StreamResampler(rate, INPUT_RATE)
        out = stream.process(np.frombuffer(pcm, dtype="<i2"))
        return np.asarray(out, dtype="<i2").tobytes()

    def _on_translate_input(self, body: dict[str, Any], now: float) -> None:
        """A translation model takes audio only and detects utterances itself."""
        if body.get("text") or "activity_start" in body or "activity_end" in body:
            raise wire.ProtocolError(
                wire.CLOSE_INVALID, f"{self.settings and self.settings.model} accepts audio "
                "input only")
        if body.get("audio_stream_end") and self._translator is not None:
            self.record.activity.append(RecordedEvent(now, "audio_stream_end"))
            self._translator.flush(now)

    def _speech_started(self, now: float, event: VadEvent | None = None) -> None:
        self._seg_started_speaking = self._speaking(now)
        self._seg_interrupted = False
        detail = {"onset_s": event.sample / INPUT_RATE} if event else {"source": "activity"}
        self.record.event(now, "speech_start", **detail)

    def _check_barge_in(self, speech_ms: float, now: float) -> None:
        assert self.settings is not None
        if (not self._seg_interrupted and self.settings.interrupts
                and speech_ms >= self.config.interrupt_delay_ms and self._speaking(now)):
            self._seg_interrupted = True
            self._interrupt(now, "speech")

    def _speech_ended(self, event: VadEvent, now: float) -> None:
        assert self._vad is not None
        duration_ms = event.duration_ms
        self._check_barge_in(duration_ms, now)
        self.record.event(now, "speech_end", duration_s=duration_ms / 1000)
        if (self._seg_started_speaking and not self._seg_interrupted
                and duration_ms < self.config.interrupt_delay_ms):
            self.record.event(now, "speech_ignored")  # a short sound over the model's speech
            return
        self._user_turn(UserTurn("audio", event.audio), now)

    # ------------------------------------------------------------------ other client input

    def _on_client_content(self, body: Any, now: float) -> None:
        assert self.settings is not None
        if not isinstance(body, dict):
            raise wire.ProtocolError(wire.CLOSE_INVALID, "client_content must be an object")
        if self._translator is not None:
            raise wire.ProtocolError(
                wire.CLOSE_INVALID, f"{self.settings.model} accepts audio input only")
        if self._had_turn and not self.settings.info.mid_session_text:
            raise wire.ProtocolError(
                wire.CLOSE_INVALID,
                f"client_content is only accepted to seed history on {self.settings.model}; "
                "use realtime_input.text")
        self.record.client_contents.append(body)
        turns = body.get("turns") or []
        if isinstance(turns, dict):
            turns = [turns]
        if body.get("turn_complete"):
            text = ""
            for content in turns:
                if isinstance(content, dict) and content.get("role", "user") == "user":
                    parts = content.get("parts") or []
                    text = " ".join(p.get("text", "") for p in parts if isinstance(p, dict))
            self._text_turn(text, now)
        else:
            for content in turns:
                if isinstance(content, dict):
                    for part in content.get("parts") or []:
                        if isinstance(part, dict):
                            self._context_tokens += text_tokens(part.get("text", ""))

    def _on_tool_response(self, body: Any, now: float) -> None:
        responses = body.get("function_responses") if isinstance(body, dict) else None
        if not isinstance(responses, list):
            raise wire.ProtocolError(wire.CLOSE_INVALID,
                                     "tool_response.function_responses must be a list")
        for fr in responses:
            if not isinstance(fr, dict):
                continue
            self.record.tool_responses.append(fr)
            self.record.event(now, "tool_response", id=fr.get("id"), name=fr.get("name"))
            reply = self._reply
            if reply is None or reply.cancelled or reply.call_id is None \
                    or fr.get("id") != reply.call_id:
                self.record.event(now, "tool_response_unmatched", id=fr.get("id"))
                continue
            reply.call_id = None
            if self.settings is not None and self.settings.resumption:
                self._at(now, self._resumption_update)  # the call is settled
            result = fr.get("response")
            self._context_tokens += text_tokens(json.dumps(result, default=str))
            if str(fr.get("scheduling", "")).upper() == "SILENT":
                self.speak(reply, "", b"", now)
            else:
                text = render(reply.turn.reply, result, reply.call_args, self._seen())
                self.speak(reply, text, None, now + self.config.response_delay_ms / 1000)

    # ------------------------------------------------------------------ turns

    def _text_turn(self, text: str, now: float) -> None:
        interrupts = self.settings is None or self.settings.interrupts
        if interrupts and self._reply is not None and not self._reply.cancelled and (
                not self._reply.done or self._speaking(now)):
            self._interrupt(now, "text")
        self._user_turn(UserTurn("text", text=text), now)

    def _active(self) -> bool:
        return self._reply is not None and not self._reply.done and not self._reply.cancelled

    def _speaking(self, now: float) -> bool:
        reply = self._reply
        if reply is None or reply.cancelled or reply.started_at is None:
            return False
        return not reply.done or now < reply.started_at + reply.duration / self.config.speed

    def _interrupt(self, now: float, cause: str) -> None:
        reply = self._reply
        if reply is None or reply.cancelled:
            return
        reply.cancelled = True
        reply.record.interrupted = True
        self.record.event(now, "interrupted", cause=cause)
        self.send(now, wire.interrupted())

    def _user_turn(self, user: UserTurn, now: float) -> None:
        self._had_turn = True
        self.record.event(now, "user_turn", kind=user.kind)
        if self._active():
            self._queue.append(user)
        else:
            self._start_reply(user, now)

    def _start_reply(self, user: UserTurn, now: float) -> None:
        assert self.settings is not None
        settings = self.settings
        turn = self.scenario.turn(self._turn_index)
        self._turn_index += 1
        prompt = {"TEXT": 0, "AUDIO": 0}
        if user.kind == "audio":
            prompt["AUDIO"] = audio_tokens(user.pcm, INPUT_RATE)
            user_text = turn.user
        else:
            prompt["TEXT"] = text_tokens(user.text)
            user_text = user.text
        record = ReplyRecord(index=self._turn_index - 1, user_text=user_text,
                             reply_text=turn.reply)
        reply = Reply(turn=turn, user=user, record=record, prompt_tokens=prompt)
        self._reply = reply
        self.record.replies.append(record)
        self.record.event(now, "reply_start", index=record.index)
        if settings.resumption:
            self._at(now, self._resumption_update)  # the user's turn is taken
        if user.kind == "audio" and settings.input_transcription:
            for i, frag in enumerate(fragments(user_text)):
                self.send(now + i * FRAGMENT_SPACING_S, wire.input_transcription(frag), reply)
        self._begin(reply, now)

    def _begin(self, reply: Reply, now: float) -> None:
        """After the thinking time: call the turn's tool, or speak its reply."""
        assert self.settings is not None
        settings, turn, user, record = self.settings, reply.turn, reply.user, reply.record
        t = now + self.config.response_delay_ms / 1000
        if self.scenario.parrot:
            if user.kind == "audio" and user.pcm:
                self.speak(reply, PARROT_TEXT, resample(user.pcm, INPUT_RATE, OUTPUT_RATE), t)
            else:
                self.speak(reply, user.text or PARROT_TEXT, None, t)
            return
        call = turn.tool_call
        if call is None:
            self.speak(reply, render(turn.reply, video=self._seen()), None, t)
        elif call.name not in settings.tools:
            self.speak(reply, turn.no_tool_reply, None, t)
        else:
            call_id = f"function-call-{secrets.randbelow(10**19):019d}"
            record.tool_call = {"id": call_id, "name": call.name, "args": call.args}
            reply.call_args = call.args
            def send_call(n: float) -> Output:
                reply.call_sent = True
                return self._event_send(n, "tool_call",
                                        wire.tool_call(call_id, call.name, call.args))

            self._at(t, send_call, reply)
            if settings.resumption and not turn.cancel_tool_call:
                self._at(t, self._resumption_update, reply)  # the call waits for its answer
            if turn.cancel_tool_call:
                t_cancel = t + self.config.tool_cancel_delay_ms / 1000
                self._at(t_cancel, lambda n: self._event_send(
                    n, "tool_call_cancellation", wire.tool_call_cancellation([call_id])), reply)
                text = render(turn.reply, None, call.args)
                self.speak(reply, text, None, t_cancel + self.config.response_delay_ms / 1000)
            else:
                reply.call_id = call_id

    def speak(self, reply: Reply, text: str, pcm: bytes | None, t0: float,
               ends_turn: bool = True) -> None:
        """Schedule the audio, transcription and (``ends_turn``) end-of-turn messages of
        ``reply``."""
        assert self.settings is not None
        settings, cfg = self.settings, self.config
        if pcm is None:
            pcm = self.synth.speak(text, settings.voice, settings.language) if text else b""
        reply.record.reply_text = text
        reply.speech_scheduled = True
        reply.record.pcm = pcm
        reply.duration = len(pcm) / 2 / OUTPUT_RATE
        chunk_bytes = max(2, cfg.audio_chunk_ms * OUTPUT_RATE // 1000 * 2)
        per_burst = max(1, cfg.burst_ms // max(1, cfg.audio_chunk_ms))
        burst_s = per_burst * cfg.audio_chunk_ms / 1000

        def burst_time(burst: int) -> float:
            return t0 + (burst * burst_s / cfg.pace if cfg.pace > 0 else 0.0)

        chunks = [pcm[i:i + chunk_bytes] for i in range(0, len(pcm), chunk_bytes)]
        for i, chunk in enumerate(chunks):
            self._at(burst_time(i // per_burst), self._chunk_sender(reply, chunk), reply)
        if settings.output_transcription and text:
            pieces = fragments(text)
            total = sum(len(p) for p in pieces)
            offset = 0
            for piece in pieces:
                audio_s = reply.duration * offset / total
                offset += len(piece)
                self.send(burst_time(int(audio_s / burst_s)),
                           wire.output_transcription(piece), reply)
        t_end = burst_time(max(0, len(chunks) - 1) // per_burst)
        grounding = reply.turn.grounding
        if grounding is not None and settings.search:
            self.send(t_end, wire.grounding(list(grounding.get("queries", [])),
                                             list(grounding.get("sources", []))), reply)
        if not ends_turn:  # the translate model streams on: no turns
            return
        self.send(t_end, wire.generation_complete(), reply)
        self._at(t_end, lambda n: self._finish(reply, n), reply)
        if settings.resumption:
            self._at(t_end, self._resumption_update, reply)

    def _chunk_sender(self, reply: Reply, chunk: bytes) -> Callable[[float], Output]:
        def build(now: float) -> Output:
            if reply.started_at is None:
                reply.started_at = reply.record.started_at = now
                self.record.event(now, "first_audio", index=reply.record.index)
                if self.settings is not None and self.settings.resumption:
                    self._at(now, self._resumption_update)  # from here on it is in flight
            reply.record.sent_bytes += len(chunk)
            return Send(wire.audio_chunk(chunk, OUTPUT_RATE))
        return build

    def _finish(self, reply: Reply, now: float) -> Output:
        response = {"AUDIO": audio_tokens(reply.record.pcm, OUTPUT_RATE)}
        self._context_tokens += sum(reply.prompt_tokens.values())
        prompt_total = self._context_tokens
        # Report the whole context as prompt, split by modality in proportion.
        prompt = dict(reply.prompt_tokens)
        prompt["TEXT"] += prompt_total - sum(prompt.values())
        self._context_tokens += sum(response.values())
        reply.done = True
        if reply.started_at is None:
            reply.started_at = now
        self.record.event(now, "turn_complete", index=reply.record.index)
        usage = wire.usage_metadata(prompt, response, vertex=self.route.api == "vertex")
        if self._queue:
            self._start_reply(self._queue.pop(0), now)
        return Send(wire.turn_complete(usage))
