# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Parallelism and recomputation
#
# **After this notebook you can** derive what each GPU keeps under tensor and sequence
# parallelism, say why sequence parallelism costs no extra communication, and weigh selective
# recomputation's memory saved against its FLOPs.
#
# The paper's Table 2, row by row, as transformations of the same declarations: tensor parallelism
# (`tensor_parallel="t"`), sequence parallelism, selective and full recomputation. Then the whole
# model on the first pipeline stage (`scope="model"`) for the paper's four models.

# %%
from derivation import derive, notation

rows = {
    "no parallelism": {},
    "tensor parallel": {"tensor_parallel": "t"},
    "tensor + sequence parallel": {"tensor_parallel": "t", "sequence_parallel": True},
    "tensor parallel + selective recomputation": {"tensor_parallel": "t", "recompute": "selective"},
    "tensor + sequence parallel + selective recomputation":
        {"tensor_parallel": "t", "sequence_parallel": True, "recompute": "selective"},
    "full recomputation": {"recompute": "full"},
}
for name, switches in rows.items():
    print(f"{name:55} {derive(**switches)}")

# %% [markdown]
# ## Tensor parallelism
#
# Heads and the MLP width are split across t ranks; the LayerNorm inputs, the two hidden dropout
# masks and the inputs of the QKV projection and the first MLP linear are replicated: the 10 in
# 10 + 24/t.

# %%
derive(tensor_parallel="t")

# %% [markdown]
# ## Sequence parallelism splits the replicated tensors along s
#
# **Why it costs no extra communication.** Tensor parallelism already ends the attention block and
# the MLP with an *all-reduce* of an `s b h` activation. An all-reduce is a *reduce-scatter*
# followed by an *all-gather*. Sequence parallelism only moves the two halves apart: the
# reduce-scatter leaves each rank with s/t of the tokens, on which the LayerNorms and dropouts
# run (so they keep s/t of their inputs), and the all-gather restores the full sequence before the
# next column-parallel linear. The same bytes cross the wire; a ring all-reduce over t ranks sends
# 2(t − 1)/t of the tensor per rank, and the two halves send (t − 1)/t each:

# %%
from fractions import Fraction

for t_ in (2, 4, 8):
    all_reduce = 2 * Fraction(t_ - 1, t_)
    reduce_scatter = all_gather = Fraction(t_ - 1, t_)
    print(f"t = {t_}: all-reduce {all_reduce} × sbh·2 bytes;  reduce-scatter + all-gather "
          f"{reduce_scatter + all_gather} × sbh·2 bytes")

# %% [markdown]
# What is kept per rank:

# %%
derive(tensor_parallel="t", sequence_parallel=True)

# %% [markdown]
# ## Selective recomputation
#
# Drops exactly the core-attention tensors (the 5as²b) and recomputes them in backward, at the cost
# of the QKᵀ and probs·V matmuls:

# %%
sel = derive(tensor_parallel="t", sequence_parallel=True, recompute="selective")
print("recomputed:", [t.name for t in sel.recomputed])
print("extra forward FLOPs per layer:", notation.text(sel.recompute_flops))
sel

# %% [markdown]
# ## The paper's models: selective recomputation saves about 70% (GPT-3) and 65% (MT-NLG)

# %%
from derivation.presets import MODEL_PRESETS
from derivation.render.units import human

sp = derive(tensor_parallel="t", sequence_parallel=True)
for name in ("gpt-22b", "gpt3-175b", "mt-nlg-530b", "gpt-1t"):
    values = {k: v for k, v in MODEL_PRESETS[name].values.items() if k in "sbhat"}
    before, after = sp.evaluate(**values), sel.evaluate(**values)
    print(f"{name:12} {human(before):>11} -> {human(after):>11} per layer per rank, "
          f"saves {100 * (before - after) / before:.1f}%")

# %% [markdown]
# ## The first pipeline stage
#
# With the 1F1B schedule the first stage holds L layers' worth of activations whatever p is, plus
# the embedding's dropout mask per micro-batch in flight; the interleaved schedule multiplies the
# layers' part by 1 + (p − 1)/(pm).

# %%
first = derive(scope="model", tensor_parallel="t", pipeline_parallel="p", interleave="m",
               sequence_parallel=True, recompute="selective")
first

# %%
for name, model in MODEL_PRESETS.items():
    if model.layer != "megatron":
        continue
    stage = derive(**model.switches("model"), scope="model", sequence_parallel=True, recompute="selective")
    values = {k: v for k, v in model.values.items() if k in {x.name for x in stage.symbols}}
    print(f"{name:12} {human(stage.evaluate(**values)):>10}  {stage}")

# %% [markdown]
# ## Memory against sequence length, GPT-3 175B sizes, per rank
#
# **What the plot says:** tensor parallelism alone leaves the 10sbh of replicated tensors on every
# rank; sequence parallelism removes that floor, and selective recomputation removes the s² part,
# so the two together grow only linearly in s, at about a third of the memory at s = 2048.

# %%
from derivation.render.plots import breakdown_bars, memory_vs_sequence

gpt3 = {k: v for k, v in MODEL_PRESETS["gpt3-175b"].values.items() if k in "bhat"}
memory_vs_sequence({name: derive(**switches) for name, switches in rows.items()}, gpt3)

# %%
breakdown_bars({name.replace(" + ", " +\n"): derive(**switches) for name, switches in list(rows.items())[1:5]},
               {**gpt3, "s": 2048})

# %% [markdown]
# ## Exercises
#
# **Exercise 1 (predict, then run).** With tensor *and* sequence parallelism over t ranks, what
# fraction of sbh(34 + 5as/h) does each rank keep? Write it as a formula in the next cell.

# %% tags=["exercise"]
prediction_1 = None  # e.g. "sbh(10 + 24/t + 5as/(ht))"

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. Sequence parallelism splits the 10sbh that tensor parallelism replicates along s, so
# every tensor is split t ways: sbh(34 + 5as/h)/t, the paper's Table 2, row 3.
from derivation.checker import check
from derivation.symbols import a, b, h, s, t

sp = derive(tensor_parallel="t", sequence_parallel=True)
assert (sp.total - s * b * h * (34 + 5 * a * s / h) / t).expand() == 0
assert check("34sbh/t + 5as^2b/t", tensor_parallel="t", sequence_parallel=True).holds
print("per rank:", sp, "" if prediction_1 is None else
      f"(yours holds: {check(prediction_1, tensor_parallel='t', sequence_parallel=True).holds})")

# %% [markdown]
# **Exercise 2 (predict, then run).** Selective recomputation re-runs QKᵀ and probs·V in
# backward. For GPT-3 175B (s = 2048, h = 12288), is that extra work more or less than 5% of the
# layer's forward FLOPs?

# %% tags=["exercise"]
prediction_2 = None  # "more" or "less"

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. The two matmuls cost 4s²bh of the forward's 24sbh² + 4s²bh FLOPs: a fraction
# s/(6h + s) = 2048/75776 = 2.7%, less than 5%: memory saved for almost nothing.
values = {k: v for k, v in MODEL_PRESETS["gpt3-175b"].values.items() if k in "sbhat"}
forward, again = sel.evaluate_flops(**values)
assert again / forward < 0.05 and again * (6 * 12288 + 2048) == forward * 2048
print(f"recomputed {again:,} of {forward:,} forward FLOPs per rank: {100 * again / forward:.1f}%")

# %% [markdown]
# ## Summary
#
# - Tensor parallelism splits heads and the MLP width, but replicates 10sbh: 10 + 24/t.
# - Sequence parallelism splits the replicated tensors along s at no extra communication: it
#   turns each all-reduce into the reduce-scatter and all-gather it already was.
# - Selective recomputation drops the 5as²b of the core attention for about 3% more FLOPs.
# - On the first pipeline stage the interleaved schedule multiplies the layers' part by
#   1 + (p − 1)/(pm).

