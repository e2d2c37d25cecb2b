"""Column scan: which columns of a table identify people, and how, with the evidence.

Each column is classified as a **direct identifier** (an e-mail, a card
number, a name, a record key: drop or pseudonymize it), a
**quasi-identifier** (age, ZIP code, sex: harmless alone, identifying
together; Sweeney 2002), **sensitive** (diagnosis, income, religion: what must
not be learnt about a person; the special categories of GDPR article 9) or
**other**. The evidence is what the values hold (the share of sampled values
that are an e-mail, a phone number...), how unique they are, and what the
column's name says. The scan proposes the roles ``veil assess`` and
``veil anonymize`` take; the user confirms them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from veil.errors import ParameterError
from veil.io import to_polars
from veil.pii.analyzer import Analyzer
from veil.report import Document, Paragraph, Result, Section, Table

__all__ = ["ColumnFinding", "ColumnScan", "scan_columns"]

DIRECT, QUASI, SENSITIVE, OTHER = "direct identifier", "quasi-identifier", "sensitive", "other"
_ROLE = {DIRECT: "identifier", QUASI: "quasi", SENSITIVE: "sensitive", OTHER: "insensitive"}

# Words of a column's name and the entity they announce.
_DIRECT_WORDS: dict[str, str] = {
    "email": "EMAIL", "mail": "EMAIL", "phone": "PHONE", "telephone": "PHONE", "tel": "PHONE",
    "mobile": "PHONE", "cell": "PHONE", "fax": "PHONE", "ssn": "US_SSN", "dni": "ES_DNI",
    "nie": "ES_NIE", "nif": "ES_DNI", "passport": "NATIONAL_ID", "iban": "IBAN",
    "card": "CREDIT_CARD", "address": "POSTAL_ADDRESS", "street": "POSTAL_ADDRESS",
    "addr": "POSTAL_ADDRESS", "ip": "IP_ADDRESS", "url": "URL", "website": "URL",
    "username": "IDENTIFIER", "login": "IDENTIFIER", "mrn": "IDENTIFIER",
    "surname": "PERSON", "firstname": "PERSON", "lastname": "PERSON", "fullname": "PERSON",
    "forename": "PERSON",
}  # fmt: skip
# "name" is a person's name with these words only ("product_name" is not).
_PERSON_QUALIFIERS = {
    "first", "last", "full", "given", "family", "middle", "maiden", "patient", "customer",
    "client", "user", "person", "contact", "employee", "display", "name", "student",
}  # fmt: skip
_QUASI_WORDS = {
    "age", "birth", "dob", "birthdate", "birthday", "born", "zip", "zipcode", "postcode",
    "postal", "gender", "sex", "race", "ethnicity", "ethnic", "marital", "occupation", "job",
    "profession", "education", "degree", "country", "nationality", "native", "city", "town",
    "state", "region", "county", "province", "municipality", "height", "weight", "workclass",
    "relationship", "language", "employer", "yob",
}  # fmt: skip
_SENSITIVE_WORDS = {
    "diagnosis", "disease", "condition", "icd", "medication", "drug", "treatment", "salary",
    "income", "wage", "religion", "religious", "political", "politics", "sexual",
    "orientation", "hiv", "health", "outcome", "readmitted", "criminal", "conviction",
    "union", "disability", "pregnancy", "genetic", "biometric", "capital", "debt",
    "credit_score", "symptom", "symptoms", "therapy",
}  # fmt: skip
_IDENTIFIER_WORDS = {"id", "key", "uuid", "guid", "record", "number", "no", "num", "code"}


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if w]


def _name_hint(name: str) -> tuple[str, str, str] | None:
    """(category, kind, reason) suggested by the column's name, or None."""
    words = _words(name)
    joined = "".join(words)
    for word in [*words, joined]:
        if word in _DIRECT_WORDS:
            return DIRECT, _DIRECT_WORDS[word], f"its name contains {word!r}"
    if "name" in words and set(words) <= _PERSON_QUALIFIERS:
        return DIRECT, "PERSON", "its name says it holds people's names"
    for word in words:
        if word in _SENSITIVE_WORDS:
            return SENSITIVE, "", f"its name contains {word!r} (a sensitive attribute)"
    for word in words:
        if word in _QUASI_WORDS:
            return QUASI, "", f"its name contains {word!r} (a quasi-identifier)"
    return None


@dataclass(frozen=True)
class ColumnFinding:
    """What the scan concluded about one column, and why."""

    name: str
    dtype: str
    category: str
    kind: str
    evidence: list[str] = field(default_factory=list)
    distinct_ratio: float = 0.0
    pii_share: dict[str, float] = field(default_factory=dict)

    @property
    def role(self) -> str:
        """The role for ``veil.roles.Roles``: identifier, quasi, sensitive or insensitive."""
        return _ROLE[self.category]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "category": self.category,
            "role": self.role,
            "kind": self.kind or None,
            "evidence": list(self.evidence),
            "distinct_ratio": round(self.distinct_ratio, 4),
            "pii_share": {k: round(v, 4) for k, v in self.pii_share.items()},
        }


def _flag(names: list[str], option: str) -> str:
    return f"{option} {shlex.quote(','.join(names))}" if names else ""


@dataclass(frozen=True)
class ColumnScan(Result):
    """The scan of every column, with the roles it proposes."""

    columns: list[ColumnFinding]
    rows: int
    sampled: int
    source: str = "the table"

    def names(self, category: str) -> list[str]:
        return [c.name for c in self.columns if c.category == category]

    @property
    def identifier(self) -> list[str]:
        return self.names(DIRECT)

    @property
    def quasi(self) -> list[str]:
        return self.names(QUASI)

    @property
    def sensitive(self) -> list[str]:
        return self.names(SENSITIVE)

    def commands(self) -> dict[str, str]:
        """The ``veil assess`` and ``veil anonymize`` command lines with the proposed roles."""
        src = shlex.quote(self.source)
        q, s = _flag(self.quasi, "-q"), _flag(self.sensitive, "-s")
        ident = _flag(self.identifier, "--identifier")
        assess = " ".join(p for p in ("veil assess", src, q, s) if p)
        anonymize = " ".join(
            p for p in ("veil anonymize", src, q, s, ident, "--k 5 -o anonymized.csv") if p
        )
        return {"assess": assess, "anonymize": anonymize}

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "sampled": self.sampled,
            "columns": [c.to_dict() for c in self.columns],
            "proposed_roles": {
                "identifier": self.identifier,
                "quasi": self.quasi,
                "sensitive": self.sensitive,
            },
            "commands": self.commands(),
        }

    def to_document(self) -> Document:
        rows = [[c.name, c.category, c.kind or "-", "; ".join(c.evidence)] for c in self.columns]
        cmds = self.commands()
        return Document(
            title="PII column scan",
            subtitle=f"{self.source}: {self.rows:,} rows, {self.sampled:,} sampled per column",
            sections=[
                Section("Columns", [Table(["column", "class", "kind", "evidence"], rows)]),
                Section(
                    "Proposed roles (check them before use)",
                    [
                        Paragraph(f"assess: {cmds['assess']}"),
                        Paragraph(f"anonymize: {cmds['anonymize']}"),
                        Paragraph(
                            "Direct identifiers are dropped by `veil anonymize --identifier`, or "
                            "pseudonymized with `veil pii scrub --operator pseudonymize`.",
                            tone="warn" if self.identifier else "note",
                        ),
                    ],
                ),
            ],
        )


def _classify(
    name: str, series: pl.Series, sample: list[str], analyzer: Analyzer, rows: int
) -> ColumnFinding:
    dtype = str(series.dtype)
    non_null = series.len() - series.null_count()
    distinct = series.n_unique() - (1 if series.null_count() else 0)
    ratio = distinct / non_null if non_null else 0.0
    evidence: list[str] = []
    shares: dict[str, float] = {}
    whole: dict[str, int] = {}
    holding = 0
    if sample:
        for value, found in zip(sample, analyzer.analyze_many(sample), strict=True):
            if found:
                holding += 1
            for f in found:
                shares[f.type] = shares.get(f.type, 0) + 1
            covered = sum(f.end - f.start for f in found)
            if found and covered >= 0.8 * len(value.strip()):
                top = max(found, key=lambda f: f.end - f.start).type
                whole[top] = whole.get(top, 0) + 1
        shares = {k: v / len(sample) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}
    hint = _name_hint(name)
    is_text = series.dtype == pl.String
    if whole:
        kind, count = max(whole.items(), key=lambda kv: kv[1])
        if count >= 0.5 * len(sample):
            evidence.append(f"{count / len(sample):.0%} of sampled distinct values are {kind}")
            if hint:
                evidence.append(hint[2])
            return ColumnFinding(name, dtype, DIRECT, kind, evidence, ratio, shares)
    words = sum(len(v.split()) for v in sample) / len(sample) if sample else 0.0
    if is_text and words >= 4 and holding >= max(1, 0.02 * len(sample)):
        listed = ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
        share = holding / len(sample)
        evidence.append(f"free text: {share:.0%} of distinct values hold PII ({listed})")
        return ColumnFinding(name, dtype, DIRECT, "FREE_TEXT", evidence, ratio, shares)
    if hint and hint[0] == DIRECT:
        evidence.append(hint[2])
        return ColumnFinding(name, dtype, DIRECT, hint[1], evidence, ratio, shares)
    if hint:  # a named quasi-identifier or sensitive attribute, however unique (age)
        evidence.append(hint[2])
        return ColumnFinding(name, dtype, hint[0], "", evidence, ratio, shares)
    keyish = not series.dtype.is_float() and not series.dtype.is_temporal()
    if keyish and non_null >= 20 and ratio >= 0.9 and (is_text or series.dtype.is_integer()):
        evidence.append(f"{ratio:.0%} of values are distinct: it singles out rows (a key)")
        return ColumnFinding(name, dtype, DIRECT, "IDENTIFIER", evidence, ratio, shares)
    if words and words < 4 and set(_words(name)) & _IDENTIFIER_WORDS and ratio >= 0.5:
        evidence.append(f"its name reads as a code and {ratio:.0%} of values are distinct")
        return ColumnFinding(name, dtype, QUASI, "", evidence, ratio, shares)
    evidence.append("no identifying pattern in its name or values")
    return ColumnFinding(name, dtype, OTHER, "", evidence, ratio, shares)


def scan_columns(
    data: Any,
    *,
    sample: int = 500,
    analyzer: Analyzer | None = None,
    seed: int = 0,
    ner: Any = None,
) -> ColumnScan:
    """Classify every column of a table as direct identifier, quasi-identifier, sensitive or other.

    Parameters
    ----------
    data
        A table: path, pandas, polars or pyarrow.
    sample
        Values read per column to look for PII (distinct values, drawn with ``seed``).
    analyzer
        The detectors to use (default: all, regex only; ``ner`` adds names).

    Returns
    -------
    ColumnScan
        Per column: class, entity kind, evidence; the proposed roles and the
        ``veil assess``/``veil anonymize`` command lines.
    """
    if sample < 1:
        raise ParameterError(f"sample must be at least 1; got {sample}")
    frame, _ = to_polars(data)
    assert isinstance(frame, pl.DataFrame)
    analyzer = analyzer or Analyzer(ner=ner)
    found = []
    for name in frame.columns:
        series = frame[name]
        values = series.drop_nulls().cast(pl.String).unique(maintain_order=True)
        if values.len() > sample:
            values = values.sample(sample, seed=seed)
        found.append(_classify(name, series, values.to_list(), analyzer, frame.height))
    source = str(data) if isinstance(data, str) or hasattr(data, "__fspath__") else "DATA"
    return ColumnScan(found, frame.height, min(sample, frame.height), source)
