"""E-mail addresses, telephone numbers and web addresses.

The patterns start on a character that is rare in prose ("@", "+", a digit,
"h"/"w" of a scheme) so that Python's regular-expression engine skips most of
the text without trying a match: what keeps the regex mode above 20 MB/s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from veil.pii.detectors.base import Detector, register, word_bounded
from veil.pii.findings import Finding

__all__ = ["EmailDetector", "PhoneDetector", "UrlDetector"]

# The domain after "@": labels of letters, digits and inner hyphens, a
# top-level domain of letters (RFC 1035 host names).
_DOMAIN = re.compile(r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})\b")
# The local part before it, read backwards from "@" (RFC 5322 dot-atoms, the common subset).
_LOCAL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}\Z")


@register
class EmailDetector(Detector):
    """E-mail addresses: a local part, "@", a domain with a top-level domain."""

    name = "email"
    entities = ("EMAIL",)

    def find(self, text: str) -> Iterator[Finding]:
        for match in _DOMAIN.finditer(text):
            at = match.start()
            local = _LOCAL.search(text, max(0, at - 64), at)
            if local is None:
                continue
            start = local.start()
            while start < at and text[start] in ".'-":  # a dot-atom starts with an atom
                start += 1
            if start == at or text[at - 1] == "." or (start > 0 and text[start - 1] == "/"):
                continue
            yield self._finding(text, start, match.end(), "EMAIL", 0.95)


# International (+ and 7-15 digits, E.164), North American ((555) 123-4567,
# 555-123-4567) and national numbers with a trunk 0 (020 7946 0958, 06 12 34 56 78).
#
# Each pattern starts with one character class, so that the engine skips the
# text between candidates in C (a leading alternation would try every position).
_PHONES = (
    re.compile(r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?)(?:[ .-]?\d{2,4}){1,5}"),
    re.compile(r"\(\d{3}\) ?\d{3}[ .-]\d{4}"),
    re.compile(r"\d(?:\d{2}([.-])\d{3}\1\d{4}|(?<=0)\d{0,3}(?:[ .-]\d{2,4}){2,4})"),
)


@register
class PhoneDetector(Detector):
    """Telephone numbers in international (E.164 with +), North American or trunk-0 form.

    A number has 7 to 15 digits (ITU-T E.164). Numbers with "+" score 0.7,
    North American 0.6, national 0.5; "phone", "tel", "mobile"... before
    them add :data:`~veil.pii.context.CONTEXT_BOOST`.
    """

    name = "phone"
    entities = ("PHONE",)

    def find(self, text: str) -> Iterator[Finding]:
        for match in (m for pattern in _PHONES for m in pattern.finditer(text)):
            start, end = match.span()
            if not word_bounded(text, start, end):
                continue
            if start > 0 and text[start - 1] in "+-./":
                continue
            digits = sum(ch.isdigit() for ch in match.group())
            if not 7 <= digits <= 15:
                continue
            first = text[start]
            base = 0.7 if first == "+" else (0.5 if first == "0" else 0.6)
            yield self._finding(text, start, end, "PHONE", base)


_URL = re.compile(r"[hHwW](?:(?<=[hH])[tT][tT][pP][sS]?://|(?<=[wW])[wW][wW]\.)[^\s<>\"'`{}|\\^]+")
_TRAILING = ".,;:!?)]}'\""


@register
class UrlDetector(Detector):
    """Web addresses with a scheme (http, https) or starting with "www."."""

    name = "url"
    entities = ("URL",)

    def find(self, text: str) -> Iterator[Finding]:
        for match in _URL.finditer(text):
            start, end = match.span()
            if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "@."):
                continue
            while end > start and text[end - 1] in _TRAILING:
                # A closing bracket belongs to the URL when it also opened one inside it.
                if text[end - 1] == ")" and text.count("(", start, end) >= text.count(
                    ")", start, end
                ):
                    break
                end -= 1
            if end - start > len("https://"):
                yield self._finding(text, start, end, "URL", 0.85)
