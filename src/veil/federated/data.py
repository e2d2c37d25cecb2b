"""Local data for a federated task: a table with a target column, digits, or an image folder.

Every site turns its own rows into numbers the same way: the numeric columns
(in the order given) are the features, each other column is one-hot encoded
over a list of categories, and the target's classes are numbered by a list
every site shares. In a deployment the category and class lists must be the
same at every site: give them (a schema), or each site would read its own.
The image folder follows the chest X-ray set of the study (Kermany et al.
2018): ``train/<CLASS>/*.png|jpg|jpeg`` and ``test/<CLASS>/...``; images are
read in grayscale and resized so that every site's model has the same input.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ColumnError, DataError
from veil.learn.preprocessing import MAX_CATEGORIES, MISSING

__all__ = ["Dataset", "load_digits", "load_images", "load_table"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


@dataclass
class Dataset:
    """Features, integer labels and the class names (label i is ``classes[i]``)."""

    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    name: str
    features: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)


def load_table(
    data: Any,
    target: str,
    *,
    classes: Sequence[str] | None = None,
    categories: Mapping[str, Sequence[Any]] | None = None,
    standardize: bool = True,
) -> Dataset:
    """A table (path, pandas, polars or pyarrow) as features and labels of ``target``.

    Parameters
    ----------
    data
        The table.
    target
        The column to predict.
    classes
        The class names in the order every site numbers them; by default the
        sorted distinct values of ``target`` here (give them explicitly in a
        deployment where a site may lack a class).
    categories
        ``{column: [values...]}`` for the non-numeric columns, one-hot encoded
        in that order (a value outside the list encodes as all zeros). A
        column without a list takes the sorted values seen here (missing ones
        as "(missing)"), and the notes say that list was treated as public.
    standardize
        Center and scale each feature by its mean and standard deviation here.

    Raises
    ------
    ColumnError
        ``target`` is not a column.
    DataError
        No feature, missing target values, a label not in ``classes``, or a
        column with too many distinct values to one-hot encode.
    """
    from veil.io import to_polars

    frame, _ = to_polars(data)
    if hasattr(frame, "collect"):
        frame = frame.collect()
    if target not in frame.columns:
        raise ColumnError(
            f"target column {target!r} not found; columns are: {', '.join(frame.columns)}"
        )
    categories = dict(categories or {})
    unknown_cols = sorted(set(categories) - set(frame.columns))
    if unknown_cols:
        raise ColumnError(
            f"categories given for column(s) not in the table: {', '.join(unknown_cols)}; "
            f"columns are: {', '.join(frame.columns)}"
        )
    features = [c for c in frame.columns if c != target]
    numeric = [c for c in features if frame[c].dtype.is_numeric() and c not in categories]
    if not features:
        raise DataError(f"the table has no feature column besides {target!r}")
    labels = frame[target]
    if labels.null_count():
        raise DataError(
            f"target column {target!r} has {labels.null_count()} missing values; drop those rows"
        )
    values = [str(v) for v in labels.to_list()]
    names = list(classes) if classes is not None else sorted(set(values))
    index = {c: i for i, c in enumerate(names)}
    unknown = sorted(set(values) - set(index))
    if unknown:
        raise DataError(
            f"target {target!r} has values {unknown[:5]} not in the classes {names}; "
            "list every class"
        )
    if len(names) < 2:
        raise DataError(f"target {target!r} has one class ({names[0]!r}); a classifier needs two")
    blocks, columns, notes, read_here = [], [], [], []
    for col in features:
        if col in numeric:
            x = frame[col].cast(pl.Float64).to_numpy().astype(np.float64)
            if np.isnan(x).any():
                raise DataError(f"feature {col!r} holds missing values; impute or drop them first")
            if standardize:
                std = x.std()
                x = (x - x.mean()) / (std if std > 0 else 1.0)
            blocks.append(x[:, None])
            columns.append(col)
            continue
        seen = frame[col].cast(pl.Utf8).fill_null(MISSING)
        if col in categories:
            cats = [str(v) for v in categories[col]]
            if not cats or len(set(cats)) != len(cats):
                raise DataError(f"categories of column {col!r} must be distinct and not empty")
        else:
            cats = sorted(seen.unique().to_list())
            if len(cats) > MAX_CATEGORIES:
                raise DataError(
                    f"column {col!r} has {len(cats):,} distinct values, too many to one-hot "
                    f"encode (limit {MAX_CATEGORIES}): it looks like an identifier; drop it, "
                    "or give its categories"
                )
            read_here.append(col)
        position = {c: i for i, c in enumerate(cats)}
        codes = np.array([position.get(v, -1) for v in seen.to_list()])
        onehot = (codes[:, None] == np.arange(len(cats))[None, :]).astype(np.float64)
        blocks.append(onehot)
        columns.extend(f"{col}={c}" for c in cats)
    X = np.hstack(blocks)
    if read_here:
        notes.append("categories read from this table, treated as public: " + ", ".join(read_here))
    y = np.array([index[v] for v in values], dtype=np.int64)
    name = str(data) if isinstance(data, (str, os.PathLike)) else "table"
    return Dataset(X.astype(np.float32), y, names, name, columns, notes)


def load_digits() -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), pixels in [0, 1]."""
    from sklearn.datasets import load_digits as _digits

    bunch = _digits()
    X = (bunch.data / 16.0).astype(np.float32)
    return Dataset(
        X,
        bunch.target.astype(np.int64),
        [str(c) for c in bunch.target_names],
        "digits (scikit-learn)",
    )


def _read_images(folder: Path, classes: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    xs, ys = [], []
    for label, name in enumerate(classes):
        files = (
            sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            if (folder / name).is_dir()
            else []
        )
        for path in files:
            try:
                with Image.open(path) as img:
                    pixels = img.convert("L").resize((size, size))
                    xs.append(np.asarray(pixels, dtype=np.float32).ravel() / 255.0)
            except OSError as err:
                raise DataError(f"cannot read image {str(path)!r}: {err}") from None
            ys.append(label)
    if not xs:
        raise DataError(f"no images in {str(folder)!r}: expected {folder}/<CLASS>/*.png (or .jpg)")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def load_images(folder: str | os.PathLike[str], *, size: int = 32) -> tuple[Dataset, Dataset]:
    """The train and test sets of an image folder laid out like the chest X-ray set.

    ``folder/train/<CLASS>/*`` and ``folder/test/<CLASS>/*`` (e.g. NORMAL and
    PNEUMONIA); the classes are the sorted subfolders of ``train``.

    Raises
    ------
    DataError
        The layout is missing, a class has no image, or an image is unreadable.
    """
    root = Path(folder)
    train, test = root / "train", root / "test"
    if not train.is_dir() or not test.is_dir():
        raise DataError(
            f"{str(root)!r} must hold train/ and test/ folders, each with one subfolder per "
            "class (e.g. train/NORMAL, train/PNEUMONIA), as the chest X-ray set is laid out"
        )
    classes = sorted(p.name for p in train.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"{str(train)!r} needs at least two class folders; found {classes}")
    X, y = _read_images(train, classes, size)
    Xt, yt = _read_images(test, classes, size)
    name = f"images in {root}"
    return Dataset(X, y, classes, name), Dataset(Xt, yt, classes, name)
