"""The data site as a library: datasets, accounts, budgets and the audit log.

:class:`DataSite` is what both the HTTP API (:mod:`veil.site.app`) and the
owner's command line (``veil site``) call: one object over the site's folder,
its metadata database and its privacy ledger. The owner registers a dataset
(description, column roles, a mock), creates scientists' accounts and gives
each a budget on each dataset; the budgets are spenders in the ledger, so a
scientist's releases are checked against their own budget and, with
everyone's, against the dataset's total (:meth:`veil.ledger.Ledger.add_spender`).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import polars as pl
from sqlalchemy import insert, select

from veil.errors import ColumnError, ParameterError, VeilError
from veil.io import read_table
from veil.ledger import BudgetStatus, Ledger
from veil.privacy import check_delta, check_epsilon
from veil.roles import as_column_list
from veil.site.auth import AuthError, Principal, TokenCache, new_token, secret_matches, split_token
from veil.site.config import SiteConfig
from veil.site.db import AuditEntry, DatasetRecord, User, open_database, utcnow
from veil.site.mocks import check_mock_inputs, make_mock, write_parquet

__all__ = ["ROLES", "DataSite", "NotFoundError"]

ROLES = ("identifier", "quasi", "sensitive", "insensitive")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class NotFoundError(VeilError, KeyError):
    """An unknown dataset, account or request (HTTP 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def check_name(value: Any, what: str) -> str:
    """A dataset or account name: letters, digits, '_', '.', '-' (it names files)."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ParameterError(
            f"{what} must be 1-100 letters, digits, '_', '.' or '-', starting with a letter "
            f"or digit; got {value!r}"
        )
    return value


class DataSite:
    """A data site: its folder, metadata database and privacy ledger, open.

    Parameters
    ----------
    config
        Where the site lives and its limits (:class:`~veil.site.config.SiteConfig`).
    create
        Create the folder's ledger, subfolders and database tables when missing.
    """

    def __init__(self, config: SiteConfig, *, create: bool = True) -> None:
        self.config = config
        config.prepare(create=create)
        if create and not config.ledger.exists():
            Ledger(config.ledger, create=True).close()
        self.engine, self.sessions = open_database(config.database_url, create=create)
        self.tokens = TokenCache()
        self._local = threading.local()
        self._frames: dict[str, pl.DataFrame] = {}
        self._frames_lock = threading.Lock()
        #: Held by this process's writers of the ledger and of the audit log: threads
        #: then queue on a lock that wakes them at once, instead of the ledger's
        #: polled file lock or SQLite's busy handler (sleeps of up to 100 ms).
        self.write_lock = threading.Lock()
        # Registered datasets and granted budgets never change or go: remembered once seen.
        self._records: dict[str, DatasetRecord] = {}
        self._grants: set[tuple[str, str]] = set()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> DataSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ledger(self) -> Ledger:
        """This thread's connection to the site's ledger (one per thread, SQLite-safe)."""
        book = getattr(self._local, "ledger", None)
        if book is None:
            book = Ledger(self.config.ledger)
            self._local.ledger = book
        return book

    # -- datasets ---------------------------------------------------------------------

    def add_dataset(
        self,
        name: str,
        data: Any,
        *,
        epsilon: float,
        delta: float,
        description: str = "",
        identifier: Any = None,
        quasi: Any = None,
        sensitive: Any = None,
        mock: Any = None,
        mock_epsilon: float | None = None,
        mock_rows: int = 1000,
        bounds: dict[str, tuple[float, float]] | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Register dataset ``name`` with its budget, column roles and mock; return its metadata.

        Parameters
        ----------
        data
            The real table (path, pandas, polars or pyarrow); copied into the site.
        epsilon, delta
            The dataset's total privacy budget in the ledger.
        identifier, quasi, sensitive
            Column roles; the other columns are insensitive. Identifier columns
            are never queried.
        mock
            The owner's mock table (same columns), shown to scientists as is.
        mock_epsilon
            Without ``mock``: make a DP synthetic mock with MST (McKenna et al. 2021)
            at this epsilon, charged to the dataset's budget.
        mock_rows, bounds, seed
            Rows of a synthetic mock, public bounds of its numeric columns, and the
            seed of its sampling (never of its noise).

        Raises
        ------
        ParameterError, ColumnError, DataError
            A bad name, budget, role or mock; nothing is registered.
        """
        check_name(name, "dataset name")
        epsilon, delta = check_epsilon(epsilon), check_delta(delta)
        if (mock is None) == (mock_epsilon is None):
            raise ParameterError(
                "give the dataset a mock: an owner-provided file (--mock FILE) or a DP "
                "synthetic one (--mock-epsilon E), exactly one of them"
            )
        with self.sessions() as session:
            if session.get(DatasetRecord, name) is not None:
                raise ParameterError(f"dataset {name!r} is already registered on this site")
        if name in self.ledger.datasets():
            raise ParameterError(
                f"dataset {name!r} already has a budget in {str(self.config.ledger)!r}; "
                "register the data under a new name"
            )
        frame = read_table(data)
        columns = _column_roles(frame, identifier, quasi, sensitive)
        mock_frame = None
        if mock is not None:
            mock_frame = read_table(mock)
            if mock_frame.columns != frame.columns:
                raise ColumnError(
                    f"the mock's columns ({', '.join(mock_frame.columns)}) must be the data's "
                    f"({', '.join(frame.columns)}), in the same order"
                )
        ids = [c["name"] for c in columns if c["role"] == "identifier"]
        if mock_frame is None:
            check_mock_inputs(frame, ids, bounds)
        data_path = self.config.data_dir / f"{name}.parquet"
        mock_path = self.config.mock_dir / f"{name}.parquet"
        self.ledger.add_dataset(name, epsilon=epsilon, delta=delta, description=description)
        if mock_frame is None:
            mock_frame = make_mock(
                frame,
                identifiers=ids,
                epsilon=float(mock_epsilon),  # type: ignore[arg-type]
                rows=mock_rows,
                bounds=bounds,
                ledger=self.ledger,
                dataset=name,
                seed=seed,
            )
        write_parquet(frame, data_path)
        write_parquet(mock_frame, mock_path)
        record = DatasetRecord(
            name=name,
            description=description,
            columns=columns,
            data_path=str(data_path.resolve()),
            mock_path=str(mock_path.resolve()),
            mock_kind="owner" if mock is not None else "synthetic",
        )
        with self.sessions.begin() as session:
            session.add(record)
            session.add(
                _audit(
                    "owner",
                    "add-dataset",
                    name,
                    {"epsilon": epsilon, "delta": delta, "mock": record.mock_kind},
                )
            )
        return record.metadata_dict()

    def dataset(self, name: str) -> DatasetRecord:
        """The record of dataset ``name``, or :class:`NotFoundError`."""
        known = self._records.get(name)
        if known is not None:
            return known
        with self.sessions() as session:
            record = session.get(DatasetRecord, name)
            if record is None:
                known = session.scalars(select(DatasetRecord.name)).all()
                raise NotFoundError(
                    f"unknown dataset {name!r}; datasets on this site: "
                    f"{', '.join(sorted(known)) or 'none yet'}"
                )
            self._records[name] = record
            return record

    def search(self, text: str = "") -> list[dict[str, Any]]:
        """Metadata of the datasets whose name, description or column names hold every word."""
        words = text.lower().split()
        with self.sessions() as session:
            records = session.scalars(select(DatasetRecord).order_by(DatasetRecord.name)).all()
        found = []
        for r in records:
            haystack = " ".join([r.name, r.description, *(c["name"] for c in r.columns)]).lower()
            if all(w in haystack for w in words):
                found.append(r.metadata_dict())
        return found

    def frame(self, name: str) -> pl.DataFrame:
        """The real table of ``name``, read once and kept in memory (never sent out)."""
        cached = self._frames.get(name)
        if cached is not None:
            return cached
        record = self.dataset(name)
        with self._frames_lock:
            if name not in self._frames:
                self._frames[name] = pl.read_parquet(record.data_path)
            return self._frames[name]

    def mock(self, name: str) -> pl.DataFrame:
        """The mock of ``name``: owner-provided or DP synthetic, never real rows."""
        return pl.read_parquet(self.dataset(name).mock_path)

    # -- accounts and budgets ---------------------------------------------------------

    def add_user(
        self, name: str, *, role: str = "scientist", token_days: float | None = None
    ) -> str:
        """Create account ``name`` (or give it a new token) and return the token, shown once."""
        check_name(name, "user name")
        if role not in ("owner", "scientist"):
            raise ParameterError(f"role must be 'owner' or 'scientist'; got {role!r}")
        days = self.config.token_days if token_days is None else float(token_days)
        if days < 0:
            raise ParameterError(f"token_days must be >= 0 (0: never expires); got {days!r}")
        token, token_id, salt, digest = new_token()
        expires = utcnow() + dt.timedelta(days=days) if days > 0 else None
        with self.sessions.begin() as session:
            user = session.get(User, name)
            if user is not None and user.role != role:
                raise ParameterError(
                    f"user {name!r} exists as {user.role}; a role is not changed in place"
                )
            if user is None:
                user = User(name=name, role=role)
                session.add(user)
            user.token_id, user.token_salt, user.token_hash = token_id, salt, digest
            user.expires = expires
            session.add(_audit("owner", "add-user", None, {"user": name, "role": role}))
        self.tokens.forget(name)
        return token

    def authenticate(self, token: str | None) -> Principal:
        """The account a bearer token belongs to, or :class:`AuthError` (401) saying why."""
        if not token:
            raise AuthError(401, "missing API token: send 'Authorization: Bearer veil_...'")
        cached = self.tokens.get(token)
        if cached is None:
            token_id, secret = split_token(token)
            with self.sessions() as session:
                user = session.scalars(select(User).where(User.token_id == token_id)).first()
                if user is None or not secret_matches(secret, user.token_salt, user.token_hash):
                    raise AuthError(401, "invalid API token: ask the site's owner for a new one")
                cached = (Principal(user.name, user.role), user.expires)
            self.tokens.put(token, *cached)
        principal, expires = cached
        if expires is not None and _aware(expires) <= utcnow():
            raise AuthError(
                401,
                f"API token of {principal.name!r} expired on {_aware(expires):%Y-%m-%d}; "
                "ask the site's owner for a new one",
            )
        return principal

    def has_budget(self, dataset: str, user: str) -> bool:
        """Whether ``user`` was granted a budget of their own on ``dataset``."""
        if (dataset, user) not in self._grants and user in self.ledger.spenders(dataset):
            self._grants.add((dataset, user))
        return (dataset, user) in self._grants

    def grant(self, dataset: str, user: str, *, epsilon: float, delta: float) -> BudgetStatus:
        """Give scientist ``user`` a budget of their own on ``dataset`` (in the ledger)."""
        self.dataset(dataset)
        self._user(user)
        status = self.ledger.add_spender(dataset, user, epsilon=epsilon, delta=delta)
        self.record("owner", "grant", dataset, {"user": user, "epsilon": epsilon, "delta": delta})
        return status

    def budget(self, dataset: str, user: str | None = None) -> BudgetStatus:
        """What ``user`` (or the whole dataset) has spent and has left."""
        self.dataset(dataset)
        if user is not None and user not in self.ledger.spenders(dataset):
            raise AuthError(
                403,
                f"{user!r} has no budget on dataset {dataset!r}; the owner grants one "
                f"with `veil site budget {dataset} {user} --epsilon E --delta D`",
            )
        return self.ledger.status(dataset, spender=user)

    def _user(self, name: str) -> User:
        with self.sessions() as session:
            user = session.get(User, name)
            if user is None:
                raise NotFoundError(f"unknown user {name!r}; create it with `veil site add-user`")
            return user

    # -- the audit log ----------------------------------------------------------------

    def record(self, actor: str, action: str, dataset: str | None, detail: dict[str, Any]) -> None:
        """Append one line to the audit log."""
        # A Core insert: the ORM's unit of work would cost a millisecond per query answered.
        row = {"actor": actor, "action": action, "dataset": dataset, "detail": detail}
        with self.write_lock, self.engine.begin() as conn:
            conn.execute(insert(AuditEntry), [row])

    def log(self, *, dataset: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest ``limit`` lines of the audit log (of ``dataset``), newest first."""
        if int(limit) < 1:
            raise ParameterError(f"limit must be a positive integer; got {limit!r}")
        with self.sessions() as session:
            stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(int(limit))
            if dataset is not None:
                stmt = stmt.where(AuditEntry.dataset == dataset)
            return [e.to_dict() for e in session.scalars(stmt)]


def _audit(actor: str, action: str, dataset: str | None, detail: dict[str, Any]) -> AuditEntry:
    return AuditEntry(actor=actor, action=action, dataset=dataset, detail=detail)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _column_roles(
    frame: pl.DataFrame, identifier: Any, quasi: Any, sensitive: Any
) -> list[dict[str, str]]:
    roles: dict[str, str] = {}
    for role, given in (("identifier", identifier), ("quasi", quasi), ("sensitive", sensitive)):
        for col in as_column_list(given, what=f"{role} columns"):
            if col not in frame.columns:
                raise ColumnError(
                    f"{role} column {col!r} not found; columns are: {', '.join(frame.columns)}"
                )
            if col in roles:
                raise ColumnError(f"column {col!r} is given two roles: {roles[col]} and {role}")
            roles[col] = role
    return [
        {"name": c, "dtype": str(frame.schema[c]), "role": roles.get(c, "insensitive")}
        for c in frame.columns
    ]
