"""Context words: the words near a match that make it more likely to be what it looks like.

Nine digits are a US social security number when "SSN" stands before them,
and a date is a date of birth after "born" or "DOB". Each entity type has a
list of words; a word found in the window of text just before a match (or
just after, for a few types) raises the match's confidence by
:data:`CONTEXT_BOOST`, as Presidio's context enhancer does.
"""

from __future__ import annotations

import re

__all__ = ["CONTEXT_BOOST", "CONTEXT_WORDS", "WINDOW", "has_context"]

#: How much a context word raises a finding's confidence (capped at 1).
CONTEXT_BOOST = 0.35
#: Characters looked at before a match.
WINDOW = 48

#: Lower-case words (or phrases) per entity type, English first, with Spanish
#: and French for the types whose identifiers are Spanish or common in Europe.
CONTEXT_WORDS: dict[str, tuple[str, ...]] = {
    "PHONE": (
        "phone", "tel", "telephone", "mobile", "cell", "call", "fax", "whatsapp",
        "contact", "teléfono", "móvil", "téléphone", "portable",
    ),
    "CREDIT_CARD": ("card", "visa", "mastercard", "amex", "credit", "debit", "payment", "tarjeta"),
    "IBAN": ("iban", "account", "bank", "transfer", "cuenta", "compte"),
    "US_SSN": ("ssn", "social security", "ss#", "ss #", "social sec"),
    "ES_DNI": ("dni", "nif", "documento", "identidad"),
    "ES_NIE": ("nie", "nif", "extranjero", "documento"),
    "IP_ADDRESS": ("ip", "address", "host", "server", "client", "from", "connect"),
    "DATE_OF_BIRTH": (
        "born", "birth", "dob", "d.o.b", "birthday", "nacido", "nacida", "nacimiento",
        "né le", "née le", "naissance", "geboren",
    ),
    "POSTAL_ADDRESS": ("address", "lives", "live at", "resides", "street", "dirección", "adresse"),
    "EMAIL": ("email", "e-mail", "mail", "correo", "courriel"),
    "URL": ("url", "link", "website", "site", "web"),
}  # fmt: skip

_PATTERNS = {
    kind: re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    for kind, words in CONTEXT_WORDS.items()
}


def has_context(text: str, start: int, end: int, kind: str, *, after: bool = False) -> bool:
    """Whether a context word of ``kind`` occurs within :data:`WINDOW` characters before ``start``.

    With ``after``, the window after ``end`` counts too. Matching is on the
    lower-cased window, so "SSN:" and "ssn" both count.
    """
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        return False
    before = text[max(0, start - WINDOW) : start].lower()
    if pattern.search(before):
        return True
    return bool(after and pattern.search(text[end : end + WINDOW].lower()))
