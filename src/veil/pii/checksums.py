"""Check digits of the identifiers veil detects: what separates a card number from 16 digits.

Each validator takes the identifier as written (separators allowed where the
format has them) and returns whether it is well formed. References: ISO/IEC
7812-1 annex B (Luhn), ISO 13616-1 and ISO 7064 MOD 97-10 (IBAN), the Social
Security Administration's rules for SSNs (no area 000, 666 or 900-999, no
group 00, no serial 0000), Spain's Real Decreto 1553/2005 (DNI letter) and
Orden INT/2058/2008 (NIE).
"""

from __future__ import annotations

__all__ = [
    "IBAN_LENGTHS",
    "dni_valid",
    "iban_valid",
    "luhn_valid",
    "nie_valid",
    "ssn_valid",
]

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

#: Length of an IBAN per country code (the SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27,
    "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def _digits(text: str, separators: str = " -") -> str:
    for sep in separators:
        text = text.replace(sep, "")
    return text


def luhn_valid(number: str) -> bool:
    """Whether a card number (12-19 digits, spaces or dashes allowed) passes the Luhn check.

    From the right, every second digit is doubled (less 9 when over 9); the
    sum of all digits is a multiple of 10 (ISO/IEC 7812-1).
    """
    digits = _digits(number)
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Whether an IBAN has its country's length and passes ISO 7064 MOD 97-10.

    The first four characters move to the end, letters become 10..35, and
    the number read in base 10 leaves remainder 1 modulo 97.
    """
    text = _digits(iban).upper()
    if len(text) < 15 or not text.isascii() or not text.isalnum():
        return False
    country = text[:2]
    if IBAN_LENGTHS.get(country) != len(text) or not text[2:4].isdigit():
        return False
    moved = text[4:] + text[:4]
    remainder = 0
    for ch in moved:
        # Fold one character at a time: a digit shifts by 10, a letter (two digits) by 100.
        if ch.isdigit():
            remainder = (remainder * 10 + ord(ch) - 48) % 97
        else:
            remainder = (remainder * 100 + ord(ch) - 55) % 97
    return remainder == 1


def ssn_valid(ssn: str) -> bool:
    """Whether a US SSN (``123-45-6789`` or 9 digits) follows the SSA's allocation rules.

    Area 000, 666 and 900-999, group 00 and serial 0000 were never issued;
    nor were the numbers printed on sample cards (078-05-1120, 219-09-9999).
    """
    digits = _digits(ssn)
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in ("078051120", "219099999")


def dni_valid(dni: str) -> bool:
    """Whether a Spanish DNI (8 digits and a letter) has the right letter: number mod 23."""
    text = _digits(dni).upper()
    if len(text) != 9 or not text[:8].isdigit():
        return False
    return _DNI_LETTERS[int(text[:8]) % 23] == text[8]


def nie_valid(nie: str) -> bool:
    """Whether a Spanish NIE (X, Y or Z, 7 digits, a letter) has the right letter.

    X, Y and Z stand for 0, 1 and 2 in front of the digits; then as for a DNI.
    """
    text = _digits(nie).upper()
    if len(text) != 9 or text[0] not in "XYZ" or not text[1:8].isdigit():
        return False
    return _DNI_LETTERS[int(str("XYZ".index(text[0])) + text[1:8]) % 23] == text[8]
