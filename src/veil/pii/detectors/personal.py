"""Dates of birth (a date after a birth context word) and street addresses."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from veil.pii.context import has_context
from veil.pii.detectors.base import Detector, register
from veil.pii.findings import Finding

__all__ = ["DateOfBirthDetector", "PostalAddressDetector"]

_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december",
)  # fmt: skip
_MONTH_WORD = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"  # noqa: E501
# A date read whole (to check it exists), and dates starting with a month's name.
_DATES = (
    re.compile(
        r"(?:(?P<iy>(?:19|20)\d{2})-(?P<im>\d{2})-(?P<id>\d{2})"
        r"|(?P<na>\d{1,2})(?P<sep>[/.-])(?P<nb>\d{1,2})(?P=sep)(?P<ny>(?:19|20)\d{2}|\d{2})"
        rf"|(?P<wd>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?(?P<wm>{_MONTH_WORD}),? "
        r"(?P<wy>(?:19|20)\d{2}))"
    ),
    re.compile(
        rf"(?P<vm>{_MONTH_WORD}) (?P<vd>\d{{1,2}})(?:st|nd|rd|th)?,? (?P<vy>(?:19|20)\d{{2}})"
    ),
)


def _month(word: str) -> int:
    word = word.rstrip(".").lower()
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(word[:3]))


def _real_date(match: re.Match[str]) -> bool:
    """Whether the matched date exists (either day/month order for numeric dates)."""
    g = dict.fromkeys(("iy", "na", "wd"), None) | match.groupdict()
    try:
        if g["iy"]:
            dt.date(int(g["iy"]), int(g["im"]), int(g["id"]))
            return True
        if g["na"]:
            year = int(g["ny"]) + (1900 if len(g["ny"]) == 2 else 0)
            a, b = int(g["na"]), int(g["nb"])
            for day, month in ((a, b), (b, a)):
                try:
                    dt.date(year, month, day)
                    return True
                except ValueError:
                    pass
            return False
        if g["wd"]:
            dt.date(int(g["wy"]), _month(g["wm"]), int(g["wd"]))
            return True
        dt.date(int(g["vy"]), _month(g["vm"]), int(g["vd"]))
        return True
    except ValueError:
        return False


@register
class DateOfBirthDetector(Detector):
    """Dates (ISO, numeric day/month or month/day, written month) after "born", "DOB"...

    A date alone is not personal data; a date of birth is a quasi-identifier
    (Sweeney 2000: birth date, sex and ZIP code single out 87% of Americans).
    Only dates with a birth context word in the window before them are
    reported, at 0.85.
    """

    name = "date_of_birth"
    entities = ("DATE_OF_BIRTH",)
    scan_order = 30
    digit_patterns = (
        (r"\d{3}-\d{2}-\d{2}", 0),
        (r"\d?[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})", 0),
        (rf"\d?(?:st|nd|rd|th)? (?:of )?{_MONTH_WORD},? \d{{4}}", 0),
    )

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        if start > 0 and text[start - 1].isalnum():
            return None
        if end < len(text) and text[end].isdigit():
            return None
        match = _DATES[0].fullmatch(text, start, end)
        if match is None or not _real_date(match):
            return None
        if not has_context(text, start, end, "DATE_OF_BIRTH"):
            return None
        return Finding(start, end, "DATE_OF_BIRTH", 0.85, self.name, text[start:end])

    def find_other(self, text: str) -> Iterator[Finding]:
        for match in _DATES[1].finditer(text):
            start, end = match.span()
            if start > 0 and text[start - 1].isalnum():
                continue
            if end < len(text) and text[end].isdigit():
                continue
            if _real_date(match) and has_context(text, start, end, "DATE_OF_BIRTH"):
                yield Finding(start, end, "DATE_OF_BIRTH", 0.85, self.name, match.group())


_STREET_TYPES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|"
    "Square|Sq|Terrace|Way|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Row|Alley"
)
# A house number, one to four capitalised words, a street type; then optionally
# a unit, a town and a US state with ZIP code or a UK postcode.
_ADDRESS = (
    rf"\d{{0,4}}[A-Za-z]?(?: [A-Z][a-z]+){{1,4}} (?:{_STREET_TYPES})\b\.?"
    r"(?:,? (?:Apt|Apartment|Suite|Unit|Flat)\.? ?#?\w+)?"
    r"(?:, [A-Z][a-z]+(?: [A-Z][a-z]+){0,2}"
    r"(?:,? [A-Z]{2} \d{5}(?:-\d{4})?|,? [A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})?)?"
)


@register
class PostalAddressDetector(Detector):
    """Street addresses in English form: "221 Baker Street", "1600 Pennsylvania Ave, Washington, DC 20500".

    0.7; "lives at", "address"... before them raise it.
    """  # noqa: E501

    name = "postal_address"
    entities = ("POSTAL_ADDRESS",)
    scan_order = 30
    digit_patterns = ((_ADDRESS, 0),)

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        if start > 0 and text[start - 1].isalnum():
            return None
        return self._finding(text, start, end, "POSTAL_ADDRESS", 0.7)
