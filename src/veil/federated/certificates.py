"""Certificates for a deployment: a CA, the server's TLS certificate, the clients' key pairs.

For tests and demos (``veil federate certificates DIR``); a production site
would have its own CA issue the server certificate. The server's certificate
names the hosts clients dial (IP addresses or DNS names); each client holds an
ECDSA P-256 key pair whose public half the server trusts (``authorized_keys``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from veil.errors import DataError, ParameterError

__all__ = ["make_certificates", "public_keys"]


def make_certificates(
    folder: str | Path,
    *,
    clients: int = 3,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    days: int = 365,
) -> dict[str, Path]:
    """Write a CA, a server TLS certificate for ``hosts`` and ``clients`` ECDSA key pairs.

    Files: ``ca.crt``, ``server.crt``, ``server.key`` (TLS), ``client<i>.key``
    and ``client<i>.pub`` for i = 1..clients, and ``authorized_keys`` (the
    public keys the server trusts, one PEM block each). Keys are written
    readable by their owner only.

    Raises
    ------
    ParameterError
        The folder holds a ``ca.crt`` already (nothing is overwritten).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "ca.crt").exists():
        raise ParameterError(f"{str(out)!r} holds certificates already; give an empty folder")
    now = dt.datetime.now(dt.timezone.utc)

    def key_pem(key: Any) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write(name: str, data: bytes, private: bool = False) -> Path:
        path = out / name
        path.write_bytes(data)
        if private:
            path.chmod(0o600)
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "veil federated CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {
        "ca": write("ca.crt", ca.public_bytes(serialization.Encoding.PEM)),
        "server_certificate": write("server.crt", server.public_bytes(serialization.Encoding.PEM)),
        "server_key": write("server.key", key_pem(server_key), private=True),
    }
    authorized = []
    for i in range(1, clients + 1):
        key = ec.generate_private_key(ec.SECP256R1())
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        paths[f"client{i}_key"] = write(f"client{i}.key", key_pem(key), private=True)
        paths[f"client{i}_public"] = write(f"client{i}.pub", pub)
        authorized.append(pub.decode())
    paths["authorized_keys"] = write("authorized_keys", "".join(authorized).encode())
    return paths


def public_keys(path: str | Path) -> list[Any]:
    from cryptography.hazmat.primitives import serialization

    text = Path(path).read_text(encoding="ascii")
    blocks = [
        b + "-----END PUBLIC KEY-----\n"
        for b in text.split("-----END PUBLIC KEY-----")
        if "BEGIN" in b
    ]
    if not blocks:
        raise DataError(f"{str(path)!r} holds no public key (PEM blocks 'BEGIN PUBLIC KEY')")
    return [serialization.load_pem_public_key(b.strip().encode() + b"\n") for b in blocks]
