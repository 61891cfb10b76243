# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The 34 and the 5
#
# **After this notebook you can** say which tensor each byte of the paper's
# **sbh(34 + 5as/h)** belongs to, explain why the attention scores cost *s²*, and evaluate the
# formula exactly for GPT-3 175B.
#
# Korthikanti et al. (2022), *Reducing Activation Recomputation in Large Transformer Models*
# (arXiv:2205.05198, §4.1), count the bytes one GPT layer keeps for backward: *s* is the sequence
# length, *b* the micro-batch, *h* the hidden size and *a* the number of heads.

# %% [markdown]
# ## Before the formula: why b·a·s·s?
#
# Attention compares every token with every token, separately in each head and each sample. For
# one head of one sample that is an *s × s* matrix of scores; there are *a* heads and *b* samples,
# so the score tensor has **b·a·s·s** elements. Everything else in the layer grows like *s·b·h*
# (one vector of width *h* per token). A tiny example, counting elements:

# %%
s_, b_, h_, a_ = 4, 1, 8, 2  # four tokens, one sample, hidden size 8, two heads
print("one head, one sample: an", s_, "x", s_, "score matrix =", s_ * s_, "elements")
print("all heads and samples: b*a*s*s =", b_ * a_ * s_ * s_, "elements")
print("one activation of width h:   s*b*h =", s_ * b_ * h_, "elements")
for s_ in (1024, 2048, 4096):  # the ratio (b·a·s·s)/(s·b·h) = as/h grows with s
    print(f"s = {s_:5}: scores / hidden = a*s/h = {96 * s_ / 12288:.0f}  (GPT-3: a = 96, h = 12288)")

# %% [markdown]
# That ratio **as/h** is exactly what sits inside the paper's parentheses: the 5 in 5as/h counts
# the bytes per score element the layer keeps.
#
# ## Tensor by tensor
#
# Each row is one declaration: a tensor some backward computation reads. Its bytes are its
# shape's product times the bytes per element (2 for bf16, 1 for a bool dropout mask). Watch the
# running total grow to the closed form.

# %%
from derivation import derive, notation
from derivation.symbols import a, b, h, s

d = derive()  # the paper's layer: every switch at its default
d

# %%
running = 0
for tensor in d.tensors:
    running += tensor.bytes
    print(f"{tensor.name:34} {tensor.shape_text:10} {str(tensor.dtype):5} "
          f"{notation.text(tensor.bytes):7} total {notation.text(running)}")

# %% [markdown]
# ## Where the 34 and the 5 come from
#
# The `sbh` terms add up to 34: sixteen 2-byte tensors of `s b h` elements (counting the 4h-wide
# MLP tensors as four) and two 1-byte masks. The `as²b` terms add up to 5: the softmax output (2),
# its dropout mask (1) and the dropout output (2), the three `b a s s` tensors of the core
# attention.
#
# **Why keep both the softmax output and the dropout output?** They feed two different backward
# computations. Softmax backward needs the softmax *output* P (its gradient is P ⊙ (dY − ⟨dY, P⟩)).
# The matmul `probs·V` needs its other input, the *dropped-out* probabilities, to form the gradient
# of V. The dropout output is not P: recovering it from P would need the mask and a multiply, so
# frameworks keep it. Flash attention keeps neither and recomputes both (notebook 03).

# %%
print("coefficient of sbh: ", d.total.coeff(s * b * h))
print("coefficient of as²b:", d.total.coeff(a * s**2 * b))
assert (d.total - s * b * h * (34 + 5 * a * s / h)).expand() == 0
print("closed form:", d)

# %% [markdown]
# ## By block

# %%
for block, subtotal in d.breakdown().items():
    print(f"{block:10} {notation.text(subtotal)}")

# %% [markdown]
# The attention block keeps 11sbh + 5as²b, the MLP 19sbh and the two LayerNorms 4sbh.
#
# ## GPT-3 175B
#
# GPT-3 175B has a = 96 heads and h = 12288; the paper trains it with s = 2048 and b = 1. Values
# are exact integers; `5as/h = 80`, so a layer keeps 114 sbh without parallelism.

# %%
from derivation.presets import MODEL_PRESETS
from derivation.render.units import human

gpt3 = {k: v for k, v in MODEL_PRESETS["gpt3-175b"].values.items() if k in "sbha"}
n = d.evaluate(**gpt3)
print(f"{n:,} bytes = {human(n)} per layer")
print({block: human(v) for block, v in d.evaluate_breakdown(**gpt3).items()})
print("5as/h =", (5 * a * s / h).subs({a: gpt3["a"], s: gpt3["s"], h: gpt3["h"]}))

# %% [markdown]
# ## Exercises
#
# **Exercise 1 (predict, then run).** Hugging Face's GPT-2 runs the softmax in fp32 under
# autocast. With an fp32 softmax and **no dropout at all**, what is the coefficient of as²b?
# Write your prediction in the next cell, then run the solution below it (it is collapsed: click
# to expand).

# %% tags=["exercise"]
prediction_1 = None  # your answer: a whole number

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. Without dropout there is no mask and no dropout output, but probs·V still needs the
# probabilities in bf16 (2), and softmax backward needs its fp32 output (4): 6as²b.
answer_1 = derive(softmax_dtype="fp32", dropout=False).total.coeff(a * s**2 * b)
assert answer_1 == 6
print("coefficient of as²b:", answer_1, "" if prediction_1 is None else
      ("(your prediction is right)" if prediction_1 == answer_1 else f"(you predicted {prediction_1})"))

# %% [markdown]
# **Exercise 2 (predict, then run).** Doubling the sequence length from 2048 to 4096 multiplies
# GPT-3's per-layer memory by how much? (Hint: only part of the formula grows like s².)

# %% tags=["exercise"]
prediction_2 = None  # your answer, e.g. 2.0 or 4.0

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. sbh(34 + 5as/h) at s = 2048 is 114 sbh; at s = 4096 the sbh doubles and 5as/h becomes
# 160, so the ratio is 2 × 194/114 = 3.40: between 2 (all linear) and 4 (all quadratic).
ratio = d.evaluate(**{**gpt3, "s": 4096}) / d.evaluate(**gpt3)
assert abs(ratio - 2 * 194 / 114) < 1e-12
print(f"ratio: {ratio:.2f}")

# %% [markdown]
# ## Summary
#
# - Every byte of sbh(34 + 5as/h) is a named tensor: 34 comes from the *s b h*-shaped tensors
#   (16-bit activations and 1-byte masks), 5 from the three *b a s s* tensors of the core attention.
# - The score tensor is b·a·s·s because every head of every sample compares every token with every
#   token; relative to the rest it weighs as/h, which grows with the sequence.
# - Softmax output and dropout output are both kept because two different backward computations
#   read them.
# - `derive()` gives the formula, `.evaluate()` the exact bytes at given sizes.
