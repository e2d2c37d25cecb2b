"""Canary exposure (Carlini et al. 2019, "The Secret Sharer").

Plant secrets such as "my pin is 281749" in a text corpus, train a
character-level language model on it, and ask how much more likely the model
finds the planted secret than the other candidates of its randomness space R
(here every string of ``length`` characters from ``alphabet``)::

    exposure = log2 |R| - log2 rank,

where rank is the secret's position among all candidates ordered by the
model's log-perplexity (rank 1: the model's favourite). A model that learned
nothing about the secret gives it a uniformly random rank: exposure has mean
log2(e) = 1.44 bits and P[exposure >= t] = 2^-t. A model that memorised it
ranks it first: exposure log2 |R| (19.9 bits for six digits). Differential
privacy bounds how far exposure can move from chance (Carlini et al. 2019,
section 8; Thakkar et al. 2021).

The rank is exact when R is small enough to score every candidate (a prefix
tree, one model call per node: |R| |A| / (|A| - 1) windows); otherwise it is
extrapolated as in section 4.3 of the paper: the log-perplexities of sampled
candidates are fitted with a skew-normal distribution and the secret's rank
is |R| times the fitted probability of a lower perplexity.

The model predicts each character from the ``context`` characters before it
(an embedding, a causal convolution as wide as the context, a tanh layer:
the layers DP-SGD clips fastest). One training example is one line of the
corpus, all its characters together, so DP-SGD's guarantee is per line: a
canary inserted once is protected by the trainer's epsilon itself (were the
examples the character windows, a canary would be some twenty examples and
its protection the group-privacy epsilon of all of them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from veil.audit.results import CanaryExposure
from veil.errors import DataError, ParameterError

__all__ = ["CharModel", "canary_exposure", "char_model", "plant_canaries"]

_EXACT_LIMIT = 2_000_000  # candidates scored one by one at most
_CHUNK = 65_536  # windows per model call


class CharModel(nn.Module):
    """Next-character model over a fixed window: embedding, causal convolution, tanh, logits.

    Input (batch, T) character ids with T >= ``context``; output (batch, vocab,
    T - context + 1) logits, position j predicting the character after
    ids[j : j + context]. The same computation as a multilayer perceptron on
    every window, written as a convolution so that a whole line is one example.
    """

    def __init__(self, vocab_size: int, context: int, *, embedding_dim: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.window = nn.Conv1d(embedding_dim, hidden, kernel_size=context)
        self.activation = nn.Tanh()
        self.output = nn.Conv1d(hidden, vocab_size, kernel_size=1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids).transpose(1, 2)  # (batch, embedding, T)
        return self.output(self.activation(self.window(x)))


def char_model(
    vocab_size: int, context: int, *, embedding_dim: int = 16, hidden: int = 128
) -> CharModel:
    """The default :class:`CharModel` for a vocabulary and a context length."""
    return CharModel(vocab_size, context, embedding_dim=embedding_dim, hidden=hidden)


def plant_canaries(
    corpus: str | Sequence[str],
    *,
    n_canaries: int,
    template: str,
    alphabet: str,
    length: int,
    repetitions: int,
    rng: np.random.Generator,
    decoys: int = 0,
) -> tuple[str, list[str], list[str]]:
    """(text with the canaries and decoys inserted as lines, canary texts, their secrets)."""
    lines = corpus.split("\n") if isinstance(corpus, str) else [str(s) for s in corpus]
    lines = [line for line in lines if line]
    if not lines:
        raise DataError("the corpus is empty; give the text the model should learn from")
    space = len(alphabet) ** length
    if n_canaries + decoys > space:
        raise ParameterError(
            f"n_canaries + decoys = {n_canaries + decoys} exceeds the {space} possible secrets"
        )
    codes = rng.choice(space, size=n_canaries + decoys, replace=False)
    secrets = [_decode(int(c), alphabet, length) for c in codes]
    canaries = [template.format(secret=s) for s in secrets]
    for i, canary in enumerate(canaries):
        for _ in range(repetitions if i < n_canaries else 1):
            lines.insert(int(rng.integers(len(lines) + 1)), canary)
    canaries, secrets = canaries[:n_canaries], secrets[:n_canaries]
    return "\n".join(lines) + "\n", canaries, secrets


def _decode(code: int, alphabet: str, length: int) -> str:
    chars = []
    for _ in range(length):
        code, digit = divmod(code, len(alphabet))
        chars.append(alphabet[digit])
    return "".join(reversed(chars))  # first character most significant


def _encode(secret: str, alphabet: str) -> int:
    code = 0
    for char in secret:
        code = code * len(alphabet) + alphabet.index(char)
    return code


def _check(
    n_canaries: int,
    decoys: int,
    template: str,
    alphabet: str,
    length: int,
    repetitions: int,
    context: int,
) -> None:
    for name, value, low in (
        ("n_canaries", n_canaries, 1),
        ("decoys", decoys, 0),
        ("length", length, 1),
        ("repetitions", repetitions, 1),
        ("context", context, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ParameterError(f"{name} must be an integer >= {low}; got {value!r}")
    if template.count("{secret}") != 1:
        raise ParameterError(
            f"template must hold '{{secret}}' once, e.g. 'my pin is {{secret}}'; got {template!r}"
        )
    if "\n" in template:
        raise ParameterError("template must be one line (canaries are inserted as lines)")
    if len(set(alphabet)) != len(alphabet) or len(alphabet) < 2:
        raise ParameterError(f"alphabet must be >= 2 distinct characters; got {alphabet!r}")


class _Scorer:
    """Log-probabilities (natural log) of text under a fixed-window character model."""

    def __init__(self, model: Any, index: dict[str, int], context: int) -> None:
        self.model = model
        self.index = index
        self.context = context

    def ids(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def next_log_probs(self, windows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """log P(next char = columns[j] | window) for every window: (n, len(columns))."""
        out = np.empty((windows.shape[0], columns.size))
        with torch.no_grad():
            for start in range(0, windows.shape[0], _CHUNK):
                batch = torch.from_numpy(windows[start : start + _CHUNK])
                logp = torch.log_softmax(self.model(batch)[:, :, -1].double(), dim=-1)
                out[start : start + _CHUNK] = logp[:, torch.from_numpy(columns)].numpy()
        return out

    def continuation(self, start: np.ndarray, texts: np.ndarray) -> np.ndarray:
        """Sum of log P over the characters (ids) of each row of ``texts`` after ``start``."""
        n, steps = texts.shape
        full = np.concatenate([np.broadcast_to(start, (n, self.context)), texts], axis=1)
        total = np.zeros(n)
        for j in range(steps):
            windows = np.ascontiguousarray(full[:, j : j + self.context])
            with torch.no_grad():
                for s in range(0, n, _CHUNK):
                    batch = torch.from_numpy(windows[s : s + _CHUNK])
                    logits = self.model(batch)[:, :, -1].double()
                    logp = torch.log_softmax(logits, dim=-1)
                    target = torch.from_numpy(texts[s : s + _CHUNK, j])
                    total[s : s + _CHUNK] += logp.gather(1, target[:, None])[:, 0].numpy()
        return total

    def all_candidates(
        self, start: np.ndarray, alphabet: np.ndarray, length: int, suffix: np.ndarray
    ) -> np.ndarray:
        """Log-likelihood of every candidate, enumerated by a prefix tree.

        Entry k is the candidate whose characters are k written in base
        |alphabet|, first character most significant.
        """
        windows = start[None, :].copy()
        total = np.zeros(1)
        for _ in range(length):
            step = self.next_log_probs(windows, alphabet)  # (B, |A|)
            total = (total[:, None] + step).reshape(-1)
            windows = np.concatenate(
                [
                    np.repeat(windows[:, 1:], alphabet.size, axis=0),
                    np.tile(alphabet, windows.shape[0])[:, None],
                ],
                axis=1,
            )
        if suffix.size:
            total += self.continuation_from_windows(windows, suffix)
        return total

    def continuation_from_windows(self, windows: np.ndarray, suffix: np.ndarray) -> np.ndarray:
        total = np.zeros(windows.shape[0])
        for char in suffix:
            total += self.next_log_probs(windows, np.array([char]))[:, 0]
            windows = np.concatenate(
                [windows[:, 1:], np.full((windows.shape[0], 1), char, dtype=np.int64)], axis=1
            )
        return total


def _line_examples(text: str, index: dict[str, int], context: int) -> tuple[Any, Any]:
    """One example per line: inputs (lines, context + longest line) of ids, each line
    after ``context`` newlines; targets (lines, longest line + 1), the line and its
    newline, padded with more newlines (a valid class for every loss; the windows
    past the end of a line learn only that a blank line follows)."""
    lines = text.split("\n")[:-1]
    width = max(len(line) for line in lines) + 1
    newline = index["\n"]
    inputs = np.full((len(lines), context + width - 1), newline, dtype=np.int64)
    targets = np.full((len(lines), width), newline, dtype=np.int64)
    for row, line in enumerate(lines):
        ids = [index[c] for c in line]
        inputs[row, context : context + len(ids)] = ids
        targets[row, : len(ids)] = ids
    return torch.from_numpy(inputs), torch.from_numpy(targets)


def canary_exposure(
    corpus: str | Sequence[str],
    train_fn: Callable[[Any, Any, Any], Any],
    *,
    n_canaries: int = 4,
    template: str = "my pin is {secret}",
    alphabet: str = "0123456789",
    length: int = 6,
    repetitions: int = 1,
    decoys: int = 0,
    context: int = 8,
    model: Any = None,
    method: str = "auto",
    n_samples: int = 20_000,
    epsilon: float | None = None,
    seed: int | None = None,
) -> CanaryExposure:
    """Plant secrets in ``corpus``, train a character model on it, and measure their exposure.

    Parameters
    ----------
    corpus
        Training text: a string (lines separated by newlines) or a list of lines.
    train_fn
        ``train_fn(model, X, y)`` trains ``model`` (a ``torch.nn.Module``) and
        returns it, or an object whose ``.model`` is it (as ``DPTrainer.fit``
        does). One row per line of the text: ``X`` (LongTensor (lines, T)) the
        line's character ids after ``context`` newlines, ``y`` (LongTensor
        (lines, T - context + 1)) the characters to predict, newlines after
        the line's end, so the mean cross-entropy over positions (the default
        loss of :class:`veil.learn.DPTrainer` and
        :func:`veil.learn.train_non_private`) is the line's loss. Non-private
        training or DP-SGD: the audit compares them.
    n_canaries
        Secrets planted, each drawn uniformly from R without replacement.
    template
        The canary text; ``{secret}`` is replaced by the secret.
    alphabet, length
        The randomness space R: every string of ``length`` characters of
        ``alphabet`` (default: six digits, |R| = 10^6).
    repetitions
        Times each canary is inserted (each as its own line, at random places).
        DP bounds exposure for one insertion; k insertions weaken it to k epsilon.
    decoys
        Lines of the same template with other random secrets, inserted once and
        not measured: other people's PINs. Without them the text before the
        secret occurs only in the canaries, and even a private model learns
        which characters follow it from all canaries together, which moves
        every canary's exposure away from chance without memorising any one.
    context
        Characters the model sees before each one it predicts (lines start
        after ``context`` newlines, in training and when candidates are scored).
    model
        A module to train instead of :func:`char_model`: (batch, T) ids to
        (batch, vocabulary, T - context + 1) logits.
    method
        ``"exact"`` (score all of R), ``"extrapolate"`` (skew-normal fit to
        ``n_samples`` sampled candidates) or ``"auto"`` (exact up to 2 million).
    n_samples
        Candidates sampled for the extrapolation.
    epsilon
        The proven epsilon of ``train_fn``, kept in the result.
    seed
        Seed of the secrets, their places, the model's initial weights and the
        sampled candidates (audit randomness; DP noise comes from ``train_fn``).

    Returns
    -------
    CanaryExposure
    """
    _check(n_canaries, decoys, template, alphabet, length, repetitions, context)
    if method not in ("auto", "exact", "extrapolate"):
        raise ParameterError(f"method must be 'auto', 'exact' or 'extrapolate'; got {method!r}")
    whole = isinstance(n_samples, (int, np.integer)) and not isinstance(n_samples, bool)
    if not whole or n_samples < 100:
        raise ParameterError(f"n_samples must be an integer >= 100; got {n_samples!r}")
    rng = np.random.default_rng(seed)
    text, canaries, secrets = plant_canaries(
        corpus,
        n_canaries=n_canaries,
        template=template,
        alphabet=alphabet,
        length=length,
        repetitions=repetitions,
        rng=rng,
        decoys=decoys,
    )
    vocab = sorted(set(text) | set(alphabet) | set(template.replace("{secret}", "")) | {"\n"})
    index = {c: i for i, c in enumerate(vocab)}
    X, y = _line_examples(text, index, context)
    if model is None:
        with torch.random.fork_rng(devices=[]):  # seed the weights, leave torch's RNG as it was
            torch.manual_seed(int(rng.integers(2**31)))
            model = char_model(len(vocab), context)
    trained = train_fn(model, X, y)
    trained = getattr(trained, "model", trained)
    if not isinstance(trained, torch.nn.Module):
        raise DataError(
            f"train_fn returned {type(trained).__name__}; return the trained torch module "
            "(or an object with .model)"
        )
    trained.eval()
    scorer = _Scorer(trained, index, context)

    before, after = template.split("{secret}")
    start = scorer.ids(("\n" * context + before)[-context:])
    suffix = scorer.ids(after)
    letters = scorer.ids(alphabet)
    secret_ids = np.stack([scorer.ids(s) for s in secrets])
    full = np.concatenate([secret_ids, np.broadcast_to(suffix, (n_canaries, suffix.size))], axis=1)
    secret_logp = scorer.continuation(start, full)
    space = len(alphabet) ** length
    log2_space = length * math.log2(len(alphabet))
    exact = method == "exact" or (method == "auto" and space <= _EXACT_LIMIT)
    if exact:
        every = scorer.all_candidates(start, letters, length, suffix)
        # the secrets' own entries of `every` (same batches, same float rounding);
        # strictly more likely candidates rank ahead
        codes = [_encode(secret, alphabet) for secret in secrets]
        secret_logp = every[codes]
        ranks = [float(1 + np.count_nonzero(every > lp)) for lp in secret_logp]
    else:
        codes = rng.integers(space, size=n_samples)
        sample = np.stack([scorer.ids(_decode(int(c), alphabet, length)) for c in codes])
        sample = np.concatenate([sample, np.broadcast_to(suffix, (n_samples, suffix.size))], axis=1)
        # log-perplexity in bits: lower = more likely
        perplexity = -scorer.continuation(start, sample) / math.log(2)
        shape, loc, scale = stats.skewnorm.fit(perplexity)
        ranks = []
        for lp in secret_logp:
            log_cdf = float(stats.skewnorm.logcdf(-lp / math.log(2), shape, loc, scale))
            ranks.append(max(1.0, space * math.exp(log_cdf)))
    exposures = [log2_space - math.log2(r) for r in ranks]
    return CanaryExposure(
        canaries=canaries,
        ranks=ranks,
        exposures=exposures,
        log2_space=log2_space,
        method="exact" if exact else "extrapolated",
        repetitions=repetitions,
        perplexities=[float(-lp / math.log(2)) for lp in secret_logp],
        epsilon=epsilon,
    )
