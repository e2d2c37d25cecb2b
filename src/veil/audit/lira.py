"""The likelihood-ratio membership attack with shadow models (LiRA, Carlini et al. 2022).

"Membership inference attacks from first principles": how well a model fits
an example depends on the example (an outlier is hard to fit, a duplicate is
easy), so a global loss threshold confuses hard members with easy
non-members. LiRA calibrates per example. It trains shadow models on random
halves of the data, so that every example is IN (trained on) for half of them
and OUT for the other half, and fits a Gaussian to the example's
logit-scaled confidence phi = log(p / (1 - p)) (p the probability of the true
label; the logit makes the distribution close to normal) in each case:

- online: the score is the log-likelihood ratio
  log N(phi; mu_in, sigma_in^2) - log N(phi; mu_out, sigma_out^2);
- offline (only OUT models needed, so shadows can be trained before the
  target exists): the score is the one-sided z = (phi - mu_out) / sigma_out.

With few shadows (fewer than 64 in the paper) per-example variances are noisy,
so one variance pooled over all examples is used ("global variance"). One
query per example is made (the paper's augmented queries are left out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from veil.audit.bounds import check_confidence, check_delta
from veil.audit.membership import DEFAULT_FPRS, membership_audit
from veil.audit.one_run import _rows
from veil.audit.results import MembershipAudit
from veil.errors import DataError, ParameterError

__all__ = ["lira_attack", "lira_scores", "logit_confidence"]

_MIN_STD = 1e-6


def logit_confidence(logits: Any, labels: Any) -> np.ndarray:
    """The logit-scaled confidence phi = log(p_y / (1 - p_y)) of each example's true label.

    Computed from the model's logits without forming probabilities, so it stays
    exact where p_y rounds to 1: phi = z_y - log(sum over j != y of exp(z_j)).
    A single logit column (binary models) is the logit of class 1.

    Parameters
    ----------
    logits
        Array (n, classes) of unnormalised log-probabilities, or (n,) for a
        binary model.
    labels
        Integer class of each example.
    """
    z = np.asarray(logits, dtype=float)
    y = np.asarray(labels).astype(int).reshape(-1)
    if z.ndim == 2 and z.shape[1] == 1:
        z = z[:, 0]
    if z.ndim == 1:
        if z.shape[0] != y.shape[0]:
            raise DataError(f"{z.shape[0]} logits for {y.shape[0]} labels")
        return np.where(y == 1, z, -z)
    if z.ndim != 2 or z.shape[0] != y.shape[0]:
        raise DataError(f"logits must be (n, classes) with n = {y.shape[0]}; got {z.shape}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise DataError(f"labels must be classes 0..{z.shape[1] - 1}")
    rows = np.arange(y.size)
    true = z[rows, y]
    others = z.copy()
    others[rows, y] = -np.inf
    peak = others.max(axis=1, keepdims=True)
    rest = peak[:, 0] + np.log(np.exp(others - peak).sum(axis=1))
    return true - rest


def _membership_matrix(n_shadows: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n_shadows, n) bool: each example IN for exactly half the shadows, at random."""
    order = rng.random((n_shadows, n)).argsort(axis=0)
    return order < n_shadows // 2


def lira_scores(
    shadow_scores: np.ndarray,
    shadow_in: np.ndarray,
    target_scores: np.ndarray,
    *,
    online: bool = True,
    global_variance: bool = True,
) -> np.ndarray:
    """Per-example LiRA scores from the shadows' and the target's confidences.

    Parameters
    ----------
    shadow_scores
        (n_shadows, n): each shadow model's score (e.g. :func:`logit_confidence`)
        on every example.
    shadow_in
        (n_shadows, n) bool: whether the shadow trained on the example.
    target_scores
        (n,): the target model's score on every example.
    online, global_variance
        See the module docstring.

    Returns
    -------
    numpy.ndarray
        (n,) membership scores, higher = more likely a member.
    """
    s = np.asarray(shadow_scores, dtype=float)
    inside = np.asarray(shadow_in, dtype=bool)
    out = ~inside
    n_out = out.sum(axis=0)
    n_in = inside.sum(axis=0)
    if (n_out == 0).any() or (online and (n_in == 0).any()):
        raise DataError("every example needs OUT shadows (and IN shadows for the online attack)")
    mu_out = np.where(out, s, 0.0).sum(axis=0) / n_out
    var_out = np.where(out, (s - mu_out) ** 2, 0.0).sum(axis=0) / np.maximum(n_out - 1, 1)
    if global_variance:
        var_out = np.full_like(var_out, var_out.mean())
    sd_out = np.maximum(np.sqrt(var_out), _MIN_STD)
    if not online:
        return (target_scores - mu_out) / sd_out
    mu_in = np.where(inside, s, 0.0).sum(axis=0) / n_in
    var_in = np.where(inside, (s - mu_in) ** 2, 0.0).sum(axis=0) / np.maximum(n_in - 1, 1)
    if global_variance:
        var_in = np.full_like(var_in, var_in.mean())
    sd_in = np.maximum(np.sqrt(var_in), _MIN_STD)

    def log_normal(x: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
        return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd)

    return log_normal(target_scores, mu_in, sd_in) - log_normal(target_scores, mu_out, sd_out)


def lira_attack(
    train_fn: Callable[[Any, Any], Any],
    score_fn: Callable[[Any, Any, Any], Any],
    X: Any,
    y: Any,
    *,
    target_members: Sequence[bool] | np.ndarray,
    target_model: Any,
    n_shadows: int = 8,
    online: bool = True,
    global_variance: bool | None = None,
    delta: float = 0.0,
    confidence: float = 0.95,
    fprs: Sequence[float] = DEFAULT_FPRS,
    epsilon: float | None = None,
    seed: int | None = None,
) -> MembershipAudit:
    """Attack ``target_model`` with LiRA (Carlini et al. 2022) and report its success.

    Parameters
    ----------
    train_fn
        ``train_fn(X, y) -> model``, the same recipe that trained the target
        (shadows imitate it); called ``n_shadows`` times on random halves of X.
    score_fn
        ``score_fn(model, X, y) -> scores``, one per row: the logit-scaled
        confidence of the true label (:func:`logit_confidence` of the logits)
        is what LiRA's Gaussian fits assume.
    X, y
        Every example attacked: the target's members and non-members together.
    target_members
        Bool mask over X: which rows the target trained on.
    target_model
        The model under audit.
    n_shadows
        Shadow models to train (>= 2; each example is IN for half of them).
    online
        Use IN and OUT shadows (stronger); offline uses OUT shadows only.
    global_variance
        One variance pooled over examples; default: when n_shadows < 64.
    delta, confidence, fprs, epsilon
        As in :func:`veil.audit.membership_audit`.
    seed
        Seed of the shadows' data halves and of the bound's split.

    Returns
    -------
    MembershipAudit
        With attack ``"lira_online"`` or ``"lira_offline"``.
    """
    delta = check_delta(delta)
    confidence = check_confidence(confidence)
    if isinstance(n_shadows, bool) or not isinstance(n_shadows, (int, np.integer)) or n_shadows < 2:
        raise ParameterError(f"n_shadows must be an integer >= 2; got {n_shadows!r}")
    n = len(X)
    if len(y) != n:
        raise DataError(f"X has {n} rows but y has {len(y)}; give one label per row")
    members = np.asarray(target_members)
    if members.dtype != bool or members.shape != (n,):
        raise DataError(
            f"target_members must be a bool mask with one entry per row of X ({n}); "
            f"got {members.dtype} of shape {members.shape}"
        )
    if members.all() or not members.any():
        raise DataError("target_members must mark some rows as members and some as non-members")
    if global_variance is None:
        global_variance = n_shadows < 64
    rng = np.random.default_rng(seed)
    shadow_in = _membership_matrix(n_shadows, n, rng)
    shadow_scores = np.empty((n_shadows, n))
    for k in range(n_shadows):
        rows = np.flatnonzero(shadow_in[k])
        model = train_fn(_rows(X, rows), _rows(y, rows))
        shadow_scores[k] = _scores(score_fn, model, X, y, n)
    target = _scores(score_fn, target_model, X, y, n)
    scores = lira_scores(
        shadow_scores, shadow_in, target, online=online, global_variance=global_variance
    )
    return membership_audit(
        scores[members],
        scores[~members],
        attack="lira_online" if online else "lira_offline",
        delta=delta,
        confidence=confidence,
        fprs=fprs,
        epsilon=epsilon,
        seed=int(rng.integers(2**31)),
        details={"n_shadows": n_shadows, "global_variance": global_variance},
    )


def _scores(
    score_fn: Callable[[Any, Any, Any], Any], model: Any, X: Any, y: Any, n: int
) -> np.ndarray:
    values = np.asarray(score_fn(model, X, y), dtype=float).reshape(-1)
    if values.shape != (n,):
        raise DataError(f"score_fn returned {values.size} scores for {n} rows; give one per row")
    if not np.isfinite(values).all():
        raise DataError(
            "score_fn returned NaN or infinite scores; clip probabilities or use logits"
        )
    return values
