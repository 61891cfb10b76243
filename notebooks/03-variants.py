# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Variants
#
# **After this notebook you can** predict how flash attention, grouped-query attention, SwiGLU,
# RMSNorm, dropout and precision change what a layer keeps, and find the tensors two variants
# disagree on with `compare`.
#
# Real layers differ from the paper's. Each difference is a switch; each switch changes which
# tensors are declared. `derivation.comparison.compare(a, b)` names the tensors that appear,
# disappear or change.

# %% [markdown]
# ## Try it: toggle switches, watch the table
#
# The cell below redraws the per-tensor table whenever you change a switch (it needs
# `ipywidgets`; without it, call `per_tensor_table(attention="flash")` yourself).

# %% tags=["callback"]
from derivation import derive


def per_tensor_table(attention="eager", kv_heads="a", mlp="gelu", norm="layernorm", dropout=True,
                     dtype="bf16"):
    """The per-tensor table (HTML) of the layer these switches describe."""
    ffn = "f" if mlp != "gelu" else "4h"
    d = derive(attention=attention, kv_heads=kv_heads, mlp=mlp, ffn_hidden=ffn, norm=norm,
               dropout=dropout, dtype=dtype)
    return d._repr_html_()


# %%
try:
    from IPython.display import HTML, display
    from ipywidgets import interact
except ImportError:  # no widgets: the static table
    print("ipywidgets is not installed; showing the default table")
else:
    interact(lambda **switches: display(HTML(per_tensor_table(**switches))),
             attention=["eager", "flash"], kv_heads=["a", "g"], mlp=["gelu", "swiglu"],
             norm=["layernorm", "rmsnorm"], dropout=True, dtype=["bf16", "fp32", "symbolic"])

# %% [markdown]
# ## Flash attention
#
# Flash attention keeps no `s × s` tensor: it keeps its output and an fp32 logsumexp (4 bytes per
# head and token) and recomputes the probabilities in backward. The 5as²b term becomes 4as.

# %%
from derivation.comparison import compare

compare("megatron", {"attention": "flash"})

# %% [markdown]
# ## Grouped-query attention (with flash): K and V shrink to g heads

# %%
compare({"attention": "flash"}, {"attention": "flash", "kv_heads": "g"})

# %% [markdown]
# ## Grouped-query attention without flash costs *more*
#
# Eager attention with GQA repeats K and V to *a* heads before the matmul and keeps the repeated
# copies for backward. The original g-head K and V stay alive too: they are views of the same QKV
# projection output, which a saved view keeps whole. So eager GQA keeps **4sbhg/a more** than
# plain multi-head attention:

# %%
compare("megatron", {"kv_heads": "g"})

# %% [markdown]
# ## SwiGLU (unfused and Megatron's fused kernel), with MLP width f

# %%
compare({"ffn_hidden": "f"}, {"mlp": "swiglu", "ffn_hidden": "f"})

# %%
compare({"mlp": "swiglu", "ffn_hidden": "f"}, {"mlp": "swiglu_fused", "ffn_hidden": "f"})

# %% [markdown]
# ## RMSNorm: fused, and the upcasting implementation Hugging Face writes

# %%
compare({"norm": "rmsnorm"}, {"norm": "rmsnorm", "norm_impl": "unfused_fp32"})

# %% [markdown]
# ## Dropout off

# %%
compare("megatron", {"dropout": False})

# %% [markdown]
# ## Precision: fp32, and the general form in β and μ bytes

# %%
display(derive(dtype="fp32"))
derive(dtype="symbolic")

# %% [markdown]
# ## Presets: a Llama-style layer against the paper's

# %%
c = compare("megatron", "llama")
print(c)

# %% [markdown]
# **What the plot says:** at Llama 3 8B sizes the paper's layer (and GPT-2's fp32 softmax) grows
# with s², the flash-attention layers only with s; past a few thousand tokens the attention
# scores dominate everything else, which is why every long-context model uses flash attention.

# %%
from derivation.presets import MODEL_PRESETS
from derivation.render.plots import memory_vs_sequence

sizes = {k: v for k, v in MODEL_PRESETS["llama3-8b"].values.items() if k in "bhagf"}
memory_vs_sequence({name: derive(preset=name) for name in ("megatron", "gpt2", "llama", "llama-hf")}, sizes)

# %% [markdown]
# ## Exercises
#
# **Exercise 1 (predict, then run).** With flash attention and GQA, by how many bytes do K and V
# together shrink when g = a/8 (Llama 3 70B has a = 64, g = 8)? Give the answer as a multiple of
# sbh.

# %% tags=["exercise"]
prediction_1 = None  # e.g. 3.5 (meaning 3.5 sbh)

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. K and V keep 2sbh·g/a each instead of 2sbh: together 4sbh(1 − g/a) = 4 × 7/8 = 3.5 sbh.
from derivation.symbols import a, b, g, h, s

saved = (derive(attention="flash").total - derive(attention="flash", kv_heads="g").total).subs(g, a / 8)
assert (saved - s * b * h * 7 / 2).expand() == 0
print("saved:", saved.factor())

# %% [markdown]
# **Exercise 2 (predict, then run).** Which switch removes the most bytes from the paper's layer
# at GPT-3 175B sizes (s = 2048): flash attention, no dropout, or RMSNorm? Rank them.

# %% tags=["exercise"]
prediction_2 = None  # e.g. ["flash", "dropout", "rmsnorm"]

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. Flash removes the s² part (5as/h = 80 sbh at these sizes); no dropout removes 2 sbh of
# masks and 3as²b (48 sbh); fused RMSNorm keeps what LayerNorm keeps (its input), so it saves 0.
gpt3 = {k: v for k, v in MODEL_PRESETS["gpt3-175b"].values.items() if k in "sbha"}
base = derive().evaluate(**gpt3)
savings = {name: base - derive(**switches).evaluate(**gpt3)
           for name, switches in {"flash": {"attention": "flash"}, "dropout": {"dropout": False},
                                  "rmsnorm": {"norm": "rmsnorm"}}.items()}
ranking = sorted(savings, key=savings.get, reverse=True)
assert ranking == ["flash", "dropout", "rmsnorm"] and savings["rmsnorm"] == 0
print({name: f"{n:,} bytes" for name, n in savings.items()})

# %% [markdown]
# ## Summary
#
# - Flash attention replaces the 5as²b of scores by a 4as logsumexp: memory becomes linear in s.
# - GQA saves only with flash attention; eager GQA keeps the repeated K and V *and* the originals,
#   4sbhg/a more than multi-head attention.
# - SwiGLU, RMSNorm, dropout and precision each change named tensors; `compare` lists them.
