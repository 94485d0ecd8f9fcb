"""Config file and settings precedence: pure merging, the file shell, and the CLI."""

from __future__ import annotations

import os

import pytest

from voicecli import config
from voicecli.emulator import EmulatorConfig, EmulatorThread
from voicecli.errors import ConfigError
from voicecli_testing.cli import HELLO_WAV, assert_one_line_error, clean_env, run_cli

FILE = {"voice": "Kore", "model": "from-file", "tools": False,
        "profiles": {"work": {"model": "from-profile", "language": "de-DE"}}}


def test_precedence_flags_over_env_over_file_over_defaults():
    env = {"VOICECLI_MODEL": "from-env", "VOICECLI_BARGE_IN": "off"}
    r = config.merge({"model": None, "voice": "Zephyr"}, env, FILE)
    assert r["voice"] == "Zephyr" and r.sources["voice"] == "flag"
    assert r["model"] == "from-env" and r.sources["model"] == "env"
    assert r["tools"] is False and r.sources["tools"] == "config"
    assert r["barge_in"] is False and r.sources["barge_in"] == "env"
    assert r["format"] == "text" and r.sources["format"] == "default"
    assert config.merge({"model": "from-flag"}, env, FILE)["model"] == "from-flag"


def test_profiles_layer_over_the_file_and_under_env():
    r = config.merge({}, {}, FILE, profile="work")
    assert (r["model"], r["language"], r["voice"]) == ("from-profile", "de-DE", "Kore")
    assert r.sources["model"] == "profile work"
    assert config.merge({}, {"VOICECLI_PROFILE": "work"}, FILE)["model"] == "from-profile"
    assert config.merge({}, {"VOICECLI_MODEL": "e"}, FILE, profile="work")["model"] == "e"
    with pytest.raises(ConfigError, match=r"no profile 'home'.*work"):
        config.merge({}, {}, FILE, profile="home")


def test_values_are_checked():
    with pytest.raises(ConfigError, match="must be true or false"):
        config.merge({}, {"VOICECLI_TOOLS": "maybe"}, {})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        config.validate({"colour": "red"})
    with pytest.raises(ConfigError, match="tools must be a bool"):
        config.validate({"profiles": {"x": {"tools": "yes"}}})


def test_set_unset_and_toml_round_trip(tmp_path):
    data = config.set_value({}, "voice", "Kore")
    data = config.set_value(data, "push_to_talk", "yes", profile="quiet room")
    data = config.set_value(data, "system", 'Say "hi"\\n')
    path = tmp_path / "c.toml"
    config.write_config(path, data)
    assert config.read_config(path) == data
    assert config.unset_value(data, "voice").get("voice") is None


def test_api_key_needs_owner_only_permissions(tmp_path):
    path = tmp_path / "config.toml"
    config.write_config(path, {"api_key": "AIza-secret"})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert config.read_config(path)["api_key"] == "AIza-secret"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match=r"others can read it.*chmod 600"):
        config.read_config(path)
    path.write_text('voice = "Kore"\n')  # no secret: any permissions are fine
    assert config.read_config(path) == {"voice": "Kore"}


def test_key_from_file_only_when_the_environment_has_none():
    r = config.merge({}, {}, {"api_key": "file-key"})
    assert config.key_env({}, r)["GEMINI_API_KEY"] == "file-key"
    assert config.key_env({"GOOGLE_API_KEY": "env"}, r).get("GEMINI_API_KEY") is None
    assert config.hide_secrets(r.values)["api_key"] == "<set, hidden>"


def test_config_commands(tmp_path):
    env = clean_env(VOICECLI_CONFIG=str(tmp_path / "sub" / "config.toml"))
    assert run_cli("config", "path", env=env).stdout.strip() == str(tmp_path / "sub" /
                                                                     "config.toml")
    assert run_cli("config", "set", "voice", "Kore", env=env).returncode == 0
    assert run_cli("config", "set", "api_key", "AIza-very-secret", env=env).returncode == 0
    assert run_cli("config", "set", "--profile", "work", "model", "m2", env=env).returncode == 0
    shown = run_cli("config", "show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "voice = 'Kore'  (config)" in shown.stdout
    assert "api_key = '<set, hidden>'" in shown.stdout
    assert "AIza-very-secret" not in shown.stdout + shown.stderr
    work = run_cli("config", "show", "--profile", "work", env={**env, "VOICECLI_VOICE": "Puck"})
    assert "model = 'm2'  (profile work)" in work.stdout
    assert "voice = 'Puck'  (env)" in work.stdout
    assert_one_line_error(run_cli("config", "set", "colour", "red", env=env), "unknown setting")
    os.chmod(tmp_path / "sub" / "config.toml", 0o640)
    assert_one_line_error(run_cli("config", "show", env=env), "chmod 600")


def test_chat_uses_the_key_and_voice_from_the_config_file(tmp_path):
    cfg = tmp_path / "config.toml"
    with EmulatorThread(EmulatorConfig(api_key="file-key-123")) as emu:
        config.write_config(cfg, {"api_key": "file-key-123", "voice": "Kore",
                                  "profiles": {"p": {"voice": "Zephyr"}}})
        args = ("chat", "--base-url", emu.base_url, "--ca-cert", emu.ca_cert_path,
                "--api-version", "v1beta", "--input", str(HELLO_WAV), "--output",
                str(tmp_path / "r.wav"), "-q")
        proc = run_cli(*args, "--profile", "p", env=clean_env(VOICECLI_CONFIG=str(cfg)))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("You: Hello")
        speech = emu.connections[0].setup["generation_config"]["speech_config"]
        assert "Zephyr" in str(speech)
        assert "file-key-123" not in proc.stdout + proc.stderr
