"""AIM: the adaptive and iterative mechanism for workload-aware synthetic data.

McKenna, Mullins, Sheldon and Miklau 2022, "AIM: an adaptive and iterative
mechanism for differentially private synthetic data". Given a workload of
marginals the data will be queried on (by default every 2-way marginal; with
a ``target``, also every 3-way marginal holding it, so that a model trained
on the synthetic data keeps the target's relations), AIM:

1. measures every 1-way marginal and fits a graphical model to them;
2. repeats, until the budget is spent: choose, by the exponential mechanism,
   the candidate marginal (any subset of a workload marginal) that the
   current model answers worst, scored ``w_r (||M_r(D) - M̂_r||_1 -
   sqrt(2/pi) sigma n_r)`` (bias-corrected for the noise it will get, weighted
   by its overlap with the workload; sensitivity max w_r), among those that
   keep the model under a size that grows with the budget spent; measure it;
   refit the model (warm-started);
3. anneals: when a measurement barely changes the model's answer, the next
   ones get half the noise and twice the selection budget;
4. gives the last round whatever budget is left, exactly.

Each round's rho is ``1/(2 sigma^2) + epsilon^2/8``; the sum is the fit's rho.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.errors import ColumnError, ParameterError
from veil.synth.base import Synthesizer, register
from veil.synth.graphical import GraphicalModel, domain, estimate, mbi
from veil.synth.measurements import Meter, marginal_counts

__all__ = ["AIM"]


def default_workload(columns: Sequence[str], target: str | None) -> list[tuple[str, ...]]:
    """Every 2-way marginal, and with a ``target`` every 3-way marginal that holds it."""
    pairs = list(itertools.combinations(columns, 2))
    if target is None:
        return pairs
    others = [c for c in columns if c != target]
    return pairs + [(target, a, b) for a, b in itertools.combinations(others, 2)]


def _candidates(workload: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], float]:
    """Every subset of a workload marginal, weighted by its overlap with the workload."""
    closure: set[tuple[str, ...]] = set()
    for clique in workload:
        for k in range(1, len(clique) + 1):
            closure.update(itertools.combinations(clique, k))
    return {r: float(sum(len(set(r) & set(w)) for w in workload)) for r in sorted(closure, key=len)}


@register
class AIM(Synthesizer):
    """AIM synthesizer (McKenna et al. 2022) on private-pgm and veil's mechanisms.

    Parameters
    ----------
    workload
        The marginals (tuples of columns) the synthetic data should answer
        well; by default every 2-way marginal, plus the 3-way ones holding
        ``target``.
    target
        A column whose relations matter most (e.g. the label of a model to be
        trained on the synthetic data).
    rounds
        Planned number of rounds T, which sets the starting noise (default 16
        times the number of columns); fewer rounds means more budget each.
    max_model_size
        Largest graphical model in megabytes (private-pgm's junction tree).
    iters, final_iters
        Mirror-descent iterations after each round, and for the final model.
    **kwargs
        The parameters of :class:`~veil.synth.base.Synthesizer`.
    """

    name = "aim"

    def __init__(
        self,
        *,
        workload: Sequence[Sequence[str]] | None = None,
        target: str | None = None,
        rounds: int | None = None,
        max_model_size: float = 80.0,
        iters: int = 1000,
        final_iters: int = 2000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workload = workload
        self.target = target
        self.rounds = rounds
        self.max_model_size = max_model_size
        self.iters = iters
        self.final_iters = final_iters

    def _noise_scale(self, columns: int, rho: float) -> float:
        rounds = self.rounds or 16 * columns
        return math.sqrt(rounds / (2.0 * 0.9 * rho))

    def _workload(self, names: list[str]) -> list[tuple[str, ...]]:
        if self.target is not None and self.target not in names:
            raise ColumnError(f"target {self.target!r} is not a column; columns are: {names}")
        if self.workload is None:
            work = default_workload(names, self.target)
        else:
            work = [tuple(dict.fromkeys(w)) for w in self.workload]
            bad = sorted({c for w in work for c in w if c not in names})
            if bad:
                raise ColumnError(f"the workload names columns not in the table: {bad}")
        return work or [(c,) for c in names]

    def _fit_model(
        self, codes: dict[str, np.ndarray], sizes: dict[str, int], meter: Meter
    ) -> GraphicalModel:
        names = list(sizes)
        candidates = _candidates(self._workload(names))
        rho = meter.left
        rounds = self.rounds if self.rounds is not None else 16 * len(names)
        if isinstance(rounds, bool) or int(rounds) < 1:
            raise ParameterError(f"rounds must be a positive integer; got {self.rounds!r}")
        sigma = math.sqrt(int(rounds) / (2.0 * 0.9 * rho))
        epsilon = math.sqrt(8.0 * 0.1 * rho / int(rounds))
        start = meter.spent
        for c in names:
            meter.measure(codes, (c,), sizes, 1.0 / (2.0 * sigma**2))
        model = estimate(meter.marginals, sizes, iters=self.iters)
        dom = domain(sizes)
        jt = mbi().junction_tree
        answers = {r: marginal_counts(codes, r, sizes) for r in candidates}
        self.selected_: list[tuple[str, ...]] = []
        bar = _Progress(self.progress)
        rng = np.random.default_rng(self.seed)
        final = False
        while not final:
            used = meter.spent - start
            left = rho - used
            bar.update(used / rho)
            if left <= 2.0 * (1.0 / (2.0 * sigma**2) + epsilon**2 / 8.0):
                # Last round: split what is left as the planned shares (alpha = 0.9).
                sigma = math.sqrt(1.0 / (2.0 * 0.9 * left))
                epsilon = math.sqrt(8.0 * 0.1 * left)
                final = True
            limit = self.max_model_size * max(used, 1e-12) / rho
            cliques = model.cliques
            small = [
                r
                for r in candidates
                if any(set(r) <= set(c) for c in cliques)
                or jt.hypothetical_model_size(dom, [*cliques, r]) <= limit
            ]
            weights = np.array([candidates[r] for r in small])
            bias = math.sqrt(2.0 / math.pi) * sigma
            estimates = _model_answers(model, small, sizes, rng)
            scores = np.array(
                [
                    w * (np.abs(answers[r] - estimates[r]).sum() - bias * answers[r].size)
                    for r, w in zip(small, weights, strict=True)
                ]
            )
            rho_select = epsilon**2 / 8.0
            rho_measure = 1.0 / (2.0 * sigma**2)
            if final:  # exact remainder, so the fit spends its whole budget
                rho_measure = max(rho - (meter.spent - start) - rho_select, 1e-300)
            pick = small[meter.select(scores, rho_select, float(weights.max()))]
            before = estimates[pick]
            meter.measure(codes, pick, sizes, rho_measure)
            self.selected_.append(pick)
            model = estimate(meter.marginals, sizes, iters=self.iters, warm_start=model)
            after = model.project(pick)
            if not final and np.abs(after - before).sum() <= bias * before.size:
                sigma, epsilon = sigma / 2.0, epsilon * 2.0
        bar.update(1.0)
        bar.close()
        return estimate(meter.marginals, sizes, iters=self.final_iters, warm_start=model)


def _model_answers(
    model: GraphicalModel,
    cliques: Sequence[tuple[str, ...]],
    sizes: dict[str, int],
    rng: np.random.Generator,
) -> dict[tuple[str, ...], np.ndarray]:
    """The model's counts on each clique: exact within its cliques, else from a sample.

    private-pgm's exact answer for a clique outside the model compiles a JAX
    program per clique (half a second each); one sample of the model's size
    answers them all within its sampling error, far below the noise of a
    measurement. Reads only the model: post-processing.
    """
    out = {r: model.project(r) for r in cliques if model.supports(r)}
    rest = [r for r in cliques if r not in out]
    if rest:
        rows = max(1, round(model.total))
        sample = model.sample_codes(rows, rng)
        for r in rest:
            out[r] = marginal_counts(sample, r, sizes).astype(float) * (model.total / rows)
    return out


class _Progress:
    """A rich progress bar of the budget spent, when asked for; silent otherwise."""

    def __init__(self, show: bool) -> None:
        self.progress: Any = None
        if show:
            from rich.console import Console
            from rich.progress import Progress

            # On stderr, so that the command's own output (JSON, tables) stays clean.
            self.progress = Progress(console=Console(stderr=True), transient=True)
            self.progress.start()
            self.task = self.progress.add_task("AIM: budget spent", total=1.0)

    def update(self, done: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(1.0, done))

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
