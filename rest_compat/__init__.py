"""The five legacy REST APIs, each in its own module, each rendering its own shapes."""

from __future__ import annotations

from rest_compat.base import LegacyApi
from rest_compat.callup import API as CALLUP
from rest_compat.carwash import API as CARWASH
from rest_compat.oauth import API as OAUTH
from rest_compat.phone_auth import API as PHONE_AUTH
from rest_compat.phone_binding import API as PHONE_BINDING

# Longest prefixes first: /v1/auth/phone (seed 002) owns its paths inside /v1 (seed 001).
LEGACY_APIS: list[LegacyApi] = [PHONE_BINDING, PHONE_AUTH, CALLUP, OAUTH, CARWASH]


def api_for_path(path: str) -> LegacyApi | None:
    """The legacy API that owns `path`, if any."""
    best: tuple[int, LegacyApi] | None = None
    for api in LEGACY_APIS:
        for prefix in api.prefixes:
            if (path == prefix or path.startswith(prefix.rstrip("/") + "/")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), api)
    return best[1] if best else None
