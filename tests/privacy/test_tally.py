"""A LossTally is the sequence it stands for: same length, items, and composition."""

from __future__ import annotations

import math
import random

import pytest

from veil.privacy import GaussianEvent, PrivacyLoss, compose
from veil.privacy.tally import LossTally, counted, repeated_sum


def _losses(rng: random.Random) -> list[tuple[PrivacyLoss, int]]:
    kinds = [
        PrivacyLoss(epsilon=rng.uniform(1e-3, 0.5)),
        PrivacyLoss(epsilon=rng.uniform(1e-3, 0.5), delta=rng.uniform(0, 1e-7)),
        PrivacyLoss.from_event(GaussianEvent(noise_multiplier=rng.uniform(5, 50)), delta=1e-9),
    ]
    return [(k, rng.randrange(0, 40)) for k in kinds]


@pytest.mark.parametrize("seed", range(20))
def test_tally_composes_exactly_as_the_expanded_sequence(seed: int) -> None:
    rng = random.Random(seed)
    groups = _losses(rng)
    tally = LossTally(groups)
    expanded = [loss for loss, n in groups for _ in range(n)]
    assert len(tally) == len(expanded)
    assert list(tally) == expanded
    if expanded:
        assert tally[0] == expanded[0] and tally[-1] == expanded[-1]
        assert tally[len(expanded) // 2] == expanded[len(expanded) // 2]
    for names in (("basic",), ("zcdp",), ("basic", "zcdp")):
        fast = compose(tally, 1e-5, accountants=names)
        slow = compose(expanded, 1e-5, accountants=names)
        assert fast.by_accountant == slow.by_accountant  # bit for bit, not approximately
    extra = PrivacyLoss(epsilon=0.1)
    assert list(tally.plus(extra, 3)) == [*expanded, extra, extra, extra]


def test_repeated_sum_is_fsum_of_the_copies() -> None:
    rng = random.Random(7)
    for _ in range(200):
        terms = [
            (rng.uniform(-1, 1) * 10 ** rng.randint(-8, 3), rng.randrange(0, 50)) for _ in range(5)
        ]
        assert repeated_sum(terms) == math.fsum(v for v, n in terms for _ in range(n))
    assert repeated_sum([]) == 0.0


def test_tally_rejects_bad_counts_and_indexes() -> None:
    loss = PrivacyLoss(epsilon=0.1)
    with pytest.raises(ValueError, match="count"):
        LossTally([(loss, -1)])
    with pytest.raises(ValueError, match="count"):
        LossTally([(loss, 1.5)])  # type: ignore[list-item]
    tally = LossTally([(loss, 2), (loss, 0)])
    assert tally.groups == ((loss, 2),)
    assert counted([loss]) == [(loss, 1)]
    with pytest.raises(IndexError):
        tally[2]
