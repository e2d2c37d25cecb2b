"""PII: find personal data in text and columns, and replace it, fully offline.

::

    from veil.pii import analyze, scrub_text, scan_columns

    analyze("Mail jane@example.org or call +44 20 7946 0958")
    scrub_text("card 4111 1111 1111 1111", operator="mask").text  # 'card **** **** **** 1111'
    scan_columns("patients.csv").commands()["assess"]

Detectors are regular expressions validated by check digits (Luhn, mod 97,
the SSA's rules, the DNI letter) and raised by context words; names of
people, places and organisations come from a spaCy pipeline the user
installed (:mod:`veil.pii.ner`). Nothing reaches the network.
"""

from __future__ import annotations

from veil.pii.analyzer import Analyzer, analyze
from veil.pii.checksums import dni_valid, iban_valid, luhn_valid, nie_valid, ssn_valid
from veil.pii.columns import ColumnFinding, ColumnScan, scan_columns
from veil.pii.detectors import DETECTORS, Detector, get_detector, register
from veil.pii.findings import ENTITY_TYPES, Finding, resolve_overlaps
from veil.pii.keys import new_key, read_key
from veil.pii.ner import NerModel, load_ner
from veil.pii.operators import OPERATORS, Operator, make_operator, reveal
from veil.pii.scrub import ScrubResult, scrub_file, scrub_text, scrub_values

__all__ = [
    "DETECTORS",
    "ENTITY_TYPES",
    "OPERATORS",
    "Analyzer",
    "ColumnFinding",
    "ColumnScan",
    "Detector",
    "Finding",
    "NerModel",
    "Operator",
    "ScrubResult",
    "analyze",
    "dni_valid",
    "get_detector",
    "iban_valid",
    "load_ner",
    "luhn_valid",
    "make_operator",
    "new_key",
    "nie_valid",
    "read_key",
    "register",
    "resolve_overlaps",
    "reveal",
    "scan_columns",
    "scrub_file",
    "scrub_text",
    "scrub_values",
    "ssn_valid",
]
