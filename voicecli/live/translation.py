"""Translation state: turns translate-model messages into source and translation lines.

Sans-I/O like :mod:`voicecli.live.state`: it is fed ``LiveServerMessage``-like objects and
returns events. The translate model streams continuously (no turns): input transcription
fragments of what the speaker says, translated audio, and output transcription fragments of
the translation. This class assembles the fragments into lines and gives each line a place
in time:

- Source lines: positions in the *input* stream (seconds of audio sent, ``on_input``), taken
  when their first and last fragments arrived. A line ends at sentence punctuation, when its
  translation starts to arrive, or after ``source_idle_s`` without fragments.
- Translation lines (cues): spans of the *received* translation audio, mapped to positions in
  the *output* stream through a :class:`Playout` (the playout clock: where each received
  sample actually played). A cue ends when the translation pauses (the playback buffer ran
  dry and no audio came for ``gap_s``), at a turn end (interpreter fallback on a
  conversational model), or at sentence punctuation once it is long. Final translation
  lines are released by :meth:`release` once their audio has played, with exact times.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from voicecli import events as ev
from voicecli.live.state import _as_bytes, _rate_of

SENTENCE_END = (".", "!", "?", "。", "！", "？", "…", "؟", "।")
MAX_CUE_CHARS = 84  # two subtitle lines of 42
TAIL_TOLERANCE_S = 0.05  # a resampler may hold back the last few ms of a run


class Playout(Protocol):
    """Where received translation audio plays (see voicecli.audio.playout.PlayoutClock)."""

    def played_at(self, received_s: float, end: bool = False) -> float | None: ...
    def estimate(self, received_s: float, end: bool = False) -> float: ...


class _NoPlayout:
    """Stand-in before a player exists: audio 'plays' the moment it is received."""

    def played_at(self, received_s: float, end: bool = False) -> float | None:
        return received_s

    def estimate(self, received_s: float, end: bool = False) -> float:
        return received_s


@dataclass
class Cue:
    """One translation line: its text and its span of received audio (seconds)."""

    text: str = ""
    start: float | None = None  # None until its first audio arrives
    end: float | None = None  # set when the cue is closed


def _finished_sentence(text: str) -> bool:
    return text.rstrip().endswith(SENTENCE_END)


class TranslationState:
    """Source and translation lines from a continuous translation stream."""

    def __init__(self, playout: Playout | None = None,
                 now: Callable[[], float] = time.monotonic,
                 drained: Callable[[], bool] = lambda: True,
                 gap_s: float = 0.35, source_idle_s: float = 2.0) -> None:
        self.playout: Playout = playout or _NoPlayout()
        self.now = now
        self.drained = drained  # True when no translation audio is queued for playing
        self.gap_s = gap_s
        self.source_idle_s = source_idle_s
        self.input_s = 0.0  # seconds of input audio sent so far
        self.received_s = 0.0  # seconds of translation audio received so far
        self._last_audio_at = -1e9
        self._cue = Cue()
        self._closed: deque[Cue] = deque()
        self._source = ""
        self._source_start = 0.0
        self._source_end = 0.0
        self._last_source_at = 0.0
        self.lines = 0  # final translation lines released
        self.sources = 0  # final source lines

    # -- inputs ----------------------------------------------------------------------
    def on_input(self, seconds: float) -> None:
        """``seconds`` more of input audio went to the server."""
        self.input_s += seconds

    def on_message(self, msg: Any) -> list[ev.Event]:
        """Events for one server message (partial lines and translation audio)."""
        out: list[ev.Event] = []
        content = getattr(msg, "server_content", None)
        if content is None:
            return out
        it = getattr(content, "input_transcription", None)
        if it is not None and it.text:
            out.extend(self._on_source(it.text))
        model_turn = getattr(content, "model_turn", None)
        for part in (model_turn.parts or []) if model_turn is not None else []:
            blob = getattr(part, "inline_data", None)
            if blob is not None and blob.data:
                pcm, rate = _as_bytes(blob.data), _rate_of(blob.mime_type)
                out.extend(self._on_audio(len(pcm) / 2 / rate))
                out.append(ev.AssistantAudio(turn=0, pcm=pcm, rate=rate))
        ot = getattr(content, "output_transcription", None)
        if ot is not None and ot.text:
            out.extend(self._on_translation_text(ot.text))
        if getattr(content, "turn_complete", None) or getattr(content, "interrupted", None):
            self._close_cue()  # the interpreter fallback (a conversational model) has turns
        return out

    def tick(self) -> list[ev.Event]:
        """Call now and then: ends a translation line at a pause, and settles a source line
        the speaker stopped adding to."""
        if self._paused():
            self._close_cue()
        if self._source and self.now() - self._last_source_at >= self.source_idle_s:
            return self._finish_source()
        return []

    def release(self) -> list[ev.Event]:
        """Final translation lines whose audio has been played, with their output times."""
        out: list[ev.Event] = []
        while self._closed:
            cue = self._closed[0]
            assert cue.end is not None
            start = cue.start if cue.start is not None else cue.end
            end_at = self.playout.played_at(max(start, cue.end - TAIL_TOLERANCE_S), end=True)
            if end_at is None:
                break
            self._closed.popleft()
            out.extend(self._final(cue, self.playout.played_at(start),
                                   end_at + min(TAIL_TOLERANCE_S, cue.end - start)))
        return out

    def finish(self) -> list[ev.Event]:
        """The session ends: every line, played or not (unplayed audio gets estimated times)."""
        out = self._finish_source()
        self._close_cue()
        out.extend(self.release())
        while self._closed:
            cue = self._closed.popleft()
            assert cue.end is not None
            start = cue.start if cue.start is not None else cue.end
            out.extend(self._final(cue, self.playout.estimate(start),
                                   self.playout.estimate(cue.end, end=True)))
        return out

    @property
    def pending(self) -> bool:
        """True while some translation text or line has not been released yet."""
        return bool(self._cue.text or self._cue.start is not None or self._closed)

    # -- helpers ---------------------------------------------------------------------
    def _on_source(self, text: str) -> list[ev.Event]:
        now = self.now()
        if not self._source:
            self._source_start = self.input_s
        self._source += text
        self._source_end = self.input_s
        self._last_source_at = now
        if _finished_sentence(self._source):
            return self._finish_source()
        return [ev.SourceText(text=self._source.strip(), final=False)]

    def _finish_source(self) -> list[ev.Event]:
        text, self._source = self._source.strip(), ""
        if not text:
            return []
        self.sources += 1
        return [ev.SourceText(text=text, start_s=round(self._source_start, 3),
                              end_s=round(self._source_end, 3))]

    def _paused(self) -> bool:
        """The translation paused: what comes next starts a new line."""
        return (self._cue.start is not None and self.drained()
                and self.now() - self._last_audio_at >= self.gap_s)

    def _on_audio(self, seconds: float) -> list[ev.Event]:
        out: list[ev.Event] = []
        if self._paused():
            self._close_cue()
        if self._cue.start is None:
            self._cue.start = self.received_s
            out.extend(self._finish_source())  # its translation has begun
        self.received_s += seconds
        self._last_audio_at = self.now()
        return out

    def _on_translation_text(self, text: str) -> list[ev.Event]:
        if self._paused():
            self._close_cue()
        if _finished_sentence(self._cue.text) and text[:1].isalnum():
            text = " " + text  # the next utterance's translation, run on without a pause
        self._cue.text += text
        partial = ev.Translation(text=self._cue.text.strip(), final=False)
        if len(self._cue.text) >= MAX_CUE_CHARS and _finished_sentence(self._cue.text) \
                and self._cue.start is not None:
            self._close_cue()
            self._cue.start = self.received_s  # the next sentence goes on without a pause
        return [partial]

    def _close_cue(self) -> None:
        cue = self._cue
        if not cue.text.strip() and cue.start is None:
            return
        cue.end = self.received_s
        self._closed.append(cue)
        self._cue = Cue()

    def _final(self, cue: Cue, start: float | None, end: float) -> list[ev.Event]:
        text = cue.text.strip()
        if not text:
            return []  # audio without a transcription has no line
        start = end if start is None else start
        self.lines += 1
        return [ev.Translation(text=text, start_s=round(start, 3), end_s=round(end, 3))]
