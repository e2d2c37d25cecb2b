"""PATE: teachers on disjoint private shards label public data through a noisy vote.

Private Aggregation of Teacher Ensembles (Papernot, Abadi, Erlingsson,
Goodfellow and Talwar 2016; Papernot, Song, Mironov, Raghunathan, Talwar and
Erlingsson 2018). The private rows are split at random into disjoint shards;
one teacher learns each shard; for each public, unlabeled row every teacher
votes a class and only a noisy arg-max of the vote histogram leaves: the
student learns the public rows from these noisy labels and is all that is
published. One private record sits in one shard, so it moves at most one vote
per query, which is what the noise hides.

Aggregators:

* ``"laplace"``, LNMax (2016): Laplace noise of scale ``noise`` on each count;
* ``"gnmax"`` (2018): Gaussian noise of standard deviation ``noise``;
* ``"confident_gnmax"`` (2018): answer only when the largest count plus
  Gaussian noise ``threshold_noise`` reaches ``threshold``, then by GNMax with
  ``noise``; unanswered queries get label -1 and spend only the check.

The noise comes from OpenDP's exact samplers (Canonne, Kamath and Steinke
2020) on the finest float grid (2**-1074), never from ``seed``, which only
shuffles the shards. Only the arg-max leaves, never a noisy count, so the
low-order bits of the noise that leak through floating-point sampling
(Mironov 2012) are not released at all; the discrete Gaussian on that grid
satisfies the same Rényi bounds as the continuous one (Canonne et al. 2020),
and its tails, used by Proposition 7, match the continuous ones far below any
probability that matters.

The privacy accounting (:mod:`veil.learn.pate_accounting`) gives two
epsilons: the data-independent one, a bound whatever the votes, and the
data-dependent one, much smaller when the teachers agree, but itself a
function of the private votes (see :class:`PATE`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.errors import BudgetExceededError, DataError, ParameterError
from veil.learn import pate_accounting as acc
from veil.privacy import PrivacyLoss, RDPCurveEvent, check_delta
from veil.report import Document, LineChart, LineSeries, Paragraph, Result, Section, Table

__all__ = ["AGGREGATORS", "PATE", "PATEResult", "aggregate_votes", "teacher_partitions"]

AGGREGATORS = ("laplace", "gnmax", "confident_gnmax")


def teacher_partitions(n_rows: int, n_teachers: int, seed: Any = None) -> list[np.ndarray]:
    """Disjoint shards of ``range(n_rows)`` covering it, one per teacher, sizes within one.

    A seeded shuffle then equal cuts: the shards depend on ``seed`` only, never
    on the data, so a record's shard is fixed before any vote.
    """
    order = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(part) for part in np.array_split(order, n_teachers)]


class _ConstantClassifier:
    """Predicts its one class: a teacher (or student) whose rows hold a single label."""

    def __init__(self, label: Any) -> None:
        self.label = label

    def fit(self, X: Any, y: Any) -> _ConstantClassifier:
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.full(_n_rows(X), self.label)


def _default_estimator() -> Any:
    """Standardised features into a logistic regression: converges in few iterations."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _n_rows(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _take(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _as_features(X: Any, what: str) -> Any:
    if hasattr(X, "iloc"):
        return X
    try:
        arr = np.asarray(X)
    except Exception as err:
        raise DataError(f"{what} must be a 2-D array or a DataFrame; {err}") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise DataError(f"{what} must be 2-D (rows, features); got shape {arr.shape}")
    return arr


def _positive(value: Any, name: str, hint: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a positive number; got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ParameterError(f"{name} must be positive and finite; got {value!r} ({hint})")
    return x


class _SecureNoise:
    """Gaussian and Laplace noise vectors from OpenDP's exact samplers (no seed possible)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, float], Any] = {}

    def _measurement(self, kind: str, scale: float) -> Any:
        key = (kind, scale)
        if key not in self._cache:
            from veil.dp.mechanisms import opendp

            dp = opendp()
            domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))
            if kind == "gaussian":
                self._cache[key] = dp.m.make_gaussian(domain, dp.l2_distance(T=float), scale=scale)
            else:
                self._cache[key] = dp.m.make_laplace(domain, dp.l1_distance(T=float), scale=scale)
        return self._cache[key]

    def add(self, values: np.ndarray, kind: str, scale: float) -> np.ndarray:
        """``values`` plus independent noise of ``kind`` ("gaussian"/"laplace") and scale."""
        flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
        if flat.size == 0:
            return flat.reshape(values.shape)
        noisy = np.asarray(self._measurement(kind, scale)(flat), dtype=np.float64)
        return noisy.reshape(values.shape)


def _aggregator_parameters(
    aggregator: Any, noise: Any, threshold: Any, threshold_noise: Any
) -> dict[str, Any]:
    """The checked noise parameters of ``aggregator``, or a ParameterError naming the fix."""
    if aggregator not in AGGREGATORS:
        raise ParameterError(
            f"unknown aggregator {aggregator!r}; use one of {', '.join(AGGREGATORS)}"
        )
    what = "Laplace scale" if aggregator == "laplace" else "Gaussian sigma"
    params: dict[str, Any] = {
        "noise": _positive(noise, "noise", f"the {what} on each vote count, e.g. 40")
    }
    if aggregator == "confident_gnmax":
        if threshold is None or threshold_noise is None:
            raise ParameterError(
                "confident_gnmax needs threshold (T) and threshold_noise (sigma_1), e.g. "
                "threshold=0.6 * n_teachers, threshold_noise=1.5 * noise"
            )
        try:
            t = float(threshold)
        except (TypeError, ValueError):
            t = math.nan
        if not math.isfinite(t):
            raise ParameterError(f"threshold must be a finite number; got {threshold!r}")
        params["threshold"] = t
        params["threshold_noise"] = _positive(
            threshold_noise, "threshold_noise", "sigma_1 of the threshold check"
        )
    elif threshold is not None or threshold_noise is not None:
        raise ParameterError(
            "threshold and threshold_noise apply to aggregator='confident_gnmax' only; "
            f"drop them or change aggregator={aggregator!r}"
        )
    return params


def aggregate_votes(
    histograms: Any,
    *,
    aggregator: str,
    noise: float,
    threshold: float | None = None,
    threshold_noise: float | None = None,
) -> np.ndarray:
    """Noisy arg-max of each row of vote counts: PATE's aggregation on its own.

    Parameters
    ----------
    histograms
        Vote counts, one row per query, one column per class.
    aggregator, noise, threshold, threshold_noise
        As for :class:`PATE`.

    Returns
    -------
    numpy.ndarray of int
        Per row, the index of the winning class; -1 where confident GNMax
        declined to answer.
    """
    params = _aggregator_parameters(aggregator, noise, threshold, threshold_noise)
    counts = np.asarray(histograms, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] < 2:
        raise ParameterError(
            f"histograms must be 2-D (queries, classes >= 2); got shape {counts.shape}"
        )
    return _aggregate(counts, aggregator, params)


def _aggregate(histograms: np.ndarray, aggregator: str, params: dict[str, Any]) -> np.ndarray:
    noise = _SecureNoise()
    counts = histograms.astype(np.float64)
    if aggregator == "laplace":
        return np.argmax(noise.add(counts, "laplace", params["noise"]), axis=1)
    if aggregator == "gnmax":
        return np.argmax(noise.add(counts, "gaussian", params["noise"]), axis=1)
    # Confident GNMax (Papernot et al. 2018, Algorithm 1): answer only when the
    # noisy largest count reaches the threshold, then by GNMax.
    checked = noise.add(counts.max(axis=1), "gaussian", params["threshold_noise"])
    answered = checked >= params["threshold"]
    labels = np.full(len(counts), -1, dtype=np.int64)
    if answered.any():
        noisy = noise.add(counts[answered], "gaussian", params["noise"])
        labels[answered] = np.argmax(noisy, axis=1)
    return labels


@dataclass
class PATEResult(Result):
    """What a PATE run released and what it cost.

    Attributes
    ----------
    student
        The student fitted on the answered public rows (None if none was answered).
    labels
        Per queried public row, the index into ``classes`` of its noisy label,
        -1 where confident GNMax did not answer.
    data_independent_epsilon, data_dependent_epsilon
        Epsilon at ``delta`` of the data-independent and the data-dependent RDP
        curve, both converted by the spine (:class:`~veil.privacy.PrivacyLoss`).
        The second is a function of the private votes: do not publish it as is.
    rdp_event, data_independent_event
        The two RDP curves, summed over queries (:class:`~veil.privacy.RDPCurveEvent`).
    loss
        ``PrivacyLoss.from_event(rdp_event, delta=delta)``: the data-dependent loss.
    reserved_loss
        The data-independent bound for every query answered, which a ledger was
        charged before any vote (confident GNMax may answer fewer).
    teacher_agreement
        Mean share of teachers voting for the plurality, over queries: read from
        the private votes without noise, for the data holder only.
    """

    student: Any
    labels: np.ndarray
    classes: np.ndarray
    aggregator: str
    n_teachers: int
    n_queries: int
    n_answered: int
    data_independent_epsilon: float
    data_dependent_epsilon: float
    delta: float
    rdp_event: RDPCurveEvent
    data_independent_event: RDPCurveEvent
    loss: PrivacyLoss
    reserved_loss: PrivacyLoss
    teacher_agreement: float
    parameters: dict[str, Any] = field(default_factory=dict)
    classes_from_private_data: bool = False
    reservation_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "aggregator": self.aggregator,
            "n_teachers": self.n_teachers,
            "parameters": dict(self.parameters),
            "n_queries": self.n_queries,
            "n_answered": self.n_answered,
            "classes": self.classes.tolist(),
            "classes_from_private_data": self.classes_from_private_data,
            "labels": self.labels.tolist(),
            "delta": self.delta,
            "data_independent_epsilon": self.data_independent_epsilon,
            "data_dependent_epsilon": self.data_dependent_epsilon,
            "reserved_epsilon": self.reserved_loss.epsilon,
            "rdp_event": self.rdp_event.to_dict(),
            "data_independent_event": self.data_independent_event.to_dict(),
            "teacher_agreement": self.teacher_agreement,
            "reservation_id": self.reservation_id,
        }

    def to_document(self) -> Document:
        table = Table(
            columns=["queries", "answered", "data-independent epsilon", "data-dependent epsilon"],
            rows=[
                [
                    self.n_queries,
                    self.n_answered,
                    self.data_independent_epsilon,
                    self.data_dependent_epsilon,
                ]
            ],
        )
        text = (
            f"{self.n_teachers} teachers labelled {self.n_answered} of {self.n_queries} public "
            f"rows by {self.aggregator} (delta = {self.delta:g}). The data-independent epsilon "
            "holds whatever the private data; the data-dependent one uses how strongly the "
            f"teachers agreed (mean agreement {self.teacher_agreement:.0%}) and is itself "
            "computed from the private votes without noise: keep it internal."
        )
        orders = list(self.rdp_event.orders)
        curves = [
            LineSeries("data-independent", orders, list(self.data_independent_event.values)),
            LineSeries("data-dependent", orders, list(self.rdp_event.values)),
        ]
        positive = all(v > 0 for c in curves for v in c.y)
        chart = LineChart(
            curves,
            title="Rényi DP of the run at each order",
            x_label="order alpha",
            y_label="RDP epsilon(alpha)",
            log_x=True,
            log_y=positive,
        )
        return Document(
            title="PATE: student trained on noisy teacher votes",
            subtitle=f"aggregator {self.aggregator}",
            sections=[Section("Privacy", [table, Paragraph(text), chart])],
        )


class PATE:
    """Private Aggregation of Teacher Ensembles (Papernot et al. 2016, 2018).

    Parameters
    ----------
    n_teachers
        Number of teachers, each trained on its own disjoint shard of the
        private rows (more teachers: stronger consensus survives more noise,
        but each learns from fewer rows).
    aggregator
        ``"laplace"`` (LNMax), ``"gnmax"`` or ``"confident_gnmax"``.
    noise
        Laplace scale 1/gamma (LNMax) or Gaussian standard deviation (sigma, or
        sigma_2 of confident GNMax) added to every vote count.
    threshold, threshold_noise
        Confident GNMax only: T and sigma_1 of the check max count +
        N(0, sigma_1**2) >= T.
    delta
        The delta at which epsilons are reported (> 0).
    teacher_factory
        Builds one fresh estimator (``fit``/``predict``) per teacher; default a
        scikit-learn ``StandardScaler`` then ``LogisticRegression``. A shard
        holding one class gets a teacher that always votes it. The student
        (``fit(..., student_factory=)``) defaults to the same kind.
    classes
        The label set, treated as public. Default: the labels found in
        ``y_private``, which the result records as read from private data.
    ledger, dataset, spender
        Charge the run to ``dataset`` (and ``spender``) in a veil ledger.
    seed
        Seeds the shards only (never the noise).

    Notes
    -----
    With a ledger, the **data-independent** loss of answering every query is
    reserved before any teacher is trained or any noise drawn, and refused
    (:class:`~veil.errors.BudgetExceededError`) if it does not fit: the
    data-dependent loss cannot be known before the votes are counted, and the
    ledger must decide before any noise is drawn. The ledger keeps that charge;
    the data-dependent epsilon is recorded with the result, not charged,
    because it is a function of the private votes: Papernot et al. (2018)
    publish it only after adding noise scaled to its smooth sensitivity, which
    veil does not do. Publish the data-independent epsilon; quote the
    data-dependent one only inside the data holder.

    Confident GNMax's reported epsilons count GNMax only on the answered
    queries (the paper's accounting: unanswered queries release nothing beyond
    the check); the reservation counts it on every query, an upper bound.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> pate = PATE(n_teachers=20, aggregator="gnmax", noise=4.0, seed=0)
    >>> result = pate.fit(X[:1400], y[:1400], X[1400:], max_queries=200)
    >>> result.data_dependent_epsilon <= result.data_independent_epsilon
    True
    """

    def __init__(
        self,
        *,
        n_teachers: int = 50,
        aggregator: str = "gnmax",
        noise: float,
        threshold: float | None = None,
        threshold_noise: float | None = None,
        delta: float = 1e-5,
        teacher_factory: Callable[[], Any] | None = None,
        classes: Sequence[Any] | None = None,
        ledger: Any = None,
        dataset: str | None = None,
        spender: str | None = None,
        seed: Any = None,
    ) -> None:
        self.n_teachers = n_teachers
        self.aggregator = aggregator
        self.noise = noise
        self.threshold = threshold
        self.threshold_noise = threshold_noise
        self.delta = delta
        self.teacher_factory = teacher_factory
        self.classes = classes
        self.ledger = ledger
        self.dataset = dataset
        self.spender = spender
        self.seed = seed

    # -- checks ------------------------------------------------------------------

    def _check_parameters(self) -> dict[str, Any]:
        params = _aggregator_parameters(
            self.aggregator, self.noise, self.threshold, self.threshold_noise
        )
        n = self.n_teachers
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"n_teachers must be a positive integer; got {n!r}")
        delta = check_delta(self.delta)
        if delta == 0:
            raise ParameterError(
                "delta must be > 0 for PATE: its Rényi curve converts to (epsilon, delta) "
                "only with delta > 0 (e.g. 1e-5, below 1 / number of private rows)"
            )
        params["delta"] = delta
        if self.ledger is not None and not self.dataset:
            raise ParameterError("a ledger needs dataset=NAME: the dataset to charge")
        return params

    def _check_data(self, X_private: Any, y_private: Any, X_public: Any) -> tuple[Any, ...]:
        X_private = _as_features(X_private, "X_private")
        X_public = _as_features(X_public, "X_public_unlabeled")
        y = np.asarray(y_private).ravel()
        n = _n_rows(X_private)
        if n == 0:
            raise DataError("the private set is empty: PATE's teachers need labelled rows")
        if len(y) != n:
            raise DataError(f"X_private has {n} rows but y_private has {len(y)} labels")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise DataError(
                f"y_private has {int(np.isnan(y).sum())} missing labels (NaN): drop those rows"
            )
        if _n_rows(X_public) == 0:
            raise DataError(
                "the public set is empty: PATE labels public unlabeled rows for the student; "
                "give at least one row in X_public_unlabeled"
            )
        if self.n_teachers > n:
            raise ParameterError(
                f"n_teachers={self.n_teachers} but there are only {n} private rows: every "
                f"teacher needs rows of its own; use n_teachers <= {n} (or far fewer: each "
                "teacher should learn from tens of rows at least)"
            )
        if self.classes is None:
            classes = np.unique(y)
        else:
            classes = np.unique(np.asarray(list(self.classes)))
            unknown = np.setdiff1d(y, classes)
            if unknown.size:
                raise DataError(
                    f"y_private holds labels {unknown[:5].tolist()} not in classes="
                    f"{classes.tolist()}: add them to classes"
                )
        if classes.size < 2:
            raise DataError(
                f"y_private has a single class ({classes.tolist()}): PATE needs at least two"
            )
        return X_private, y, X_public, classes

    # -- the run ---------------------------------------------------------------------

    def fit(
        self,
        X_private: Any,
        y_private: Any,
        X_public_unlabeled: Any,
        *,
        max_queries: int | None = None,
        student_factory: Callable[[], Any] | None = None,
    ) -> PATEResult:
        """Train the teachers, label up to ``max_queries`` public rows, train the student.

        The first ``max_queries`` rows of ``X_public_unlabeled`` (all by
        default) are queried.

        Returns
        -------
        PATEResult
            Also kept as ``self.result_`` (and the student as ``self.student_``).

        Raises
        ------
        ParameterError, DataError
            Bad parameters or data, before any spend.
        BudgetExceededError
            The ledger refused the data-independent loss; nothing was trained or drawn.
        """
        params = self._check_parameters()
        X_private, y, X_public, classes = self._check_data(X_private, y_private, X_public_unlabeled)
        n_public = _n_rows(X_public)
        if max_queries is not None:
            if isinstance(max_queries, bool) or not isinstance(max_queries, (int, np.integer)):
                raise ParameterError(f"max_queries must be a positive integer; got {max_queries!r}")
            if max_queries < 1:
                raise ParameterError(f"max_queries must be >= 1; got {max_queries}")
        n_queries = min(n_public, int(max_queries)) if max_queries is not None else n_public
        queries = _take(X_public, np.arange(n_queries))
        orders = np.asarray(acc.ORDERS)
        worst = acc.pate_worst_case_rdp(self.aggregator, params, n_queries, orders)
        reserved = self._curve_loss(worst, orders)
        book, owned = (None, False)
        if self.ledger is not None:
            from veil.ledger import as_ledger

            book, owned = as_ledger(self.ledger)
        try:
            pending = None
            if book is not None:
                pending = self._reserve(book, reserved, params, n_queries)
            try:
                result = self._run(
                    params, X_private, y, queries, classes, orders, reserved, student_factory
                )
            except BaseException as err:
                # No label has left this call: give the budget back (if even that
                # fails, the entry stays reserved and counts).
                if pending is not None:
                    with contextlib.suppress(Exception):
                        book.cancel(  # type: ignore[union-attr]
                            pending, reason=f"the PATE run failed ({type(err).__name__})"
                        )
                raise
            if pending is not None:
                result.reservation_id = pending.id
                summary = {k: v for k, v in result.to_dict().items() if k != "labels"}
                book.finish(pending, summary)  # type: ignore[union-attr]
        finally:
            if owned:
                book.close()  # type: ignore[union-attr]
        self.result_ = result
        self.student_ = result.student
        return result

    def _reserve(
        self, book: Any, reserved: PrivacyLoss, params: dict[str, Any], n_queries: int
    ) -> Any:
        """Reserve the data-independent loss of every query, or refuse before any work."""
        try:
            return book.reserve(
                self.dataset,
                reserved,
                what=f"PATE labels for {n_queries} public rows",
                mechanism=f"PATE {self.aggregator}",
                parameters={**params, "n_teachers": int(self.n_teachers)},
                spender=self.spender,
            )
        except BudgetExceededError as err:
            raise BudgetExceededError(
                f"{err}: for PATE, query fewer public rows (max_queries={n_queries} now) "
                "or raise noise"
            ) from None

    def _run(
        self,
        params: dict[str, Any],
        X_private: Any,
        y: np.ndarray,
        queries: Any,
        classes: np.ndarray,
        orders: np.ndarray,
        reserved: PrivacyLoss,
        student_factory: Callable[[], Any] | None,
    ) -> PATEResult:
        histograms = self._votes(X_private, y, queries, classes)
        labels = _aggregate(histograms, self.aggregator, params)
        answered = labels >= 0
        independent, dependent = acc.pate_rdp_curves(
            histograms, answered, self.aggregator, params, orders
        )
        event = RDPCurveEvent(orders=tuple(orders), values=tuple(dependent))
        free_event = RDPCurveEvent(orders=tuple(orders), values=tuple(independent))
        loss = PrivacyLoss.from_event(event, delta=params["delta"])
        free_loss = PrivacyLoss.from_event(free_event, delta=params["delta"])
        student = self._student(queries, labels, classes, student_factory)
        return PATEResult(
            student=student,
            labels=labels,
            classes=classes,
            aggregator=self.aggregator,
            n_teachers=int(self.n_teachers),
            n_queries=len(labels),
            n_answered=int(answered.sum()),
            data_independent_epsilon=float(free_loss.epsilon),  # type: ignore[arg-type]
            data_dependent_epsilon=float(loss.epsilon),  # type: ignore[arg-type]
            delta=params["delta"],
            rdp_event=event,
            data_independent_event=free_event,
            loss=loss,
            reserved_loss=reserved,
            teacher_agreement=float(np.mean(histograms.max(axis=1)) / self.n_teachers),
            parameters={k: v for k, v in params.items() if k != "delta"},
            classes_from_private_data=self.classes is None,
        )

    def _votes(
        self,
        X_private: Any,
        y: np.ndarray,
        queries: Any,
        classes: np.ndarray,
    ) -> np.ndarray:
        """The (queries, classes) histogram of the teachers' votes."""
        make = self.teacher_factory or _default_estimator
        n_q = _n_rows(queries)
        histograms = np.zeros((n_q, len(classes)), dtype=np.int64)
        rows = np.arange(n_q)
        for shard in teacher_partitions(len(y), int(self.n_teachers), self.seed):
            labels = y[shard]
            if np.unique(labels).size == 1:
                teacher: Any = _ConstantClassifier(labels[0])
            else:
                teacher = make()
                teacher.fit(_take(X_private, shard), labels)
            votes = np.asarray(teacher.predict(queries)).ravel()
            index = np.clip(np.searchsorted(classes, votes), 0, len(classes) - 1)
            if votes.shape != (n_q,) or np.any(classes[index] != votes):
                raise ParameterError(
                    "a teacher from teacher_factory predicted labels outside the classes "
                    f"{classes.tolist()} (or not one per row); it must predict the labels it "
                    "was fitted on"
                )
            histograms[rows, index] += 1
        return histograms

    def _curve_loss(self, values: np.ndarray, orders: np.ndarray) -> PrivacyLoss:
        event = RDPCurveEvent(orders=tuple(orders), values=tuple(values))
        return PrivacyLoss.from_event(event, delta=check_delta(self.delta))

    def _student(
        self,
        queries: Any,
        labels: np.ndarray,
        classes: np.ndarray,
        student_factory: Callable[[], Any] | None,
    ) -> Any:
        answered = np.flatnonzero(labels >= 0)
        if answered.size == 0:
            return None
        targets = classes[labels[answered]]
        if np.unique(targets).size == 1:
            return _ConstantClassifier(targets[0])
        make = student_factory or self.teacher_factory or _default_estimator
        student = make()
        student.fit(_take(queries, answered), targets)
        return student

    def predict(self, X: Any) -> np.ndarray:
        """The student's predictions for ``X``.

        Raises
        ------
        DataError
            Not fitted yet, or no query was answered (lower ``threshold``).
        """
        if not hasattr(self, "result_"):
            raise DataError("this PATE is not fitted yet: call fit(X_private, y, X_public)")
        if self.student_ is None:
            raise DataError(
                "no public row was answered, so there is no student: lower threshold or "
                "threshold_noise, or query more rows"
            )
        return np.asarray(self.student_.predict(_as_features(X, "X")))
