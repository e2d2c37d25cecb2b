"""Latent codes: PCA against scikit-learn, the autoencoder learns, the linkage attack on Adult."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from veil.errors import ColumnError, DataError, ParameterError
from veil.learn.latent import LatentEncoder, add_latent_noise
from veil.learn.latent_attack import evaluate_latent

QUASI = ["age", "sex", "race", "marital-status", "education", "native-country"]


@pytest.fixture(scope="module")
def adult(shared_data: Path) -> pl.DataFrame:
    frame = pl.read_csv(shared_data / "adult.csv").head(6000)
    return frame.with_columns(pl.col(pl.String).str.strip_chars())


def _table(n: int = 400, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 100, n),
            "c": rng.choice(["x", "y", "z"], n).tolist(),
            "label": rng.choice(["no", "yes"], n).tolist(),
        }
    )


def test_pca_matches_scikit_learn() -> None:
    from sklearn.decomposition import PCA

    frame = _table()
    enc = LatentEncoder("pca", 3).fit(frame)
    x = enc.encode(frame).astype(np.float64)
    ref = PCA(n_components=3, svd_solver="full").fit(x)
    ours = enc.transform(frame)
    theirs = ref.transform(x)
    signs = np.sign(np.sum(ours * theirs, axis=0))  # components are defined up to sign
    np.testing.assert_allclose(ours * signs, theirs, atol=1e-8)
    np.testing.assert_allclose(enc.explained_variance_ratio_, ref.explained_variance_ratio_)
    assert any("'a'" in note for note in enc.public_)  # bounds read from the data, said so


def test_autoencoder_learns_a_code() -> None:
    frame = _table(600)
    enc = LatentEncoder("autoencoder", 4, epochs=40, hidden=32, seed=1).fit(frame)
    x = enc.encode(frame)
    # Better than predicting every row by the mean (what an untrained decoder converges
    # to): the code carries information. Measured 0.59 of the mean predictor's error.
    assert enc.reconstruction_error_ < 0.75 * float(np.mean((x - x.mean(axis=0)) ** 2))
    assert enc.transform(frame).shape == (600, 4)
    again = LatentEncoder("autoencoder", 4, epochs=40, hidden=32, seed=1).fit(frame)
    np.testing.assert_allclose(again.transform(frame), enc.transform(frame), atol=1e-6)


def test_linkage_attack_on_adult_codes_is_far_above_chance(adult: pl.DataFrame) -> None:
    result = evaluate_latent(
        LatentEncoder("pca", 5), adult, target="salary-class", quasi=QUASI, n_targets=800
    )
    assert result.baseline == pytest.approx(1 / 4200)
    # Measured 0.8% (32x chance) here, 1.7% (95x) on 8,000 rows; demand 20x and 0.5%.
    assert result.reidentification >= max(20 * result.baseline, 0.005)
    assert result.reidentification_top >= result.reidentification
    assert result.identifying and "NOT anonymous" in result.summary
    assert result.to_dict()["linkage_attack"]["times_chance"] >= 20
    # Utility: the codes keep most of the signal of the raw rows.
    assert result.auc_latent >= 0.75 and result.auc_raw - result.auc_latent <= 0.1


def test_noise_on_the_codes_stops_the_attack(adult: pl.DataFrame) -> None:
    noise = {"epsilon": 1.0, "delta": 1e-5, "clip": 2.0}
    result = evaluate_latent(
        LatentEncoder("pca", 5), adult, target="salary-class", quasi=QUASI, n_targets=800,
        noise=noise,
    )  # fmt: skip
    # Each code is (1, 1e-5)-DP given the encoder, so a target's own code is nearest with
    # probability at most e * (chance when the row is replaced) + 1e-5: about 0.3 expected
    # hits among 800 targets. 8 or more (1%) has probability below 1e-9 (Poisson tail).
    assert result.reidentification < 0.01
    assert result.noise is not None and result.noise["epsilon"] == 1.0


def test_latent_noise_scale_and_clipping() -> None:
    z = np.full((4000, 5), 10.0)
    noisy, loss = add_latent_noise(z, epsilon=2.0, delta=1e-6, clip=1.0)
    assert loss.epsilon is not None and loss.epsilon <= 2.0 + 1e-9
    clipped = 10.0 / np.sqrt(500.0)  # each row (norm sqrt(500)) scaled to norm 1
    residual = (noisy - clipped).ravel()
    from veil.dp.mechanisms import GaussianMechanism

    sigma = GaussianMechanism(sensitivity=2.0, epsilon=2.0, delta=1e-6).scale
    # Kolmogorov-Smirnov against N(0, sigma^2): a false failure has probability 1e-6; with
    # 20,000 draws a scale off by 5% is detected.
    assert stats.kstest(residual / sigma, "norm").pvalue > 1e-6
    with pytest.raises(ParameterError, match="clip"):
        add_latent_noise(z, epsilon=1.0, delta=1e-6, clip=0.0)


def test_bad_arguments(adult: pl.DataFrame) -> None:
    with pytest.raises(ParameterError, match="method"):
        LatentEncoder("tsne").fit(_table())
    with pytest.raises(ParameterError, match="exceeds"):
        LatentEncoder("pca", 50).fit(_table())
    with pytest.raises(ColumnError, match="not found"):
        evaluate_latent(LatentEncoder(), adult, target="nope", quasi=["age"])
    with pytest.raises(DataError, match="exactly two classes"):
        evaluate_latent(LatentEncoder(), adult, target="race", quasi=["age"])
    with pytest.raises(ParameterError, match="not fitted"):
        LatentEncoder().project(np.zeros((1, 3)))


def test_cli_latent_evaluate(
    adult: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from veil.cli.app import main

    path = tmp_path / "adult.csv"
    adult.head(3000).write_csv(path)
    args = ["latent", "evaluate", str(path), "--target", "salary-class", "-q", ",".join(QUASI)]
    assert main([*args, "--targets", "300", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["linkage_attack"]["released"] == 2100
    assert data["linkage_attack"]["identifying"] is True
    assert main(["latent", "evaluate", str(path), "--target", "salary-class"]) == 2
    assert "quasi-identifiers" in capsys.readouterr().err
    assert main([*args, "--method", "umap"]) == 2
    assert "method must be one of" in capsys.readouterr().err
