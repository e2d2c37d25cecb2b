"""Payment card numbers (Luhn) and IBANs (mod 97): found by shape, kept by checksum."""

from __future__ import annotations

import re
from collections.abc import Iterator

from veil.pii.checksums import IBAN_LENGTHS, iban_valid, luhn_valid
from veil.pii.detectors.base import Detector, register, word_bounded
from veil.pii.findings import Finding

__all__ = ["CreditCardDetector", "IbanDetector"]

# 13 to 19 digits, in groups split by one space or dash (4-4-4-4, 4-6-5, ...).
_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")
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

    def find(self, text: str) -> Iterator[Finding]:
        for match in _CARD.finditer(text):
            start, end = match.span()
            if not word_bounded(text, start, end) or (start > 0 and text[start - 1] in "+-"):
                continue
            number = match.group()
            if " " in number and "-" in number:
                continue
            if not luhn_valid(number):
                continue
            digits = number.replace(" ", "").replace("-", "")
            base = 0.9 if _ISSUER.match(digits) else 0.5
            yield self._finding(text, start, end, "CREDIT_CARD", base)


# A country code, two check digits, then the account (BBAN), printed in
# groups of four or in one piece.
_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")


@register
class IbanDetector(Detector):
    """IBANs: the country's length (SWIFT registry) and ISO 7064 MOD 97-10; score 0.95."""

    name = "iban"
    entities = ("IBAN",)

    def find(self, text: str) -> Iterator[Finding]:
        pos = 0
        while True:
            match = _IBAN.search(text, pos)
            if match is None:
                return
            start = match.start()
            pos = start + 1
            length = IBAN_LENGTHS.get(text[start : start + 2])
            if length is None or (start > 0 and text[start - 1].isalnum()):
                continue
            # Take exactly the country's number of characters, skipping the spaces of groups.
            end, taken = start, 0
            candidate = match.group()
            for ch in candidate:
                if taken == length:
                    break
                end += 1
                taken += ch != " "
            if taken != length or (end < len(text) and text[end].isalnum()):
                continue
            if iban_valid(text[start:end]):
                yield self._finding(text, start, end, "IBAN", 0.95)
                pos = end
