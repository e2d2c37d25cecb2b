"""IPv4 and IPv6 addresses, validated by the standard library's ``ipaddress``."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from veil.pii.detectors.base import Detector, register, word_bounded
from veil.pii.findings import Finding

__all__ = ["IpAddressDetector"]

# An IPv6 address holds "::" or a colon between hex groups; the scan starts on
# the colon (rare in prose) and widens to the whole address.
_IPV6_ANCHOR = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def _octets_ok(text: str) -> bool:
    return all(len(p) == 1 or (p[0] != "0" and int(p) <= 255) for p in text.split("."))


@register
class IpAddressDetector(Detector):
    """IPv4 (dotted quad, no leading zeros; 0.6) and IPv6 (any RFC 4291 form; 0.9) addresses.

    A dotted quad can be a version number, hence the lower score, which
    "IP", "host", "server"... nearby raise.
    """

    name = "ip_address"
    entities = ("IP_ADDRESS",)
    scan_order = 40

    digit_patterns = ((r"\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}", 0),)

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in ".:"):
            return None
        after = text[end : end + 2]
        if after[:1].isalnum() or (after[:1] in ".:" and after[1:].isdigit()):
            return None
        if not _octets_ok(text[start:end]):
            return None
        return self._finding(text, start, end, "IP_ADDRESS", 0.6)

    def find_other(self, text: str) -> Iterator[Finding]:
        yield from self._ipv6(text)

    def _ipv6(self, text: str) -> Iterator[Finding]:
        done = 0
        for match in _IPV6_ANCHOR.finditer(text):
            if match.start() < done:
                continue
            start, end = match.span()
            while start > 0 and text[start - 1] in _IPV6_CHARS and match.start() - start < 40:
                start -= 1
            while end < len(text) and text[end] in _IPV6_CHARS and end - match.end() < 40:
                end += 1
            while end > start and text[end - 1] == ".":  # a full stop after the address
                end -= 1
            done = end
            if not word_bounded(text, start, end):
                continue
            candidate = text[start:end]
            if candidate.count(":") < 2:
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield self._finding(text, start, end, "IP_ADDRESS", 0.9)
