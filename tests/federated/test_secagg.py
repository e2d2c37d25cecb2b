"""SecAgg+: the aggregate equals the plain one, no update in the clear at the server, dropouts."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from veil.federated import ClassificationTask, load_digits, partition, simulate
from veil.federated.apps import LocalGrid, SiteClient, client_app, server_app
from veil.federated.simulation import split
from veil.federated.strategies import make_strategy


def test_secure_aggregate_equals_plain_aggregate() -> None:
    kwargs = {"clients": 4, "rounds": 2, "hidden": (8,), "seed": 3}
    plain = simulate(**kwargs)
    secure = simulate(secagg=True, **kwargs)
    assert [r["clients"] for r in secure.rounds] == [4, 4]
    # Quantization: 2 * 8 / 2^22 per client and coordinate, well under 1e-4.
    for a, b in zip(secure.parameters, plain.parameters, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


class Recording(SiteClient):
    """Keeps what it sends, to check that the server never sees it."""

    sent: ClassVar[dict[int, list[np.ndarray]]] = {}

    def __init__(self, i: int, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.i = i

    def fit(self, parameters, config):  # type: ignore[no-untyped-def]
        new, n, m = super().fit(parameters, config)
        Recording.sent[self.i] = [a.copy() for a in new]
        return new, n, m


def _run(drop: dict[str, list[int]] | None = None):  # type: ignore[no-untyped-def]
    train, _test = split(load_digits(), 0.2, 0)
    task = ClassificationTask(64, 10, hidden=(), seed=0)
    parts = partition(train.y, 5, seed=0)
    Recording.sent = {}
    strategy = make_strategy(
        "fedavg", initial_parameters=task.initial_parameters(), clients_per_round=5
    )
    app = server_app(strategy, 1, secagg=True, num_shares=5, reconstruction_threshold=3)
    clients = client_app(
        lambda i: Recording(i, task, train.X[parts[i]], train.y[parts[i]]), secagg=True
    )
    grid = LocalGrid(clients, 5, drop=drop)
    aggregated: list[list[np.ndarray]] = []
    inner = strategy.aggregate_fit

    def spy(server_round, results, failures):  # type: ignore[no-untyped-def]
        out = inner(server_round, results, failures)
        from flwr.common import parameters_to_ndarrays

        aggregated.append(parameters_to_ndarrays(out[0]))
        return out

    strategy.aggregate_fit = spy  # type: ignore[method-assign]
    grid.serve(app)
    sizes = {i: len(parts[i]) for i in range(5)}
    return grid, aggregated[0], sizes


def test_server_never_holds_an_individual_update() -> None:
    grid, agg, sizes = _run()
    updates = Recording.sent
    assert len(updates) == 5
    # What reached the server: no array record carries any model array; each client's
    # weights arrive only as a masked vector, uncorrelated with the update it hides.
    from flwr.common import bytes_to_ndarray

    masked = []
    for msg in grid.received:
        if not msg.has_content():
            continue
        for record in msg.content.array_records.values():
            assert len(record) == 0
        for record in msg.content.config_records.values():
            if "masked_params" in record:
                masked.append(bytes_to_ndarray(record["masked_params"][1]).astype(float).ravel())
    assert len(masked) == 5
    for vector in masked:
        for upd in updates.values():
            # 640 coordinates: an independent vector's correlation has sd 0.04; |r| > 0.25
            # (6 sd) has probability < 1e-9. A vector sent in the clear would give r ~ 1.
            r = np.corrcoef(vector, upd[0].ravel())[0, 1]
            assert abs(r) < 0.25
    # Yet the aggregate is the weighted mean of the updates.
    total = sum(sizes.values())
    mean = sum(updates[i][0] * sizes[i] for i in range(5)) / total
    np.testing.assert_allclose(agg[0], mean, atol=1e-4)


def test_aggregate_survives_a_dropout_after_key_sharing() -> None:
    # Node 2 (client index 1) vanishes once it has shared its keys: its masks are
    # reconstructed from the others' shares and the sum of the other four comes out.
    _grid, agg, sizes = _run(drop={"collect_masked_vectors": [2]})
    updates = Recording.sent
    kept = [i for i in range(5) if i != 1]
    mean = sum(updates[i][0] * sizes[i] for i in kept) / sum(sizes[i] for i in kept)
    np.testing.assert_allclose(agg[0], mean, atol=1e-4)
