"""nn.Conv1d and nn.Conv2d: per-sample norms from unfolded activations (Bu et al. 2023).

A convolution is a linear layer applied at each of L output positions to the
patch of input under the kernel (im2col): with the input unfolded into
``a_i`` of shape ``[L, C_in k / groups]`` and the output gradient ``g_i`` of
shape ``[L, C_out / groups]`` per group, sample i's weight gradient is
``g_i^T a_i``. Its squared norm is the ghost norm ``<a_i a_i^T, g_i g_i^T>``
when L (d + p) < d p, otherwise the norm of the materialised gradient. The
clipped sum is the convolution's own weight gradient with each sample's output
gradient scaled by its clipping factor, so it costs what the non-private
backward costs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from veil.learn.grad_sample.base import Capture, GradSampleRule, register_rule
from veil.learn.grad_sample.linear import ghost_is_cheaper

__all__ = ["ConvRule", "Workspace"]

#: ``alloc(name, shape, dtype, device)``: an uninitialised tensor for a large temporary.
Alloc = Callable[[str, tuple[int, ...], torch.dtype, torch.device], Tensor]


def _fresh(name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """A new tensor each call (for results the caller keeps)."""
    return torch.empty(shape, dtype=dtype, device=device)


class Workspace:
    """Reusable buffers for the per-step temporaries of one layer (an :data:`Alloc`).

    The unfolded patches and the per-sample gradients are megabytes per step;
    allocated afresh each step, the C allocator hands them back to the
    operating system and every step pays the page faults of touching new
    memory again (about as much as the copy itself, measured on the digits
    CNN). One buffer per name, grown to the largest shape asked for, is
    reused instead: its contents live only until the next step's request.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def __call__(
        self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
    ) -> Tensor:
        numel = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype or buf.device != device:
            buf = torch.empty(numel, dtype=dtype, device=device)
            self._buffers[name] = buf
        return buf[:numel].view(shape)


def _unfold(
    x: Tensor,
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[int, ...],
    stride: tuple[int, ...],
    alloc: Alloc = _fresh,
) -> Tensor:
    """``F.unfold`` (im2col) by stacking the kernel's shifted strided views of the input.

    Same layout ``[n, C * kh * kw, L]``; for the small kernels of DP models one
    copy per kernel position beats torch's CPU im2col about 1.7x.
    """
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph))
    ho = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    views = [
        x[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    # An explicit row-major buffer: the activations are often channels-last (mkldnn's
    # choice), and stack would follow them, making the reshape below a second copy.
    out = alloc("patches", (x.shape[0], x.shape[1], kh * kw, ho, wo), x.dtype, x.device)
    return torch.stack(views, 2, out=out).reshape(x.shape[0], -1, ho * wo)


def _channels_last_weight(
    x: Tensor,
    g: Tensor,
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[int, ...],
    stride: tuple[int, ...],
    alloc: Alloc = _fresh,
) -> Tensor:
    """Per-sample weight gradients ``[n, p * kh * kw * C]`` (kernel offset before channel)
    of an ungrouped 2-D convolution whose input is channels-last.

    mkldnn often hands channels-last activations to the next layer. The patches
    are then one strided view of the padded ``[n, H, W, C]`` input, ``[n, Ho,
    Wo, kh, kw, C]``, copied once into im2col order: with dilation 1 each
    (position, kernel row) reads its kw C values as one contiguous run, which
    costs about half the time of stacking the kh kw shifted views.
    """
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    n, c = x.shape[0], x.shape[1]
    xl = x.permute(0, 2, 3, 1)  # [n, H, W, C], contiguous for a channels-last x
    if ph or pw:
        # Zero only the border of a reused buffer: F.pad would fill all of a new one.
        h, w_in = xl.shape[1], xl.shape[2]
        padded = alloc("padded", (n, h + 2 * ph, w_in + 2 * pw, c), g.dtype, g.device)
        padded[:, :ph].zero_()
        padded[:, ph + h :].zero_()
        padded[:, ph : ph + h, :pw].zero_()
        padded[:, ph : ph + h, pw + w_in :].zero_()
        padded[:, ph : ph + h, pw : pw + w_in].copy_(xl)
        xl = padded
    xl = xl.contiguous()
    hp, wp = xl.shape[1], xl.shape[2]
    ho = (hp - dh * (kh - 1) - 1) // sh + 1
    wo = (wp - dw * (kw - 1) - 1) // sw + 1
    patches = xl.as_strided(
        (n, ho, wo, kh, kw, c),
        (hp * wp * c, sh * wp * c, sw * c, dh * wp * c, dw * c, 1),
    )
    p = g.shape[1]
    if g.is_contiguous(memory_format=torch.channels_last):
        gm = g.permute(0, 2, 3, 1).reshape(n, ho * wo, p).mT
    else:
        gm = g.reshape(n, p, ho * wo)
    w = alloc("weight", (n, p, kh * kw * c), g.dtype, g.device)
    # A few samples at a time, so the patches are written to and read from cache
    # rather than memory: they are the largest temporary, kh kw times the input.
    per_sample = ho * wo * kh * kw * c
    chunk = max(1, min(n, PATCH_CHUNK_ELEMENTS // per_sample))
    a = alloc("patches", (chunk, ho, wo, kh, kw, c), g.dtype, g.device)
    for i in range(0, n, chunk):
        k = min(chunk, n - i)
        ak = a[:k].copy_(patches[i : i + k]).view(k, ho * wo, kh * kw * c)
        torch.bmm(gm[i : i + k], ak, out=w[i : i + k])
    return w.view(n, -1)


#: Patch elements unfolded at a time by the NHWC path (a quarter of a 4 MiB cache in
#: float32): small enough to stay in cache between the copy and the bmm.
PATCH_CHUNK_ELEMENTS = 1 << 18

#: Input channels per group from which the batch-as-groups weight gradient beats
#: unfold + bmm on CPU for NCHW inputs (measured with one thread: about 2x faster
#: from 16 channels on, 1.2-2x slower at 1-3 channels, whose unfold is small anyway).
GROUPED_MIN_CHANNELS = 8


def _grouped_weight(
    x: Tensor,
    g: Tensor,
    weight_shape: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> Tensor:
    """Per-sample weight gradients ``[n, *weight_shape]`` as ONE convolution's weight gradient.

    The batch is folded into the channels (input ``[1, n C_in, ...]``, output
    gradient ``[1, n C_out, ...]``) and the groups multiplied by n, so group
    (i, k) sees only sample i's channels of group k: the weight gradient of
    that grouped convolution, ``[n C_out, C_in / G, *kernel]``, is every
    sample's own gradient stacked. No im2col copy of the activations is made,
    and the convolution backend (mkldnn) runs it at about the cost of the
    batch's ordinary weight gradient.
    """
    n = x.shape[0]
    x1 = x.reshape(1, -1, *x.shape[2:])
    g1 = g.reshape(1, -1, *g.shape[2:])
    shape = (n * weight_shape[0], *weight_shape[1:])
    # Only the weight's shape and dtype are read (the output mask asks for its gradient alone).
    weight = torch.empty(shape, dtype=g.dtype, device=g.device)
    _, w, _ = torch.ops.aten.convolution_backward(
        g1,
        x1.to(g.dtype),
        weight,
        None,
        list(stride),
        list(padding),
        list(dilation),
        False,
        [0] * len(stride),
        n * groups,
        [False, True, False],
    )
    return w.reshape(n, -1)


def _weight_from(a: Tensor, g: Tensor, alloc: Alloc = _fresh) -> Tensor:
    """Per-sample weight gradients ``[n, G * p * d]`` from unfolded ``a`` and ``g``: one bmm."""
    n, groups, d, length = a.shape
    gm = g.reshape(n * groups, -1, length)
    w = alloc("weight", (n * groups, gm.shape[1], d), g.dtype, g.device)
    torch.bmm(gm, a.reshape(n * groups, d, length).mT, out=w)
    return w.view(n, -1)


@register_rule
class ConvRule(GradSampleRule):
    """Convolutions over one or two spatial dimensions, any stride, dilation, groups, padding."""

    types = (nn.Conv1d, nn.Conv2d)

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module)
        self.has_weight = "weight" in self.names
        self.has_bias = "bias" in self.names
        self.workspace = Workspace()

    def _padded(self, x: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        """The input padded as the layer pads it, and the padding left to the unfold."""
        m = self.module
        if isinstance(m.padding, str) or m.padding_mode != "zeros":
            mode = "constant" if m.padding_mode == "zeros" else m.padding_mode
            x = F.pad(x, m._reversed_padding_repeated_twice, mode=mode)
            return x, (0,) * (x.dim() - 2)
        return x, tuple(m.padding)

    def _unfold(self, cap: Capture, alloc: Alloc = _fresh) -> tuple[Tensor, Tensor]:
        """(activations ``[n, G, d, L]``, output gradients ``[n, G, p, L]``) per group."""
        m = self.module
        g = cap.grad
        assert g is not None
        x, padding = self._padded(cap.a)
        n, groups = x.shape[0], m.groups
        if x.dim() == 3:  # Conv1d as a Conv2d of height 1
            x = x.unsqueeze(2)
            kernel, dil = (1, *m.kernel_size), (1, *m.dilation)
            pad, stride = (0, *padding), (1, *m.stride)
        else:
            kernel, dil, pad, stride = m.kernel_size, m.dilation, padding, m.stride
        a = _unfold(x, kernel, dil, pad, stride, alloc)
        a = a.reshape(n, groups, -1, a.shape[-1])
        g = g.reshape(n, groups, -1, a.shape[-1])
        return a, g

    def _channels_last(self, cap: Capture) -> bool:
        """Whether the input is channels-last 2-D and the layer ungrouped (the NHWC path)."""
        a = cap.a
        return (
            self.module.groups == 1
            and a.dim() == 4
            and not a.is_contiguous()
            and a.is_contiguous(memory_format=torch.channels_last)
        )

    def _grouped(self, cap: Capture) -> bool:
        """Whether the batch-as-groups convolution computes the per-sample weight gradients.

        On CPU, for an input that is not channels-last, with at least
        :data:`GROUPED_MIN_CHANNELS` input channels per group; elsewhere, and
        for thin inputs, unfold + bmm. (mkldnn's grouped kernel needs the batch
        folded into NCHW channels: for channels-last activations that refolding
        costs what it saves, and the strided NHWC unfold measured faster.)
        """
        m = self.module
        return (
            cap.a.device.type == "cpu"
            and m.in_channels // m.groups >= GROUPED_MIN_CHANNELS
            and m.weight.dim() == cap.a.dim()
            and not self._channels_last(cap)
        )

    def _weight(self, cap: Capture, alloc: Alloc = _fresh) -> Tensor:
        """Per-sample weight gradients ``[n, G * p * d]``, (p, kh, kw, C) when channels-last.

        With ``alloc`` the layer's :class:`Workspace`, the result is only valid
        until the next step.
        """
        m = self.module
        if self._grouped(cap):
            x, padding = self._padded(cap.a)
            g = cap.grad
            assert g is not None
            return _grouped_weight(
                x, g, tuple(m.weight.shape), m.stride, padding, m.dilation, m.groups
            )
        if self._channels_last(cap):
            x, padding = self._padded(cap.a)
            g = cap.grad
            assert g is not None
            return _channels_last_weight(x, g, m.kernel_size, m.dilation, padding, m.stride, alloc)
        return _weight_from(*self._unfold(cap, alloc), alloc)

    def _to_weight_layout(self, cap: Capture, w: Tensor) -> Tensor:
        """``[..., G * p * d]`` in the weight's own (p, C, kh, kw) order."""
        m = self.module
        if self._grouped(cap) or not self._channels_last(cap):
            return w.reshape(*w.shape[:-1], *m.weight.shape)
        p, c, kh, kw = m.weight.shape
        return w.reshape(*w.shape[:-1], p, kh, kw, c).movedim(-1, -3).contiguous()

    def per_sample(self, cap: Capture) -> list[Tensor]:
        g = cap.grad
        assert g is not None
        out = []
        if self.has_weight:
            out.append(self._to_weight_layout(cap, self._weight(cap)))
        if self.has_bias:
            out.append(g.sum(tuple(range(2, g.dim()))))
        return out

    def sq_norms(self, cap: Capture) -> tuple[Tensor, Any]:
        g_out = cap.grad
        assert g_out is not None
        n = g_out.shape[0]
        total = torch.zeros(n, dtype=g_out.dtype, device=g_out.device)
        cache: dict[str, Tensor] = {}
        if self.has_weight:
            m = self.module
            length, d = g_out[0, 0].numel(), m.weight[0].numel()
            if ghost_is_cheaper(length, d, m.out_channels // m.groups):
                a, g = self._unfold(cap)
                aa = torch.einsum("ngdl,ngdm->nglm", a, a)
                gg = torch.einsum("ngpl,ngpm->nglm", g, g)
                total = total + (aa * gg).sum((1, 2, 3))
            else:
                w = self._weight(cap, self.workspace)
                cache["weight"] = w
                total = total + torch.linalg.vector_norm(w, dim=1).square()
        if self.has_bias:
            b = g_out.sum(tuple(range(2, g_out.dim())))
            cache["bias"] = b
            total = total + b.square().sum(1)
        return total, cache

    def clipped_sums(self, cap: Capture, factors: Tensor, cache: Any) -> list[Tensor]:
        m = self.module
        g = cap.grad
        assert g is not None
        out = []
        if self.has_weight:
            if "weight" in cache:
                out.append(self._to_weight_layout(cap, torch.mv(cache["weight"].t(), factors)))
            else:
                x, padding = self._padded(cap.a)
                scale = factors.reshape(-1, *([1] * (g.dim() - 1)))
                weight_grad = (
                    torch.nn.grad.conv1d_weight if x.dim() == 3 else torch.nn.grad.conv2d_weight
                )
                out.append(
                    weight_grad(
                        x.to(g.dtype),
                        m.weight.shape,
                        g * scale,
                        m.stride,
                        padding,
                        m.dilation,
                        m.groups,
                    )
                )
        if self.has_bias:
            out.append(torch.mv(cache["bias"].t(), factors))
        return out
