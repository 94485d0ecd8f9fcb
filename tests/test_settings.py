"""Settings, credentials and catalog validation: pure."""

import pytest

from voicecli import catalog
from voicecli.errors import ConfigError
from voicecli.settings import Credentials, resolve_credentials, validate_choices


def test_gemini_key_lookup_order():
    creds = resolve_credentials({"GOOGLE_API_KEY": "g", "GEMINI_API_KEY": "m"})
    assert creds.api_key == "m" and not creds.vertex


def test_missing_key_says_what_to_set():
    with pytest.raises(ConfigError) as err:
        resolve_credentials({})
    assert "GEMINI_API_KEY" in str(err.value) and "\n" not in str(err.value)


def test_vertex_from_env_needs_project():
    with pytest.raises(ConfigError, match="GOOGLE_CLOUD_PROJECT"):
        resolve_credentials({"GOOGLE_GENAI_USE_VERTEXAI": "true"})
    creds = resolve_credentials({"GOOGLE_GENAI_USE_VERTEXAI": "true",
                                 "GOOGLE_CLOUD_PROJECT": "p"})
    assert creds.vertex and creds.project == "p" and creds.location == "us-central1"


def test_proxy_with_header_auth_needs_no_key():
    creds = resolve_credentials({}, base_url="https://proxy.example",
                                headers=["Authorization: Bearer abc"])
    assert creds.headers == (("Authorization", "Bearer abc"),)


def test_bad_header_and_ca_cert():
    with pytest.raises(ConfigError, match="Name: value"):
        resolve_credentials({"GEMINI_API_KEY": "k"}, headers=["nocolon"])
    with pytest.raises(ConfigError, match="no such file"):
        resolve_credentials({"GEMINI_API_KEY": "k"}, ca_cert="/nonexistent.pem")


def test_key_never_in_repr():
    creds = Credentials(api_key="AIzaSECRET123", headers=(("Authorization", "Bearer tok"),))
    assert "SECRET" not in repr(creds) and "tok" not in str(creds)


def test_voice_and_language_validation():
    assert validate_choices("puck", "en-us") == ("Puck", "en-US")
    with pytest.raises(ConfigError) as err:
        validate_choices("Pukc", None)
    assert "Did you mean 'Puck'" in str(err.value) and "Zephyr" in str(err.value)
    with pytest.raises(ConfigError) as err:
        validate_choices("Puck", "de-XX")
    assert "de-DE" in str(err.value)


def test_catalog_has_30_voices_and_known_models():
    assert len(catalog.VOICES) == 30
    assert catalog.model_info("models/gemini-3.8-live").tools
    assert catalog.model_info("gemini-3.5-live-translate-preview").translation
    assert catalog.model_info("some-future-model") is None
