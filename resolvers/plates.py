"""Russian registration plates (seed 000): validated and compared in one normalised form.

A plate is a letter, three digits, two letters and an optional 2-3 digit region
(`х123хх77`). Only the twelve letters А В Е К М Н О Р С Т У Х are used, and clients
type them in Cyrillic or as their Latin look-alikes (A B E K M H O P C T Y X), in
any case. The normalised form is upper-case Cyrillic with no spaces: `Х123ХХ77`.
"""

from __future__ import annotations

import re

from resolvers.errors import DomainError, ErrorCode

PLATE_LETTERS = "АВЕКМНОРСТУХ"
_LATIN_LOOKALIKES = "ABEKMHOPCTYX"
# Exactly these 48 characters are letters of a plate; `str.upper` is not used, since
# it maps some other characters (old Cyrillic variants, ligatures) onto them.
_TO_CYRILLIC = str.maketrans(
    _LATIN_LOOKALIKES + _LATIN_LOOKALIKES.lower() + PLATE_LETTERS.lower(),
    PLATE_LETTERS * 3,
)
_PLATE = re.compile(rf"[{PLATE_LETTERS}][0-9]{{3}}[{PLATE_LETTERS}]{{2}}(?:[0-9]{{2,3}})?")
_SEPARATORS = re.compile(r"[ \-]")
MAX_PLATE_INPUT = 20


def invalid_plate() -> DomainError:
    return DomainError(ErrorCode.INVALID_CAR_PLATE, "Invalid car registration plate", field="plate")


def normalize_plate(raw: object) -> str:
    """The normalised form of a plate (`x123xx` -> `Х123ХХ`), else INVALID_CAR_PLATE.

    Spaces and hyphens are ignored (`А 123 ВС 77`); any other character (a tab, a line
    break) makes it invalid, since the plate is kept as sent.
    """
    if not isinstance(raw, str) or len(raw) > MAX_PLATE_INPUT:
        raise invalid_plate()
    text = _SEPARATORS.sub("", raw).translate(_TO_CYRILLIC)
    if not _PLATE.fullmatch(text):
        raise invalid_plate()
    return text


def is_valid_plate(raw: object) -> bool:
    try:
        normalize_plate(raw)
    except DomainError:
        return False
    return True
