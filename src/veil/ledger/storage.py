"""The ledger's file: created whole, opened, upgraded, read-only, locked and transacted.

What :class:`~veil.ledger.Ledger` stands on, kept apart from its budget logic:
one SQLite file in WAL mode with ``synchronous=FULL`` (every commit durable),
created aside and linked into place (a failed creation leaves nothing),
migrated in place from older schemas, opened as an immutable file when it is
read-only (no side file appears next to it), and written only in short
transactions queued on the OS write lock.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from veil.errors import DataError, LedgerBusyError, ParameterError
from veil.ledger.locking import busy_message, write_lock
from veil.ledger.schema import APPLICATION_ID, SCHEMA_VERSION, create_schema, migrate
from veil.outputs import LEDGER_SIDE_FILES

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["DEFAULT_LEDGER", "LedgerFile"]

DEFAULT_LEDGER = "veil-ledger.db"


class LedgerFile:
    """A veil ledger's SQLite file, open: the connection, its errors and its transactions.

    See :class:`~veil.ledger.Ledger` for the parameters.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_LEDGER,
        *,
        create: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self.timeout = float(timeout)
        self._writer: int | None = None  # the thread inside a write transaction
        if not math.isfinite(self.timeout) or self.timeout < 0:
            raise ParameterError(f"timeout must be >= 0 seconds; got {timeout!r}")
        if self.path.is_dir():
            raise DataError(f"ledger path {str(self.path)!r} is a folder; expected a file")
        exists = self.path.exists()
        if not exists and not create:
            raise DataError(
                f"no ledger at {str(self.path)!r}; create one with "
                "`veil ledger init NAME --epsilon E --delta D --ledger PATH`"
            )
        if not exists and not self.path.parent.is_dir():
            raise DataError(f"cannot create ledger {str(self.path)!r}: its folder does not exist")
        if not exists and not os.access(self.path.parent, os.W_OK | os.X_OK):
            raise DataError(
                f"cannot create ledger {str(self.path)!r}: its folder is not writable; choose "
                "another path with --ledger"
            )
        #: False when the file or its folder is read-only: it is then only read, never
        #: changed, and no side file (-wal, -shm, .lock) is created next to it.
        self.writable = not exists or (
            os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)
        )
        if not exists:
            with self._errors():
                self._create_file()
        if not self.writable:
            self._conn = self._connect_read_only()
        else:
            self._conn = sqlite3.connect(
                str(self.path), timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        try:
            with self._errors():
                self._open(create)
        except BaseException:
            self._conn.close()
            raise

    # -- connection and schema -------------------------------------------------

    def _create_file(self) -> None:
        """Create a new ledger whole, or not at all: built aside, then linked into place.

        A failure leaves no file behind, and if another process creates the same
        ledger meanwhile, its file wins and is left untouched.
        """
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".new", dir=self.path.parent
        )
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("BEGIN IMMEDIATE")
                create_schema(conn)
                conn.execute("COMMIT")
            finally:
                conn.close()  # checkpoints: the file alone holds the schema
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # like any file the user creates, not mkstemp's 0600
            with contextlib.suppress(FileExistsError):
                os.link(tmp, self.path)  # atomic, and never replaces an existing ledger
        finally:
            for suffix in LEDGER_SIDE_FILES:
                with contextlib.suppress(OSError):
                    Path(f"{tmp}{suffix}").unlink()

    def _read_only(self) -> DataError:
        return DataError(
            f"ledger {str(self.path)!r} is read-only: it can be shown but not written; make "
            "the file and its folder writable to record releases (nothing was changed)"
        )

    def _connect_read_only(self) -> sqlite3.Connection:
        """Open a read-only ledger as an immutable file: SQLite then creates no side file."""
        journal = Path(f"{self.path}-wal")
        if journal.exists() and journal.stat().st_size > 0:
            raise DataError(
                f"ledger {str(self.path)!r} is read-only but its journal {str(journal)!r} still "
                "holds recent entries that only a writer can fold in; make the file and its "
                "folder writable and run the command again (nothing was changed)"
            )
        uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
        return sqlite3.connect(
            uri, uri=True, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite failures into one clear veil error."""
        try:
            yield
        except sqlite3.OperationalError as err:
            text = str(err)
            if "locked" in text or "busy" in text:
                raise LedgerBusyError(busy_message(self.path, self.timeout)) from err
            if "readonly" in text:
                raise self._read_only() from err
            raise DataError(
                f"ledger {str(self.path)!r} cannot be used: {text}; it was left unchanged"
            ) from err
        except sqlite3.DatabaseError as err:
            raise DataError(
                f"ledger {str(self.path)!r} is corrupt or not a SQLite file ({err}); it was "
                "left unchanged: restore it from a backup"
            ) from err

    def _open(self, create: bool) -> None:
        conn = self._conn
        if self.writable:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and tables == 0 and create:
            self._create_schema()
            return
        if app_id != APPLICATION_ID:
            raise DataError(
                f"{str(self.path)!r} is a SQLite file but not a veil ledger; choose another "
                "path with --ledger"
            )
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataError(
                f"ledger {str(self.path)!r} has schema version {version}, newer than this "
                f"veil understands ({SCHEMA_VERSION}); upgrade veil to use it"
            )
        if version < 1:
            raise DataError(f"ledger {str(self.path)!r} has no schema version; it is corrupt")
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _create_schema(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        with self._transaction():
            # Another process may have created it while this one waited for the lock.
            if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                create_schema(conn)

    def _migrate(self, version: int) -> None:
        """Upgrade an older ledger in place, in one transaction, or explain why not."""
        if not self.writable:
            raise DataError(
                f"ledger {str(self.path)!r} has schema version {version} and must be upgraded "
                f"once, in place, to version {SCHEMA_VERSION}, but it is read-only; make the "
                "file and its folder writable and run the command again (it was left unchanged)"
            )
        with self._transaction():
            current = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if current < SCHEMA_VERSION:  # another process may have upgraded it meanwhile
                migrate(self._conn, current)

    def close(self) -> None:
        """Close the connection (committed entries are already on disk)."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One short write transaction, writers queued on the OS lock.

        Nested in another of this object's transactions (same thread), it joins
        it: the outer one commits, or rolls everything back.
        """
        if not self.writable:
            raise self._read_only()
        if self._writer == threading.get_ident():
            yield
            return
        with write_lock(self.path, self.timeout):  # threads and processes take turns here
            self._writer = threading.get_ident()
            try:
                with self._errors():
                    self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
                with self._errors():
                    self._conn.execute("COMMIT")
            finally:
                self._writer = None
