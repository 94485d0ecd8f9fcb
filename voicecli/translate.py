"""``voicecli translate``: live speech-to-speech translation, the imperative shell.

    microphone/file ─► MicPipeline (muted while the translation plays, if half-duplex) ─► Live API
    Live API ─► TranslationState ─► events ─┬─► Player ─► PlayoutClock ─► speaker/file
                                            └─► EventBus (columns, Source:/Translation:, JSONL,
                                                transcript, subtitles, progress)

:class:`TranslateMode` is the translation's mode of a :class:`~voicecli.runner.SessionRunner`:
the translate model's configuration (or an interpreter prompt on a conversational model),
:class:`~voicecli.live.translation.TranslationState`, no barge-in (the speaker keeps talking
while the translation plays), echo handling, and a poll loop that releases translation lines
once their audio has played (so subtitle cues carry exact output positions), reports file
progress and ends a file once the translation has caught up.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from voicecli import catalog
from voicecli import events as ev
from voicecli.app import INPUT_END_TIMEOUT_S
from voicecli.audio import MIC_RATE
from voicecli.audio.engine import PlaybackReader, Sink, Source
from voicecli.audio.mic import MicPipeline, build_mic
from voicecli.audio.playout import PlayoutClock
from voicecli.live.translation import TranslationState
from voicecli.settings import Settings
from voicecli.ui.outputs import EventBus

if TYPE_CHECKING:
    from voicecli.runner import SessionRunner

POLL_S = 0.05
PROGRESS_EVERY_S = 0.25
CAUGHT_UP_QUIET_S = 3.0  # file input: done once the server was quiet this long after the end

INTERPRETER_PROMPT = (
    "You are a simultaneous interpreter. Translate everything the speaker says into {name} "
    "({code}) and speak only the translation, in the first person, keeping the speaker's "
    "tone. Never answer questions, comment, greet or add anything of your own. If the speech "
    "is already in {name}, repeat it as it is.{source}"
)


@dataclass(frozen=True)
class TranslateOptions:
    """What to translate into, and how to deal with the speaker's own echo."""

    target: str  # canonical code, e.g. "de" or "de-DE"
    source: str | None = None  # a hint for the speaker's language
    echo_target: bool = False
    headphones: bool = False


def uses_translate_model(model: str) -> bool:
    """True for the dedicated translate model (or any unknown id that says 'translate')."""
    info = catalog.model_info(model)
    return info.translation if info is not None else "translate" in model.lower()


def interpreter_prompt(target: str, source: str | None) -> str:
    """The system instruction that turns a conversational model into an interpreter."""
    hint = f" The speaker talks {catalog.language_name(source)}." if source else ""
    return INTERPRETER_PROMPT.format(name=catalog.language_name(target), code=target,
                                     source=hint)


def echo_canceller_available() -> bool:
    """Whether the echo canceller (livekit's AEC3) is installed; checked without importing it,
    so a missing package means half-duplex, never a failure."""
    import importlib.util

    return importlib.util.find_spec("livekit") is not None


def echo_mode(mic_is_device: bool, speaker_is_device: bool, headphones: bool,
              canceller: bool) -> str:
    """How the translation is kept out of the microphone.

    ``none`` (a file on either end: no acoustic path), ``headphones`` (full duplex, the user
    said so), ``canceller`` (full duplex with echo cancellation) or ``half-duplex`` (the
    microphone is muted while the translation plays).
    """
    if not (mic_is_device and speaker_is_device):
        return "none"
    if headphones:
        return "headphones"
    return "canceller" if canceller else "half-duplex"


ECHO_NOTES = {
    "headphones": "full duplex (--headphones): keep the translation out of the microphone",
    "canceller": "full duplex with echo cancellation",
    "half-duplex": "half-duplex: the microphone is muted while the translation plays "
                   "(wear headphones and pass --headphones to talk over it)",
}


class TranslateMode:
    """One ``voicecli translate`` session: see the module docstring."""

    def __init__(self, settings: Settings, options: TranslateOptions,
                 echo: str = "none") -> None:
        self.settings = settings
        self.options = options
        self.echo = echo
        self.translate_model = uses_translate_model(settings.model)
        self.state = TranslationState()
        self.playout: PlayoutClock | None = None
        self._runner: SessionRunner | None = None

    @property
    def runner(self) -> SessionRunner:
        assert self._runner is not None, "attach() first"
        return self._runner

    # -- SessionMode ----------------------------------------------------------------------
    def attach(self, runner: SessionRunner) -> None:
        self._runner = runner
        playback = runner.player.playback
        self.playout = PlayoutClock(playback)
        self.state = TranslationState(self.playout, drained=lambda: playback.buffered_frames == 0)

    def live_config(self, live_client: ModuleType) -> Any:
        o = self.options
        if self.translate_model:
            return live_client.make_translate_config(o.target, o.source, o.echo_target,
                                                     self.settings.live)
        return live_client.make_interpreter_config(self.settings)

    def make_mic(self) -> MicPipeline:
        runner = self.runner

        def on_chunk(pcm: bytes) -> None:
            runner.threadsafe(runner.send_mic_chunk, pcm)

        if self.echo == "canceller":
            # The chat pipeline's canceller, without barge-in (or its upstream gate): the
            # speaker keeps talking while the translation plays, and all of it must go out.
            return build_mic(runner.player.playback, runner.sink, "aec", barge_in=False,
                             on_chunk=on_chunk, on_barge_in=lambda _turn: None)
        return MicPipeline(runner.player.playback, None, on_chunk=on_chunk,
                           on_barge_in=lambda _turn: None,
                           half_duplex=self.echo == "half-duplex")

    def reader(self) -> PlaybackReader:
        assert self.playout is not None
        return self.playout

    def on_open(self) -> list[ev.Event]:
        events: list[ev.Event] = [ev.SessionStarted(model=self.settings.model,
                                                    detail=self.describe(),
                                                    session_id=self.runner.conn.session_id)]
        if not self.translate_model:
            events.append(ev.Status(state="interpreter", detail=self.describe()))
        if self.echo in ECHO_NOTES:
            events.append(ev.Status(state="echo", detail=ECHO_NOTES[self.echo]))
        source = self.runner.source
        what = "reading the input" if getattr(source, "duration_s", None) else "speak now"
        events.append(ev.Status(state="translating",
                                detail=f"{self.describe()}; {what}; Ctrl-C to quit"))
        return events

    # A continuous stream has no quiet moments and no tools: renew at once, settle nothing.
    def busy(self) -> bool:
        return False

    def on_mic_chunk(self, pcm: bytes) -> None:
        self.state.on_input(len(pcm) / 2 / MIC_RATE)

    def on_event(self, event: ev.Event) -> list[ev.Event]:
        return []

    def on_reconnecting(self) -> list[ev.Event]:
        return []

    def on_fresh_session(self) -> list[ev.Event]:
        return []

    def on_audio_started(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self) -> str:
        """What this session does, for session_started and the status line."""
        into = f"{catalog.language_name(self.options.target)} ({self.options.target})"
        if self.translate_model:
            return f"translating into {into}"
        return (f"interpreter prompt on {self.settings.model} (a conversational model, not "
                f"the translate model): translating into {into}")

    async def until_input_done(self) -> None:
        """The poll loop: release played lines, report progress, end a file once caught up."""
        runner = self.runner
        source = runner.source
        duration = getattr(source, "duration_s", None)
        last_progress = 0.0
        ended: float | None = None
        while True:
            await asyncio.sleep(POLL_S)
            for event in [*self.state.tick(), *self.state.release()]:
                runner.publish(event)
            now = time.monotonic()
            finished = source.finished.is_set()
            if duration and now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                position = min(duration, getattr(source, "position_s", duration))
                runner.publish(ev.Progress(position_s=position, duration_s=duration,
                                           catching_up=finished))
            if not finished:
                continue
            ended = ended or now
            quiet = now - runner.last_server_msg > CAUGHT_UP_QUIET_S
            if quiet and now - ended > CAUGHT_UP_QUIET_S and \
                    not runner.player.playback.is_playing(0.3):
                if not (self.state.lines or self.state.sources or self.state.pending):
                    runner.publish(ev.Notice(message="no speech was heard in the input: "
                                             "nothing to translate (no output files written)"))
                return
            if now - ended > INPUT_END_TIMEOUT_S:
                runner.publish(ev.ErrorEvent(message="input ended but the translation did "
                                             f"not finish within {INPUT_END_TIMEOUT_S:.0f} s"))
                return


def translate_runner(settings: Settings, options: TranslateOptions, bus: EventBus,
                     source: Source, sink: Sink, endpoint: str = "the Live API",
                     echo: str = "none") -> tuple[SessionRunner, TranslateMode]:
    """A runner for one translation session, and its mode."""
    from voicecli.runner import SessionRunner

    mode = TranslateMode(settings, options, echo)
    return SessionRunner(mode, settings, bus, source, sink, endpoint=endpoint), mode
