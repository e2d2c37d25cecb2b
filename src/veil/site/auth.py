"""API tokens: made once, shown once, stored as a salted scrypt hash.

A token reads ``veil_<id>_<secret>``: the id finds the account, the 256-bit
secret is checked against ``scrypt(secret, salt)`` (Percival 2009) in constant
time. The database holds no token that would open the API if it leaked.
Tokens already checked are remembered in memory by their SHA-256 for a minute,
so a busy scientist does not pay a key derivation per query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

__all__ = ["AuthError", "Principal", "TokenCache", "hash_secret", "new_token", "split_token"]

_PREFIX = "veil"
# scrypt cost: about 10 ms here; the secret is random, so the cost only slows
# an offline search through a stolen database, which 256 bits already prevents.
_N, _R, _P = 2**13, 8, 1
_CACHE_SECONDS = 60.0


class AuthError(Exception):
    """A request without a valid token (401) or with too few rights (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who is calling: an account name and its role ("owner" or "scientist")."""

    name: str
    role: str

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def hash_secret(secret: str, salt: bytes) -> str:
    """The stored hash of a token's secret: scrypt with the account's salt, in hex."""
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return digest.hex()


def new_token() -> tuple[str, str, str, str]:
    """A fresh token, with what to store: (token, token id, salt hex, hash hex)."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    return f"{_PREFIX}_{token_id}_{secret}", token_id, salt.hex(), hash_secret(secret, salt)


def split_token(token: str) -> tuple[str, str]:
    """(token id, secret) of a token, or raise :class:`AuthError` (401) when malformed."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != _PREFIX or not parts[1] or not parts[2]:
        raise AuthError(401, "malformed API token: expected 'Authorization: Bearer veil_...'")
    return parts[1], parts[2]


def secret_matches(secret: str, salt_hex: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (constant-time comparison)."""
    return hmac.compare_digest(hash_secret(secret, bytes.fromhex(salt_hex)), stored)


class TokenCache:
    """Tokens checked in the last minute, by SHA-256, with their principal and expiry."""

    def __init__(self, seconds: float = _CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Principal, dt.datetime | None]] = {}

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> tuple[Principal, dt.datetime | None] | None:
        key = self._key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return entry[1], entry[2]

    def put(self, token: str, principal: Principal, expires: dt.datetime | None) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[self._key(token)] = (time.monotonic() + self.seconds, principal, expires)

    def forget(self, name: str) -> None:
        """Drop every cached token of account ``name`` (its token was replaced)."""
        with self._lock:
            for key in [k for k, v in self._entries.items() if v[1].name == name]:
                del self._entries[key]
