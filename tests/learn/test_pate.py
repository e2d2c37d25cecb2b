"""PATE: shards, noisy votes, the RDP bounds (checked against the papers' formulas), the ledger."""

from __future__ import annotations

import itertools
import json
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from sklearn.datasets import make_blobs, make_classification
from sklearn.naive_bayes import GaussianNB

from veil.errors import BudgetExceededError, DataError, ParameterError
from veil.learn import pate_accounting as acc
from veil.learn.pate import PATE, PATEResult, aggregate_votes, teacher_partitions
from veil.ledger import Ledger
from veil.privacy import GaussianEvent, PrivacyLoss, compose, event_from_dict

mpmath.mp.dps = 50
ORDERS = np.asarray(acc.ORDERS)
# Statistical tests reject at p < 1e-6: a correct sampler fails one of them once in
# a million runs.
ALPHA = 1e-6


# -- shards ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n_rows=st.integers(1, 500),
    n_teachers=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_partitions_are_disjoint_and_cover_the_rows(n_rows, n_teachers, seed):
    n_teachers = min(n_teachers, n_rows)
    parts = teacher_partitions(n_rows, n_teachers, seed)
    assert len(parts) == n_teachers
    joined = np.concatenate(parts)
    assert np.array_equal(np.sort(joined), np.arange(n_rows))  # covering, no row twice
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    again = teacher_partitions(n_rows, n_teachers, seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


def test_partitions_depend_on_the_seed():
    a = teacher_partitions(1000, 10, 1)
    b = teacher_partitions(1000, 10, 2)
    assert not all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# -- the noisy vote, statistically -----------------------------------------------------


def _p_plurality_gaussian(h, sigma):
    """Pr[argmax(h + N(0, sigma^2 I)) = argmax h]: integrate over the plurality's noise."""
    top = int(np.argmax(h))
    gaps = [(h[top] - h[j]) / sigma for j in range(len(h)) if j != top]

    def density(z):
        return stats.norm.pdf(z) * np.prod([stats.norm.cdf(g + z) for g in gaps])

    return integrate.quad(density, -12, 12, limit=200)[0]


def _p_plurality_laplace(h, b):
    """The same with Laplace(b) noise on every count."""
    top = int(np.argmax(h))
    gaps = [h[top] - h[j] for j in range(len(h)) if j != top]

    def density(x):
        return stats.laplace.pdf(x, scale=b) * np.prod(
            [stats.laplace.cdf(g + x, scale=b) for g in gaps]
        )

    kinks = [0.0, *(-g for g in gaps)]
    return integrate.quad(density, -40 * b, 40 * b, points=kinks, limit=400)[0]


@pytest.mark.parametrize(
    ("aggregator", "noise", "p_of", "h"),
    [
        ("gnmax", 3.0, _p_plurality_gaussian, [12.0, 8.0, 4.0, 1.0]),  # contested: p = 0.81
        ("laplace", 2.0, _p_plurality_laplace, [12.0, 8.0, 4.0, 1.0]),  # p = 0.85
        ("gnmax", 10.0, _p_plurality_gaussian, [45.0, 5.0, 0.0]),  # strong consensus: 0.997
        ("laplace", 10.0, _p_plurality_laplace, [45.0, 5.0, 0.0]),  # 0.96
    ],
)
def test_noisy_argmax_picks_the_plurality_as_often_as_the_noise_implies(aggregator, noise, p_of, h):
    h = np.asarray(h)
    p = p_of(h, noise)
    n = 4000
    labels = aggregate_votes(np.tile(h, (n, 1)), aggregator=aggregator, noise=noise)
    wins = int((labels == 0).sum())
    # Two-sided exact binomial test; with n = 4000 it detects a change of about
    # 0.03 in a probability near 0.8 (a noise scale off by ~20%), and of 0.005
    # near 0.997 (sigma off by ~25%).
    assert stats.binomtest(wins, n, p).pvalue > ALPHA, (wins / n, p)


def test_confident_gnmax_answers_only_when_the_noisy_max_reaches_the_threshold():
    h = np.array([20.0, 6.0, 4.0])
    threshold, sigma1 = 22.0, 4.0
    p_answer = stats.norm.sf((threshold - 20.0) / sigma1)  # 0.31
    n = 6000
    labels = aggregate_votes(
        np.tile(h, (n, 1)),
        aggregator="confident_gnmax",
        noise=2.0,
        threshold=threshold,
        threshold_noise=sigma1,
    )
    answered = int((labels >= 0).sum())
    assert stats.binomtest(answered, n, p_answer).pvalue > ALPHA, (answered / n, p_answer)
    # answered rows follow GNMax with sigma_2 = 2
    p_win = _p_plurality_gaussian(h, 2.0)
    assert stats.binomtest(int((labels == 0).sum()), answered, p_win).pvalue > ALPHA
    # A max 10 sigma_1 under T is answered with probability 7.6e-24: never here.
    far = aggregate_votes(
        np.tile(h, (2000, 1)),
        aggregator="confident_gnmax",
        noise=2.0,
        threshold=60.0,
        threshold_noise=4.0,
    )
    assert np.all(far == -1)


def test_noise_is_not_seeded():
    # Tied votes: two runs agree on all 200 labels with probability 2**-200 if the
    # noise is fresh, always if it came from the seed.
    h = np.tile([5.0, 5.0], (200, 1))
    a = aggregate_votes(h, aggregator="gnmax", noise=1.0)
    b = aggregate_votes(h, aggregator="gnmax", noise=1.0)
    assert not np.array_equal(a, b)


# -- the bounds, against the papers' formulas evaluated independently -------------------


def _mp_gnmax_q(h, sigma):
    top = int(np.argmax(h))
    q = mpmath.fsum(
        mpmath.erfc(mpmath.mpf(h[top] - h[j]) / (2 * sigma)) / 2 for j in range(len(h)) if j != top
    )
    return min(q, 1 - mpmath.mpf(1) / len(h))


def _mp_theorem6(q, sigma, order):
    """Papernot et al. 2018 Theorem 6 with Proposition 10's orders, or None if it fails."""
    q, s = mpmath.mpf(q), mpmath.mpf(sigma)
    mu2 = s * mpmath.sqrt(mpmath.log(1 / q))
    mu1 = mu2 + 1
    e1, e2 = mu1 / s**2, mu2 / s**2
    condition = mpmath.exp((mu2 - 1) * e2) / (mu1 / (mu1 - 1) * mu2 / (mu2 - 1)) ** mu2
    if not (mu2 > 1 and q * mpmath.exp(e2) < 1 and q <= condition and order < mu1):
        return None
    a = (1 - q) / (1 - (q * mpmath.exp(e2)) ** ((mu2 - 1) / mu2))
    b = mpmath.exp(e1) / q ** (1 / (mu1 - 1))
    lam = mpmath.mpf(order)
    return mpmath.log((1 - q) * a ** (lam - 1) + q * b ** (lam - 1)) / (lam - 1)


@pytest.mark.parametrize(
    ("h", "sigma"),
    [
        ([100, 2, 1, 0], 20.0),  # strong consensus
        ([40, 5, 5], 10.0),
        ([250, 0, 0, 0, 0, 0, 0, 0, 0, 0], 40.0),  # unanimous, the paper's scale
        ([30, 28, 2], 10.0),  # close race: the theorem does not apply
        ([10, 10, 10], 5.0),  # tie: q is capped at 1 - 1/k
    ],
)
def test_gnmax_bounds_match_proposition_7_and_theorem_6(h, sigma):
    h = np.asarray(h, dtype=float)
    q = _mp_gnmax_q(h, sigma)
    log_q = acc.gnmax_log_q(h[None], sigma)
    assert float(log_q[0]) == pytest.approx(float(mpmath.log(q)), rel=1e-9)
    orders = np.array([1.5, 2.0, 5.0, 10.0, 32.0, 100.0, 500.0])
    got = acc.gnmax_rdp_data_dependent(log_q, sigma, orders)[0]
    for order, value in zip(orders, got, strict=True):
        independent = order / sigma**2
        dependent = _mp_theorem6(q, sigma, order)
        want = independent if dependent is None else min(independent, float(dependent))
        assert value == pytest.approx(want, rel=1e-9, abs=1e-300), order


def test_theorem_6_lowers_the_cost_when_teachers_agree_and_not_when_they_race():
    strong = acc.gnmax_rdp_data_dependent(acc.gnmax_log_q(np.array([[100.0, 2, 1]]), 20.0), 20.0)
    race = acc.gnmax_rdp_data_dependent(acc.gnmax_log_q(np.array([[30.0, 28, 2]]), 20.0), 20.0)
    independent = acc.gnmax_rdp(20.0)
    assert np.all(strong[0, ORDERS < 10] < 0.2 * independent[ORDERS < 10])
    np.testing.assert_array_equal(race[0], independent)


def test_lnmax_bounds_match_papernot_2016_lemma_4_and_theorem_3():
    h = np.array([[50.0, 3, 2, 0]])
    scale = 5.0  # gamma = 0.2
    gamma = mpmath.mpf(1) / scale
    q = mpmath.fsum((2 + gamma * d) / (4 * mpmath.exp(gamma * d)) for d in (47, 48, 50))
    log_q = acc.lnmax_log_q(h, scale)
    assert float(log_q[0]) == pytest.approx(float(mpmath.log(q)), rel=1e-9)
    eps = 2 * gamma
    assert q < 1 / (mpmath.exp(eps) + 1)  # Theorem 3's condition holds here
    got = acc.lnmax_rdp_data_dependent(log_q, scale, ORDERS)[0]
    for order, value in zip(ORDERS[::7], got[::7], strict=True):
        l = mpmath.mpf(order) - 1  # noqa: E741 - the paper's moment order
        moment = mpmath.log(
            (1 - q) * ((1 - q) / (1 - mpmath.exp(eps) * q)) ** l + q * mpmath.exp(eps * l)
        )
        want = min(float(moment / l), float(eps), float(order * eps**2 / 2))
        assert value == pytest.approx(want, rel=1e-9), order


def test_threshold_check_uses_the_exact_probability_of_its_rarer_outcome():
    h = np.array([[40.0, 5, 5], [12.0, 10, 8], [25.0, 20, 5]])
    threshold, sigma1 = 25.0, 5.0
    log_q = acc.threshold_log_q(h, threshold, sigma1)
    for row, got in zip(h, log_q, strict=True):
        p = mpmath.ncdf((row.max() - threshold) / mpmath.mpf(sigma1))
        assert float(got) == pytest.approx(float(mpmath.log(min(p, 1 - p))), rel=1e-9)
    rdp = acc.threshold_rdp_data_dependent(log_q, sigma1, ORDERS)
    independent = acc.threshold_rdp(sigma1)
    assert np.all(rdp <= independent)
    # the check's Theorem 6 at sigma_1 * sqrt(2): the max 15 = 3 sigma_1 above T
    q = min(mpmath.ncdf(3), 1 - mpmath.ncdf(3))
    for order in (2.0, 5.0):
        i = int(np.flatnonzero(order == ORDERS)[0])
        want = _mp_theorem6(q, sigma1 * math.sqrt(2), order)
        assert rdp[0, i] == pytest.approx(min(float(want), order / (2 * sigma1**2)), rel=1e-9)


@settings(max_examples=80, deadline=None)
@given(
    counts=st.lists(st.integers(0, 300), min_size=2, max_size=10),
    sigma=st.floats(0.5, 200.0),
    scale=st.floats(0.2, 100.0),
)
def test_data_dependent_never_exceeds_data_independent(counts, sigma, scale):
    h = np.asarray([counts], dtype=float)
    g = acc.gnmax_rdp_data_dependent(acc.gnmax_log_q(h, sigma), sigma)[0]
    assert np.all(g >= 0) and np.all(g <= acc.gnmax_rdp(sigma))
    lap = acc.lnmax_rdp_data_dependent(acc.lnmax_log_q(h, scale), scale)[0]
    assert np.all(lap >= 0) and np.all(lap <= acc.lnmax_rdp(scale))
    t = acc.threshold_rdp_data_dependent(acc.threshold_log_q(h, 0.7 * h.sum(), sigma), sigma)[0]
    assert np.all(t >= 0) and np.all(t <= acc.threshold_rdp(sigma))


def test_data_independent_gnmax_equals_dp_accountings_gaussian():
    # n GNMax answers with sigma: alpha * n / sigma^2, the RDP of one Gaussian
    # mechanism of noise multiplier sigma / sqrt(2 n) (dp-accounting's curve).
    n, sigma = 300, 40.0
    curve = acc.pate_worst_case_rdp("gnmax", {"noise": sigma}, n)
    np.testing.assert_allclose(curve, ORDERS * n / sigma**2, rtol=1e-12)
    ours = PrivacyLoss.from_event(
        event_from_dict({"type": "rdp_curve", "orders": list(ORDERS), "values": list(curve)}),
        delta=1e-5,
    ).epsilon
    gaussian = PrivacyLoss(
        delta=1e-5, rho=None, epsilon=None, event=GaussianEvent(sigma / math.sqrt(2 * n))
    )
    theirs = compose([gaussian], 1e-5, accountants=["rdp"]).epsilon
    assert ours == pytest.approx(theirs, rel=0.02)


# -- PATE end to end ------------------------------------------------------------------


def _blobs(n=1400, seed=0, spread=1.0):
    X, y = make_blobs(
        n_samples=n, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=spread, random_state=seed
    )
    return X, y


class _Fixed:
    """A 'teacher' that votes one class chosen when it is built (a split vote)."""

    counter = itertools.count()

    def __init__(self, k=2):
        self.label = next(self.counter) % k

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.full(len(X), self.label)


def test_strong_consensus_lowers_epsilon_and_a_split_vote_falls_back():
    X, y = _blobs()
    agree = PATE(n_teachers=30, noise=5.0, teacher_factory=GaussianNB, seed=0).fit(
        X[:1200], y[:1200], X[1200:], max_queries=100
    )
    assert agree.teacher_agreement > 0.95
    assert agree.data_dependent_epsilon < 0.5 * agree.data_independent_epsilon
    for aggregator, noise in (("gnmax", 5.0), ("laplace", 5.0)):
        split = PATE(
            n_teachers=30, aggregator=aggregator, noise=noise, teacher_factory=_Fixed, seed=0
        ).fit(X[:1200], y[:1200], X[1200:], max_queries=100)
        assert split.teacher_agreement == 0.5
        np.testing.assert_array_equal(split.rdp_event.values, split.data_independent_event.values)
        assert split.data_dependent_epsilon == split.data_independent_epsilon


def test_the_rdp_event_converts_to_the_epsilon_reported():
    X, y = _blobs(seed=1)
    result = PATE(
        n_teachers=20,
        aggregator="confident_gnmax",
        noise=4.0,
        threshold=14.0,
        threshold_noise=6.0,
        teacher_factory=GaussianNB,
        seed=1,
    ).fit(X[:1000], y[:1000], X[1000:], max_queries=150)
    event = event_from_dict(json.loads(json.dumps(result.rdp_event.to_dict())))
    loss = PrivacyLoss.from_event(event, delta=result.delta)
    assert loss.epsilon == result.data_dependent_epsilon == result.loss.epsilon
    # By hand: Canonne, Kamath and Steinke 2020, Prop. 12, minimised over the orders
    # (the spine also evaluates dp-accounting's default orders, by the next larger one).
    from veil.privacy.accountants.rdp import DEFAULT_ORDERS

    orders = sorted({*DEFAULT_ORDERS, *event.orders})
    values = event.at(orders)
    delta = result.delta
    hand = min(
        v + math.log1p(-1 / a) - math.log(delta * a) / (a - 1)
        for a, v in zip(orders, values, strict=True)
        if a > 1.01 and math.isfinite(v)
    )
    assert result.data_dependent_epsilon == pytest.approx(hand, rel=1e-9)
    assert result.data_dependent_epsilon <= result.data_independent_epsilon
    assert result.data_independent_epsilon <= result.reserved_loss.epsilon
    assert 0 < result.n_answered < result.n_queries
    assert np.all((result.labels == -1) | (result.labels >= 0))
    json.loads(result.to_json())  # JSON-ready
    assert "PATE" in result.to_document().title
    assert "<svg" in result.to_html()  # the two RDP curves drawn


def test_student_learns_well_above_chance():
    X, y = make_classification(
        n_samples=2600,
        n_features=10,
        n_informative=6,
        n_classes=3,
        class_sep=2.5,
        random_state=3,
    )
    pate = PATE(n_teachers=20, noise=3.0, seed=3)  # default teachers: logistic regression
    result = pate.fit(X[:1600], y[:1600], X[1600:2100])
    assert isinstance(result, PATEResult) and result.n_answered == 500
    accuracy = float(np.mean(pate.predict(X[2100:]) == y[2100:]))
    # Chance is 1/3; a non-private logistic regression on the private rows scores
    # 0.88 and the student 0.85 +- 0.005 over repeated noise draws.
    assert accuracy > 0.75, accuracy
    assert np.array_equal(pate.predict(X[2100:]), result.student.predict(X[2100:]))


# -- the ledger -------------------------------------------------------------------------


def _ledger(tmp_path, epsilon):
    book = Ledger(tmp_path / "ledger.db", create=True)
    book.add_dataset("patients", epsilon=epsilon, delta=1e-5)
    return book


def test_ledger_reserves_the_data_independent_loss_before_any_teacher_or_vote(tmp_path):
    book = _ledger(tmp_path, 100.0)
    seen = []

    class Watching(GaussianNB):
        def fit(self, X, y):
            with Ledger(tmp_path / "ledger.db") as other:
                seen.append([r.state for r in other.history("patients").records])
            return super().fit(X, y)

    X, y = _blobs(n=800)
    result = PATE(
        n_teachers=10,
        noise=5.0,
        teacher_factory=Watching,
        ledger=book,
        dataset="patients",
        seed=0,
    ).fit(X[:600], y[:600], X[600:], max_queries=50)
    assert seen and all(states == ["reserved"] for states in seen)
    (record,) = book.history("patients").records
    assert record.state == "finished" and record.id == result.reservation_id
    assert record.loss.epsilon == pytest.approx(result.reserved_loss.epsilon)
    assert record.loss.epsilon == pytest.approx(result.data_independent_epsilon)
    assert record.result["data_dependent_epsilon"] == result.data_dependent_epsilon
    assert "labels" not in record.result


def test_budget_exceeded_draws_no_vote(tmp_path, monkeypatch):
    book = _ledger(tmp_path, 0.5)
    built = []

    def factory():
        built.append(1)
        return GaussianNB()

    def no_noise(*args, **kwargs):
        raise AssertionError("noise drawn after a refusal")

    monkeypatch.setattr("veil.learn.pate._SecureNoise.add", no_noise)
    X, y = _blobs(n=800)
    pate = PATE(n_teachers=10, noise=5.0, teacher_factory=factory, ledger=book, dataset="patients")
    with pytest.raises(BudgetExceededError, match=r"before any noise.*max_queries=200 now"):
        pate.fit(X[:600], y[:600], X[600:], max_queries=200)
    assert built == [] and book.history("patients").records == []


def test_a_failed_teacher_cancels_the_reservation(tmp_path):
    book = _ledger(tmp_path, 100.0)

    class Broken:
        def fit(self, X, y):
            raise RuntimeError("teacher crashed")

    X, y = _blobs(n=800)
    with pytest.raises(RuntimeError, match="teacher crashed"):
        PATE(n_teachers=5, noise=5.0, teacher_factory=Broken, ledger=book, dataset="patients").fit(
            X[:600], y[:600], X[600:], max_queries=20
        )
    (record,) = book.history("patients").records
    assert record.state == "cancelled"


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_teachers": 700}, ParameterError, r"n_teachers <= 600"),
        ({"n_teachers": 0}, ParameterError, "positive integer"),
        ({"noise": 0.0}, ParameterError, "noise must be positive"),
        ({"noise": -2.0}, ParameterError, "noise must be positive"),
        ({"noise": float("nan")}, ParameterError, "noise must be positive"),
        ({"noise": "loud"}, ParameterError, "noise must be a positive number"),
        ({"aggregator": "median"}, ParameterError, "use one of laplace, gnmax, confident_gnmax"),
        ({"aggregator": "confident_gnmax"}, ParameterError, "needs threshold"),
        ({"threshold": 5.0}, ParameterError, "confident_gnmax' only"),
        ({"delta": 0.0}, ParameterError, "delta must be > 0"),
        ({"delta": 2.0}, ParameterError, "delta must be in"),
        ({"ledger": "x.db"}, ParameterError, "dataset=NAME"),
        ({"classes": [0, 1]}, DataError, "add them to classes"),
    ],
)
def test_bad_parameters_are_refused_with_the_fix(kwargs, error, match):
    X, y = _blobs(n=800)
    params = {"n_teachers": 10, "noise": 5.0, **kwargs}
    with pytest.raises(error, match=match):
        PATE(**params).fit(X[:600], y[:600], X[600:])


def test_bad_data_is_refused_with_the_fix():
    X, y = _blobs(n=800)
    pate = PATE(n_teachers=10, noise=5.0)
    with pytest.raises(DataError, match="public set is empty"):
        pate.fit(X[:600], y[:600], X[:0])
    with pytest.raises(DataError, match="600 rows but y_private has 599"):
        pate.fit(X[:600], y[:599], X[600:])
    with pytest.raises(DataError, match="single class"):
        pate.fit(X[:600], np.zeros(600), X[600:])
    with pytest.raises(DataError, match="missing labels"):
        pate.fit(X[:600], np.where(np.arange(600) == 3, np.nan, y[:600]), X[600:])
    with pytest.raises(DataError, match="private set is empty"):
        pate.fit(X[:0], y[:0], X[600:])
    with pytest.raises(ParameterError, match="max_queries must be >= 1"):
        pate.fit(X[:600], y[:600], X[600:], max_queries=0)
    with pytest.raises(DataError, match="not fitted"):
        pate.predict(X)
    with pytest.raises(ParameterError, match="2-D"):
        aggregate_votes(np.array([1.0, 2.0]), aggregator="gnmax", noise=1.0)


def test_no_answered_query_leaves_no_student_and_says_why():
    X, y = _blobs(n=800)
    pate = PATE(
        n_teachers=10,
        aggregator="confident_gnmax",
        noise=2.0,
        threshold=1000.0,  # 99 sigma_1 above any count: Pr[answer] < 1e-2000
        threshold_noise=10.0,
        teacher_factory=GaussianNB,
        classes=[0, 1, 2, 3],
    )
    result = pate.fit(X[:600], y[:600], X[600:], max_queries=10_000)
    assert result.n_queries == 200  # max_queries beyond the public rows: all of them
    assert result.n_answered == 0 and result.student is None
    assert np.all(result.labels == -1)
    assert not result.classes_from_private_data and result.classes.tolist() == [0, 1, 2, 3]
    # only the threshold checks were paid, and far below T they cost next to nothing
    assert result.data_dependent_epsilon < 0.01 < result.data_independent_epsilon
    with pytest.raises(DataError, match="lower threshold"):
        pate.predict(X[600:])
