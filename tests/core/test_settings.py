"""Settings read from WASHGATE_* variables, with the contract's names and defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings


def test_defaults_match_the_contract(monkeypatch):
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./washgate.db"
    assert settings.env == "development" and settings.graphiql_enabled
    assert (settings.otp_length, settings.otp_ttl_seconds, settings.otp_max_attempts) == (4, 300, 5)
    assert (settings.otp_resend_seconds, settings.sms_daily_quota, settings.phone_recent_seconds) == (60, 10, 600)
    assert settings.flashcall_prefix == "7487260"
    assert (settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds) == (900, 2592000)
    assert settings.pay_token_ttl_seconds == 1800 and settings.quota_timezone == "UTC"
    assert settings.app_sends_per_hour == 1000 and settings.test_phones == []
    assert settings.max_body_bytes == 1048576
    assert (settings.graphql_max_depth, settings.graphql_max_aliases, settings.graphql_max_tokens) == (10, 15, 2000)
    assert (settings.phone_lock_failures, settings.phone_lock_seconds) == (10, 86400)
    assert (settings.ip_sends_per_hour, settings.sms_hourly_limit) == (60, 1000)
    assert settings.allowed_countries == ["RU"] and settings.trusted_proxies == []
    assert settings.delivery_timeout_seconds == 5


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("WASHGATE_ALLOWED_COUNTRIES", "ru, kz")
    monkeypatch.setenv("WASHGATE_TEST_PHONES", "+79990000001=1234,+7 999 000 00 02=5678")
    monkeypatch.setenv("WASHGATE_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1")
    settings = Settings(_env_file=None)
    assert settings.allowed_countries == ["RU", "KZ"]
    assert settings.test_phone_codes == {"+79990000001": "1234", "+79990000002": "5678"}
    assert len(settings.trusted_networks) == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WASHGATE_TEST_PHONES", "+79990000001"),
        ("WASHGATE_TRUSTED_PROXIES", "not-an-address"),
        ("WASHGATE_QUOTA_TIMEZONE", "Mars/Olympus"),
        ("WASHGATE_OTP_LENGTH", "two"),
        ("WASHGATE_ENV", "staging"),
        ("WASHGATE_ALLOWED_COUNTRIES", "RU,XX"),
        ("WASHGATE_ALLOWED_COUNTRIES", " , "),
        ("WASHGATE_DELIVERY_WEBHOOK_URL", "ftp://sms.example/hook"),
        ("WASHGATE_DELIVERY_WEBHOOK_URL", "sms.example/hook"),
        ("WASHGATE_DELIVERY_WEBHOOK_SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("WASHGATE_DELIVERY_WEBHOOK_SECRET", "whsec_not base64!"),
        ("WASHGATE_DELIVERY_WEBHOOK_SECRET", "whsec_"),
    ],
)
def test_bad_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_a_webhook_url_and_a_standard_secret_are_accepted(monkeypatch):
    monkeypatch.setenv("WASHGATE_DELIVERY_WEBHOOK_URL", "https://sms.example:8443/hook?x=1")
    monkeypatch.setenv("WASHGATE_DELIVERY_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    settings = Settings(_env_file=None)
    assert settings.delivery_webhook_url == "https://sms.example:8443/hook?x=1"
    assert settings.delivery_webhook_secret == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_production_key_of_spaces_is_no_key():
    settings = Settings(_env_file=None, env="production", secret_key=" " * 40, delivery_webhook_url="http://h/x")
    assert settings.problems_for_production() == ["WASHGATE_SECRET_KEY must be set to at least 32 characters"]


def test_production_needs_a_key_and_a_webhook():
    settings = Settings(_env_file=None, env="production")
    problems = settings.problems_for_production()
    assert any("WASHGATE_SECRET_KEY" in p for p in problems)
    assert any("WASHGATE_DELIVERY_WEBHOOK_URL" in p for p in problems)
    assert not settings.graphiql_enabled
    assert Settings(_env_file=None, env="production", graphiql=True).graphiql_enabled


def test_a_test_phone_must_be_a_phone(monkeypatch):
    monkeypatch.setenv("WASHGATE_TEST_PHONES", "12=1234")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_test_phone_codes_have_the_otp_length(monkeypatch):
    monkeypatch.setenv("WASHGATE_TEST_PHONES", "+79990000001=12345")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
    monkeypatch.setenv("WASHGATE_OTP_LENGTH", "5")
    assert Settings(_env_file=None).test_phone_codes == {"+79990000001": "12345"}
