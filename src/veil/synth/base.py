"""The one interface of every synthesizer, its registry, and the fit every one shares.

A synthesizer learns a differentially private model of a table with
``fit(data)`` and draws synthetic rows with ``sample(n)`` (scikit-learn's
estimator contract: parameters stored in ``__init__``, learned state in
attributes ending in ``_``). :class:`Synthesizer` does what they all share:

1. read the table once (:mod:`veil.io`) and plan the discrete domain from the
   schema and the user's bounds and categories (:mod:`veil.synth.domain`);
2. turn (epsilon, delta) into a zCDP budget rho whose conversion by the
   tightest accountant is epsilon (:func:`~veil.synth.measurements.calibrate_rho`);
3. reserve that loss in the ledger BEFORE anything is measured (a refused
   budget draws no noise), and finish the entry when the model is fitted;
4. spend a tenth of rho on private bounds and category selection when some
   column needs them, and the rest in the subclass' :meth:`_fit_model`.

A new synthesizer is a module with a subclass decorated by :func:`register`
(the shape of :mod:`veil.privacy.accountants`).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import polars as pl

from veil.errors import DataError, ParameterError
from veil.io import from_polars, to_polars
from veil.privacy import PrivacyLoss, check_delta, check_epsilon
from veil.synth.domain import Discretizer, plan_columns
from veil.synth.measurements import Meter, calibrate_rho, synthesis_loss

__all__ = ["SYNTHESIZERS", "SynthesisWarning", "Synthesizer", "get_synthesizer", "register"]

#: Share of rho spent choosing bounds and categories privately, when some column needs it.
PREPARATION_SHARE = 0.1


class SynthesisWarning(UserWarning):
    """The budget is too small for the domain: the synthetic data will be mostly noise."""


class Synthesizer(ABC):
    """A differentially private synthesizer: ``fit(data)`` then ``sample(n)``.

    Parameters
    ----------
    epsilon, delta
        The privacy loss of the whole fit (no default epsilon: choose it).
        delta must be > 0: the measurements are Gaussian (zCDP).
    bounds
        ``{column: (low, high)}`` for numeric columns: public bounds. Columns
        without bounds get privately estimated ones (spending budget).
    bins
        Bins per numeric column: one number or ``{column: bins}``.
    categories
        ``{column: [values]}``: public categories. Text columns without them
        get privately selected ones (spending budget and half of delta).
    max_categories
        At most this many categories kept per privately selected column; the
        rest go to the ``(other)`` bucket.
    ledger, dataset, spender
        Record the fit in this ledger (a :class:`~veil.ledger.Ledger` or its
        path) against the budget of ``dataset`` (and of ``spender``).
    seed
        Seeds the sampling of synthetic rows only; the privacy noise is never
        seeded.
    progress
        Show a progress bar while fitting (AIM).
    """

    name: ClassVar[str]

    def __init__(
        self,
        *,
        epsilon: float,
        delta: float = 1e-9,
        bounds: Mapping[str, Sequence[float]] | None = None,
        bins: int | Mapping[str, int] = 10,
        categories: Mapping[str, Sequence[Any]] | None = None,
        max_categories: int = 100,
        ledger: Any = None,
        dataset: str | None = None,
        spender: str | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.bounds = bounds
        self.bins = bins
        self.categories = categories
        self.max_categories = max_categories
        self.ledger = ledger
        self.dataset = dataset
        self.spender = spender
        self.seed = seed
        self.progress = progress

    # -- what a subclass implements ---------------------------------------------------

    @abstractmethod
    def _fit_model(self, codes: dict[str, np.ndarray], sizes: dict[str, int], meter: Meter) -> Any:
        """Spend ``meter.left`` on measurements of ``codes`` and return a fitted model.

        The model has ``sample_codes(n, rng) -> {column: codes}``.
        """

    def _noise_scale(self, columns: int, rho: float) -> float:
        """Noise standard deviation of one 1-way marginal at zCDP ``rho`` for the fit."""
        return math.sqrt(columns / (2.0 * rho))

    # -- the shared fit -----------------------------------------------------------------

    def _check(self) -> tuple[float, float]:
        epsilon = check_epsilon(self.epsilon)
        delta = check_delta(self.delta)
        if delta == 0.0:
            raise ParameterError(
                f"{self.name} measures marginals with Gaussian noise (zCDP) and needs delta > 0, "
                "e.g. 1e-9 (well below 1 / number of people)"
            )
        if (self.ledger is None) != (self.dataset is None):
            raise ParameterError(
                "give both ledger and dataset (the dataset's budget is charged), or neither"
            )
        if isinstance(self.max_categories, bool) or int(self.max_categories) < 1:
            raise ParameterError(f"max_categories must be >= 1; got {self.max_categories!r}")
        return epsilon, delta

    def fit(self, data: Any) -> Synthesizer:
        """Fit the private model of ``data`` (a path, pandas, polars or pyarrow table).

        Returns
        -------
        self

        Raises
        ------
        ParameterError, ColumnError, DataError
            Bad parameters or data; nothing is recorded or measured.
        BudgetExceededError
            The ledger refuses the loss; nothing is measured.
        """
        epsilon, delta = self._check()
        frame, source = to_polars(data)
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        if frame.height == 0 or frame.width == 0:
            raise DataError("the table is empty: nothing to synthesize")
        empty = [c for c in frame.columns if frame.get_column(c).null_count() == frame.height]
        if empty:
            raise DataError(
                f"columns {empty} hold only missing values; drop them before synthesizing"
            )
        plans = plan_columns(
            frame.schema, bounds=self.bounds, bins=self.bins, categories=self.categories
        )
        discretizer = Discretizer(plans, int(self.max_categories))
        private = discretizer.private_columns
        selection_delta = delta / 2.0 if discretizer.selects_categories else 0.0
        rho = calibrate_rho(epsilon, delta - selection_delta)
        loss = synthesis_loss(epsilon, delta, rho, selection_delta)
        meter = Meter(rho)
        prep_rho = PREPARATION_SHARE * rho / len(private) if private else 0.0
        selected = sum(1 for p in plans if p.needs_dp and p.kind == "categorical")
        self._warn_if_noisy(frame, plans, rho * (1 - PREPARATION_SHARE * bool(private)))

        book, owned, pending = None, False, None
        if self.ledger is not None:
            from veil.ledger import as_ledger

            book, owned = as_ledger(self.ledger)
        try:
            if book is not None:
                pending = book.reserve(
                    str(self.dataset),
                    loss,
                    what=f"synthetic data ({self.name})",
                    mechanism=self.name,
                    parameters=self._parameters(epsilon, delta, rho),
                    spender=self.spender,
                )
            try:
                discretizer.fit(frame, meter, prep_rho, selection_delta / max(selected, 1))
                codes = discretizer.encode(frame)
                model = self._fit_model(codes, discretizer.sizes(), meter)
            except BaseException as err:
                if book is not None and pending is not None:
                    # Nothing fitted left this process: give the reservation back.
                    book.cancel(pending, reason=f"the fit failed ({type(err).__name__})")
                raise
            if book is not None and pending is not None:
                book.finish(pending, {"rho_spent": meter.spent, "marginals": len(meter.marginals)})
        finally:
            if owned and book is not None:
                book.close()
        self.source_ = source
        self.columns_ = list(frame.columns)
        self.discretizer_ = discretizer
        self.model_ = model
        self.meter_ = meter
        self.rho_ = rho
        self.loss_: PrivacyLoss = loss
        self.release_id_ = pending.id if pending is not None else None
        self.epsilon_remaining_ = pending.epsilon_remaining_after if pending is not None else None
        self.rows_ = max(1, round(getattr(model, "total", frame.height)))
        return self

    def _parameters(self, epsilon: float, delta: float, rho: float) -> dict[str, Any]:
        return {
            "requested_epsilon": epsilon,
            "requested_delta": delta,
            "rho": rho,
            "bounds": {k: list(v) for k, v in (self.bounds or {}).items()},
            "bins": self.bins,
            "categories": sorted(self.categories or {}),
        }

    def _warn_if_noisy(self, frame: pl.DataFrame, plans: list[Any], rho: float) -> None:
        """Warn when the 1-way marginals alone will be off by more than 10% in TVD."""
        sizes = [
            (len(p.categories) + 1 if p.categories else 32)
            if p.kind == "categorical"
            else p.bins + 1
            for p in plans
        ]
        sigma = self._noise_scale(len(plans), rho)
        # E|N(0, s^2)| = s sqrt(2/pi) per cell; TVD is half the L1 error over n rows.
        expected = [0.5 * math.sqrt(2.0 / math.pi) * sigma * k / frame.height for k in sizes]
        worst = max(expected)
        if worst > 0.1:
            warnings.warn(
                f"epsilon={self.epsilon:g} is small for this domain ({len(plans)} columns, "
                f"{frame.height} rows): the expected total variation error of a single column's "
                f"distribution is about {min(worst, 1.0):.2f} (noise sd {sigma:.3g} per count); "
                "expect synthetic data close to noise. Use a larger epsilon, fewer columns or "
                "fewer bins",
                SynthesisWarning,
                stacklevel=3,
            )

    def sample(self, n: int | None = None) -> Any:
        """``n`` synthetic rows (the model's noisy row count by default), in the type given to fit.

        Continuous columns are drawn uniformly within their bins. ``seed``
        makes the draw reproducible.
        """
        if not hasattr(self, "model_"):
            raise ParameterError(f"{type(self).__name__} is not fitted; call fit(data) first")
        rows = self.rows_ if n is None else n
        if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
            raise ParameterError(f"n must be a positive integer; got {n!r}")
        rng = np.random.default_rng(self.seed)
        codes = self.model_.sample_codes(int(rows), rng)
        frame = self.discretizer_.decode(codes, rng).select(self.columns_)
        return from_polars(frame, self.source_)

    def describe(self) -> dict[str, Any]:
        """What the fit did: budget, rho spent, the domain, and how it was chosen."""
        return {
            "method": self.name,
            "epsilon": self.loss_.epsilon,
            "delta": self.loss_.delta,
            "rho": self.rho_,
            "rho_spent": self.meter_.spent,
            "marginals_measured": len(self.meter_.marginals),
            "selections": self.meter_.selections,
            "columns": {n: c.describe() for n, c in self.discretizer_.columns.items()},
            "notes": list(self.discretizer_.notes),
        }


def seeded_global_state(rng: np.random.Generator) -> Any:
    """A context manager: numpy's global generator seeded from ``rng``, then restored.

    private-pgm samples with ``numpy.random``'s global functions; this makes its
    draws follow the synthesizer's ``seed`` without leaving the global state changed.
    """
    import contextlib

    @contextlib.contextmanager
    def manager() -> Any:
        saved = np.random.get_state()
        np.random.seed(int(rng.integers(2**32)))
        try:
            yield
        finally:
            np.random.set_state(saved)

    return manager()


#: Every registered synthesizer class by name ("mst", "aim", "independent").
SYNTHESIZERS: dict[str, type[Synthesizer]] = {}

_S = TypeVar("_S", bound=type[Synthesizer])


def register(cls: _S) -> _S:
    """Class decorator: add ``cls`` to :data:`SYNTHESIZERS` under its ``name``."""
    name = getattr(cls, "name", "")
    if not name:
        raise TypeError(f"{cls.__name__} needs a class attribute 'name' to be registered")
    SYNTHESIZERS[name] = cls
    return cls


def get_synthesizer(name: str) -> type[Synthesizer]:
    """The synthesizer class registered as ``name``.

    Raises
    ------
    ParameterError
        No synthesizer has that name.
    """
    try:
        return SYNTHESIZERS[name]
    except KeyError:
        raise ParameterError(
            f"unknown synthesis method {name!r}; known methods: {', '.join(SYNTHESIZERS)}"
        ) from None
