"""One scan for every entity that contains a run of digits.

Python's regular-expression engine skips, in C, the text between positions
where a pattern's first character can match, but only when the pattern
starts with a single character or character class. Ten detectors scanning
one after the other each try a match at every digit of the text; here one
pattern, ``\\d(?<!\\d\\d)(?:P1|P2|...)``, tries once per run of digits (the
look-behind drops the digits inside a run at once), and the alternatives
``Pi`` are the detectors' ``digit_patterns``. A candidate is handed to its
detector's ``accept``; when that refuses it or scores it below a passed
checksum, the other patterns are tried at the same place and the most
certain reading is kept, so one alternative cannot hide another.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from veil.pii.detectors.base import Detector
    from veil.pii.findings import Finding

__all__ = ["scan_digit_runs"]

_RUN_START = r"\d(?<!\d\d)"
# A candidate accepted at this confidence or above (a passed checksum) ends the search
# at its place; below it, every other pattern is tried there too.
_SURE = 0.9
# The scan, the (detector, pattern, lead) of each alternative, and for each i the
# alternatives after i joined (None after the last): what a refused or uncertain
# reading tries next, in one call.
_Compiled = tuple[
    "re.Pattern[str] | None", list[tuple[int, int, int]], list["re.Pattern[str] | None"]
]
_CACHE: dict[tuple[str, ...], _Compiled] = {}


def _compiled(detectors: Sequence[Detector]) -> _Compiled:
    key = tuple(d.name for d in detectors)
    if key not in _CACHE:
        parts: list[str] = []
        slots: list[tuple[int, int, int]] = []
        ranked = sorted(range(len(detectors)), key=lambda i: detectors[i].scan_order)
        for d_index in ranked:
            detector = detectors[d_index]
            for p_index, (pattern, lead) in enumerate(detector.digit_patterns):
                parts.append(f"(?P<g{len(slots)}>{pattern})")
                slots.append((d_index, p_index, lead))
        combined = re.compile(_RUN_START + "(?:" + "|".join(parts) + ")") if parts else None
        later = [
            re.compile(_RUN_START + "(?:" + "|".join(parts[i + 1 :]) + ")")
            if i + 1 < len(parts)
            else None
            for i in range(len(parts))
        ]
        _CACHE[key] = (combined, slots, later)
    return _CACHE[key]


def scan_digit_runs(text: str, detectors: Sequence[Detector]) -> Iterator[Finding]:
    """The findings of every digit-led pattern of ``detectors`` in ``text``."""
    combined, slots, later = _compiled(detectors)
    if combined is None:
        return
    pos = 0
    search = combined.search
    while True:
        match = search(text, pos)
        if match is None:
            return
        run = match.start()
        first = int(match.lastgroup[1:])  # type: ignore[index]  # the alternative that matched
        best = _accept(text, detectors, slots, first, run, match.end())
        at = first
        while (best is None or best.confidence < _SURE) and later[at] is not None:
            # A later pattern may read the same digits better (an SSN starting with 0
            # is also a national phone number): try those and keep the most certain.
            # The earlier ones did not match here, or the engine would have taken them.
            other = later[at].match(text, run)  # type: ignore[union-attr]
            if other is None:
                break
            at = int(other.lastgroup[1:])  # type: ignore[index]
            found = _accept(text, detectors, slots, at, run, other.end())
            if found is not None and (
                best is None
                or (found.confidence, found.end - found.start)
                > (best.confidence, best.end - best.start)
            ):
                best = found
        if best is not None:
            yield best
            pos = best.end
        else:
            pos = run + 1


def _accept(
    text: str,
    detectors: Sequence[Detector],
    slots: list[tuple[int, int, int]],
    i: int,
    run: int,
    end: int,
) -> Finding | None:
    d_index, p_index, lead = slots[i]
    start = run - lead
    if start < 0:
        return None
    return detectors[d_index].accept(text, start, end, p_index)
