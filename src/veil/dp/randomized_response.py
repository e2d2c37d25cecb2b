"""Randomized response: local differential privacy for survey answers, and its estimators.

Each respondent randomizes their own answer before it leaves them, so no one,
not even the curator, sees the truth (Warner 1965). With k categories,
k-ary randomized response (Kairouz, Oh and Viswanath 2016; Wang et al. 2017)
keeps the true answer with probability p = e^eps / (e^eps + k - 1) and
otherwise reports one of the k - 1 other categories uniformly, which is
eps-locally-DP since p / q = e^eps with q = (1 - p) / (k - 1).

The observed share lambda_j of category j has expectation
q + (p - q) pi_j, so pi_hat_j = (lambda_j - q) / (p - q) is unbiased for the
true share pi_j, with variance lambda_j (1 - lambda_j) / (n (p - q)^2).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from veil.errors import DataError, ParameterError
from veil.privacy import PrivacyLoss, check_epsilon
from veil.randomness import bernoulli, bernoulli_probability, uniform_below
from veil.report import BarChart, Document, Paragraph, Result, Section, Table

__all__ = ["FrequencyEstimate", "RandomizedResponse"]


@dataclass
class FrequencyEstimate(Result):
    """Unbiased estimates of the true category shares from randomized answers."""

    categories: list[Any]
    shares: list[float]
    half_widths: list[float]
    responses: int
    alpha: float
    epsilon: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": self.categories,
            "shares": self.shares,
            "ci_low": [s - h for s, h in zip(self.shares, self.half_widths, strict=False)],
            "ci_high": [s + h for s, h in zip(self.shares, self.half_widths, strict=False)],
            "responses": self.responses,
            "confidence": 1.0 - self.alpha,
            "epsilon": self.epsilon,
        }

    def to_document(self) -> Document:
        labels = [str(c) for c in self.categories]
        rows = [
            [label, s, s - h, s + h]
            for label, s, h in zip(labels, self.shares, self.half_widths, strict=False)
        ]
        conf = f"{1 - self.alpha:.0%}"
        return Document(
            title="Randomized response: estimated shares",
            subtitle=f"{self.responses:,} answers, local epsilon = {self.epsilon:g}",
            sections=[
                Section(
                    "Estimates",
                    [
                        Table(["category", "share", f"{conf} low", f"{conf} high"], rows),
                        BarChart(labels, self.shares, "Estimated shares", errors=self.half_widths),
                        Paragraph(
                            "Each share is unbiased; the interval is the normal approximation."
                        ),
                    ],
                )
            ],
        )


class RandomizedResponse:
    """k-ary randomized response over known ``categories``; eps-locally-DP.

    Parameters
    ----------
    categories
        The possible answers (two or more, distinct). ``[False, True]`` gives
        Warner's binary randomized response.
    epsilon
        The local privacy loss of each respondent's answer.

    Attributes
    ----------
    p_keep : float
        Probability of reporting the true answer (exactly the rate the sampler realises).
    p_other : float
        Probability of reporting each particular other category.
    """

    def __init__(self, categories: Sequence[Any], *, epsilon: float) -> None:
        cats = list(categories)
        if len(cats) < 2:
            raise ParameterError(f"randomized response needs >= 2 categories; got {cats!r}")
        if len(set(cats)) != len(cats):
            raise ParameterError(f"categories must be distinct; got {cats!r}")
        self.categories = cats
        self.epsilon = check_epsilon(epsilon)
        k = len(cats)
        # p / q = p (k - 1) / (1 - p) must not exceed e^eps. Start from a value just
        # below e^eps (libm's exp is within one ulp), solve exactly with fractions,
        # and let the sampler round p down to its 64-bit grid: both only lower p.
        e_low = Fraction(math.exp(self.epsilon) * (1.0 - 4e-16))
        exact = bernoulli_probability(e_low / (e_low + k - 1))
        self._p_target = exact
        self.p_keep = float(exact)
        self.p_other = float((1 - exact) / (k - 1))
        self.privacy_loss = PrivacyLoss.pure(self.epsilon)

    @classmethod
    def binary(cls, *, epsilon: float) -> RandomizedResponse:
        """Warner's (1965) randomized response on yes/no answers (False/True)."""
        return cls([False, True], epsilon=epsilon)

    def _codes(self, values: Any) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.categories)}
        arr = values.to_list() if hasattr(values, "to_list") else list(values)
        try:
            return np.fromiter((index[v] for v in arr), dtype=np.int64, count=len(arr))
        except KeyError as err:
            raise DataError(
                f"answer {err.args[0]!r} is not one of the categories {self.categories!r}"
            ) from None
        except TypeError as err:  # unhashable answers
            raise DataError(f"answers must be category values: {err}") from None

    def randomize_codes(self, codes: np.ndarray) -> np.ndarray:
        """Randomize category indices (0..k-1) with the exact CSPRNG sampler."""
        codes = np.asarray(codes, dtype=np.int64)
        n, k = codes.size, len(self.categories)
        keep = bernoulli(self._p_target, n)
        other = uniform_below(k - 1, n)
        other += other >= codes  # skip the true category: uniform over the k - 1 others
        return np.where(keep, codes, other)

    def __call__(self, values: Any) -> list[Any]:
        """Each answer randomized independently; answers come back as categories."""
        out = self.randomize_codes(self._codes(values))
        return [self.categories[i] for i in out]

    def accuracy(self, responses: int, alpha: float) -> float:
        """Largest half-width of the (1 - alpha) interval of a share, for ``responses`` answers.

        Known before any answer is collected: the variance is largest at lambda = 1/2.
        """
        if responses < 1:
            raise ParameterError(f"responses must be >= 1; got {responses}")
        z = statistics.NormalDist().inv_cdf(1.0 - alpha / 2.0)
        return z * 0.5 / (math.sqrt(responses) * (self.p_keep - self.p_other))

    def estimate(self, responses: Any, *, alpha: float = 0.05) -> FrequencyEstimate:
        """Unbiased share of each category among the true answers, with intervals.

        Parameters
        ----------
        responses
            Randomized answers (categories), as returned by calling this object.
        alpha
            1 - confidence level of the intervals.
        """
        codes = self._codes(responses)
        n = codes.size
        if n == 0:
            raise DataError("no responses to estimate from")
        if not 0.0 < alpha < 1.0:
            raise ParameterError(f"alpha must be in (0, 1); got {alpha!r}")
        lam = np.bincount(codes, minlength=len(self.categories)) / n
        gap = self.p_keep - self.p_other
        shares = (lam - self.p_other) / gap
        z = statistics.NormalDist().inv_cdf(1.0 - alpha / 2.0)
        half = z * np.sqrt(lam * (1.0 - lam) / n) / gap
        return FrequencyEstimate(
            categories=list(self.categories),
            shares=[float(s) for s in shares],
            half_widths=[float(h) for h in half],
            responses=n,
            alpha=alpha,
            epsilon=self.epsilon,
        )
