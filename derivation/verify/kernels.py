"""Fused kernels, written as ``torch.autograd.Function``s that keep what the real kernels keep.

A fused CUDA kernel decides for itself what to save for backward; plain PyTorch ops cannot imitate
that. Each Function here computes the same values as the unfused ops and saves exactly what the
kernel it stands for saves, recomputing the rest in backward:

===================  ===============================  ========================================
Function             stands for                       keeps for backward
===================  ===============================  ========================================
``FusedRMSNorm``     Apex / Transformer Engine RMSNorm its input and the fp32 rstd, shape [s, b, 1]
``FusedSwiGLU``      Megatron ``bias_swiglu``          its 2f-wide input
``FusedRoPE``        Megatron / TE fused rotary        nothing (cos and sin are constant buffers)
===================  ===============================  ========================================

>>> import torch
>>> x = torch.randn(3, 2, 8, dtype=torch.float64, requires_grad=True)
>>> torch.autograd.gradcheck(FusedSwiGLU.apply, (x,))
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class FusedRMSNorm(torch.autograd.Function):
    """y = x / rms(x) · weight, with the statistics in fp32, keeping x and rstd only.

    >>> x = torch.randn(3, 2, 4, dtype=torch.float64, requires_grad=True)
    >>> w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    >>> torch.autograd.gradcheck(FusedRMSNorm.apply, (x, w, 1e-6))
    True
    """

    @staticmethod
    def forward(ctx, x, weight, eps):
        xf = x.to(torch.promote_types(x.dtype, torch.float32))  # fp32 math, as the kernel does
        rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)  # [s, b, 1] fp32, a statistic
        ctx.save_for_backward(x, weight, rstd)
        return (xf * rstd).to(x.dtype) * weight

    @staticmethod
    def backward(ctx, grad):
        x, weight, rstd = ctx.saved_tensors
        xf, gf = x.to(rstd.dtype), grad.to(rstd.dtype)
        normed = xf * rstd
        grad_weight = (gf * normed).sum(dim=tuple(range(grad.dim() - 1))).to(weight.dtype)
        gn = gf * weight.to(rstd.dtype)
        # d/dx of x·rstd: rstd·(gn - normed·mean(gn·normed)), the usual RMSNorm backward
        grad_x = rstd * (gn - normed * (gn * normed).mean(-1, keepdim=True))
        return grad_x.to(x.dtype), grad_weight, None


class FusedSwiGLU(torch.autograd.Function):
    """silu(gate) · up, where gate and up are the two halves of one 2f-wide projection output.

    Keeps only its input, like Megatron's ``bias_swiglu``: silu(gate) is recomputed in backward.

    >>> y = torch.tensor([[0.0, 1.0, 2.0, 3.0]])  # gate = [0, 1], up = [2, 3]
    >>> FusedSwiGLU.apply(y)
    tensor([[0.0000, 2.1932]])
    """

    @staticmethod
    def forward(ctx, y):
        ctx.save_for_backward(y)
        gate, up = y.chunk(2, dim=-1)
        return F.silu(gate) * up

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        gate, up = y.chunk(2, dim=-1)
        sig = torch.sigmoid(gate)
        silu = gate * sig
        dsilu = sig * (1 + gate * (1 - sig))
        return torch.cat((grad * up * dsilu, grad * silu), dim=-1)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Hugging Face's rotation by 90°: [x1, x2] → [-x2, x1] along the head dimension.

    >>> rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor([-3., -4.,  1.,  2.])
    """
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class FusedRoPE(torch.autograd.Function):
    """Rotate the first ``rotated`` heads of x ([s, b, heads, d]) into a new buffer; copy the rest.

    With a fused QKV projection the input is the whole QKV output viewed as [s, b, a + 2g, d]: Q
    and K (the first a + g heads) are rotated and V is copied, so the result is one new buffer.
    Backward is the inverse rotation with the constant cos and sin ([s, d] buffers), so nothing
    that depends on x is saved; cos and sin are module buffers, not activations.

    >>> x = torch.randn(3, 2, 2, 4, dtype=torch.float64, requires_grad=True)
    >>> cos, sin = torch.rand(3, 4, dtype=torch.float64), torch.rand(3, 4, dtype=torch.float64)
    >>> torch.autograd.gradcheck(FusedRoPE.apply, (x, cos, sin, 1))
    True
    """

    @staticmethod
    def forward(ctx, x, cos, sin, rotated):
        ctx.save_for_backward(cos, sin)
        ctx.rotated = rotated
        cos, sin = cos[:, None, None, :], sin[:, None, None, :]  # [s, 1, 1, d]
        out = x.clone(memory_format=torch.contiguous_format)
        part = x[:, :, :rotated]
        out[:, :, :rotated] = part * cos + rotate_half(part) * sin
        return out

    @staticmethod
    def backward(ctx, grad):
        cos, sin = ctx.saved_tensors
        cos, sin = cos[:, None, None, :], sin[:, None, None, :]
        rotated = ctx.rotated
        out = grad.clone(memory_format=torch.contiguous_format)
        part = grad[:, :, :rotated]
        # the transpose of x ↦ rotate_half(x) is x ↦ -rotate_half(x)
        out[:, :, :rotated] = part * cos - rotate_half(part * sin)
        return out, None, None, None
