# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What popular explanations get wrong
#
# **After this notebook you can** check a formula from a blog post or a slide against the
# declarations, block by block, and name the tensors that make it right or wrong.
#
# ## The explanations
#
# - EleutherAI's *Transformer Math 101* (Anthony, Biderman and Schoelkopf, 2023,
#   <https://blog.eleuther.ai/transformer-math/>) gives the activation memory without
#   recomputation as **sbhL(34 + 5as/h)** bytes, citing Korthikanti et al. (2022). That is the
#   paper's layer, and it is right *for that layer*: 16-bit activations, 1-byte dropout masks,
#   eager attention with dropout. It is widely reused for layers that are not that layer.
# - A split that circulates with it in slides and forum answers: *attention ≈ 12sbh, MLP ≈ 22sbh*
#   (plus 5as²b for the scores). The reasoning offered: attention keeps "its input, Q, K, V and the
#   output, about 2sbh each, plus a mask", the MLP keeps "the two 4h-wide activations, 8sbh each,
#   plus its input and a mask", and the LayerNorms are "small" and folded into the blocks.
#
# Both sum to the same 34. Here they are checked with `derivation.checker.check`.

# %%
from derivation import derive, notation
from derivation.checker import check
from derivation.symbols import a, b, beta, h, mu, s

d = derive()
print("Transformer Math 101, one layer:", check("sbh(34 + 5as/h)").holds)

# %% [markdown]
# The total holds for the paper's layer. Now the split, block by block (one line per block; the
# full report is `print(result)`):

# %%
result = check("34sbh + 5as^2b", per_block={"attention": "12sbh + 5as^2b", "mlp": "22sbh", "norm": "0"})
print("total holds:", result.total.holds)
for block in result.blocks:
    verdict = "holds" if block.holds else "does not hold"
    print(f"  {block.scope:9} claimed {notation.text(block.claimed):15} derived "
          f"{notation.text(block.derived):15} {verdict}")

# %% [markdown]
# The total holds and every block is wrong: attention keeps 11sbh, not 12; the MLP 19sbh, not 22;
# the LayerNorms 4sbh, not 0. "Small" is the mistake: each LayerNorm keeps its whole input, 2sbh,
# as much as Q. The 4sbh of the LayerNorms were spread over the blocks as 1 + 3, which matches no
# tensor. The real split, tensor by tensor:

# %%
for block, subtotal in d.breakdown().items():
    parts = " + ".join(f"{notation.text(t.bytes)} {t.leaf}" for t in d.tensors if t.block == block)
    print(f"{block:9} = {notation.text(subtotal):15} = {parts}")

# %% [markdown]
# ## "Every element is 2 bytes": sbh(36 + 6as/h)
#
# Counting *elements* and multiplying by 2 bytes gives 36 and 6. Dropout masks are 1 byte per
# element (a bool on CUDA), so that counts the three masks twice. The general form, with β bytes
# per activation element and μ per mask element:

# %%
general = derive(dtype="symbolic")
general

# %% [markdown]
# Setting β = μ = 2 gives the folk formula; the extra 2sbh + as²b are exactly the three dropout
# masks at 2 bytes instead of 1. PyTorch's CPU dropout really does keep its mask in the activation
# dtype (`mask_bytes="dtype"`), and there the formula holds:

# %%
print("β = μ = 2:        ", notation.paper_text(general.total.subs({beta: 2, mu: 2})))
print("CUDA (1-byte mask):", check("sbh(36 + 6as/h)").holds)
print("CPU dropout mask:  ", check("sbh(36 + 6as/h)", mask_bytes="dtype").holds)

# %% [markdown]
# ## "Double it for fp32": sbh(68 + 10as/h)
#
# Doubling assumes every byte doubles. The masks stay 1 byte in fp32 training, so fp32 keeps
# 66sbh + 9as²b, not 68sbh + 10as²b:

# %%
fp32 = derive(dtype="fp32")
print("fp32 derived:", fp32, " doubled claim holds:", check("sbh(68 + 10as/h)", dtype="fp32").holds)
masks = [t for t in fp32.tensors if str(t.dtype) == "bool"]
print("tensors that do not double:", ", ".join(f"{t.name} ({notation.text(t.bytes)})" for t in masks))

# %% [markdown]
# ## Other miscounts the declarations rule out
#
# - **The softmax input is not kept**: softmax backward reads the softmax *output*.
# - **Q, K and V are views** of one fused QKV projection output; counting the projection output
#   and Q, K, V separately double counts 6sbh.
# - **LayerNorm statistics** (mean and rstd, `s b` fp32 each) are real but left out by the paper:

# %%
from derivation.comparison import compare

compare("megatron", {"norm_stats": True})

# %% [markdown]
# ## Exercises
#
# **Exercise 1 (predict, then run).** Someone applies *Transformer Math 101* to a layer with flash
# attention. Flash attention keeps no s × s tensor but an fp32 logsumexp of `b a s` elements. What
# is the correct formula? Write it as text, e.g. `"sbh(34 + 4a/h)"`, then run the solution.

# %% tags=["exercise"]
prediction_1 = None  # a formula as text

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. The 5as²b (softmax output 2, mask 1, dropout output 2) is gone; the logsumexp adds
# 4 bytes × b·a·s = 4asb = sbh·4a/h. The sbh part stays 34.
flash = derive(attention="flash")
assert check("sbh(34 + 4a/h)", attention="flash").holds
print("flash attention:", flash, "" if prediction_1 is None else f"(yours holds: {check(prediction_1, attention='flash').holds})")

# %% [markdown]
# **Exercise 2 (predict, then run).** A slide says *"no dropout saves only the masks: sbh(32 + 4as/h)"*.
# Does it hold? Think about what else dropout makes the layer keep.

# %% tags=["exercise"]
prediction_2 = None  # True or False

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. Without dropout the three masks go (2sbh + as²b), and so does the dropout output
# (2as²b): probs·V then reads the softmax output itself. The layer keeps sbh(32 + 2as/h).
no_dropout = derive(dropout=False)
assert not check("sbh(32 + 4as/h)", dropout=False).holds
assert check("sbh(32 + 2as/h)", dropout=False).holds
print("without dropout:", no_dropout)

# %% [markdown]
# ## Summary
#
# - *Transformer Math 101*'s sbh(34 + 5as/h) is the paper's layer and holds for it; it does not
#   hold for flash attention, other precisions or other dropout settings.
# - The "attention 12, MLP 22" split gets the total right and every block wrong: the LayerNorms
#   keep 4sbh, and the true split is 11 + 19 + 4.
# - "Every element is 2 bytes" and "double it for fp32" both forget that dropout masks are 1 byte.
# - `check(formula, **switches)` tells you whether a formula holds under your assumptions.
