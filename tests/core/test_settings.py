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


def _refusals(**values: object) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **values)
    return [(error["loc"], error["msg"]) for error in refused.value.errors()]


@pytest.mark.parametrize("level", ["loud", "", "verbose", "10"])
def test_a_log_level_outside_uvicorns_names_is_refused(level):
    assert _refusals(log_level=level) == [
        (
            ("log_level",),
            f"Value error, unknown log level {level!r}: one of critical, error, warning, info, debug, trace",
        )
    ]


@pytest.mark.parametrize(("level", "kept"), [("TRACE", "trace"), ("Warning", "warning"), (" debug ", "debug")])
def test_log_levels_are_read_without_regard_to_case(level, kept):
    assert Settings(_env_file=None, log_level=level).log_level == kept


FORMS = "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("foo://bar", f"unsupported database 'foo'; use {FORMS}"),
        ("postgresql://app:s3cret@db/washgate", f"unsupported database 'postgresql'; use {FORMS}"),
        ("sqlite:///./washgate.db", f"unsupported database 'sqlite'; use {FORMS}"),
        ("not a url", f"not a database URL; use {FORMS}"),
        ("postgresql+asyncpg://app:s3cret@db:x/washgate", f"not a database URL; use {FORMS}"),
        ("sqlite+aiosqlite:///", f"a SQLite database needs a file path; use {FORMS}"),
        ("sqlite+aiosqlite:///:memory:", f"a SQLite database needs a file path; use {FORMS}"),
        ("sqlite+aiosqlite://host/washgate.db", f"a SQLite database needs a file path; use {FORMS}"),
        ("postgresql+asyncpg://app:s3cret@db:99999/washgate", "the port must be a number from 1 to 65535"),
    ],
)
def test_a_database_url_of_another_form_is_refused_without_its_password(url, message):
    assert _refusals(database_url=url) == [(("database_url",), f"Value error, {message}")]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///./washgate.db",
        "sqlite+aiosqlite:////var/lib/washgate/washgate.db",
        "postgresql+asyncpg://app:p%40ss@db.internal:5432/washgate",
        "postgresql+asyncpg:///washgate",
    ],
)
def test_the_two_database_forms_are_accepted(url):
    assert Settings(_env_file=None, database_url=url).database_url == url


DURATIONS = [
    "otp_ttl_seconds",
    "otp_resend_seconds",
    "phone_recent_seconds",
    "access_token_ttl_seconds",
    "refresh_token_ttl_seconds",
    "pay_token_ttl_seconds",
    "phone_lock_seconds",
]
COUNTS = [
    "otp_max_attempts",
    "sms_daily_quota",
    "app_sends_per_hour",
    "max_body_bytes",
    "graphql_max_depth",
    "graphql_max_aliases",
    "graphql_max_tokens",
    "graphql_max_page_size",
    "graphql_max_subscriptions",
    "phone_lock_failures",
    "ip_sends_per_hour",
    "password_failures_per_hour",
    "password_failures_per_address",
    "sms_hourly_limit",
]


def test_every_numeric_setting_has_an_upper_bound():
    numeric = {name for name, field in Settings.model_fields.items() if field.annotation in (int, float)}
    bounded = {
        name
        for name in numeric
        if any(getattr(m, "le", None) is not None for m in Settings.model_fields[name].metadata)
    }
    assert numeric == bounded
    assert numeric == {
        *DURATIONS,
        *COUNTS,
        "otp_length",
        "delivery_timeout_seconds",
        "database_pool_size",
        "database_max_overflow",
    }


@pytest.mark.parametrize("name", DURATIONS)
def test_a_duration_is_at_most_ten_years(name):
    assert getattr(Settings(_env_file=None, **{name: 315_360_000}), name) == 315_360_000
    for too_long in (315_360_001, 99_999_999_999_999, 99_999_999_999_999_999):
        assert _refusals(**{name: too_long}) == [((name,), "Input should be less than or equal to 315360000")]


@pytest.mark.parametrize("name", COUNTS)
def test_a_count_fits_a_postgresql_integer(name):
    assert getattr(Settings(_env_file=None, **{name: 1_000_000_000}), name) == 1_000_000_000
    for too_many in (1_000_000_001, 2_147_483_648):
        assert _refusals(**{name: too_many}) == [((name,), "Input should be less than or equal to 1000000000")]


@pytest.mark.parametrize("name", ["database_pool_size", "database_max_overflow"])
def test_a_process_opens_at_most_a_thousand_connections(name):
    assert _refusals(**{name: 1001}) == [((name,), "Input should be less than or equal to 1000")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("inf", "Input should be a finite number"),
        ("nan", "Input should be a finite number"),
        ("-inf", "Input should be a finite number"),
        ("60.5", "Input should be less than or equal to 60"),
        ("0", "Input should be greater than 0"),
    ],
)
def test_the_delivery_timeout_is_finite_and_at_most_a_minute(monkeypatch, value, message):
    monkeypatch.setenv("WASHGATE_DELIVERY_TIMEOUT_SECONDS", value)
    assert _refusals() == [(("delivery_timeout_seconds",), message)]
    monkeypatch.setenv("WASHGATE_DELIVERY_TIMEOUT_SECONDS", "60")
    assert Settings(_env_file=None).delivery_timeout_seconds == 60


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://exa mple.com/", "the URL has spaces or control characters (percent-encode them)"),
        ("http://sms.example/hook?to=a b", "the URL has spaces or control characters (percent-encode them)"),
        ("http://sms.example/\thook", "the URL has spaces or control characters (percent-encode them)"),
        ("http://127.0.0.1:99999/x", "the port must be a number from 1 to 65535"),
        ("http://127.0.0.1:0/x", "the port must be a number from 1 to 65535"),
        ("http://sms.example:http/x", "the port must be a number from 1 to 65535"),
        ("http:///hook", "not an http:// or https:// URL with a host"),
        ("http://:8080/hook", "not an http:// or https:// URL with a host"),
        ("ftp://sms.example/hook", "not an http:// or https:// URL with a host"),
        ("http://sms..example/hook", "the host is neither a domain name nor an IP address"),
        ("http://-sms.example/hook", "the host is neither a domain name nor an IP address"),
    ],
)
def test_a_webhook_url_no_delivery_could_reach_is_refused(url, message):
    assert _refusals(delivery_webhook_url=url) == [(("delivery_webhook_url",), f"Value error, {message}")]


@pytest.mark.parametrize(
    "url", ["http://[::1]:8080/hook", "https://смс.пример/hook", "http://10.0.0.5:65535/x", "http://sms_gw.example/h"]
)
def test_ip_and_international_webhook_hosts_are_accepted(url):
    assert Settings(_env_file=None, delivery_webhook_url=url).delivery_webhook_url == url


def test_a_test_phone_code_of_the_wrong_length_names_the_setting():
    assert _refusals(test_phones="+79990000001=12345") == [
        (("test_phones",), "Value error, the code of test phone +79990000001 has 5 digits; WASHGATE_OTP_LENGTH is 4")
    ]


def test_a_refused_otp_length_is_reported_alone():
    assert _refusals(test_phones="+79990000001=123", otp_length=3) == [
        (("otp_length",), "Input should be greater than or equal to 4")
    ]


def test_an_empty_item_of_a_list_is_ignored(monkeypatch):
    monkeypatch.setenv("WASHGATE_ALLOWED_COUNTRIES", "RU,")
    assert Settings(_env_file=None).allowed_countries == ["RU"]


def test_cors_origins_must_be_origins():
    assert Settings(_env_file=None, cors_origins="https://app.example, http://localhost:3000").cors_origins == [
        "https://app.example",
        "http://localhost:3000",
    ]
    for bad in ("app.example", "https://app.example/path"):
        with pytest.raises(ValidationError, match=r"list origins such as https://app\.example"):
            Settings(_env_file=None, cors_origins=bad)
