"""Where a data site keeps its state, and the limits it enforces.

A site lives in one folder (the current one unless told otherwise): its
metadata database (``site.db``, SQLite, unless a PostgreSQL URL is given), its
privacy ledger (``veil-ledger.db``), the owner's datasets (``data/``) and their
mocks (``mocks/``). Nothing of it leaves the folder but what the API releases.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from veil.errors import DataError, ParameterError

__all__ = ["DATABASE_FILE", "LEDGER_FILE", "SiteConfig"]

DATABASE_FILE = "site.db"
LEDGER_FILE = "veil-ledger.db"


@dataclass(frozen=True)
class SiteConfig:
    """A data site's folder, database and limits.

    Parameters
    ----------
    state
        The site's folder: ledger, datasets, mocks and (by default) its database.
    database
        A SQLAlchemy URL (``postgresql+psycopg://user@host:port/db``); by
        default the SQLite file ``site.db`` in ``state``.
    max_body_bytes
        Largest request body the API reads; a larger one is refused with 413.
    code_seconds, code_memory_mb
        CPU-time and memory limits of one code request's run.
    result_bytes
        Largest result (as JSON) a code request may return.
    token_days
        Lifetime of a new API token in days (0: no expiry).
    """

    state: Path = Path(".")
    database: str | None = None
    max_body_bytes: int = 256 * 1024
    code_seconds: float = 30.0
    code_memory_mb: int = 1024
    result_bytes: int = 64 * 1024
    token_days: float = 365.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", Path(self.state))
        for name in ("max_body_bytes", "code_seconds", "code_memory_mb", "result_bytes"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ParameterError(f"{name} must be a positive number; got {value!r}")
        if not math.isfinite(self.token_days) or self.token_days < 0:
            raise ParameterError(
                f"token_days must be >= 0 (0: never expires); got {self.token_days!r}"
            )
        if self.database is not None and not str(self.database).strip():
            raise ParameterError("database must be a SQLAlchemy URL, e.g. postgresql+psycopg://...")

    @property
    def database_url(self) -> str:
        """The metadata database's URL (SQLite in the state folder by default)."""
        if self.database:
            return self.database
        return f"sqlite:///{(self.state / DATABASE_FILE).resolve()}"

    @property
    def ledger(self) -> Path:
        """The privacy ledger of the site's datasets and scientists."""
        return self.state / LEDGER_FILE

    @property
    def data_dir(self) -> Path:
        return self.state / "data"

    @property
    def mock_dir(self) -> Path:
        return self.state / "mocks"

    def prepare(self, *, create: bool) -> None:
        """Check the state folder (create its subfolders when ``create``), or raise."""
        if not self.state.is_dir():
            raise DataError(
                f"site folder {str(self.state)!r} does not exist; create it or pass --state DIR"
            )
        if create:
            if not os.access(self.state, os.W_OK | os.X_OK):
                raise DataError(f"site folder {str(self.state)!r} is not writable")
            self.data_dir.mkdir(exist_ok=True)
            self.mock_dir.mkdir(exist_ok=True)
