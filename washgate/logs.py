"""Logging for every server process: one format, and access lines with secrets redacted."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

# Seed 001 carries a code in its path, /v1/auth/{order_id}/{code}, and a client's malformed URL
# may put it elsewhere after /v1/auth (`/v1/auth//1234`, `/v1//auth/{id}/1234`, `/V1/auth/1234`):
# there every segment with a digit in it, other than an order id (a UUID), is redacted.
# Refresh tokens and codes may also travel as query parameters.
_AFTER_CALLUP_AUTH = re.compile(r"(?i)^(/+v1/+auth)(/.*)")
_ORDER_ID = re.compile(r"(?i)\{?[0-9a-f]{8}-?(?:[0-9a-f]{4}-?){3}[0-9a-f]{12}\}?")
_SECRET_PARAMS = frozenset({"refreshtoken", "refresh_token", "token", "code", "otp", "pin"})


def _redact_segments(match: re.Match[str]) -> str:
    segments = match.group(2).split("/")
    kept = (s if _ORDER_ID.fullmatch(s) or not any(c.isdigit() for c in s) else "***" for s in segments)
    return match.group(1) + "/".join(kept)


def _redact_query(query: str) -> str:
    """Values of secret parameters, however their names are spelt (`refresh%54oken` is read
    as `refreshToken` by the server, so it is one here too)."""
    pairs = []
    for pair in query.split("&"):
        name, equals, _value = pair.partition("=")
        secret = equals and unquote_plus(name).lower() in _SECRET_PARAMS
        pairs.append(f"{name}=***" if secret else pair)
    return "&".join(pairs)


def redact_path(path: str) -> str:
    path, question, query = path.partition("?")
    path = _AFTER_CALLUP_AUTH.sub(_redact_segments, path)
    return path + question + _redact_query(query) if question else path


def loggable_path(path: str) -> str:
    """A request path for washgate's own log lines: secrets redacted as in access lines,
    control characters escaped (a decoded `%0A` in a URL cannot start a forged line)."""
    redacted = redact_path(path)
    return redacted if redacted.isprintable() else redacted.encode("unicode_escape").decode("ascii")


class RedactAccessLog(logging.Filter):
    """uvicorn's access record args are (client, method, path, http_version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, redact_path(str(path)), version, status)
        return True


def log_config(level: str) -> dict[str, Any]:
    """A dictConfig applied by uvicorn in every worker process."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactAccessLog}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stdout",
                "filters": ["redact"],
            },
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "alembic": {"level": "WARNING"},
        },
    }
