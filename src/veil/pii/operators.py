"""What replaces a finding: redact, mask, tag, keyed pseudonym, fake value, reversible token.

Each operator is a class with a ``name`` and ``apply(value, kind)``, registered
in :data:`OPERATORS`. Keyed operators (``pseudonymize``, ``fake``,
``encrypt``) give the same output for the same value and key in every row and
every file, so joins across scrubbed tables still work, and a different key
gives unrelated outputs.

- ``pseudonymize``: ``<EMAIL_3f9a...>``, the first 64 bits of
  HMAC-SHA256(key, type, value) (RFC 2104). One-way: without the key the
  value cannot be tested against a guess.
- ``fake``: a value of the same shape (digits for digits, letters for
  letters), with valid check digits for cards, IBANs and Spanish ids, drawn
  from the same HMAC stream: consistent, not reversible.
- ``encrypt``: ``<EMAIL#...>``, a deterministic encryption that
  :func:`reveal` undoes with the key: a four-round Feistel network whose round
  function is HMAC-SHA256 (Luby and Rackoff 1988: a pseudorandom permutation).
  Equal values give equal tokens (that is the consistency); nothing else is
  learnt without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from abc import ABC, abstractmethod
from typing import ClassVar

from veil.errors import ParameterError
from veil.pii.checksums import IBAN_LENGTHS
from veil.pii.keys import as_key, random_bytes

__all__ = ["OPERATORS", "Operator", "make_operator", "reveal"]


class Operator(ABC):
    """Turns one found value of a given entity type into its replacement."""

    name: ClassVar[str]
    needs_key: ClassVar[bool] = False

    @abstractmethod
    def apply(self, value: str, kind: str) -> str:
        """The replacement of ``value``, an entity of type ``kind``."""


OPERATORS: dict[str, type[Operator]] = {}


def _register(cls: type[Operator]) -> type[Operator]:
    OPERATORS[cls.name] = cls
    return cls


@_register
class Redact(Operator):
    """Remove the value."""

    name = "redact"

    def apply(self, value: str, kind: str) -> str:
        return ""


@_register
class Replace(Operator):
    """Replace the value by its type tag, ``<EMAIL>`` (the default)."""

    name = "replace"

    def apply(self, value: str, kind: str) -> str:
        return f"<{kind}>"


@_register
class Mask(Operator):
    """Hide every letter and digit but the last four with ``*``; separators stay."""

    name = "mask"
    keep = 4

    def apply(self, value: str, kind: str) -> str:
        positions = [i for i, ch in enumerate(value) if ch.isalnum()]
        hidden = set(positions[: max(0, len(positions) - self.keep)])
        return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


def _normal(value: str, kind: str) -> str:
    """The form two writings of one value share: "4111 1111..." and "4111-1111..." are one card."""
    if kind in ("EMAIL", "URL"):
        return value.strip().lower()
    if kind in ("CREDIT_CARD", "IBAN", "US_SSN", "ES_DNI", "ES_NIE", "PHONE"):
        return re.sub(r"[\s().-]", "", value).upper()
    return " ".join(value.split())


class _Keyed(Operator):
    needs_key = True

    def __init__(self, key: bytes | str) -> None:
        self._key = as_key(key)

    def _mac(self, *parts: str | bytes) -> bytes:
        data = b"\x00".join(p.encode("utf-8") if isinstance(p, str) else p for p in parts)
        return hmac.new(self._key, data, hashlib.sha256).digest()


@_register
class Pseudonymize(_Keyed):
    """``<TYPE_hhhhhhhhhhhhhhhh>``: 64 bits of HMAC-SHA256 over the type and normalised value.

    With n distinct values, two collide with probability about n^2 / 2^65
    (3e-8 for a million).
    """

    name = "pseudonymize"

    def apply(self, value: str, kind: str) -> str:
        return f"<{kind}_{self._mac('pseudonym', kind, _normal(value, kind))[:8].hex()}>"


class _Stream:
    """Deterministic digits and letters from HMAC-SHA256 in counter mode."""

    def __init__(self, seed: bytes) -> None:
        self.seed, self.counter, self.buffer = seed, 0, b""

    def byte(self) -> int:
        if not self.buffer:
            self.buffer = hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        b, self.buffer = self.buffer[0], self.buffer[1:]
        return b

    def below(self, n: int) -> int:
        limit = 256 - 256 % n  # rejection sampling: no modulo bias
        while True:
            b = self.byte()
            if b < limit:
                return b % n


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


@_register
class Fake(_Keyed):
    """A fake value of the same shape; cards pass Luhn, IBANs mod 97, Spanish ids their letter.

    Without a key, one is drawn for this operator (consistent within the run only).
    """

    name = "fake"
    needs_key = False

    def __init__(self, key: bytes | str | None = None) -> None:
        super().__init__(key if key is not None else random_bytes(32))

    def apply(self, value: str, kind: str) -> str:
        stream = _Stream(self._mac("fake", kind, _normal(value, kind)))
        keep = ".@" if kind == "EMAIL" else ""
        chars = []
        for ch in value:
            if ch.isdigit():
                chars.append(str(stream.below(10)))
            elif ch.isascii() and ch.isalpha() and ch not in keep:
                letter = chr(ord("a") + stream.below(26))
                chars.append(letter.upper() if ch.isupper() else letter)
            else:
                chars.append(ch)
        fake = "".join(chars)
        if kind == "EMAIL" and "." in value:  # keep the top-level domain readable
            fake = fake[: fake.rfind(".")] + value[value.rfind(".") :]
        if kind == "ES_NIE":  # X, Y or Z is part of the number, not a letter to change
            fake = value[0] + fake[1:]
        return _fix_checks(fake, value, kind)


def _fix_checks(fake: str, value: str, kind: str) -> str:
    """Make check digits valid again after the digits changed."""
    if kind == "CREDIT_CARD":
        idx = [i for i, ch in enumerate(fake) if ch.isdigit()]
        body = "".join(fake[i] for i in idx[:-1])
        return fake[: idx[-1]] + _luhn_digit(body) + fake[idx[-1] + 1 :]
    if kind == "IBAN":
        compact = re.sub(r"\s", "", value).upper()
        country = compact[:2]
        if IBAN_LENGTHS.get(country) != len(compact):
            return fake
        bban = re.sub(r"\s", "", fake)[4:].upper()
        moved = bban + country + "00"
        number = int("".join(str(int(c, 36)) for c in moved))
        check = f"{98 - number % 97:02d}"
        out, i, new = [], 0, country + check + bban
        for ch in value:  # the original's spacing
            if ch.isspace():
                out.append(ch)
            else:
                out.append(new[i])
                i += 1
        return "".join(out)
    if kind in ("ES_DNI", "ES_NIE"):
        digits = "".join(ch for ch in fake if ch.isdigit())
        prefix = value.strip()[0].upper() if kind == "ES_NIE" else ""
        number = int(str("XYZ".index(prefix)) + digits if prefix else digits)
        letter = "TRWAGMYFPDXBNJZSQVHLCKE"[number % 23]
        return fake[:-1] + letter if fake[-1].isalpha() else fake
    if kind == "US_SSN":
        return _valid_ssn(fake)
    return fake


def _valid_ssn(fake: str) -> str:
    """An SSN the SSA could have issued: no area 000, 666 or 9xx, no group 00 or serial 0000."""
    idx = [i for i, ch in enumerate(fake) if ch.isdigit()]
    if len(idx) != 9:
        return fake
    chars = list(fake)
    if chars[idx[0]] in "09" or "".join(chars[i] for i in idx[:3]) == "666":
        chars[idx[0]] = "1"
    if chars[idx[3]] == chars[idx[4]] == "0":
        chars[idx[4]] = "1"
    if all(chars[i] == "0" for i in idx[5:]):
        chars[idx[8]] = "1"
    return "".join(chars)


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


_ROUNDS = 4
_MIN_BLOCK = 16
_TOKEN = re.compile(r"<([A-Z_]+)#([A-Z2-7]+)>")


@_register
class Encrypt(_Keyed):
    """``<TYPE#TOKEN>``: a deterministic encryption of the value, undone by :func:`reveal`."""

    name = "encrypt"

    def _round(self, i: int, kind: str, half: bytes, size: int) -> bytes:
        out = b""
        block = 0
        while len(out) < size:
            out += self._mac("feistel", kind, bytes([i, block]), half)
            block += 1
        return out[:size]

    def _permute(self, data: bytes, kind: str, *, inverse: bool) -> bytes:
        cut = len(data) // 2
        left, right = data[:cut], data[cut:]
        rounds = range(_ROUNDS - 1, -1, -1) if inverse else range(_ROUNDS)
        for i in rounds:
            # Even rounds change the left half from the right one, odd rounds the reverse;
            # each round is its own inverse (XOR), so decryption runs them backwards.
            if i % 2 == 0:
                pad = self._round(i, kind, right, len(left))
                left = _xor(left, pad)
            else:
                pad = self._round(i, kind, left, len(right))
                right = _xor(right, pad)
        return left + right

    def apply(self, value: str, kind: str) -> str:
        raw = value.encode("utf-8")
        if len(raw) > 65535:
            raise ParameterError(f"a {kind} value of {len(raw)} bytes is too long to encrypt")
        block = len(raw).to_bytes(2, "big") + raw
        block += b"\x00" * max(0, _MIN_BLOCK - len(block))
        token = base64.b32encode(self._permute(block, kind, inverse=False)).decode("ascii")
        return f"<{kind}#{token.rstrip('=')}>"

    def decrypt(self, token: str, kind: str) -> str:
        padded = token + "=" * (-len(token) % 8)
        try:
            block = self._permute(base64.b32decode(padded), kind, inverse=True)
        except ValueError as err:
            raise ParameterError(f"malformed token <{kind}#{token}>") from err
        size = int.from_bytes(block[:2], "big")
        raw = block[2 : 2 + size]
        if len(raw) != size or any(block[2 + size :]):
            raise ParameterError(
                f"token <{kind}#{token[:12]}...> does not decrypt with this key: wrong key, or "
                "the token was altered"
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParameterError(
                f"token <{kind}#{token[:12]}...> does not decrypt with this key: wrong key"
            ) from None


def reveal(text: str, key: bytes | str) -> str:
    """Undo the ``encrypt`` operator: every ``<TYPE#TOKEN>`` in ``text`` back to its value.

    Raises
    ------
    ParameterError
        A token does not decrypt with ``key`` (wrong key or altered token).
    """
    cipher = Encrypt(key)
    return _TOKEN.sub(lambda m: cipher.decrypt(m.group(2), m.group(1)), text)


def make_operator(name: str, *, key: bytes | str | None = None) -> Operator:
    """The operator called ``name``, keyed with ``key`` where it needs one.

    Raises
    ------
    ParameterError
        Unknown name, or a keyed operator (``pseudonymize``, ``encrypt``) without a key.
    """
    cls = OPERATORS.get(name)
    if cls is None:
        raise ParameterError(f"unknown operator {name!r}; choose one of: {', '.join(OPERATORS)}")
    if cls is Fake:
        return Fake(key)
    if cls.needs_key:
        if key is None:
            raise ParameterError(
                f"operator {name!r} needs a key (--key-file FILE); make one with "
                "`veil pii keygen -o key.hex` and keep it apart from the data"
            )
        return cls(key)  # type: ignore[call-arg]
    return cls()
