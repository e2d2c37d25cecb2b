"""Check digits against Presidio's own validators (the reference), on many random inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.pii import dni_valid, iban_valid, luhn_valid, nie_valid
from veil.pii.checksums import IBAN_LENGTHS

presidio = pytest.importorskip("presidio_analyzer.predefined_recognizers")

digits = st.text(alphabet="0123456789", min_size=13, max_size=19)
# Countries whose BBAN is all digits, so a random digit string has their layout.
COUNTRIES = ["DE", "ES", "AT", "PT", "BE", "DK", "FI", "NO", "PL", "SE"]


@settings(max_examples=500, deadline=None)
@given(digits)
def test_luhn_agrees_with_presidio(number: str) -> None:
    assert luhn_valid(number) == presidio.CreditCardRecognizer().validate_result(number)


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(COUNTRIES))
    length = IBAN_LENGTHS[country]
    bban = draw(st.text(alphabet="0123456789", min_size=length - 4, max_size=length - 4))
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    check = 98 - number % 97
    if draw(st.booleans()):  # half of them with a wrong check number
        check = (check + draw(st.integers(1, 96))) % 97 + 2
    return f"{country}{check:02d}{bban}"


@settings(max_examples=500, deadline=None)
@given(ibans())
def test_iban_agrees_with_presidio(iban: str) -> None:
    assert iban_valid(iban) == bool(presidio.IbanRecognizer().validate_result(iban))


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.sampled_from("TRWAGMYFPDXBNJZSQVHLCKE"),
)
def test_dni_and_nie_agree_with_presidio(number: str, letter: str) -> None:
    assert dni_valid(number + letter) == presidio.EsNifRecognizer().validate_result(number + letter)
    nie = "XYZ"[int(number[0]) % 3] + number[1:] + letter
    assert nie_valid(nie) == bool(presidio.EsNieRecognizer().validate_result(nie))
