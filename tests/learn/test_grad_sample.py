"""Per-sample gradients and clipping, cross-checked against Opacus' GradSampleModule (hooks).

Every layer family with a rule (Linear on 2-D and 3-D inputs, Conv1d, Conv2d,
Embedding, LayerNorm, GroupNorm) and one that only ``torch.func`` handles (a
custom module with its own parameter) is checked on random shapes: veil's
per-sample gradients equal Opacus' to float tolerance, in both clipping modes;
the clipped sum equals clipping Opacus' per-sample gradients and summing; and
each sample's clipped gradient has norm at most C.
"""

from __future__ import annotations

import copy

import pytest
import torch
from opacus import GradSampleModule
from torch import nn

from veil.errors import ParameterError
from veil.learn import per_sample_gradients
from veil.learn.grad_sample import GradSampler
from veil.learn.grad_sample.linear import ghost_is_cheaper
from veil.learn.losses import cross_entropy

CLASSES = 3


class Scale(nn.Module):
    """A layer no rule covers: elementwise ``x * w + w**2`` (Opacus uses functorch for it too)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w + self.w**2


class Transpose(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class Last(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1]


def _case(kind: str, rng: torch.Generator) -> tuple[nn.Module, torch.Tensor]:
    """A small model built around layer ``kind`` with random sizes, and a batch for it."""

    def r(lo: int, hi: int) -> int:
        return int(torch.randint(lo, hi + 1, (1,), generator=rng))

    n = r(3, 9)
    if kind == "linear2d":
        d, h = r(2, 12), r(2, 12)
        model = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, CLASSES))
        x = torch.randn(n, d, generator=rng)
    elif kind == "linear3d":  # T small: ghost norms; T large: materialised
        t, d, h = r(2, 40), r(2, 10), r(2, 10)
        model = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, CLASSES), Last())
        x = torch.randn(n, t, d, generator=rng)
    elif kind == "conv1d":
        c, length, k = r(1, 4), r(6, 12), r(1, 3)
        model = nn.Sequential(
            nn.Conv1d(c, 4, k, stride=r(1, 2), padding=r(0, 1), dilation=r(1, 2)),
            nn.ReLU(),
            nn.Flatten(),
            nn.LazyLinear(CLASSES),
        )
        x = torch.randn(n, c, length, generator=rng)
    elif kind == "conv2d":
        g = r(1, 2)
        c = 2 * g
        model = nn.Sequential(
            nn.Conv2d(c, 4, r(1, 3), padding=r(0, 1), stride=r(1, 2), groups=g),
            nn.ReLU(),
            nn.Conv2d(4, 6, 3, padding=1, dilation=r(1, 2)),
            nn.Flatten(),
            nn.LazyLinear(CLASSES),
        )
        x = torch.randn(n, c, r(5, 8), r(5, 8), generator=rng)
    elif kind == "embedding":
        vocab, t = r(3, 8), r(1, 6)
        model = nn.Sequential(nn.Embedding(vocab, 5), nn.Flatten(), nn.Linear(5 * t, CLASSES))
        x = torch.randint(0, vocab, (n, t), generator=rng)
    elif kind == "layernorm":
        d = r(2, 8)
        model = nn.Sequential(nn.Linear(d, 6), nn.LayerNorm(6), nn.Tanh(), nn.Linear(6, CLASSES))
        x = torch.randn(n, d, generator=rng)
    elif kind == "groupnorm":
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(CLASSES)
        )
        x = torch.randn(n, 1, r(4, 6), r(4, 6), generator=rng)
    elif kind == "ghost":  # short sequences, wide layers: the ghost-norm paths
        model = nn.Sequential(
            nn.Conv2d(8, 16, 3),
            nn.Flatten(2),
            Transpose(),
            nn.Linear(16, 16),
            Last(),
            nn.Linear(16, CLASSES),
        )
        x = torch.randn(n, 8, 4, 4, generator=rng)
    elif kind == "custom":
        d = r(2, 8)
        model = nn.Sequential(nn.Linear(d, 5), Scale(5), nn.Tanh(), nn.Linear(5, CLASSES))
        x = torch.randn(n, d, generator=rng)
    else:
        raise AssertionError(kind)
    model(x)  # materialise lazy layers
    return model, x


def _opacus(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    gsm = GradSampleModule(model, loss_reduction="sum")
    try:
        torch.nn.functional.cross_entropy(gsm(x), y, reduction="sum").backward()
        grads = {n: p.grad_sample.detach().clone() for n, p in model.named_parameters()}
    finally:
        gsm._close()
    model.zero_grad(set_to_none=True)
    for p in model.parameters():
        p.grad_sample = None
    return grads


KINDS = [
    "linear2d",
    "linear3d",
    "conv1d",
    "conv2d",
    "embedding",
    "layernorm",
    "groupnorm",
    "ghost",
    "custom",
]


def test_ghost_case_takes_the_ghost_paths() -> None:
    assert ghost_is_cheaper(4, 8 * 9, 16) and ghost_is_cheaper(4, 16, 16)
    assert not ghost_is_cheaper(64, 16 * 9, 32)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", KINDS)
def test_per_sample_gradients_equal_opacus(kind: str, seed: int) -> None:
    rng = torch.Generator().manual_seed(1000 * seed + KINDS.index(kind))
    torch.manual_seed(seed)
    model, x = _case(kind, rng)
    y = torch.randint(0, CLASSES, (x.shape[0],), generator=rng)
    reference = _opacus(model, x, y)
    for clipping in ("auto", "functorch"):
        ours = per_sample_gradients(model, "cross_entropy", x, y, clipping=clipping)
        assert ours.keys() == reference.keys()
        for name, g in reference.items():
            torch.testing.assert_close(
                ours[name], g, rtol=1e-4, atol=1e-5, msg=f"{clipping} {name}"
            )


@pytest.mark.parametrize("kind", KINDS)
def test_clipped_sum_equals_clipping_opacus_per_sample(kind: str) -> None:
    rng = torch.Generator().manual_seed(7 + KINDS.index(kind))
    torch.manual_seed(3)
    model, x = _case(kind, rng)
    y = torch.randint(0, CLASSES, (x.shape[0],), generator=rng)
    reference = _opacus(model, x, y)
    norms = torch.sqrt(sum(g.reshape(g.shape[0], -1).square().sum(1) for g in reference.values()))
    c = float(norms.median())  # about half the samples get clipped
    factors = (c / (norms + 1e-6)).clamp(max=1.0)
    for clipping in ("auto", "functorch"):
        sampler = GradSampler(model, clipping=clipping)
        sums, _ = sampler.clipped_sum(x, y, cross_entropy, c)
        sampler.remove()
        for name, s in zip(sampler.names, sums, strict=True):
            expected = torch.einsum("n,n...->...", factors, reference[name])
            torch.testing.assert_close(s, expected, rtol=1e-4, atol=1e-5, msg=f"{clipping} {name}")


@pytest.mark.parametrize("kind", ["linear2d", "linear3d", "conv2d", "embedding", "custom"])
def test_each_clipped_gradient_has_norm_at_most_c(kind: str) -> None:
    rng = torch.Generator().manual_seed(99 + KINDS.index(kind))
    model, x = _case(kind, rng)
    if x.is_floating_point():
        x = x * 30.0  # large inputs: large gradients, all clipped
    y = torch.randint(0, CLASSES, (x.shape[0],), generator=rng)
    c = 0.05
    sampler = GradSampler(model)
    for i in range(x.shape[0]):  # a batch of one: the clipped sum is that sample's clipped gradient
        sums, _ = sampler.clipped_sum(x[i : i + 1], y[i : i + 1], cross_entropy, c)
        norm = torch.sqrt(sum(s.double().square().sum() for s in sums if s is not None))
        assert norm <= c * (1 + 1e-6)
    sampler.remove()


def test_padding_options_match_functorch() -> None:
    """Opacus 1.6 ignores a convolution's ``padding_mode`` and an embedding's ``padding_idx``
    (its per-sample gradients differ from torch.func's and from torch's own batch gradient
    there), so these options are checked against torch.func."""
    torch.manual_seed(0)
    for conv in (
        nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
        nn.Conv2d(2, 3, 3, padding=2, padding_mode="circular", dilation=2),
        nn.Conv1d(2, 3, 4, padding="same", padding_mode="replicate"),
    ):
        x = torch.randn(4, 2, 6, 6) if isinstance(conv, nn.Conv2d) else torch.randn(4, 2, 7)
        model = nn.Sequential(conv, nn.Tanh(), nn.Flatten(), nn.LazyLinear(CLASSES))
        model(x)
        y = torch.randint(0, CLASSES, (4,))
        ref = per_sample_gradients(model, "cross_entropy", x, y, clipping="functorch")
        ours = per_sample_gradients(model, "cross_entropy", x, y)
        for name, g in ref.items():
            torch.testing.assert_close(ours[name], g, rtol=1e-4, atol=1e-5)
    model = nn.Sequential(nn.Embedding(4, 3, padding_idx=0), nn.Flatten(), nn.Linear(15, CLASSES))
    x, y = torch.randint(0, 4, (6, 5)), torch.randint(0, CLASSES, (6,))
    ref = per_sample_gradients(model, "cross_entropy", x, y, clipping="functorch")
    ours = per_sample_gradients(model, "cross_entropy", x, y)
    assert bool((ours["0.weight"][:, 0] == 0).all())
    for name, g in ref.items():
        torch.testing.assert_close(ours[name], g, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
def test_channels_last_activations_match_functorch(stride: int) -> None:
    """1-channel images from numpy can carry strides mkldnn reads as channels-last
    (stride 1 on the channel), so it hands channels-last activations to the next
    convolution, which takes veil's NHWC unfold. Opacus 1.6's conv rule gets such
    inputs wrong (its per-sample gradients differ from torch.func's and do not sum
    to torch's batch gradient), so these are checked against torch.func and torch."""
    torch.manual_seed(stride)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, stride=stride, dilation=stride),
        nn.ReLU(),
        nn.Flatten(),
        nn.LazyLinear(CLASSES),
    )
    x = torch.randn(5, 8, 8, 1).permute(0, 3, 1, 2)  # strides (64, 1, 8, 1)
    model(x)
    y = torch.randint(0, CLASSES, (5,))
    sampler = GradSampler(model)
    sampler._forward_backward(x, y, cross_entropy)
    assert sampler.rules[1]._channels_last(sampler._captures[1][0])
    sampler.remove()
    ref = per_sample_gradients(model, "cross_entropy", x, y, clipping="functorch")
    ours = per_sample_gradients(model, "cross_entropy", x, y)
    torch.nn.functional.cross_entropy(model(x), y, reduction="sum").backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(ours[name], ref[name], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(ours[name].sum(0), p.grad, rtol=1e-4, atol=1e-5)
    model.zero_grad(set_to_none=True)
    sampler = GradSampler(model)
    sums, _ = sampler.clipped_sum(x, y, cross_entropy, 1e9)  # nothing clipped: the batch gradient
    sampler.remove()
    for name, s in zip(sampler.names, sums, strict=True):
        torch.testing.assert_close(s, ref[name].sum(0), rtol=1e-4, atol=1e-5)


def test_in_place_activation_after_a_layer_is_handled() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, CLASSES))
    x, y = torch.randn(6, 4), torch.randint(0, CLASSES, (6,))
    same = copy.deepcopy(model)
    same[1].inplace = False  # Opacus' hooks refuse in-place ops on hooked outputs
    reference = _opacus(same, x, y)
    sampler = GradSampler(model)
    ours = sampler.per_sample(x, y, cross_entropy)
    assert sampler._clone
    for name, g in reference.items():
        torch.testing.assert_close(ours[name], g, rtol=1e-4, atol=1e-5)


def test_layer_called_twice_and_tied_weights() -> None:
    torch.manual_seed(0)

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.tanh(self.a(torch.tanh(self.a(x)))))

    model, x, y = Twice(), torch.randn(5, 4), torch.randint(0, CLASSES, (5,))
    ref = per_sample_gradients(model, "cross_entropy", x, y, clipping="functorch")
    ours = per_sample_gradients(model, "cross_entropy", x, y)
    for name, g in ref.items():
        torch.testing.assert_close(ours[name], g, rtol=1e-4, atol=1e-5)
    sampler = GradSampler(model)
    sums, _ = sampler.clipped_sum(x, y, cross_entropy, 0.1)
    norms = torch.sqrt(sum(g.reshape(5, -1).square().sum(1) for g in ref.values()))
    factors = (0.1 / (norms + 1e-6)).clamp(max=1.0)
    for name, s in zip(sampler.names, sums, strict=True):
        torch.testing.assert_close(s, torch.einsum("n,n...->...", factors, ref[name]))
    tied = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False))
    tied[1].weight = tied[0].weight
    assert GradSampler(tied).clipping == "functorch"


@pytest.mark.parametrize(
    "layer", [nn.BatchNorm1d(4), nn.BatchNorm2d(4), nn.InstanceNorm1d(4, track_running_stats=True)]
)
def test_batch_norm_refused_naming_group_norm(layer: nn.Module) -> None:
    model = nn.Sequential(nn.Linear(4, 4), layer)
    with pytest.raises(ParameterError, match="GroupNorm"):
        GradSampler(model)


def _conv_models() -> list[tuple[nn.Module, torch.Tensor]]:
    """Convolutions with 8+ input channels per group (NCHW inputs): stride, dilation,
    groups, zero and non-zero padding modes, Conv1d and Conv2d."""
    torch.manual_seed(3)
    cases = []
    for conv, x in (
        (nn.Conv2d(8, 6, 3, padding=1), torch.randn(5, 8, 6, 6)),
        (nn.Conv2d(8, 4, 3, stride=2, dilation=2, padding=2), torch.randn(5, 8, 9, 7)),
        (nn.Conv2d(16, 6, 2, groups=2, bias=False), torch.randn(4, 16, 5, 5)),
        (nn.Conv2d(8, 3, 3, padding=1, padding_mode="reflect"), torch.randn(3, 8, 5, 6)),
        (nn.Conv1d(8, 4, 3, stride=2, padding=1), torch.randn(6, 8, 11)),
        (nn.Conv1d(9, 6, 2, groups=3, dilation=2), torch.randn(4, 9, 8)),
    ):
        model = nn.Sequential(conv, nn.Tanh(), nn.Flatten(), nn.LazyLinear(CLASSES))
        model(x)
        cases.append((model, x))
    return cases


@pytest.mark.parametrize("grouped", [True, False])
def test_conv_per_sample_paths_match_functorch(
    grouped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of materialising a convolution's per-sample weight gradients (one
    batch-as-groups convolution, or unfold + bmm) give torch.func's gradients, and
    the clipped sums (through the reused workspace, batch sizes changing) match."""
    import veil.learn.grad_sample.conv as conv_rules

    monkeypatch.setattr(conv_rules, "GROUPED_MIN_CHANNELS", 1 if grouped else 10**6)
    for model, x in _conv_models():
        y = torch.randint(0, CLASSES, (x.shape[0],))
        sampler = GradSampler(model)
        sampler._forward_backward(x, y, cross_entropy)
        assert sampler.rules[0]._grouped(sampler._captures[0][0]) == grouped
        sampler.remove()
        ref = per_sample_gradients(model, "cross_entropy", x, y, clipping="functorch")
        ours = per_sample_gradients(model, "cross_entropy", x, y)
        for name, g in ref.items():
            torch.testing.assert_close(ours[name], g, rtol=1e-4, atol=1e-5)
        sampler = GradSampler(model)
        for n in (x.shape[0], 2, x.shape[0] - 1):  # the workspace grows, then is reused
            sums, _ = sampler.clipped_sum(x[:n], y[:n], cross_entropy, 0.05)
            norms = torch.sqrt(sum(g[:n].reshape(n, -1).square().sum(1) for g in ref.values()))
            factors = (0.05 / (norms + 1e-6)).clamp(max=1.0)
            for name, s in zip(sampler.names, sums, strict=True):
                expected = torch.einsum("n,n...->...", factors, ref[name][:n])
                torch.testing.assert_close(s, expected, rtol=1e-4, atol=1e-6)
        sampler.remove()


@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("chunk", [1, 7000, 1 << 18])
def test_channels_last_strided_unfold_with_changing_batch(
    padding: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The NHWC path (strided copies of the patches, a few samples at a time, into a
    reused workspace) keeps giving torch.func's clipped sums as the Poisson batch
    size grows and shrinks, whether the samples go one, several or all at a time."""
    import veil.learn.grad_sample.conv as conv_rules

    monkeypatch.setattr(conv_rules, "PATCH_CHUNK_ELEMENTS", chunk)
    torch.manual_seed(padding)
    model = nn.Sequential(
        nn.Conv2d(8, 6, 3, padding=padding, dilation=1 + padding),
        nn.ReLU(),
        nn.Flatten(),
        nn.LazyLinear(CLASSES),
    )
    x = torch.randn(7, 8, 6, 7).contiguous(memory_format=torch.channels_last)
    model(x)
    y = torch.randint(0, CLASSES, (7,))
    ref = per_sample_gradients(model, "cross_entropy", x, y, clipping="functorch")
    sampler = GradSampler(model)
    sampler._forward_backward(x, y, cross_entropy)
    assert sampler.rules[0]._channels_last(sampler._captures[0][0])
    for n in (3, 7, 2, 5):
        sums, _ = sampler.clipped_sum(x[:n], y[:n], cross_entropy, 0.05)
        norms = torch.sqrt(sum(g[:n].reshape(n, -1).square().sum(1) for g in ref.values()))
        factors = (0.05 / (norms + 1e-6)).clamp(max=1.0)
        for name, s in zip(sampler.names, sums, strict=True):
            expected = torch.einsum("n,n...->...", factors, ref[name][:n])
            torch.testing.assert_close(s, expected, rtol=1e-4, atol=1e-6)
    sampler.remove()
