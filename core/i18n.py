"""Messages in English and Russian from gettext catalogs (Babel), chosen per request."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "washgate"
SUPPORTED = ("en", "ru")


@cache
def _catalog(locale: str) -> NullTranslations:
    if locale == "en":
        return NullTranslations()
    return Translations.load(str(LOCALES_DIR), [locale], domain=DOMAIN)


def translate(message: str, locale: str, **params: Any) -> str:
    """`message` (English msgid with `{name}` fields) in `locale`, fields filled."""
    text = _catalog(locale if locale in SUPPORTED else "en").gettext(message)
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return message.format(**params)
    return text


def negotiate(header: str | None, default: str | None) -> str | None:
    """The best supported language of an `Accept-Language`-style header, q-values honoured;
    `default` when it names none."""
    if not header:
        return default
    best, best_q = None, 0.0
    for position, part in enumerate(header[:512].split(",")[:20]):
        tag, _, rest = part.strip().partition(";")
        q = 1.0
        rest = rest.strip()
        if rest.startswith("q="):
            try:
                q = float(rest[2:])
            except ValueError:
                q = 0.0
        language = tag.strip().lower().replace("_", "-").split("-")[0]  # en-US, and en_US as apps send
        if language == "*":
            language = default
        if language in SUPPORTED and q > best_q:
            best, best_q = language, q - position * 1e-6
    return best or default
