# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # LaTeX for your paper
#
# **After this notebook you can** put the derivation of your layer into a paper: an `align*`
# from tensors to the closed form, a `booktabs` table, macros for your prose, laid out for a
# one-column or a two-column article.
#
# `derivation latex` (and `derivation.render.latex` in Python) writes a fragment that needs
# `\usepackage{amsmath,booktabs,tabularx}` and can be `\input`. This is what the command below
# writes, for a Llama-style layer at Llama 3 8B sizes:
#
# ```
# derivation latex --preset llama --model llama3-8b --standalone -o layer.tex
# pdflatex layer.tex
# ```

# %%
import tempfile
from pathlib import Path

from derivation.cli import main

folder = Path(tempfile.mkdtemp())
main(["latex", "--preset", "llama", "--model", "llama3-8b", "--standalone", "-o", str(folder / "layer.tex")])
source = (folder / "layer.tex").read_text()
print(len(source.splitlines()), "lines;", "the last lines of the derivation give the exact bytes:")
align = source[source.index(r"\begin{align*}"):source.index(r"\end{align*}")]
print("\n".join(align.splitlines()[-3:]))

# %% [markdown]
# Llama 3 8B runs with t = 1, so the fragment has no /t at all. Compiled, page 1 looks like this
# (rendered with pdflatex and pdftoppm when they are installed, else the closed form as math):

# %%
from IPython.display import Image, Math, display

from derivation import derive
from derivation.errors import DerivationError
from derivation.render import latex
from derivation.render.preview import page_png

llama = derive(preset="llama")
try:
    display(Image(page_png(source, dpi=80)))
except DerivationError as problem:
    print(problem)
    display(Math("M = " + latex.closed_form(llama)))

# %% [markdown]
# ## Two columns
#
# `--columns 2` (`columns=2`) fits one column of a two-column article: the names get smaller, long
# sums are broken over lines and the table drops its reasons column. `--wide` puts the table, with
# its reasons, in a `table*` across the page.

# %%
two = latex.document(derive(preset="llama", tensor_parallel="t"), columns=2)
try:
    display(Image(page_png(two, dpi=80)))
except DerivationError as problem:
    print(problem)

# %% [markdown]
# ## The pieces
#
# The `align*` alone, and the table (a `table` float with a caption and a label of its own,
# `tab:act-<switches>`):

# %%
d = derive(attention="flash", kv_heads="g")
print(latex.align(d))
print(latex.label(d))

# %% [markdown]
# ## Macros for your prose
#
# With `--macros` (`macros=True`) every symbol in the math is a macro, `\acts` for s and so on,
# defined with `\providecommand`: define `\acts` before `\input` and the fragment and your prose
# both say what you call the sequence length. The closed form and block subtotals become
# `\acttotal`, `\actattention`, ..., so that `$M = \acttotal$` in the text never disagrees with
# the table. `--prefix` gives two fragments of one paper their own macros and labels:

# %%
print(latex.macros(d, prefix="flash").splitlines()[-4:])

# %% [markdown]
# Text is escaped for pdflatex: underscores in tensor names become `\_`, and the Unicode the
# declarations use (×, ᵀ, ·, β, μ) becomes LaTeX commands, so the output is pure ASCII; the same
# input always gives byte-identical output.

# %%
print(latex.escape("backward of QKᵀ: s×s scores, probs·V, β bytes"))
assert latex.document(d) == latex.document(derive(attention="flash", kv_heads="g"))

# %% [markdown]
# ## Exercises
#
# **Exercise 1 (predict, then run).** A pipeline-parallel first stage keeps L(1 + (p − 1)/(pm))
# layers' worth of activations with the interleaved schedule. How many layers' worth is that for
# GPT-3 175B (L = 96, p = 8, m = 3)?

# %% tags=["exercise"]
prediction_1 = None  # a number of layers

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. 96 × (1 + 7/24) = 124 layers; the fragment writes the factor, not three fractions.
from fractions import Fraction

stage = derive(scope="model", tensor_parallel="t", pipeline_parallel="p", interleave="m")
factor = Fraction(96) * (1 + Fraction(8 - 1, 8 * 3))
assert factor == 124
assert r"L \left(1 + \frac{p - 1}{p m}\right)" in latex.align(stage)
print("layers in flight:", factor, " closed form:", latex.closed_form(stage, inline=True))

# %% [markdown]
# **Exercise 2 (predict, then run).** You `\input` two fragments, one for the paper's layer and one
# for flash attention. Which option keeps `\acttotal` of the first from being replaced by the
# second's?

# %% tags=["exercise"]
prediction_2 = None  # the option's name

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution. --prefix: the second fragment's macros become \flashtotal, \flashs, ... and its label
# tab:flash-attention-flash, so both fit one document.
second = latex.fragment(derive(attention="flash"), with_macros=True, prefix="flash")
assert r"\flashtotal" in second and r"\acttotal" not in second
print([line for line in second.splitlines() if "flashtotal" in line][0])

# %% [markdown]
# ## Summary
#
# - `derivation latex` writes an `align*` (names next to their terms) and a `booktabs` table
#   that fit a one-column article; `--columns 2` and `--wide` fit two-column papers.
# - Sizes add the exact bytes; a t = 1 model shows no /t; model scope is factored by the layers in
#   flight.
# - `--macros` writes symbols as macros the math uses; `--prefix` keeps fragments apart.
