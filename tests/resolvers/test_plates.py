"""Russian registration plates: the twelve letters in either script, any case, one normal form."""

from __future__ import annotations

import pytest

from resolvers.errors import DomainError, ErrorCode
from resolvers.plates import PLATE_LETTERS, is_valid_plate, normalize_plate

LATIN = "ABEKMHOPCTYX"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("x123xx", "Х123ХХ"),
        ("X123XX", "Х123ХХ"),
        ("х123хх77", "Х123ХХ77"),
        ("Х123ХХ777", "Х123ХХ777"),
        ("A777AA777", "А777АА777"),
        ("а 123 вс 77", "А123ВС77"),
        ("а-123-вс-77", "А123ВС77"),
        ("  е001кх199 ", "Е001КХ199"),
    ],
)
def test_plates_normalise_to_upper_case_cyrillic(raw, normal):
    assert normalize_plate(raw) == normal
    assert is_valid_plate(raw)


def test_every_latin_look_alike_is_its_cyrillic_letter_in_any_case():
    for latin, cyrillic in zip(LATIN, PLATE_LETTERS, strict=True):
        expected = f"{cyrillic}000{cyrillic}{cyrillic}"
        for letter in (latin, latin.lower(), cyrillic, cyrillic.lower()):
            assert normalize_plate(f"{letter}000{letter}{letter}") == expected


def test_mixed_scripts_compare_equal():
    assert normalize_plate("x123xх77") == normalize_plate("Х123ХX77") == normalize_plate("х123хх77")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "x123x",
        "x12xx",
        "x1234xx",
        "123xxx",
        "xx123x",
        "x123xx1",
        "x123xx7777",
        "б123хх",  # not one of the twelve letters
        "Q123QQ",
        "D123DD",
        "ᲀ123хх",  # an old Cyrillic letter whose upper case is В
        "ﬅ123хх",
        "x１２３xx",  # full-width digits
        "x٣٢١xx",  # Arabic-Indic digits
        "x_123_xx",
        "x123xx" * 5,
        "x123xx\n",  # kept as sent, so only spaces and hyphens may surround or split it
        "\nx123xx",
        "x123xx\r\n",
        "x123xx\x0b",
        "\tx123xx",
        None,
        123,
        ["x123xx"],
    ],
)
def test_anything_else_is_invalid_car_plate(raw):
    with pytest.raises(DomainError) as refused:
        normalize_plate(raw)
    assert refused.value.code == ErrorCode.INVALID_CAR_PLATE
    assert not is_valid_plate(raw)
