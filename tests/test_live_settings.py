"""The Live API settings users look up in Google's docs: flags, config keys and variables,
checked against the model catalog, carried in the setup exactly as the SDK names them, and
honoured by the emulator (end to end through the real CLI and SDK)."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

from voicecli import config
from voicecli.emulator import EmulatorConfig, EmulatorThread, wire
from voicecli.emulator.settings import parse_setup
from voicecli.errors import ConfigError
from voicecli.settings import LiveOptions, check_live_options
from voicecli_testing.cli import HELLO_WAV, NO_CONFIG, assert_one_line_error, clean_env, run_cli

GEMINI = wire.Route("gemini", "v1beta", "BidiGenerateContent")
THINKING = "gemini-3.8-live-extended-thinking"
NATIVE = "gemini-2.5-flash-native-audio-preview-12-2025"


def chat(emu, *args: str, wav: str = str(HELLO_WAV), env: dict[str, str] | None = None):
    return run_cli("chat", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
                   "--api-version", "v1beta", "--input", wav, "--output", "/dev/null", *args,
                   env=env or clean_env(GEMINI_API_KEY=emu.api_key))


def test_every_setting_reaches_the_setup_as_the_sdk_names_it():
    with EmulatorThread(EmulatorConfig()) as emu:
        proc = chat(emu, "--model", THINKING, "--thinking", "high", "--temperature", "0.4",
                    "--turn-coverage", "all", "--vad-start-sensitivity", "low",
                    "--vad-end-sensitivity", "high", "--vad-prefix-padding-ms", "40",
                    "--vad-silence-ms", "800", "--no-interruption", "--proactive-audio")
        native = chat(emu, "--model", NATIVE, "--affective-dialog", "--no-proactive-audio")
    assert proc.returncode == 0 and native.returncode == 0, proc.stderr + native.stderr
    # As received (the SDK's casing is mixed on the wire: compared in snake_case).
    first, second = (c.setup for c in emu.connections)
    assert first["generation_config"]["thinking_config"] == {"thinking_level": "HIGH"}
    assert first["generation_config"]["temperature"] == 0.4
    assert first["realtime_input_config"] == {
        "automatic_activity_detection": {"start_of_speech_sensitivity": "START_SENSITIVITY_LOW",
                                         "end_of_speech_sensitivity": "END_SENSITIVITY_HIGH",
                                         "prefix_padding_ms": 40, "silence_duration_ms": 800},
        "activity_handling": "NO_INTERRUPTION", "turn_coverage": "TURN_INCLUDES_ALL_INPUT"}
    assert first["proactivity"] == {"proactive_audio": True}
    assert second["generation_config"]["enable_affective_dialog"] is True
    assert second["proactivity"] == {"proactive_audio": False}
    # ... and the emulator understood them.
    s = emu.connections[0]
    assert s.events[0].name == "setup_complete"
    assert "--no-interruption" in proc.stderr  # said on stderr: local barge-in is off too


def test_settings_from_variables_and_the_config_file(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('vad_silence_ms = 900\nturn_coverage = "activity"\n'
                   '[profiles.calm]\ntemperature = 0.2\n')
    with EmulatorThread(EmulatorConfig()) as emu:
        env = clean_env(GEMINI_API_KEY=emu.api_key, VOICECLI_CONFIG=str(cfg),
                        VOICECLI_VAD_END_SENSITIVITY="LOW")
        proc = chat(emu, "--profile", "calm", env=env)
    assert proc.returncode == 0, proc.stderr
    setup = emu.connections[0].setup
    assert setup["realtime_input_config"] == {
        "automatic_activity_detection": {"end_of_speech_sensitivity": "END_SENSITIVITY_LOW",
                                         "silence_duration_ms": 900},
        "turn_coverage": "TURN_INCLUDES_ONLY_ACTIVITY"}
    assert setup["generation_config"]["temperature"] == 0.2
    shown = run_cli("config", "show", "--profile", "calm", env=env).stdout
    assert "vad_silence_ms = 900  (config)" in shown
    assert "vad_end_sensitivity = 'LOW'  (env)" in shown
    assert "temperature = 0.2  (profile calm)" in shown


@pytest.mark.parametrize(("args", "needle"), [
    (("--thinking", "low"), "--thinking: gemini-3.8-live does not take a thinking level"),
    (("--model", THINKING, "--thinking", "xhigh"), "--thinking must be one of"),
    (("--affective-dialog",), "--affective-dialog: gemini-3.8-live does not take"),
    (("--no-proactive-audio",), "always on"),
    (("--model", "gemini-3.1-flash-live-preview", "--proactive-audio"), "proactive audio"),
    (("--temperature", "2.5"), "--temperature must be between 0 and 2"),
    (("--vad-end-sensitivity", "medium"), "--vad-end-sensitivity must be one of low, high"),
    (("--turn-coverage", "everything"), "--turn-coverage must be one of"),
])
def test_a_setting_the_model_does_not_take_is_one_line(args, needle):
    proc = run_cli("chat", "--emulator", "--input", str(HELLO_WAV), "--output", "/dev/null",
                   *args)
    assert_one_line_error(proc, needle)
    assert proc.returncode == 2
    assert "[connecting]" not in proc.stderr  # refused before anything started


def test_translate_takes_the_voice_detection_settings_only():
    ok = run_cli("translate", "--emulator", "--to", "de", "--input", str(HELLO_WAV),
                 "--output", "/dev/null", "--vad-silence-ms", "700")
    assert ok.returncode == 0, ok.stderr
    proc = run_cli("translate", "--emulator", "--to", "de", "--temperature", "1")
    assert proc.returncode == 2 and "No such option" in proc.stderr


def test_no_interruption_plays_every_reply_to_its_end(tmp_path):
    """The same talking-over, with and without --no-interruption."""
    from voicecli.emulator.speech import sample_speech

    with wave.open(str(HELLO_WAV)) as w:
        hello = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    over = np.frombuffer(sample_speech("Wait, stop, stop. Listen to me now."), dtype="<i2")
    wav = tmp_path / "over.wav"
    with wave.open(str(wav), "wb") as w:  # the second line lands in the middle of the reply
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.concatenate([hello, np.zeros(int(16000 * 2.2), np.int16),
                                      over]).tobytes())
    with EmulatorThread(EmulatorConfig()) as emu:
        plain = chat(emu, "--format", "jsonl", wav=str(wav))
        held = chat(emu, "--format", "jsonl", "--no-interruption", wav=str(wav))
    assert plain.returncode == 0 and held.returncode == 0, plain.stderr + held.stderr
    cut, whole = emu.connections
    assert cut.replies[0].interrupted and not whole.replies[0].interrupted
    assert not whole.sent_of("interrupted")
    types = [json.loads(line)["type"] for line in held.stdout.splitlines()]
    assert "interrupted" not in types and types.count("turn_complete") == 2
    assert whole.replies[0].sent_bytes == len(whole.replies[0].pcm)  # said all of it


# --------------------------------------------------------------------------- pure

def test_catalog_checks():
    check_live_options(THINKING, LiveOptions(thinking="medium"))
    check_live_options(NATIVE, LiveOptions(affective_dialog=True, proactive_audio=False))
    check_live_options("some-future-model", LiveOptions(thinking="high", temperature=1.0))
    with pytest.raises(ConfigError, match=r"--push-to-talk"):
        check_live_options("gemini-3.8-live", LiveOptions(vad_silence_ms=300),
                           push_to_talk=True)
    with pytest.raises(ConfigError, match=r"--turn-coverage: gemini-3\.5-live-translate"):
        check_live_options("gemini-3.5-live-translate-preview", LiveOptions(turn_coverage="all"))


def test_values_are_checked_in_every_layer():
    assert config.check_value("thinking", "HIGH") == "high"
    assert config.parse_value("vad_silence_ms", "800") == 800
    with pytest.raises(ConfigError, match="VOICECLI_TEMPERATURE must be between"):
        config.merge({}, {"VOICECLI_TEMPERATURE": "9"}, {})
    with pytest.raises(ConfigError, match=r"vad_silence_ms must be an integer"):
        config.validate({"vad_silence_ms": "long"})
    assert config.validate({"temperature": 1})["temperature"] == 1.0


def test_config_set_refuses_what_the_flag_refuses(tmp_path):
    env = clean_env(VOICECLI_CONFIG=str(tmp_path / "c.toml"))
    assert_one_line_error(run_cli("config", "set", "voice", "Nope", env=env), "unknown voice")
    assert_one_line_error(run_cli("config", "set", "thinking", "lots", env=env), "one of")
    assert run_cli("config", "set", "voice", "kore", env=env).returncode == 0
    assert 'voice = "Kore"' in (tmp_path / "c.toml").read_text()
    assert str(NO_CONFIG) != env["VOICECLI_CONFIG"]


def test_an_invalid_value_already_in_the_file_is_named_and_fixable(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('voice = "Nope"\n')
    env = clean_env(VOICECLI_CONFIG=str(cfg))
    proc = run_cli("chat", "--emulator", env=env)
    assert_one_line_error(proc, "voice (config of the config file", "config set")
    assert "INVALID" in run_cli("config", "show", env=env).stdout
    assert run_cli("config", "unset", "voice", env=env).returncode == 0


def test_emulator_rejects_what_the_model_would_with_1007():
    def code(**extra):
        with pytest.raises(wire.ProtocolError) as e:
            parse_setup(wire.normalize({"model": "models/gemini-3.8-live", **extra}), GEMINI)
        return e.value.code, e.value.reason

    assert code(generationConfig={"thinkingConfig": {"thinkingLevel": "HIGH"}})[0] == 1007
    assert code(generationConfig={"temperature": 3})[0] == 1007
    assert code(realtimeInputConfig={"turnCoverage": "SOMETIMES"})[0] == 1007
    assert code(proactivity={"proactiveAudio": False})[0] == 1007
    assert code(enableAffectiveDialog=True)[0] == 1007
    translate = {"model": "models/gemini-3.5-live-translate-preview",
                 "generationConfig": {"translationConfig": {"targetLanguageCode": "de"}}}
    with pytest.raises(wire.ProtocolError) as e:
        parse_setup(wire.normalize({**translate, "realtimeInputConfig": {
            "activityHandling": "NO_INTERRUPTION"}}), GEMINI)
    assert e.value.code == 1007 and "activity_handling" in e.value.reason
    s = parse_setup(wire.normalize({**translate, "realtimeInputConfig": {
        "automaticActivityDetection": {"silenceDurationMs": 700}}}), GEMINI)
    assert s.silence_duration_ms == 700
