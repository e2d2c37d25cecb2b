"""Payment card numbers (Luhn) and IBANs (mod 97): found by shape, kept by checksum."""

from __future__ import annotations

import re

from veil.pii.checksums import IBAN_LENGTHS, iban_valid, luhn_valid
from veil.pii.detectors.base import Detector, register, word_bounded
from veil.pii.findings import Finding

__all__ = ["CreditCardDetector", "IbanDetector"]

# Issuer prefixes of the major networks (ISO/IEC 7812 IINs): Visa, Mastercard,
# American Express, Discover, JCB, Diners Club, UnionPay, Maestro.
_ISSUER = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6011|65|64[4-9]|35|30[0-5]|36|38|62|5[06-8]|6")


@register
class CreditCardDetector(Detector):
    """Card numbers of 13-19 digits that pass the Luhn check.

    A Luhn-valid number with a known issuer prefix scores 0.9 (one random
    number in ten passes Luhn, so the prefix and the grouping matter), a
    Luhn-valid number without one 0.5.
    """

    name = "credit_card"
    entities = ("CREDIT_CARD",)
    scan_order = 10
    # 13 to 19 digits in groups split by one space or dash (4-4-4-4, 4-6-5...).
    digit_patterns = ((r"(?:[ -]?\d){12,18}", 0),)

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        number = text[start:end]
        if not word_bounded(text, start, end) or (start > 0 and text[start - 1] in "+-"):
            return None
        if (" " in number and "-" in number) or not luhn_valid(number):
            return None
        digits = number.replace(" ", "").replace("-", "")
        base = 0.9 if _ISSUER.match(digits) else 0.5
        return self._finding(text, start, end, "CREDIT_CARD", base)


@register
class IbanDetector(Detector):
    """IBANs: the country's length (SWIFT registry) and ISO 7064 MOD 97-10; score 0.95.

    The digit run is the two check digits after the country code, printed in
    groups of four or in one piece; the candidate is cut to exactly the
    country's length, skipping the spaces between groups.
    """

    name = "iban"
    entities = ("IBAN",)
    scan_order = 10
    digit_patterns = ((r"(?<=(?<![A-Za-z0-9])[A-Z]{2}\d)\d(?: ?[A-Z0-9]){11,30}", 2),)

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        length = IBAN_LENGTHS.get(text[start : start + 2])
        if length is None:
            return None
        stop, taken = start, 0
        for ch in text[start:end]:
            if taken == length:
                break
            stop += 1
            taken += ch != " "
        if taken != length or (stop < len(text) and text[stop].isalnum()):
            return None
        if not iban_valid(text[start:stop]):
            return None
        return self._finding(text, start, stop, "IBAN", 0.95)
