"""Logging for every server process: one format, and access lines with secrets redacted."""

from __future__ import annotations

import logging
import re
from typing import Any

# /v1/auth/{order_id}/{code} carries a code in its path; refresh tokens travel as query parameters.
_CODE_IN_PATH = re.compile(r"^(/v1/auth/[^/?]+/)[^/?]+")
_SECRET_PARAM = re.compile(r"(?i)([?&](?:refreshToken|refresh_token|token|code|otp|pin)=)[^&]*")


def redact_path(path: str) -> str:
    path = _CODE_IN_PATH.sub(r"\1***", path)
    return _SECRET_PARAM.sub(r"\1***", path)


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
