"""Planted-entity corpora and precision/recall per entity type: how detectors are measured.

:func:`planted_corpus` writes sentences around entities generated with valid
check digits (cards, IBANs, Spanish ids, SSNs) at known spans, among filler
prose with numbers that must not be reported (years, counts, amounts,
versions). :func:`precision_recall` scores any detector's spans against them,
so veil, Presidio and a bare regular expression are judged by one rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from veil.pii.checksums import IBAN_LENGTHS

__all__ = ["PlantedCorpus", "planted_corpus", "precision_recall"]

_FIRST = ["maria", "john", "ana", "li", "omar", "sofia", "peter", "yuki", "fatima", "lucas"]
_LAST = ["garcia", "smith", "muller", "rossi", "dubois", "tanaka", "silva", "nowak", "khan"]
_DOMAINS = ["example.com", "mail.example.org", "hospital-north.example.net", "uni.example.edu"]
_STREETS = ["Baker", "Maple", "Oak Hill", "Pennsylvania", "Elm", "Church", "Victoria"]
_TYPES = ["Street", "Avenue", "Road", "Lane", "Drive", "Boulevard"]
_CITIES = ["London", "Springfield", "Boston", "Leeds", "Madrid"]
_WORDS = [
    "the",
    "patient",
    "reported",
    "mild",
    "symptoms",
    "after",
    "the",
    "second",
    "visit",
    "and",
    "the",
    "team",
    "reviewed",
    "the",
    "notes",
    "before",
    "discharge",
    "while",
    "the",
    "invoice",
    "was",
    "sent",
    "to",
    "accounting",
    "with",
    "a",
    "summary",
    "of",
    "findings",
    "from",
    "the",
    "last",
    "quarter",
    "and",
    "the",
    "follow",
    "up",
    "was",
    "scheduled",
    "for",
    "next",
    "week",
]
_FILLER_NUMBERS = [
    "in {y} the clinic saw {n} cases", "version {a}.{b}.{c} was installed", "room {n} on floor {f}",
    "a total of {n}.{c} euros", "{n} of {m} samples", "at {h}:{mm} the meeting started",
]  # fmt: skip
_TEMPLATES: dict[str, list[str]] = {
    "EMAIL": ["Please write to {} about it.", "Contact: {}", "the form came from {} today"],
    "PHONE": ["Call {} for details.", "phone: {}", "she left {} as a contact number"],
    "CREDIT_CARD": ["Paid with card {} yesterday.", "the card number {} was declined"],
    "IBAN": ["Transfer to IBAN {} by Friday.", "account {} was credited"],
    "US_SSN": ["SSN: {}", "his social security number is {}"],
    "ES_DNI": ["DNI {} presented at the desk.", "con documento {}"],
    "ES_NIE": ["NIE {} en el registro.", "holder of NIE {}"],
    "IP_ADDRESS": ["login from {} failed", "server at {} answered"],
    "URL": ["see {} for the form", "details at {}"],
    "DATE_OF_BIRTH": ["born on {}", "DOB: {}", "date of birth {}"],
    "POSTAL_ADDRESS": ["She lives at {} with her family.", "send it to {} please"],
}


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(map(str, rng.integers(0, 10, n)))


def _make(kind: str, rng: np.random.Generator) -> str:
    pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
    if kind == "EMAIL":
        return f"{pick(_FIRST)}.{pick(_LAST)}{int(rng.integers(100))}@{pick(_DOMAINS)}"
    if kind == "PHONE":
        return pick([
            f"+44 20 {_digits(rng, 4)} {_digits(rng, 4)}",
            f"+1 415-{_digits(rng, 3)}-{_digits(rng, 4)}",
            f"({rng.integers(200, 999)}) {_digits(rng, 3)}-{_digits(rng, 4)}",
            f"+34 6{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
            f"06 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}",
        ])  # fmt: skip
    if kind == "CREDIT_CARD":
        if rng.random() < 0.2:
            n = _luhn_complete("37" + _digits(rng, 12))
            return f"{n[:4]} {n[4:10]} {n[10:]}"
        prefix = pick(["4", "51", "55"])
        n = _luhn_complete(prefix + _digits(rng, 15 - len(prefix)))
        sep = pick([" ", "-", ""])
        return sep.join(n[i : i + 4] for i in range(0, 16, 4))
    if kind == "IBAN":
        country = pick(["DE", "ES", "FR", "NL", "IT", "GB"])
        length = IBAN_LENGTHS[country]
        if country in ("NL", "GB"):
            bban = "ABCD"[:4] + _digits(rng, length - 8)
        elif country == "IT":
            bban = "X" + _digits(rng, length - 5)
        else:
            bban = _digits(rng, length - 4)
        number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
        iban = f"{country}{98 - number % 97:02d}{bban}"
        if rng.random() < 0.5:  # printed in groups of four
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban
    if kind == "US_SSN":
        return f"{rng.integers(1, 665):03d}-{rng.integers(1, 99):02d}-{rng.integers(1, 9999):04d}"
    if kind in ("ES_DNI", "ES_NIE"):
        letters = "TRWAGMYFPDXBNJZSQVHLCKE"
        if kind == "ES_DNI":
            num = _digits(rng, 8)
            return num + letters[int(num) % 23]
        prefix = pick(["X", "Y", "Z"])
        num = _digits(rng, 7)
        return prefix + num + letters[int(str("XYZ".index(prefix)) + num) % 23]
    if kind == "IP_ADDRESS":
        if rng.random() < 0.7:
            return ".".join(str(int(x)) for x in rng.integers(1, 255, 4))
        groups = [f"{int(x):x}" for x in rng.integers(1, 0xFFFF, 4)]
        return f"2001:db8:{groups[0]}:{groups[1]}::{groups[2]}"
    if kind == "URL":
        return f"https://www.{pick(_LAST)}-clinic.example.com/records?id={_digits(rng, 5)}"
    if kind == "DATE_OF_BIRTH":
        y, m, d = int(rng.integers(1930, 2010)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        return pick([f"{d:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d} March {y}"])
    if kind == "POSTAL_ADDRESS":
        return f"{rng.integers(1, 2000)} {pick(_STREETS)} {pick(_TYPES)}, {pick(_CITIES)}"
    raise ValueError(kind)


@dataclass(frozen=True)
class PlantedCorpus:
    """A text and the entities planted in it: ``spans[i] = (start, end, type)``."""

    text: str
    spans: list[tuple[int, int, str]]


def planted_corpus(
    size: int, *, seed: int = 0, kinds: Iterable[str] | None = None, density: float = 0.3
) -> PlantedCorpus:
    """About ``size`` characters of lines, a share ``density`` of them holding one entity."""
    rng = np.random.default_rng(seed)
    chosen = list(kinds) if kinds is not None else list(_TEMPLATES)
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    while pos < size:
        words = [_WORDS[int(i)] for i in rng.integers(len(_WORDS), size=int(rng.integers(6, 14)))]
        line = " ".join(words).capitalize() + ". "
        if rng.random() < 0.5:
            line += _FILLER_NUMBERS[int(rng.integers(len(_FILLER_NUMBERS)))].format(
                y=rng.integers(1990, 2030), n=rng.integers(1, 500), m=rng.integers(500, 999),
                a=rng.integers(1, 9), b=rng.integers(0, 20), c=rng.integers(0, 99),
                f=rng.integers(1, 9), h=rng.integers(8, 18), mm=rng.integers(10, 59),
            ) + ". "  # fmt: skip
        if rng.random() < density:
            kind = chosen[int(rng.integers(len(chosen)))]
            value = _make(kind, rng)
            template = _TEMPLATES[kind][int(rng.integers(len(_TEMPLATES[kind])))]
            before = template[: template.index("{}")]
            start = pos + len(line) + len(before)
            spans.append((start, start + len(value), kind))
            line += template.format(value)
        line += "\n"
        parts.append(line)
        pos += len(line)
    return PlantedCorpus("".join(parts), spans)


def precision_recall(
    found: Iterable[tuple[int, int, str]],
    truth: Iterable[tuple[int, int, str]],
    *,
    types: Iterable[str] | None = None,
    rename: Callable[[str], str] | None = None,
) -> dict[str, dict[str, float]]:
    """Precision and recall per type: a found span counts if it overlaps a planted one of its type.

    Overlap rather than exact match, so that "+44 20 7946 0958" found without
    its "+" still counts (a scrub would leave one character); a found span
    whose type was not planted at that place is a false positive.
    """
    rename = rename or (lambda t: t)
    truth_by: dict[str, list[tuple[int, int]]] = {}
    for s, e, t in truth:
        truth_by.setdefault(t, []).append((s, e))
    found_by: dict[str, list[tuple[int, int]]] = {}
    for s, e, t in found:
        found_by.setdefault(rename(t), []).append((s, e))
    out: dict[str, dict[str, float]] = {}
    for kind in types if types is not None else sorted(truth_by):
        planted = sorted(truth_by.get(kind, []))
        got = sorted(found_by.get(kind, []))
        starts = np.array([s for s, _ in planted], dtype=np.int64)
        ends = np.array([e for _, e in planted], dtype=np.int64)
        hit = np.zeros(len(planted), dtype=bool)
        true_pos = 0
        for s, e in got:
            i = int(np.searchsorted(starts, e))  # planted spans starting before e
            j = i - 1
            matched = False
            while j >= 0 and j >= i - 3:
                if ends[j] > s:
                    hit[j] = True
                    matched = True
                j -= 1
            true_pos += matched
        out[kind] = {
            "planted": float(len(planted)),
            "found": float(len(got)),
            "precision": true_pos / len(got) if got else float("nan"),
            "recall": float(hit.mean()) if planted else float("nan"),
        }
    return out
