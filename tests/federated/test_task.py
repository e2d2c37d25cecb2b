"""The task and the update screen: bad updates are refused, logged, and the round goes on."""

from __future__ import annotations

import numpy as np
import pytest

from veil.errors import DataError
from veil.federated import ClassificationTask, simulate
from veil.federated.apps import SiteClient
from veil.federated.task import check_update


def test_parameters_round_trip_and_shapes() -> None:
    task = ClassificationTask(5, 3, hidden=(4,))
    params = task.initial_parameters()
    assert [p.shape for p in params] == task.shapes()
    model = task.model()
    task.set_parameters(model, [p + 1 for p in params])
    np.testing.assert_allclose(task.get_parameters(model)[0], params[0] + 1)


def test_check_update_refuses_wrong_shapes_and_non_finite() -> None:
    shapes = [(2, 3), (2,)]
    check_update([np.zeros((2, 3)), np.zeros(2)], shapes)
    with pytest.raises(DataError, match="has 1 arrays"):
        check_update([np.zeros((2, 3))], shapes)
    with pytest.raises(DataError, match="shape"):
        check_update([np.zeros((3, 2)), np.zeros(2)], shapes)
    with pytest.raises(DataError, match="NaN"):
        check_update([np.full((2, 3), np.nan), np.zeros(2)], shapes)
    with pytest.raises(DataError, match="NaN"):
        check_update([np.zeros((2, 3)), np.array([np.inf, 0.0])], shapes)


def test_fedprox_term_pulls_toward_the_global_model() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 5)).astype(np.float32), rng.integers(0, 2, 200)
    task = ClassificationTask(5, 2, hidden=(), epochs=5)
    start = task.initial_parameters()

    def moved(mu: float) -> float:
        new, _ = task.fit(start, X, y, proximal_mu=mu)
        return sum(float(np.linalg.norm(a - b)) for a, b in zip(new, start, strict=True))

    assert moved(10.0) < 0.5 * moved(0.0)


class Broken(SiteClient):
    """Sends NaN, the wrong shape, or raises, by client index."""

    def __init__(self, kind: str, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.kind = kind

    def fit(self, parameters, config):  # type: ignore[no-untyped-def]
        new, n, m = super().fit(parameters, config)
        if self.kind == "nan":
            new[0][0, 0] = np.nan
        elif self.kind == "shape":
            new[0] = new[0][:, :-1]
        elif self.kind == "raise":
            raise DataError("target column 'label' not found at this site")
        return new, n, m


def test_bad_clients_are_rejected_and_the_rounds_go_on(caplog) -> None:
    kinds = {0: "nan", 1: "shape", 2: "raise"}

    def make(i, task, data):  # type: ignore[no-untyped-def]
        return Broken(kinds.get(i, "ok"), task, data.X, data.y)

    clean = simulate(clients=6, rounds=3, seed=0)
    result = simulate(clients=6, rounds=3, seed=0, make_client=make)
    # Five answered (the raising client failed); two of those answers were refused.
    assert [r["clients"] for r in result.rounds] == [5, 5, 5]
    assert [r["failures"] for r in result.rounds] == [1, 1, 1]
    assert len(result.rejected) == 6
    assert {r["client"] for r in result.rejected} == {"0", "1"}
    assert "not found at this site" in caplog.text
    # The broken updates changed nothing: no NaN leaked into the model, which still learns.
    assert np.isfinite(result.final_accuracy)
    assert result.final_accuracy > clean.rounds[0]["accuracy"]
