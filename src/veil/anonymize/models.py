"""Privacy models as objects: each tests every equivalence class at once, and checks a table.

A model is given to :class:`~veil.anonymize.Anonymizer` in a list; a table
satisfies the list when every kept equivalence class satisfies every model.
Each model does two things:

* :meth:`PrivacyModel.passes` tests all classes of a candidate generalization
  at once, vectorized over :class:`~veil.anonymize.evaluation.ClassStats`
  (what the lattice search and Mondrian call thousands of times);
* :meth:`PrivacyModel.measure` measures a finished table with
  :mod:`veil.anonymity` (pyCANON's definitions), which is how every output is
  verified before it is returned.

``monotone`` marks the models for which a node failing within the suppression
limit implies every more specific node fails too (k-anonymity and distinct
l-diversity: merging a failing class into a passing one gives a passing
class). The search prunes only with those (Kohlmayer et al. 2012 make the
same distinction in Flash); the others are searched with bounds on the loss.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from veil.errors import ParameterError

if TYPE_CHECKING:
    from veil.anonymize.evaluation import ClassStats, SensitiveStats

__all__ = [
    "AlphaKAnonymity",
    "BetaLikeness",
    "DeltaDisclosure",
    "EntropyLDiversity",
    "KAnonymity",
    "LDiversity",
    "PrivacyModel",
    "RecursiveCLDiversity",
    "TCloseness",
]

# Slack for comparing floating-point measures with their thresholds.
TOLERANCE = 1e-9


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _positive_float(value: Any, name: str, upper: float | None = None) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number; got {value!r}") from None
    if not number > 0 or (upper is not None and number > upper):
        bound = f" and <= {upper}" if upper is not None else ""
        raise ParameterError(f"{name} must be > 0{bound}; got {value!r}")
    return number


class PrivacyModel(ABC):
    """A privacy model every equivalence class of the released table must satisfy."""

    monotone: bool = False
    needs_sensitive: bool = True
    # Whether a class's verdict can change when other classes are suppressed (models that
    # compare a class with the kept table); the others are tested once, not to a fixed point.
    depends_on_kept: bool = True

    def monotone_parts(self) -> list[PrivacyModel]:
        """Monotone models this one implies (used for pruning); itself when it is monotone."""
        return [self] if self.monotone else []

    @abstractmethod
    def passes(self, stats: ClassStats) -> np.ndarray:
        """Boolean per class: does the class satisfy the model?"""

    @abstractmethod
    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        """Measure a finished table with :mod:`veil.anonymity`: (value reached, satisfied?)."""

    @abstractmethod
    def describe(self) -> str:
        """Short human-readable name with parameters, e.g. ``k-anonymity (k=10)``."""

    @abstractmethod
    def requirement(self) -> str:
        """What :meth:`measure` must give, e.g. ``>= 10``."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, *vars(self).values()))


def _each_sensitive(stats: ClassStats, test: Any) -> np.ndarray:
    ok = np.ones(stats.sizes.shape[0], dtype=bool)
    for sa in stats.sensitive:
        ok &= test(sa)
    return ok


class KAnonymity(PrivacyModel):
    """Every class holds at least ``k`` rows (Samarati 2001; Sweeney 2002)."""

    monotone = True
    needs_sensitive = False

    def __init__(self, k: int) -> None:
        self.k = _positive_int(k, "k")

    def passes(self, stats: ClassStats) -> np.ndarray:
        return stats.sizes >= self.k

    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        from veil.anonymity import k_anonymity

        k = k_anonymity(data, quasi)
        return k, k >= self.k

    def requirement(self) -> str:
        return f">= {self.k}"

    def describe(self) -> str:
        return f"k-anonymity (k={self.k})"


class LDiversity(PrivacyModel):
    """Every class holds at least ``l`` distinct sensitive values (Machanavajjhala et al. 2007)."""

    monotone = True

    def __init__(self, l: int) -> None:  # noqa: E741  the field's own name
        self.l = _positive_int(l, "l")

    def passes(self, stats: ClassStats) -> np.ndarray:
        return _each_sensitive(stats, lambda sa: sa.distinct() >= self.l)

    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        from veil.anonymity import l_diversity

        value = l_diversity(data, quasi, sensitive)
        return value, value >= self.l

    def requirement(self) -> str:
        return f">= {self.l}"

    def describe(self) -> str:
        return f"l-diversity (l={self.l})"


class EntropyLDiversity(PrivacyModel):
    """The entropy of every class's sensitive values is at least ``log(l)``.

    Following pyCANON, the class's ``l`` is ``floor(e ** entropy)``; veil
    requires both ``floor(e ** H)`` and ``floor(exp(H))`` to reach ``l`` so
    that either rounding of the same formula confirms the result.
    """

    def __init__(self, l: int) -> None:  # noqa: E741
        self.l = _positive_int(l, "l")

    def passes(self, stats: ClassStats) -> np.ndarray:
        def test(sa: SensitiveStats) -> np.ndarray:
            h = sa.entropy()
            return (np.floor(np.e**h) >= self.l) & (np.floor(np.exp(h)) >= self.l)

        return _each_sensitive(stats, test)

    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        from veil.anonymity import entropy_l_diversity

        value = entropy_l_diversity(data, quasi, sensitive)
        return value, value >= self.l

    def requirement(self) -> str:
        return f">= {self.l}"

    def describe(self) -> str:
        return f"entropy l-diversity (l={self.l})"


class RecursiveCLDiversity(PrivacyModel):
    """In every class, ``r_1 < c (r_l + ... + r_m)`` for the sorted value counts ``r``.

    Machanavajjhala et al. 2007: the most frequent sensitive value does not
    dominate the tail that starts at the ``l``-th most frequent one.
    """

    def __init__(self, c: float, l: int) -> None:  # noqa: E741
        self.c = _positive_float(c, "c")
        self.l = _positive_int(l, "l", minimum=2)

    def passes(self, stats: ClassStats) -> np.ndarray:
        def test(sa: SensitiveStats) -> np.ndarray:
            first, tail = sa.head_and_tail(self.l)
            return first < self.c * tail

        return _each_sensitive(stats, test)

    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        from veil.anonymity import l_diversity
        from veil.anonymize.verification import recursive_c_ratio

        ratio = recursive_c_ratio(data, quasi, sensitive, self.l)
        distinct = l_diversity(data, quasi, sensitive)
        return (ratio, distinct), distinct >= self.l and ratio < self.c

    def requirement(self) -> str:
        return f"r1/tail < {self.c:g}, distinct >= {self.l}"

    def describe(self) -> str:
        return f"recursive (c, l)-diversity (c={self.c:g}, l={self.l})"


class TCloseness(PrivacyModel):
    """Every class's sensitive distribution is within ``t`` of the table's (Li et al. 2007).

    The distance is the earth mover's distance: ordered for numeric
    attributes, equal-distance (half the L1 distance) for categories, as in pyCANON.
    """

    def __init__(self, t: float) -> None:
        self.t = _positive_float(t, "t", upper=1.0)

    def passes(self, stats: ClassStats) -> np.ndarray:
        return _each_sensitive(stats, lambda sa: sa.emd() <= self.t + TOLERANCE)

    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        from veil.anonymity import t_closeness

        value = t_closeness(data, quasi, sensitive)
        return value, value <= self.t + TOLERANCE

    def requirement(self) -> str:
        return f"<= {self.t:g}"

    def describe(self) -> str:
        return f"t-closeness (t={self.t:g})"


class AlphaKAnonymity(PrivacyModel):
    """Classes of at least ``k`` rows where no sensitive value exceeds a share ``alpha``.

    Wong et al. 2006, (alpha, k)-anonymity.
    """

    def __init__(self, alpha: float, k: int) -> None:
        self.alpha = _positive_float(alpha, "alpha", upper=1.0)
        self.k = _positive_int(k, "k")

    def monotone_parts(self) -> list[PrivacyModel]:
        return [KAnonymity(self.k)]

    def passes(self, stats: ClassStats) -> np.ndarray:
        share = _each_sensitive(stats, lambda sa: sa.top_share() <= self.alpha + TOLERANCE)
        return share & (stats.sizes >= self.k)

    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        from veil.anonymity import alpha_k_anonymity

        alpha, k = alpha_k_anonymity(data, quasi, sensitive)
        return (alpha, k), alpha <= self.alpha + TOLERANCE and k >= self.k

    def requirement(self) -> str:
        return f"alpha <= {self.alpha:g}, k >= {self.k}"

    def describe(self) -> str:
        return f"(alpha, k)-anonymity (alpha={self.alpha:g}, k={self.k})"


class BetaLikeness(PrivacyModel):
    """No sensitive value is more than ``beta`` (relatively) more frequent in a class.

    Cao and Karras 2012: ``(q - p) / p <= beta`` for each value with table
    share ``p`` and class share ``q``; ``enhanced=True`` bounds it by
    ``min(beta, -ln p)`` instead, which protects rare values more.
    """

    def __init__(self, beta: float, *, enhanced: bool = False) -> None:
        self.beta = _positive_float(beta, "beta")
        self.enhanced = bool(enhanced)

    def passes(self, stats: ClassStats) -> np.ndarray:
        def test(sa: SensitiveStats) -> np.ndarray:
            p, q = sa.pair_shares()
            gain = (q - p) / p
            bound = np.minimum(self.beta, -np.log(p)) if self.enhanced else self.beta
            bad = gain > bound + TOLERANCE
            return np.bincount(sa.pair_class[bad], minlength=stats.sizes.shape[0]) == 0

        return _each_sensitive(stats, test)

    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        from veil.anonymity import basic_beta_likeness, enhanced_beta_likeness

        fn = enhanced_beta_likeness if self.enhanced else basic_beta_likeness
        value = fn(data, quasi, sensitive)
        return value, value <= self.beta + TOLERANCE

    def requirement(self) -> str:
        return f"<= {self.beta:g}"

    def describe(self) -> str:
        kind = "enhanced" if self.enhanced else "basic"
        return f"{kind} beta-likeness (beta={self.beta:g})"


class DeltaDisclosure(PrivacyModel):
    """``|ln(q / p)| <= delta`` for each sensitive value present in a class.

    Brickell and Shmatikov 2008, delta-disclosure privacy.
    """

    def __init__(self, delta: float) -> None:
        self.delta = _positive_float(delta, "delta")

    def passes(self, stats: ClassStats) -> np.ndarray:
        def test(sa: SensitiveStats) -> np.ndarray:
            p, q = sa.pair_shares()
            bad = np.abs(np.log(q / p)) > self.delta + TOLERANCE
            return np.bincount(sa.pair_class[bad], minlength=stats.sizes.shape[0]) == 0

        return _each_sensitive(stats, test)

    def measure(self, data: Any, quasi: list[str], sensitive: list[str]) -> tuple[Any, bool]:
        from veil.anonymity import delta_disclosure

        value = delta_disclosure(data, quasi, sensitive)
        return value, value <= self.delta + TOLERANCE

    def requirement(self) -> str:
        return f"<= {self.delta:g}"

    def describe(self) -> str:
        return f"delta-disclosure privacy (delta={self.delta:g})"
