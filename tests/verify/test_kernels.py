"""The fused kernels compute what the unfused ops compute, and their backward is right."""

import os

import pytest

if os.environ.get("CI") == "true":
    import torch  # in CI a missing torch is a failure, not a skip
else:
    torch = pytest.importorskip("torch")

import torch.nn.functional as F

from derivation.verify.kernels import FusedRMSNorm, FusedRoPE, FusedSwiGLU, rotate_half


def double(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


def test_fused_rmsnorm_matches_f_rms_norm_and_gradchecks():
    x, w = double(3, 2, 8), double(8)
    torch.testing.assert_close(FusedRMSNorm.apply(x, w, 1e-6), F.rms_norm(x, (8,), w, 1e-6))
    assert torch.autograd.gradcheck(FusedRMSNorm.apply, (x, w, 1e-6))


def test_fused_swiglu_matches_silu_gate_times_up_and_gradchecks():
    y = double(3, 2, 8)
    gate, up = y.chunk(2, -1)
    torch.testing.assert_close(FusedSwiGLU.apply(y), F.silu(gate) * up)
    assert torch.autograd.gradcheck(FusedSwiGLU.apply, (y,))


def test_fused_rope_matches_hugging_face_rotation_and_copies_v():
    x = double(5, 2, 3, 4)  # [s, b, heads, d]: rotate 2 heads, copy the third
    cos, sin = torch.rand(5, 4, dtype=torch.float64), torch.rand(5, 4, dtype=torch.float64)
    out = FusedRoPE.apply(x, cos, sin, 2)
    c, s_ = cos[:, None, None, :], sin[:, None, None, :]
    torch.testing.assert_close(out[:, :, :2], x[:, :, :2] * c + rotate_half(x[:, :, :2]) * s_)
    torch.testing.assert_close(out[:, :, 2], x[:, :, 2])
    assert torch.autograd.gradcheck(FusedRoPE.apply, (x, cos, sin, 2))
