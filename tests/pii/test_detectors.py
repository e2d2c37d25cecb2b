"""Detectors on planted corpora (precision/recall per type) and on hand-made sentences."""

from __future__ import annotations

import pytest

from veil.errors import ParameterError
from veil.pii import DETECTORS, Analyzer, analyze, get_detector, resolve_overlaps
from veil.pii.evaluation import planted_corpus, precision_recall
from veil.pii.findings import Finding


def test_planted_corpus_precision_and_recall_per_type() -> None:
    corpus = planted_corpus(300_000, seed=3)
    found = Analyzer().analyze_block(corpus.text)
    scores = precision_recall([(f.start, f.end, f.type) for f in found], corpus.spans)
    assert len(scores) == 11
    for kind, s in scores.items():
        assert s["planted"] >= 50, kind
        assert s["recall"] >= 0.98, (kind, s)
        assert s["precision"] >= 0.98, (kind, s)
    # Every finding is exactly a planted span: offsets are right, not just overlapping.
    planted = set(corpus.spans)
    exact = sum((f.start, f.end, f.type) in planted for f in found)
    assert exact >= 0.98 * len(found)


def test_filler_numbers_are_not_pii() -> None:
    text = (
        "In 2019 the clinic saw 412 cases. Version 1.2.3 was installed. Room 12 on floor 3. "
        "A total of 1234.50 euros; 7 of 900 samples; at 10:30 the meeting started."
    )
    assert analyze(text) == []


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("to ana.silva+work@mail.example.org today", "EMAIL", "ana.silva+work@mail.example.org"),
        ("call +44 20 7946 0958 now", "PHONE", "+44 20 7946 0958"),
        ("call (415) 555-0123 now", "PHONE", "(415) 555-0123"),
        ("tel. 06 12 34 56 78", "PHONE", "06 12 34 56 78"),
        ("visa 4111-1111-1111-1111.", "CREDIT_CARD", "4111-1111-1111-1111"),
        ("amex 3782 822463 10005", "CREDIT_CARD", "3782 822463 10005"),
        ("IBAN: GB82 WEST 1234 5698 7654 32 thanks", "IBAN", "GB82 WEST 1234 5698 7654 32"),
        ("SSN 123-45-6789", "US_SSN", "123-45-6789"),
        ("DNI 12345678Z", "ES_DNI", "12345678Z"),
        ("NIE X1234567L", "ES_NIE", "X1234567L"),
        ("host 10.0.0.254.", "IP_ADDRESS", "10.0.0.254"),
        ("from fe80::1ff:fe23:4567:890a today", "IP_ADDRESS", "fe80::1ff:fe23:4567:890a"),
        ("see https://example.org/a?b=1.", "URL", "https://example.org/a?b=1"),
        ("(see www.example.com/x)", "URL", "www.example.com/x"),
        ("she was born on March 3, 1981 in", "DATE_OF_BIRTH", "March 3, 1981"),
        ("DOB: 1981-03-03", "DATE_OF_BIRTH", "1981-03-03"),
        ("lives at 1600 Pennsylvania Avenue, Washington, DC 20500.", "POSTAL_ADDRESS",
         "1600 Pennsylvania Avenue, Washington, DC 20500"),
    ],
)  # fmt: skip
def test_each_type_is_found_with_its_span(text: str, kind: str, value: str) -> None:
    found = analyze(text)
    assert [(f.type, f.text) for f in found] == [(kind, value)]
    f = found[0]
    assert text[f.start : f.end] == value
    assert 0.5 <= f.confidence <= 1.0
    assert f.source in DETECTORS


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # Luhn fails
        "IBAN GB82 WEST 1234 5698 7654 33",  # mod 97 fails
        "SSN 666-12-3456",  # never issued
        "DNI 12345678A",  # wrong letter
        "address 999.1.1.1 or 01.2.3.4",  # not IPv4
        "the date 1981-03-03 was a Tuesday",  # a date, no birth context
        "12/31/1999 and 31/02/1980 born",  # the second date does not exist
        "ratio 2001:db8 in text",  # not an IPv6 address
    ],
)
def test_invalid_candidates_are_refused(text: str) -> None:
    found = analyze(text)
    assert all(f.type not in ("CREDIT_CARD", "IBAN", "US_SSN", "ES_DNI") for f in found), found
    if "born" in text:
        assert [f.text for f in found] == []
    if "999.1.1.1" in text or "2001:db8 " in text:
        assert found == []


def test_context_words_raise_confidence() -> None:
    bare = analyze("number 123456789 here", min_confidence=0.0)
    after = analyze("SSN 123456789 here", min_confidence=0.0)
    assert [f.type for f in after] == ["US_SSN"]
    ssn_bare = [f for f in bare if f.type == "US_SSN"]
    assert ssn_bare and ssn_bare[0].confidence < 0.5 <= after[0].confidence
    # With the default threshold, nine bare digits are not reported as an SSN.
    assert all(f.type != "US_SSN" for f in analyze("number 123456789 here"))


def test_entity_filter_and_unknown_types() -> None:
    text = "mail a@example.com, SSN 123-45-6789"
    assert [f.type for f in analyze(text, entities=["EMAIL"])] == ["EMAIL"]
    with pytest.raises(ParameterError, match="unknown entity type"):
        Analyzer(entities="EMAIL,PASSPORTS")
    with pytest.raises(ParameterError, match="unknown PII detector"):
        get_detector("nope")
    with pytest.raises(ParameterError, match="min_confidence"):
        Analyzer(min_confidence=2.0)


def test_overlaps_keep_the_most_confident() -> None:
    a = Finding(0, 10, "PHONE", 0.6, "phone", "x" * 10)
    b = Finding(2, 12, "CREDIT_CARD", 0.9, "credit_card", "x" * 10)
    c = Finding(12, 14, "URL", 0.5, "url", "xx")
    assert resolve_overlaps([a, b, c]) == [b, c]
