"""How rows are split among simulated clients: IID, label skew by Dirichlet, quantity skew.

Real federations are not IID: hospitals differ in case mix (label skew) and in
size (quantity skew). The standard simulations (Hsu et al. 2019, "Measuring
the effects of non-identical data distribution for federated visual
classification"; Li et al. 2022, "Federated learning on non-IID data silos:
an experimental study") draw, for each class, the share each client gets from
a Dirichlet(alpha) distribution (small alpha: each client sees few classes),
and for quantity skew the clients' sizes from Dirichlet(alpha) with labels
spread evenly.
"""

from __future__ import annotations

import numpy as np

from veil.errors import ParameterError

__all__ = ["PARTITIONS", "partition"]

#: Partition schemes by name.
PARTITIONS = ("iid", "dirichlet", "quantity")


def _split_counts(n: int, shares: np.ndarray) -> np.ndarray:
    """Cut points of ``n`` items by ``shares`` (summing to 1)."""
    return (np.cumsum(shares)[:-1] * n).astype(int)


def partition(
    y: np.ndarray,
    clients: int,
    *,
    scheme: str = "iid",
    alpha: float = 0.5,
    min_size: int = 1,
    seed: int = 0,
) -> list[np.ndarray]:
    """Row indices of each of ``clients`` clients.

    Parameters
    ----------
    y
        The labels of all rows (used by ``"dirichlet"``).
    clients
        Number of clients.
    scheme
        ``"iid"`` (a random equal split), ``"dirichlet"`` (label skew: each
        class's rows shared by Dirichlet(alpha) proportions) or ``"quantity"``
        (client sizes by Dirichlet(alpha), labels IID).
    alpha
        Concentration: small is skewed (0.1), large is close to IID (100).
    min_size
        Every client gets at least this many rows; skewed draws are redrawn
        (up to 100 times) until they do.
    seed
        Seeds the split.

    Raises
    ------
    ParameterError
        Unknown scheme, fewer rows than ``clients * min_size``, or alpha <= 0.
    """
    if scheme not in PARTITIONS:
        raise ParameterError(f"partition must be one of {', '.join(PARTITIONS)}; got {scheme!r}")
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise ParameterError(f"clients must be a positive integer; got {clients!r}")
    if not alpha > 0:
        raise ParameterError(f"alpha must be > 0 (e.g. 0.5); got {alpha!r}")
    y = np.asarray(y)
    n = len(y)
    if n < clients * min_size:
        raise ParameterError(
            f"{n} rows cannot give {clients} clients {min_size} row(s) each; use fewer clients"
        )
    rng = np.random.default_rng(seed)
    if scheme == "iid":
        return [np.sort(part) for part in np.array_split(rng.permutation(n), clients)]
    for _ in range(100):
        if scheme == "quantity":
            shares = rng.dirichlet(np.full(clients, alpha))
            parts = np.split(rng.permutation(n), _split_counts(n, shares))
        else:
            buckets: list[list[np.ndarray]] = [[] for _ in range(clients)]
            for label in np.unique(y):
                rows = rng.permutation(np.flatnonzero(y == label))
                shares = rng.dirichlet(np.full(clients, alpha))
                for i, piece in enumerate(np.split(rows, _split_counts(len(rows), shares))):
                    buckets[i].append(piece)
            parts = [np.concatenate(b) for b in buckets]
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(p) for p in parts]
    raise ParameterError(
        f"Dirichlet({alpha}) left a client with fewer than {min_size} rows in 100 draws; "
        "use a larger alpha or fewer clients"
    )
