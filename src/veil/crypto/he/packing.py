"""Packing samples into CKKS ciphertexts, and the one wire format they travel in.

veil packs column-wise: ciphertext j of a chunk holds feature j of up to N / 2
samples, one sample per slot. A linear score is then a weighted sum of
ciphertexts by plaintext weights (no rotation, so no Galois keys), and every
sample of the chunk is scored at once (SIMD batching; Smart and Vercauteren
2014). Samples beyond N / 2 go to further chunks.

The wire format (requests and responses alike)::

    b"VEILHE1\\n" | u32 header length | header (JSON) | per ciphertext: u64 length, bytes
    | SHA-256 of everything before

The header names the context's fingerprint, the number of samples, of
columns and of chunks. The digest detects a truncated or corrupted message
before TenSEAL parses it (a flipped bit in a ciphertext otherwise decrypts to
noise, silently); it is not authentication: across an untrusted network, run
the service behind TLS.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass

import numpy as np
import tenseal as ts

from veil.crypto.he.context import HEContext
from veil.errors import DataError, ParameterError, ProtocolError

__all__ = ["EncryptedBatch", "decrypt", "encrypt"]

MAGIC = b"VEILHE1\n"
_DIGEST = 32
#: Largest header accepted (bytes): a header is a few fields of JSON.
_MAX_HEADER = 1 << 16


@dataclass
class EncryptedBatch:
    """Samples (or model outputs) encrypted column-wise under one context.

    Attributes
    ----------
    fingerprint
        The fingerprint of the context the ciphertexts belong to.
    n_samples
        Rows encrypted.
    n_columns
        Features (a request) or outputs (a response) per row.
    chunks
        ``chunks[c][j]``: column j of the samples of chunk c (N / 2 per chunk).
    """

    fingerprint: str
    n_samples: int
    n_columns: int
    chunks: list[list[ts.CKKSVector]]

    def to_bytes(self) -> bytes:
        """The batch in veil's wire format (see the module's docstring)."""
        header = json.dumps(
            {
                "fingerprint": self.fingerprint,
                "n_samples": self.n_samples,
                "n_columns": self.n_columns,
                "n_chunks": len(self.chunks),
            }
        ).encode()
        parts = [MAGIC, struct.pack(">I", len(header)), header]
        for chunk in self.chunks:
            for vector in chunk:
                data = vector.serialize()
                parts.append(struct.pack(">Q", len(data)))
                parts.append(data)
        body = b"".join(parts)
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes, context: HEContext) -> EncryptedBatch:
        """Parse a message and load its ciphertexts into ``context``.

        Raises
        ------
        ProtocolError
            The message is truncated, corrupted (digest mismatch), malformed, or
            its ciphertexts belong to another context (another fingerprint).
        """
        header, blobs = parse_message(data)
        if header["fingerprint"] != context.fingerprint:
            raise ProtocolError(
                "the ciphertexts were encrypted under another context (fingerprint "
                f"{str(header['fingerprint'])[:12]}..., expected {context.fingerprint[:12]}...): "
                "encrypt with the context this party registered"
            )
        vectors = []
        for blob in blobs:
            try:
                vectors.append(ts.ckks_vector_from(context.context, blob))
            except Exception as err:  # TenSEAL: ValueError/RuntimeError on a bad stream
                raise ProtocolError(
                    f"a ciphertext does not load in this context ({type(err).__name__}): "
                    "it was made with other encryption parameters"
                ) from None
        k = header["n_columns"]
        chunks = [vectors[i : i + k] for i in range(0, len(vectors), k)]
        return cls(header["fingerprint"], header["n_samples"], k, chunks)


def parse_message(data: bytes) -> tuple[dict, list[bytes]]:
    """Check a message's framing and digest; return its header and ciphertext blobs."""
    if len(data) < len(MAGIC) + 4 + _DIGEST or not data.startswith(MAGIC):
        raise ProtocolError("not a veil HE message (bad magic or too short): truncated?")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise ProtocolError("the HE message is corrupted or truncated (digest mismatch)")
    pos = len(MAGIC)
    (hlen,) = struct.unpack_from(">I", body, pos)
    pos += 4
    if hlen > _MAX_HEADER or pos + hlen > len(body):
        raise ProtocolError("the HE message header is malformed")
    try:
        header = json.loads(body[pos : pos + hlen])
        n_samples, n_columns, n_chunks = (
            int(header["n_samples"]),
            int(header["n_columns"]),
            int(header["n_chunks"]),
        )
        str(header["fingerprint"])
    except (ValueError, KeyError, TypeError):
        raise ProtocolError("the HE message header is malformed") from None
    if n_samples < 1 or n_columns < 1 or n_chunks < 1:
        raise ProtocolError("the HE message header is malformed (empty batch)")
    pos += hlen
    blobs = []
    for _ in range(n_columns * n_chunks):
        if pos + 8 > len(body):
            raise ProtocolError("the HE message is truncated (fewer ciphertexts than announced)")
        (n,) = struct.unpack_from(">Q", body, pos)
        pos += 8
        if pos + n > len(body):
            raise ProtocolError("the HE message is truncated (a ciphertext is cut short)")
        blobs.append(body[pos : pos + n])
        pos += n
    if pos != len(body):
        raise ProtocolError("the HE message has trailing bytes after its ciphertexts")
    return header, blobs


def encrypt(context: HEContext, X: np.ndarray) -> EncryptedBatch:
    """Encrypt the rows of ``X`` (samples x features), one ciphertext per feature per chunk.

    Raises
    ------
    DataError
        ``X`` is not a non-empty 2-D array of finite numbers.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"expected a non-empty samples x features array; got shape {X.shape}")
    if not np.isfinite(X).all():
        raise DataError("the features hold NaN or infinite values; impute or drop them first")
    slots = context.parameters.slots
    ctx = context.context
    chunks = [
        [ts.ckks_vector(ctx, X[start : start + slots, j]) for j in range(X.shape[1])]
        for start in range(0, X.shape[0], slots)
    ]
    return EncryptedBatch(context.fingerprint, X.shape[0], X.shape[1], chunks)


def decrypt(context: HEContext, batch: EncryptedBatch) -> np.ndarray:
    """Decrypt a batch back to a samples x columns array; only the key holder can.

    Raises
    ------
    ParameterError
        ``context`` holds no secret key, or the batch belongs to another context.
    """
    if not context.is_private:
        raise ParameterError("this context holds no secret key: only the client can decrypt")
    if batch.fingerprint != context.fingerprint:
        raise ParameterError(
            "the batch was encrypted under another context (fingerprint "
            f"{batch.fingerprint[:12]}..., expected {context.fingerprint[:12]}...)"
        )
    out = np.empty((batch.n_samples, batch.n_columns))
    slots = context.parameters.slots
    for c, chunk in enumerate(batch.chunks):
        start = c * slots
        stop = min(start + slots, batch.n_samples)
        for j, vector in enumerate(chunk):
            out[start:stop, j] = np.asarray(vector.decrypt())[: stop - start]
    return out
