"""Phone numbers: parsed and normalised with phonenumbers, never by hand."""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache

import phonenumbers

MAX_PHONE_INPUT = 32
# What a typed number may hold after its leading `+`: phonenumbers would also dig a number
# out of letters and other text ("x79161234567", vanity letters), which no client means.
_PHONE_CHARS = frozenset("0123456789 -().")


class PhoneError(ValueError):
    """The text is not a phone number washgate accepts; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_phone(raw: object, *, allowed: Collection[str] | None) -> str:
    """E.164 form of `raw` (E.164, `7916...` 11 digits, `8 916 ...`), e.g. `+79161234567`.

    Numbers without a `+` are read as Russian, as every legacy client sends them.
    `allowed` is the set of ISO regions whose numbers may be used (None: any).
    """
    if not isinstance(raw, str) or len(raw) > MAX_PHONE_INPUT:
        raise PhoneError("invalid")
    text = raw.strip()
    if not text.removeprefix("+") or not _PHONE_CHARS.issuperset(text.removeprefix("+")):
        raise PhoneError("invalid")
    e164, region = _parse(text)
    if allowed is not None and region not in allowed:
        raise PhoneError("country")
    return e164


@lru_cache(maxsize=4096)  # every send and sign-in parses a phone; only valid numbers are kept
def _parse(text: str) -> tuple[str, str]:
    """(E.164, ISO region) of a valid number; PhoneError otherwise."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and len(digits) == 11 and digits[0] == "7":
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException as exc:
        raise PhoneError("invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("invalid")
    region = phonenumbers.region_code_for_number(number) or ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), region


def digits_of(e164: str) -> str:
    """`+79161234567` -> `79161234567` (the legacy APIs' spelling)."""
    return e164.lstrip("+")


@lru_cache(maxsize=4096)  # shown on every `me` and sign-in; only stored numbers come here
def mask_phone(e164: str) -> str:
    """`+79991234533` -> `+7 999 ***-**-33`, the form seed 000 shows."""
    number = phonenumbers.parse(e164)
    national = phonenumbers.national_significant_number(number)
    code = number.country_code
    if len(national) >= 4:
        head, tail = national[:3], national[-2:]
        return f"+{code} {head} ***-**-{tail}"
    return f"+{code} ***"
