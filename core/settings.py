"""Configuration: every knob is a `WASHGATE_*` environment variable (or `.env` line)."""

from __future__ import annotations

import base64
import binascii
import re
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]

# Upper bounds: a duration stays far from datetime's year 9999 and a JWT's `exp`; a count or
# size fits PostgreSQL's INTEGER (2_147_483_647) wherever it is bound into a statement.
MAX_SECONDS = 315_360_000  # ten years
MAX_COUNT = 1_000_000_000
MAX_POOL = 1_000  # connections of one process; PostgreSQL's own max_connections is usually 100
MAX_DELIVERY_TIMEOUT_SECONDS = 60

Seconds = Annotated[int, Field(le=MAX_SECONDS)]
Count = Annotated[int, Field(le=MAX_COUNT)]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's names
DATABASE_FORMS = "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE"
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _split(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _check_http_url(value: str) -> None:
    """Refuse what no delivery could reach: another scheme, no host, a bad port, spaces or control
    characters. The URL itself is not repeated in the message: it may carry a token."""
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ValueError("the URL has spaces or control characters (percent-encode them)")
    url = urlsplit(value)
    try:
        port = url.port
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError("not an http:// or https:// URL with a host")
    if port == 0:
        raise ValueError("the port must be a number from 1 to 65535")
    if not _is_host(url.hostname):
        raise ValueError("the host is neither a domain name nor an IP address")


def _is_host(host: str) -> bool:
    try:
        ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


class Settings(BaseSettings):
    """Settings of one washgate deployment; names and defaults are fixed by the contract."""

    model_config = SettingsConfigDict(env_prefix="WASHGATE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./washgate.db"
    database_pool_size: int = Field(default=10, gt=0, le=MAX_POOL)  # PostgreSQL connections kept per process
    database_max_overflow: int = Field(default=10, ge=0, le=MAX_POOL)  # and opened beyond them under load
    env: Literal["development", "production"] = "development"
    secret_key: str | None = None
    graphiql: bool | None = None
    log_level: str = "info"

    delivery_webhook_url: str | None = None
    delivery_webhook_secret: str | None = None
    delivery_timeout_seconds: float = Field(default=5, gt=0, le=MAX_DELIVERY_TIMEOUT_SECONDS, allow_inf_nan=False)

    otp_length: int = Field(default=4, ge=4, le=10)
    otp_ttl_seconds: Seconds = Field(default=300, gt=0)
    otp_max_attempts: Count = Field(default=5, gt=0)
    otp_resend_seconds: Seconds = Field(default=60, ge=0)
    sms_daily_quota: Count = Field(default=10, ge=0)
    phone_recent_seconds: Seconds = Field(default=600, ge=0)
    flashcall_prefix: str = Field(default="7487260", pattern=r"^\d{1,12}$")
    access_token_ttl_seconds: Seconds = Field(default=900, gt=0)
    refresh_token_ttl_seconds: Seconds = Field(default=2592000, gt=0)
    pay_token_ttl_seconds: Seconds = Field(default=1800, gt=0)
    quota_timezone: str = "UTC"
    app_sends_per_hour: Count = Field(default=1000, ge=0)
    test_phones: CommaList = []  # after otp_length: its codes are checked against it

    max_body_bytes: Count = Field(default=1048576, gt=0)
    graphql_max_depth: Count = Field(default=10, gt=0)
    graphql_max_aliases: Count = Field(default=15, gt=0)
    graphql_max_tokens: Count = Field(default=2000, gt=0)
    graphql_max_page_size: Count = Field(default=100, gt=0)
    graphql_max_subscriptions: Count = Field(default=100, gt=0)  # per WebSocket connection

    phone_lock_failures: Count = Field(default=10, gt=0)
    phone_lock_seconds: Seconds = Field(default=86400, ge=0)
    ip_sends_per_hour: Count = Field(default=60, ge=0)
    password_failures_per_hour: Count = Field(default=10, ge=0)
    password_failures_per_address: Count = Field(default=100, ge=0)  # per hour, over every account
    sms_hourly_limit: Count = Field(default=1000, ge=0)
    allowed_countries: CommaList = ["RU"]
    trusted_proxies: CommaList = []
    cors_origins: CommaList = []

    _split_lists = field_validator(
        "test_phones", "allowed_countries", "trusted_proxies", "cors_origins", mode="before"
    )(_split)

    @field_validator("allowed_countries")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        from phonenumbers import SUPPORTED_REGIONS

        regions = [item.upper() for item in value]
        if not regions:
            raise ValueError("list at least one ISO region (RU, KZ, ...): with none, no phone could get a code")
        unknown = [item for item in regions if item not in SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone regions {unknown}: ISO codes such as RU, KZ")
        return regions

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
            port = url.port  # a port that is not a number fails here
        except (ArgumentError, ValueError):
            raise ValueError(f"not a database URL; use {DATABASE_FORMS}") from None
        if url.drivername == "sqlite+aiosqlite":
            if url.host or url.port or not url.database or url.database == ":memory:":
                raise ValueError(f"a SQLite database needs a file path; use {DATABASE_FORMS}")
        elif url.drivername == "postgresql+asyncpg":
            if port is not None and not 0 < port < 65536:
                raise ValueError("the port must be a number from 1 to 65535")
        else:
            raise ValueError(f"unsupported database {url.drivername!r}; use {DATABASE_FORMS}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}: one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("delivery_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value:
            _check_http_url(value)
        return value or None

    @field_validator("delivery_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value:
            body = value.removeprefix("whsec_")
            try:
                key = base64.b64decode(body, validate=True)
            except binascii.Error:
                key = b""
            if body == value or not key:
                raise ValueError("the delivery webhook secret must be whsec_ followed by base64 (Standard Webhooks)")
        return value or None

    @field_validator("test_phones")
    @classmethod
    def _test_phones_shape(cls, value: list[str], info: ValidationInfo) -> list[str]:
        from core.phones import PhoneError, normalize_phone

        otp_length = info.data.get("otp_length")  # absent when WASHGATE_OTP_LENGTH itself was refused
        for item in value:
            phone, sep, code = item.partition("=")
            if not sep or not code.strip().isdigit() or not phone.strip():
                raise ValueError(f"test phone entry {item!r} is not PHONE=DIGITS")
            try:
                normalize_phone(phone.strip(), allowed=None)
            except PhoneError:
                raise ValueError(f"test phone entry {item!r} is not a valid phone number") from None
            if otp_length is not None and len(code.strip()) != otp_length:
                raise ValueError(
                    f"the code of test phone {phone.strip()} has {len(code.strip())} digits;"
                    f" WASHGATE_OTP_LENGTH is {otp_length}"
                )
        return value

    @field_validator("quota_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        from strawberry.http.websocket_origin import normalize_allowed_origins

        try:
            normalize_allowed_origins(value)
        except ValueError:
            raise ValueError("list origins such as https://app.example (scheme, host, optional port), or *") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ip_network(item, strict=False)
        return value

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @cached_property
    def trusted_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(ip_network(item, strict=False) for item in self.trusted_proxies)

    @cached_property
    def test_phone_codes(self) -> dict[str, str]:
        """E.164 phone -> fixed code; entries are normalised like any other phone."""
        from core.phones import normalize_phone

        codes: dict[str, str] = {}
        for item in self.test_phones:
            phone, _, code = item.partition("=")
            codes[normalize_phone(phone.strip(), allowed=None)] = code.strip()
        return codes

    def problems_for_production(self) -> list[str]:
        """What stops this configuration from starting in production."""
        problems = []
        if not self.secret_key or len(self.secret_key.strip()) < 32:
            problems.append("WASHGATE_SECRET_KEY must be set to at least 32 characters")
        if not self.delivery_webhook_url:
            problems.append("WASHGATE_DELIVERY_WEBHOOK_URL must be set (codes are never logged)")
        return problems
