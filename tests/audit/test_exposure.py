"""Canary exposure (Carlini et al. 2019): exact ranks, extrapolation, DP against memorisation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from veil.audit import CanaryExposure, canary_exposure, char_model
from veil.audit.exposure import _line_examples, _Scorer, plant_canaries
from veil.errors import DataError, ParameterError
from veil.learn import DPTrainer, train_non_private

WORDS = (
    "the", "a", "patient", "doctor", "visit", "ward", "clinic", "record", "blood", "test",
    "was", "is", "on", "at", "in", "of", "to", "and", "with", "for", "night", "morning",
    "nurse",
)  # fmt: skip


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, size=rng.integers(4, 9))) for _ in range(150)]


def untrained(model, X, y):
    return model


def test_plant_canaries_inserts_each_once_as_a_line(corpus) -> None:
    rng = np.random.default_rng(1)
    text, canaries, secrets = plant_canaries(
        corpus,
        n_canaries=3,
        template="my pin is {secret}",
        alphabet="0123456789",
        length=6,
        repetitions=2,
        rng=rng,
        decoys=5,
    )
    lines = text.split("\n")[:-1]
    assert len(lines) == 150 + 3 * 2 + 5
    for canary, secret in zip(canaries, secrets, strict=True):
        assert canary == f"my pin is {secret}" and len(secret) == 6 and secret.isdigit()
        assert lines.count(canary) == 2
    assert sum(line.startswith("my pin is ") for line in lines) == 11


def test_one_training_example_per_line() -> None:
    index = {c: i for i, c in enumerate("\nabc")}
    X, y = _line_examples("ab\nc\n", index, context=3)
    assert X.tolist() == [[0, 0, 0, 1, 2], [0, 0, 0, 3, 0]]
    assert y.tolist() == [[1, 2, 0], [3, 0, 0]]  # the line, its newline, newlines after


def test_exact_rank_equals_sorting_every_candidate(corpus) -> None:
    """Two digits (100 candidates): each scored on its own, sorted, compared with the tree."""
    result = canary_exposure(
        corpus, untrained, n_canaries=3, length=2, template="code {secret}.", seed=3
    )
    assert result.method == "exact"
    assert result.log2_space == pytest.approx(math.log2(100))
    # rebuild the same model and score the 100 strings one by one
    rng = np.random.default_rng(3)
    text, canaries, secrets = plant_canaries(
        corpus,
        n_canaries=3,
        template="code {secret}.",
        alphabet="0123456789",
        length=2,
        repetitions=1,
        rng=rng,
    )
    assert canaries == result.canaries
    vocab = sorted(set(text) | set("0123456789") | set("code .") | {"\n"})
    index = {c: i for i, c in enumerate(vocab)}
    torch.manual_seed(int(rng.integers(2**31)))
    scorer = _Scorer(char_model(len(vocab), 8).eval(), index, 8)
    start = scorer.ids(("\n" * 8 + "code ")[-8:])
    every = np.array(
        [scorer.continuation(start, scorer.ids(f"{k:02d}.")[None, :])[0] for k in range(100)]
    )
    for secret, rank, exposure in zip(secrets, result.ranks, result.exposures, strict=True):
        # float32 batches round differently: allow ties within 1e-5 nats either way
        mine = every[int(secret)]
        ahead_surely = int((every > mine + 1e-5).sum())
        ahead_maybe = int((every > mine - 1e-5).sum()) - 1  # minus the secret itself
        assert ahead_maybe - ahead_surely <= 1
        assert 1 + ahead_surely <= rank <= 1 + max(ahead_maybe, ahead_surely)
        assert exposure == pytest.approx(math.log2(100) - math.log2(rank))


def test_extrapolation_agrees_with_the_exact_rank(corpus) -> None:
    common = {"n_canaries": 6, "length": 4, "seed": 5}
    exact = canary_exposure(corpus, untrained, method="exact", **common)
    fitted = canary_exposure(corpus, untrained, method="extrapolate", n_samples=5000, **common)
    assert fitted.method == "extrapolated"
    # an untrained model's perplexities are close to skew-normal: within half a bit
    np.testing.assert_allclose(fitted.exposures, exact.exposures, atol=0.5)


def test_memorised_without_dp_near_chance_with_dp_sgd(corpus) -> None:
    """Six-digit PINs (|R| = 10^6, 19.9 bits), 8 canaries each inserted once among 100
    decoy PINs (other people's, not measured).

    Non-private training to convergence memorises the canaries: each must rank
    in the top 2^-10 of the space (exposure > half of log2 |R|; measured 12.8-17.6
    bits, mean 14.8). DP-SGD at epsilon = 8 (per line, so per canary): a model that
    learned nothing of the canaries has independent exposures with
    P[E >= t] = 2^-t, their sum Gamma(8, 1/ln 2) distributed, and a mean above
    5.26 bits with probability below 1e-6; that is the threshold. (DP at
    epsilon = 8 alone allows P[E >= t] <= e^8 2^-t + delta, far more: the test
    checks that DP-SGD is near chance in practice, as Carlini et al. found;
    measured mean 1.5-2.1 bits over six runs.)
    """
    common = {"n_canaries": 8, "decoys": 100, "length": 6, "seed": 1}
    exposed = canary_exposure(
        corpus,
        lambda m, X, y: train_non_private(
            m, X, y, epochs=150, batch_size=32, learning_rate=3e-3, seed=0
        ),
        **common,
    )
    assert exposed.method == "exact"
    assert min(exposed.exposures) > exposed.log2_space / 2
    results = []

    def dp_sgd(model, X, y):
        trainer = DPTrainer(
            epsilon=8.0, delta=1e-5, max_grad_norm=1.0, batch_size=64, epochs=20, learning_rate=3e-3
        )
        results.append(trainer.fit(model, X, y))
        return results[-1]

    private = canary_exposure(corpus, dp_sgd, epsilon=8.0, **common)
    assert results[0].epsilon <= 8.0
    chance_limit = stats.gamma.isf(1e-6, 8) / math.log(2) / 8
    assert chance_limit == pytest.approx(5.26, abs=0.01)
    assert private.mean_exposure < chance_limit
    assert private.mean_exposure < exposed.mean_exposure - 5


def test_result_serialises(corpus) -> None:
    result = canary_exposure(corpus, untrained, n_canaries=2, length=3, seed=0)
    assert isinstance(result, CanaryExposure)
    d = json.loads(result.to_json())
    assert d["attack"] == "canary_exposure" and len(d["exposures"]) == 2
    assert d["max_exposure"] <= d["log2_space"] + 1e-9
    assert result.to_document().title == "Privacy audit: canary exposure"


def test_bad_input_is_refused(corpus) -> None:
    with pytest.raises(DataError, match="corpus is empty"):
        canary_exposure("", untrained)
    with pytest.raises(ParameterError, match="template must hold"):
        canary_exposure(corpus, untrained, template="my pin")
    with pytest.raises(ParameterError, match="exceeds the 100 possible"):
        canary_exposure(corpus, untrained, length=2, n_canaries=50, decoys=60)
    with pytest.raises(ParameterError, match="method must be"):
        canary_exposure(corpus, untrained, method="sampling")
    with pytest.raises(ParameterError, match="n_canaries must be"):
        canary_exposure(corpus, untrained, n_canaries=0)
    with pytest.raises(DataError, match="return the trained torch module"):
        canary_exposure(corpus, lambda m, X, y: None, length=2)
