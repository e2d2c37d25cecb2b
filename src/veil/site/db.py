"""The site's metadata database: datasets, users, code requests and the audit log.

SQLAlchemy 2 models over SQLite (the default, one file in the site folder)
or PostgreSQL (by URL, with psycopg 3). Budgets are not here: they live in the
privacy ledger, per dataset and per scientist (:mod:`veil.ledger`), so that
every DP release of the site composes with every other release of the data.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from veil.errors import DataError

__all__ = [
    "AuditEntry",
    "Base",
    "CodeRequest",
    "DatasetRecord",
    "User",
    "open_database",
    "utcnow",
]

#: The states of a code request, in the order they are reached.
REQUEST_STATES = ("pending", "ran", "failed", "approved", "denied")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """The declarative base of the site's tables."""


class DatasetRecord(Base):
    """A dataset the owner registered: what it is, its columns and roles, where it lives."""

    __tablename__ = "datasets"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: [{"name", "dtype", "role"}] in table order; role is identifier, quasi,
    #: sensitive or insensitive.
    columns: Mapped[list[Any]] = mapped_column(JSON)
    data_path: Mapped[str] = mapped_column(Text)
    mock_path: Mapped[str] = mapped_column(Text)
    #: "owner" (a file the owner gave) or "synthetic" (DP synthetic data, veil.synth).
    mock_kind: Mapped[str] = mapped_column(String(20))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def metadata_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "columns": self.columns,
            "mock": self.mock_kind,
        }


class User(Base):
    """An account: the owner or a scientist, with one API token stored hashed."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))  # "owner" or "scientist"
    #: Public part of the token (looked up), then a salted scrypt hash of its secret.
    token_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    token_salt: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(128))
    expires: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CodeRequest(Base):
    """A scientist's function over a dataset, waiting for the owner's review."""

    __tablename__ = "code_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    dataset: Mapped[str] = mapped_column(ForeignKey("datasets.name"))
    function: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    #: What the run returned (JSON text): shown to the owner, to the scientist once approved.
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    confinement: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ran: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    def view(self, *, owner: bool) -> dict[str, Any]:
        """The request as its reader may see it: the result only to the owner until approved."""
        shown = owner or self.status == "approved"
        return {
            "id": self.id,
            "user": self.user,
            "dataset": self.dataset,
            "function": self.function,
            "code": self.code,
            "description": self.description,
            "status": self.status,
            "result": json.loads(self.result) if shown and self.result is not None else None,
            "error": self.error if owner else _public_error(self),
            "confinement": self.confinement if owner else None,
            "reason": self.reason,
            "created": self.created.isoformat() if self.created else None,
            "decided": self.decided.isoformat() if self.decided else None,
        }


def _public_error(request: CodeRequest) -> str | None:
    # A run's error message may quote the real data; the scientist sees its kind only.
    if request.status != "failed" or not request.error:
        return None
    return request.error.split(":", 1)[0]


class AuditEntry(Base):
    """One line of the audit log: every query answered and every result released."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    dataset: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time.isoformat() if self.time else None,
            "actor": self.actor,
            "action": self.action,
            "dataset": self.dataset,
            "detail": self.detail,
        }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives the process crashing, not a power cut.
    # The ledger (synchronous=FULL) is the durable record of every release and its
    # result; this database holds metadata, requests and the audit log.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def open_database(url: str, *, create: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """Connect to the site's database at ``url`` and create its tables when missing.

    Raises
    ------
    DataError
        The URL is malformed, its driver is not installed, or the server refuses.
    """
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_size=20, max_overflow=40, pool_pre_ping=True)
        if create:
            Base.metadata.create_all(engine)
        else:
            with engine.connect():
                pass
    except (ArgumentError, NoSuchModuleError) as err:
        raise DataError(
            f"database URL {_shown(url)!r} cannot be used ({err}); expected e.g. "
            "postgresql+psycopg://user@host:5432/site or sqlite:///site.db"
        ) from None
    except OperationalError as err:
        first = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
        raise DataError(f"cannot open the site database {_shown(url)!r}: {first}") from None
    return engine, sessionmaker(engine, expire_on_commit=False)


def _shown(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"
