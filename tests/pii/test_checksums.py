"""Check-digit validators against published valid and invalid examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.pii import dni_valid, iban_valid, luhn_valid, nie_valid, ssn_valid


@pytest.mark.parametrize(
    "number",
    # Test numbers published by card networks / payment processors.
    ["4111111111111111", "4111 1111 1111 1111", "5555555555554444", "378282246310005",
     "6011111111111117", "3530111333300000", "4012-8888-8888-1881"],
)  # fmt: skip
def test_luhn_accepts_published_test_cards(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4111111111111112", "5555555555554445", "1234", "41111111x1111111"]
)
def test_luhn_refuses(number: str) -> None:
    assert not luhn_valid(number)


@given(st.text(alphabet="0123456789", min_size=12, max_size=19))
def test_luhn_one_changed_digit_is_caught(digits: str) -> None:
    # Luhn detects every single-digit error: at most one of the ten values of a digit passes.
    passing = [d for d in "0123456789" if luhn_valid(digits[:-1] + d)]
    assert len(passing) == 1


@pytest.mark.parametrize(
    "iban",
    # Examples of the IBAN registry / ECBS and Wikipedia's worked example.
    ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00",
     "FR14 2004 1010 0505 0001 3M02 606", "NL91ABNA0417164300", "ES9121000418450200051332",
     "BE68539007547034", "NO9386011117947"],
)  # fmt: skip
def test_iban_accepts_published_examples(iban: str) -> None:
    assert iban_valid(iban)


@pytest.mark.parametrize(
    "iban",
    ["GB82 WEST 1234 5698 7654 33", "DE89 3704 0044 0532 0130 0", "XX89370400440532013000",
     "GB82WEST123456987654320", "DE8937040044053201300!"],
)  # fmt: skip
def test_iban_refuses(iban: str) -> None:
    assert not iban_valid(iban)


@pytest.mark.parametrize("ssn", ["123-45-6789", "001-01-0001", "665-99-9999", "772 12 3456"])
def test_ssn_rules_accept(ssn: str) -> None:
    assert ssn_valid(ssn)


@pytest.mark.parametrize(
    "ssn",
    ["000-12-3456", "666-12-3456", "900-12-3456", "999-99-9999", "123-00-4567", "123-45-0000",
     "078-05-1120", "219-09-9999", "12345678"],
)  # fmt: skip
def test_ssn_rules_refuse(ssn: str) -> None:
    assert not ssn_valid(ssn)


@pytest.mark.parametrize("dni", ["12345678Z", "00000000T", "99999999R", "12345678-Z"])
def test_dni_letter(dni: str) -> None:
    assert dni_valid(dni)


@pytest.mark.parametrize("dni", ["12345678A", "1234567Z", "ABCDEFGHZ"])
def test_dni_wrong(dni: str) -> None:
    assert not dni_valid(dni)


def test_nie_letter() -> None:
    # X0000000T: X stands for 0, 0 mod 23 is T; Y1234567X: 11234567 mod 23 = 10 -> X.
    assert nie_valid("X0000000T")
    assert nie_valid("X1234567L")
    assert 11234567 % 23 == 10
    assert nie_valid("Y1234567X")
    assert not nie_valid("Y1234567L")
    assert not nie_valid("A1234567L")
