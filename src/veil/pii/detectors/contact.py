"""E-mail addresses, telephone numbers and web addresses.

E-mail and URL patterns start on one character class ("@"; "h"/"w" of a
scheme) so that Python's regular-expression engine skips the prose between
candidates in C; phone numbers ride on the shared scan of digit runs
(:mod:`veil.pii.detectors.digit_runs`).
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

    def find_other(self, text: str) -> Iterator[Finding]:
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


@register
class PhoneDetector(Detector):
    """Telephone numbers in international (E.164 with +), North American or trunk-0 form.

    International (+44 20 7946 0958), North American ((555) 123-4567,
    555-123-4567) and national numbers with a trunk 0 (020 7946 0958,
    06 12 34 56 78). A number has 7 to 15 digits (ITU-T E.164). Numbers with
    "+" score 0.7, North American 0.6, national 0.5; "phone", "tel",
    "mobile"... before them add :data:`~veil.pii.context.CONTEXT_BOOST`.
    """

    name = "phone"
    entities = ("PHONE",)
    scan_order = 90
    digit_patterns = (
        (r"(?<=\+\d)\d{0,2}(?:[ .-]?\(?\d{1,4}\)?)(?:[ .-]?\d{2,4}){1,5}", 1),
        (r"(?<=\(\d)\d{2}\) ?\d{3}[ .-]\d{4}", 1),
        (r"\d{2}[.-]\d{3}[.-]\d{4}", 0),
        (r"(?<=0)\d{0,3}(?:[ .-]\d{2,4}){2,4}", 0),
    )
    _BASE = (0.7, 0.6, 0.6, 0.5)

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        if not word_bounded(text, start, end):
            return None
        if index >= 2 and start > 0 and text[start - 1] in "+-./":
            return None
        if index == 1 and start > 0 and text[start - 1] == "(":
            return None
        if index == 2 and text[start + 3] != text[start + 7]:  # one separator throughout
            return None
        digits = sum(ch.isdigit() for ch in text[start:end])
        if not 7 <= digits <= 15:
            return None
        return self._finding(text, start, end, "PHONE", self._BASE[index])


# Two scans that start on rare text: "://" (a literal, found by the engine's fast
# substring search) after http or https, and "www.".
_SCHEME = re.compile(r"://")
_SCHEMES = ("http", "https")
_WWW = (re.compile(r"www\."), re.compile(r"WWW\."))  # literals: the fast substring search
_REST = re.compile(r"[^\s<>\"'`{}|\\^]+")
_TRAILING = ".,;:!?)]}'\""


@register
class UrlDetector(Detector):
    """Web addresses with a scheme (http, https) or starting with "www."."""

    name = "url"
    entities = ("URL",)

    def find_other(self, text: str) -> Iterator[Finding]:
        starts = []
        for match in _SCHEME.finditer(text):
            colon = match.start()
            for scheme in _SCHEMES:
                begin = colon - len(scheme)
                if begin >= 0 and text[begin:colon].lower() == scheme:
                    starts.append(begin)
        starts += [m.start() for pattern in _WWW for m in pattern.finditer(text)]
        done = -1
        for start in sorted(starts):
            if start < done:
                continue
            if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "@./"):
                continue
            rest = _REST.match(text, start)
            assert rest is not None  # the scheme or "www." itself matches
            end = rest.end()
            while end > start and text[end - 1] in _TRAILING:
                # A closing bracket belongs to the URL when it also opened one inside it.
                if text[end - 1] == ")" and text.count("(", start, end) >= text.count(
                    ")", start, end
                ):
                    break
                end -= 1
            if end - start > len("https://"):
                done = end
                yield self._finding(text, start, end, "URL", 0.85)
