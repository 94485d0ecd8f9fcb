"""The translate model in the emulator: continuous speech-to-speech translation, no turns.

A :class:`Translator` takes over a :class:`~voicecli.emulator.session.Session` whose setup
named a translation model. It listens with its own VAD (no turns, no interruptions): while
an utterance is spoken it sends ``inputTranscription`` fragments of the scripted source text,
a word per ``WORD_MS`` of speech; when the utterance ends it sends the rest, and after
``translate_lag_ms`` the scripted translation as paced 24 kHz audio with
``outputTranscription`` fragments (no ``generationComplete``/``turnComplete``). Translations
queue behind each other, so the output is one continuous stream.

The script is the scenario's ``[[translation]]`` list (cycled), or the bundled
``translate`` scenario's when the scenario has none.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from voicecli.emulator import wire
from voicecli.emulator.config import EmulatorConfig
from voicecli.emulator.record import ConnectionRecord, ReplyRecord
from voicecli.emulator.replies import Reply, UserTurn, fragments
from voicecli.emulator.scenario import Scenario, TranslationSpec, Turn, load_scenario
from voicecli.emulator.settings import SessionSettings
from voicecli.emulator.speech import OUTPUT_RATE, Synthesizer
from voicecli.emulator.vad import RATE as INPUT_RATE
from voicecli.emulator.vad import VoiceActivityDetector, vad_settings


class Host(Protocol):
    """What the translator needs of the session it runs in (the emulator's Session)."""

    settings: SessionSettings | None
    scenario: Scenario
    config: EmulatorConfig
    record: ConnectionRecord
    synth: Synthesizer

    def send(self, t: float, message: dict[str, Any], reply: Reply | None = None) -> None: ...

    def speak(self, reply: Reply, text: str, pcm: bytes | None, t0: float,
              ends_turn: bool = True) -> None: ...

WORD_MS = 350  # one source word is "recognised" per this much speech


def script(translations: tuple[TranslationSpec, ...]) -> tuple[TranslationSpec, ...]:
    """The scenario's translations, or the bundled default translation script."""
    return translations or load_scenario("translate").translations


class Translator:
    """Continuous translation for one session (see the module docstring)."""

    def __init__(self, session: Host) -> None:
        assert session.settings is not None
        self.session = session
        self.settings = session.settings
        self.script = script(session.scenario.translations)
        s = self.settings  # the setup's activity detection options decide utterance ends
        self.vad = VoiceActivityDetector(vad_settings(
            silence_duration_ms=s.silence_duration_ms, prefix_padding_ms=s.prefix_padding_ms,
            start_sensitivity=s.start_sensitivity, end_sensitivity=s.end_sensitivity,
            default_silence_ms=session.config.translate_silence_ms))
        self._index = 0
        self._words: list[str] = []  # source fragments of the utterance being spoken
        self._sent_words = 0
        self._spec: TranslationSpec | None = None
        self._free_at = 0.0  # when the previous translation's audio has all been sent

    def feed(self, pcm: bytes, now: float) -> None:
        """Audio from the speaker (16 kHz)."""
        for event in self.vad.feed(pcm):
            if event.kind == "start":
                self._start(now)
            else:
                self._end(event.audio, now)
        if self.vad.in_speech:
            self._source_words(math.floor(self.vad.speech_ms / WORD_MS), now)

    def flush(self, now: float) -> None:
        """``audioStreamEnd``: the current utterance, if any, is over."""
        event = self.vad.flush()
        if event is not None:
            self._end(event.audio, now)

    def _start(self, now: float) -> None:
        self._spec = self.script[self._index % len(self.script)]
        self._index += 1
        self._words = fragments(self._spec.source)
        self._sent_words = 0
        self.session.record.event(now, "speech_start", index=self._index - 1)

    def _source_words(self, count: int, now: float) -> None:
        count = min(count, len(self._words))
        if self.settings.input_transcription:
            for frag in self._words[self._sent_words:count]:
                self.session.send(now, wire.input_transcription(frag))
        self._sent_words = max(self._sent_words, count)

    def _end(self, audio: bytes, now: float) -> None:
        spec = self._spec
        if spec is None:
            return
        self._source_words(len(self._words), now)
        self._spec = None
        session, config = self.session, self.session.config
        index = len(session.record.replies)
        text = spec.text_for(self.settings.target_language)
        record = ReplyRecord(index=index, user_text=spec.source, reply_text=text)
        reply = Reply(turn=Turn(user=spec.source, reply=text),
                       user=UserTurn("audio", pcm=audio), record=record, prompt_tokens={})
        session.record.replies.append(record)
        session.record.event(now, "speech_end", duration_s=len(audio) / 2 / INPUT_RATE)
        t0 = max(now + config.translate_lag_ms / 1000, self._free_at)
        pcm = session.synth.speak(text, self.settings.voice, self.settings.target_language)
        session.record.event(now, "translation_scheduled", index=index, at=t0)
        session.speak(reply, text, pcm, t0, ends_turn=False)
        pace = config.pace if config.pace > 0 else math.inf
        self._free_at = t0 + len(pcm) / 2 / OUTPUT_RATE / pace
