"""Distances between rows, for distance to closest record and the membership attack.

Numbers are scaled to [0, 1] by the real training range and categories
one-hot encoded (scaled so that two different categories are at distance 1);
a missing number sits at -1, an unseen category matches none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

__all__ = ["distance_features", "nearest_distances"]


def distance_features(
    frames: Sequence[pl.DataFrame], columns: Sequence[str], reference: pl.DataFrame
) -> list[np.ndarray]:
    """Numbers scaled to [0, 1] by the reference's range, categories one-hot (for distances)."""
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for name in columns:
        ref = reference.get_column(name)
        if ref.dtype.is_numeric():
            x = ref.cast(pl.Float64).to_numpy()
            x = x[np.isfinite(x)]
            lo, span = (float(x.min()), float(x.max() - x.min()) or 1.0) if x.size else (0.0, 1.0)
            for k, f in enumerate(frames):
                v = f.get_column(name).cast(pl.Float64, strict=False).to_numpy()
                blocks[k].append(np.nan_to_num((v - lo) / span, nan=-1.0)[:, None])
        else:
            cats = ref.drop_nulls().cast(pl.String).unique().sort().to_list()
            index = {c: i for i, c in enumerate(cats)}
            for k, f in enumerate(frames):
                codes = np.array(
                    [index.get(v, -1) for v in f.get_column(name).cast(pl.String).to_list()]
                )
                onehot = np.zeros((len(codes), len(cats)))
                rows = np.flatnonzero(codes >= 0)
                onehot[rows, codes[rows]] = 1.0 / np.sqrt(
                    2.0
                )  # two differing categories: distance 1
                blocks[k].append(onehot)
    return [np.hstack(b) for b in blocks]


def nearest_distances(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1).fit(reference)
    return nn.kneighbors(queries, return_distance=True)[0][:, 0]
