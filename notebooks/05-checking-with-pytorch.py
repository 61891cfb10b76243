# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Checking with PyTorch
#
# **After this notebook you can** measure what PyTorch autograd really saves for a layer, compare
# it with the derivation byte for byte, and recover a formula's coefficients from measurements.
#
# The derivation is checked against PyTorch autograd itself. `derivation.verify` builds a reference
# layer from the same switches with plain PyTorch ops, runs a forward pass, and records every tensor
# autograd saves for backward (`torch.autograd.graph.saved_tensors_hooks`), each storage once,
# parameters excluded. Needs `torch` (`pip install 'derivation[verify]'`).

# %%
from derivation import derive
from derivation.verify import build_layer, fit_variant, layer_input, measure, measure_variant

d = derive()
sizes = dict(s=16, b=2, h=32, a=4)
layer = build_layer(d.variant, sizes)
m = measure(layer, layer_input(layer))
print(m)

# %% [markdown]
# Every storage above matches a declaration; LayerNorm's mean and rstd are listed as statistics,
# which the paper leaves out. The bytes agree exactly:

# %%
print("measured:", m.bytes, " derived:", d.evaluate(**sizes))
assert m.bytes == d.evaluate(**sizes)

# %% [markdown]
# ## Recovering the 34 and the 5
#
# Measured bytes are whole numbers and the closed form is linear in its coefficients, so measuring at
# a few sizes and solving exactly recovers them; every extra size is a check.

# %%
from derivation.symbols import a, b, h, s

sizes_list = [dict(s=8, b=1, h=16, a=2), dict(s=16, b=2, h=32, a=4),
              dict(s=8, b=2, h=64, a=4), dict(s=32, b=1, h=16, a=4)]
fit_variant(d.variant, sizes_list, [s * b * h, a * s**2 * b])

# %% [markdown]
# ## Variants too: a Llama-style layer, and fp32

# %%
for switches, z in [({"preset": "llama"}, dict(s=16, b=2, h=32, a=4, g=2, f=48)),
                    ({"dtype": "fp32"}, sizes),
                    ({"attention": "flash", "kv_heads": "g", "attention_dropout": False},
                     dict(s=16, b=2, h=32, a=4, g=2))]:
    v = derive(**switches)
    measured = measure_variant(v.variant, z).bytes
    print(f"{str(switches):40} measured {measured:>7,}  derived {v.evaluate(**z):>7,}  {v}")
    assert measured == v.evaluate(**z)

# %% [markdown]
# Large sizes need no memory: `measure_variant(..., fake=True)` runs the layer under PyTorch's
# `FakeTensorMode`, so a GPT-3-sized layer is measured without allocating it.

# %%
gpt3 = dict(s=2048, b=1, h=12288, a=96)
print(measure_variant(d.variant, gpt3, fake=True).bytes, d.evaluate(**gpt3))

# %% [markdown]
# ## Exercises
#
# **Exercise 1 (predict, then run).** Without dropout the derivation says sbh(32 + 2as/h). How
# many bytes will autograd save at s = 16, b = 2, h = 32, a = 4? Compute it by hand first.

# %% tags=["exercise"]
prediction_1 = None  # a whole number of bytes

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. sbh = 16·2·32 = 1024 and 2as/h = 2·4·16/32 = 4, so 1024 × 36 = 36,864 bytes.
measured_1 = measure_variant(derive(dropout=False).variant, sizes).bytes
assert measured_1 == 36864 == derive(dropout=False).evaluate(**sizes)
print(f"measured {measured_1:,} bytes", "" if prediction_1 is None else f"(you said {prediction_1:,})")

# %% [markdown]
# **Exercise 2 (predict, then run).** GPT-2's layer runs the softmax in fp32. Which coefficient of
# as²b will the fit recover from measurements? (Softmax output in fp32, mask, dropout output.)

# %% tags=["exercise"]
prediction_2 = None  # a whole number

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. 4 (fp32 softmax output) + 1 (bool mask) + 2 (bf16 dropout output) = 7.
fitted = fit_variant(derive(preset="gpt2").variant, sizes_list, [s * b * h, a * s**2 * b])
assert fitted[a * s**2 * b] == 7 and fitted[s * b * h] == 34
print(fitted)

# %% [markdown]
# ## Summary
#
# - `measure` records every tensor autograd saves, each storage once; its bytes equal the
#   derivation's exactly, for the paper's layer and its variants.
# - Measuring at a few sizes and solving exactly recovers the coefficients: 34 and 5.
# - `fake=True` measures a full-size layer without allocating it.

