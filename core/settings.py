"""Configuration: every knob is a `WASHGATE_*` environment variable (or `.env` line)."""

from __future__ import annotations

import base64
import binascii
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]


def _split(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Settings of one washgate deployment; names and defaults are fixed by the contract."""

    model_config = SettingsConfigDict(env_prefix="WASHGATE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./washgate.db"
    database_pool_size: int = Field(default=10, gt=0)  # PostgreSQL connections kept per process
    database_max_overflow: int = Field(default=10, ge=0)  # and opened beyond them under load
    env: Literal["development", "production"] = "development"
    secret_key: str | None = None
    graphiql: bool | None = None
    log_level: str = "info"

    delivery_webhook_url: str | None = None
    delivery_webhook_secret: str | None = None
    delivery_timeout_seconds: float = Field(default=5, gt=0)

    otp_length: int = Field(default=4, ge=4, le=10)
    otp_ttl_seconds: int = Field(default=300, gt=0)
    otp_max_attempts: int = Field(default=5, gt=0)
    otp_resend_seconds: int = Field(default=60, ge=0)
    sms_daily_quota: int = Field(default=10, ge=0)
    phone_recent_seconds: int = Field(default=600, ge=0)
    flashcall_prefix: str = Field(default="7487260", pattern=r"^\d{1,12}$")
    access_token_ttl_seconds: int = Field(default=900, gt=0)
    refresh_token_ttl_seconds: int = Field(default=2592000, gt=0)
    pay_token_ttl_seconds: int = Field(default=1800, gt=0)
    quota_timezone: str = "UTC"
    app_sends_per_hour: int = Field(default=1000, ge=0)
    test_phones: CommaList = []

    max_body_bytes: int = Field(default=1048576, gt=0)
    graphql_max_depth: int = Field(default=10, gt=0)
    graphql_max_aliases: int = Field(default=15, gt=0)
    graphql_max_tokens: int = Field(default=2000, gt=0)
    graphql_max_page_size: int = Field(default=100, gt=0)
    graphql_max_subscriptions: int = Field(default=100, gt=0)  # per WebSocket connection

    phone_lock_failures: int = Field(default=10, gt=0)
    phone_lock_seconds: int = Field(default=86400, ge=0)
    ip_sends_per_hour: int = Field(default=60, ge=0)
    password_failures_per_hour: int = Field(default=10, ge=0)
    sms_hourly_limit: int = Field(default=1000, ge=0)
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

    @field_validator("delivery_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value:
            url = urlsplit(value)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError(f"the delivery webhook {value!r} is not an http(s) URL")
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
    def _test_phones_shape(cls, value: list[str]) -> list[str]:
        for item in value:
            phone, sep, code = item.partition("=")
            if not sep or not code.strip().isdigit() or not phone.strip():
                raise ValueError(f"test phone entry {item!r} is not PHONE=DIGITS")
            from core.phones import PhoneError, normalize_phone

            try:
                normalize_phone(phone.strip(), allowed=None)
            except PhoneError:
                raise ValueError(f"test phone entry {item!r} is not a valid phone number") from None
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

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ip_network(item, strict=False)
        return value

    @model_validator(mode="after")
    def _test_codes_have_otp_length(self) -> Settings:
        for item in self.test_phones:
            code = item.partition("=")[2].strip()
            if len(code) != self.otp_length:
                raise ValueError(f"test phone code {code!r} must have WASHGATE_OTP_LENGTH={self.otp_length} digits")
        return self

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
