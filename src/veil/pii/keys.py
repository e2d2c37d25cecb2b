"""Keys for pseudonymization and reversible encryption: read, checked, made.

A key is at least 16 bytes of secret randomness (128 bits, NIST SP 800-107's
minimum for HMAC security). A key file holds the key as hex (what
:func:`new_key` writes) or as raw bytes.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

from veil.errors import ParameterError
from veil.randomness import random_bytes

__all__ = ["MIN_KEY_BYTES", "as_key", "new_key", "read_key"]

MIN_KEY_BYTES = 16


def new_key() -> str:
    """A fresh 256-bit key from the operating system's secure source, as 64 hex digits."""
    return random_bytes(32).hex()


def as_key(key: bytes | str) -> bytes:
    """The key as bytes: hex text is decoded, other text is taken as UTF-8; checked for length."""
    if isinstance(key, str):
        text = key.strip()
        if len(text) % 2 == 0 and text and all(c in string.hexdigits for c in text):
            raw = bytes.fromhex(text)
        else:
            raw = text.encode("utf-8")
    else:
        raw = bytes(key)
        stripped = raw.strip()
        hexed = all(chr(c) in string.hexdigits for c in stripped)
        if stripped and len(stripped) % 2 == 0 and hexed:
            raw = bytes.fromhex(stripped.decode("ascii"))
    if len(raw) < MIN_KEY_BYTES:
        raise ParameterError(
            f"the key has {len(raw)} bytes; it needs at least {MIN_KEY_BYTES} (make one with "
            "`veil pii keygen -o key.hex`)"
        )
    return raw


def read_key(path: str | os.PathLike[str]) -> bytes:
    """The key in a key file (hex or raw bytes)."""
    file = Path(path)
    if not file.is_file():
        raise ParameterError(
            f"key file {str(file)!r} does not exist; make one with `veil pii keygen -o {file}` "
            "and keep it apart from the data"
        )
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise ParameterError(f"cannot read key file {str(file)!r}: {err.strerror}") from err
    return as_key(raw)
