"""Settings: parsing of the environment, and docs/CONFIGURATION.md documents every variable."""

from __future__ import annotations

import pytest

from function.errors import NotConfigured
from function.settings import load_settings
from tests.conftest import ROOT, setting_names


def test_defaults_and_parsing() -> None:
    settings = load_settings(
        {"CALLER_AUTH": " API_KEY, webhook ,api_key", "CEC_BASE_URL": "https://cec.example/", "LOG_LEVEL": "debug"}
    )
    assert settings.caller_auth == ("api_key", "webhook")
    assert settings.token_url == "https://cec.example/apigovernance/api/oauth/tokenByAkSk"
    assert settings.api_base_url == "https://cec.example"
    assert (settings.cec_batch_size, settings.max_dnids, settings.cec_token_ttl_seconds) == (1000, 10000, 600)
    assert settings.log_level == "DEBUG"


def test_blank_values_count_as_unset() -> None:
    settings = load_settings({"CALLER_AUTH": "", "API_KEYS": " ", "CEC_BATCH_SIZE": ""})
    assert settings.caller_auth == ()
    assert settings.api_keys is None
    assert settings.cec_batch_size == 1000


def test_invalid_values_are_named_without_echoing_them() -> None:
    with pytest.raises(NotConfigured) as caught:
        load_settings({"CEC_TIMEOUT_SECONDS": "soon", "CEC_CREDENTIALS_SECRET": "sk-live-secret-value"})
    assert "CEC_TIMEOUT_SECONDS" in caught.value.detail
    assert "CEC_CREDENTIALS_SECRET" in caught.value.detail
    assert "sk-live-secret-value" not in caught.value.detail


def test_secret_values_do_not_show_in_repr() -> None:
    settings = load_settings({"API_KEYS": "k-123", "CEC_APP_SECRET": "s-456", "WEBHOOK_SECRET": "whsec_abc"})
    assert "k-123" not in repr(settings) and "s-456" not in repr(settings) and "whsec_abc" not in repr(settings)


def test_regional_secret_names_are_accepted() -> None:
    name = "projects/p/locations/europe-west1/secrets/cec/versions/3"
    assert load_settings({"CEC_CREDENTIALS_SECRET": name}).cec_credentials_secret == name


def test_the_configuration_reference_documents_every_variable() -> None:
    reference = (ROOT / "docs" / "CONFIGURATION.md").read_text()
    missing = [name for name in sorted(setting_names()) if f"`{name}`" not in reference]
    assert not missing, f"docs/CONFIGURATION.md lacks {missing}"
