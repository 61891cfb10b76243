"""Write the teaching notebooks from the cells below, then execute them to store their outputs.

    python notebooks/make.py           # write and execute every notebook
    python notebooks/make.py 03 05     # only these

Each notebook imports only ``derivation`` (``display`` is IPython's built-in); formulas render
through the objects' ``_repr_latex_`` / ``_repr_html_``. ``tests/test_notebooks.py`` executes the
stored notebooks again in CI.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from derivation.output import write_atomic

HERE = Path(__file__).resolve().parent


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


NOTEBOOKS: dict[str, list] = {}

NOTEBOOKS["01-the-34-and-the-5"] = [
    md("""
# The 34 and the 5

Korthikanti et al. (2022), *Reducing Activation Recomputation in Large Transformer Models*
(arXiv:2205.05198, §4.1), count the bytes one GPT layer keeps for backward:
**sbh(34 + 5as/h)**, with *s* the sequence length, *b* the micro-batch, *h* the hidden size and
*a* the number of heads. This notebook builds that number tensor by tensor from the declarations
in `derivation/layer.py`, then evaluates it for GPT-3 175B.
"""),
    code("""
from derivation import derive, notation
from derivation.symbols import a, b, h, s

d = derive()  # the paper's layer: every switch at its default
d
"""),
    md("""
## Tensor by tensor

Each row is one declaration: a tensor some backward computation reads. Its bytes are its shape's
product times the bytes per element (2 for bf16, 1 for a bool dropout mask). Watch the running total
grow to the closed form.
"""),
    code("""
running = 0
for tensor in d.tensors:
    running += tensor.bytes
    print(f"{tensor.name:34} {tensor.shape_text:10} {str(tensor.dtype):5} "
          f"{notation.text(tensor.bytes):7} total {notation.text(running)}")
"""),
    md("""
## Where the 34 and the 5 come from

The `sbh` terms add up to 34: sixteen 2-byte tensors of `s b h` elements (counting the 4h-wide MLP
tensors as four) and two 1-byte masks. The `as²b` terms add up to 5: the softmax output (2), its
dropout mask (1) and the dropout output (2), the three `b a s s` tensors of the core attention.
"""),
    code("""
print("coefficient of sbh: ", d.total.coeff(s * b * h))
print("coefficient of as²b:", d.total.coeff(a * s**2 * b))
assert (d.total - s * b * h * (34 + 5 * a * s / h)).expand() == 0
print("closed form:", d)
"""),
    md("## By block"),
    code("""
for block, subtotal in d.breakdown().items():
    print(f"{block:10} {notation.text(subtotal)}")
"""),
    md("""
The attention block keeps 11sbh + 5as²b, the MLP 19sbh and the two LayerNorms 4sbh.

## GPT-3 175B

GPT-3 175B has a = 96 heads and h = 12288; the paper trains it with s = 2048 and b = 1. Values
are exact integers; `5as/h = 80`, so a layer keeps 114 sbh without parallelism.
"""),
    code("""
from derivation.presets import MODEL_PRESETS
from derivation.render.units import human

gpt3 = {k: v for k, v in MODEL_PRESETS["gpt3-175b"].values.items() if k in "sbha"}
n = d.evaluate(**gpt3)
print(f"{n:,} bytes = {human(n)} per layer")
print({block: human(v) for block, v in d.evaluate_breakdown(**gpt3).items()})
print("5as/h =", (5 * a * s / h).subs({a: gpt3["a"], s: gpt3["s"], h: gpt3["h"]}))
"""),
    md("With tensor parallelism over t = 8 GPUs, as the paper runs it, each rank keeps:"),
    code("""
tp = derive(tensor_parallel="t")
display(tp)
print(human(tp.evaluate(**gpt3, t=8)), "per layer per rank")
"""),
]

NOTEBOOKS["02-what-popular-explanations-get-wrong"] = [
    md("""
# What popular explanations get wrong

A common way to explain the paper's sbh(34 + 5as/h) splits it by block: *attention ≈ 12sbh,
MLP ≈ 22sbh*, and then patches the gap with a fudge term or two ("plus the LayerNorms, roughly").
The total comes out right; the split does not. Here the claim is checked against the
declarations, block by block, with `derivation.checker.check`.
"""),
    code("""
from derivation import derive, notation
from derivation.checker import check

d = derive()
for block, subtotal in d.breakdown().items():
    print(f"derived {block:10} {notation.text(subtotal)}")
"""),
    md("""
The derivation says: attention **11sbh + 5as²b**, MLP **19sbh**, LayerNorms **4sbh**. The popular
split folds the LayerNorms away and distributes 34 as 12 + 22:
"""),
    code("""
result = check("34sbh + 5as^2b",
               per_block={"attention": "12sbh + 5as^2b", "mlp": "22sbh", "norm": "0"})
result
"""),
    md("""
The total holds, and every block is wrong. No whole tensor of the attention block is 1sbh except
the dropout mask, and the MLP has no tensor of 3sbh at all: the 12 and the 22 cannot be assigned to
tensors. The real split follows from which tensors sit in which block: each LayerNorm keeps its own
input (2sbh each); the attention block keeps the QKV input, Q, K, V, the output projection input
(2sbh each) and a 1-byte dropout mask; the MLP keeps its input (2sbh), the GeLU input and output
(8sbh each, 4h wide) and a 1-byte mask.

## Elements are not bytes

A second mistake counts *elements* and multiplies by 2 bytes. Dropout masks are 1 byte per element
(a bool on CUDA), so that overcounts. In symbolic precision (β bytes per activation, μ per mask
element) the layer keeps:
"""),
    code("""
general = derive(dtype="symbolic")
general
"""),
    md("Counting every element as 2 bytes sets β = μ = 2 and gives:"),
    code("""
from derivation.symbols import beta, mu
print(notation.paper_text(general.total.subs({beta: 2, mu: 2})))
check("sbh(36 + 6as/h)")
"""),
    md("""
The extra 2sbh + as²b are exactly the three dropout masks counted at 2 bytes instead of 1:
`mask_bytes="dtype"` (PyTorch's CPU dropout, which does keep a mask in the activation dtype) gives
this total. `derivation.compare` names the tensors that change:
"""),
    code("""
from derivation.comparison import compare

compare("megatron", {"mask_bytes": "dtype"})
"""),
    md("""
## Other miscounts the declarations rule out

- **The softmax input is not kept**: softmax backward reads the softmax *output*.
- **Q, K and V are views** of one fused QKV projection output; counting the projection output
  and Q, K, V separately double counts 6sbh.
- **LayerNorm statistics** (mean and rstd, `s b` fp32 each) are real but left out by the paper:
"""),
    code("""
compare("megatron", {"norm_stats": True})
"""),
]

NOTEBOOKS["03-variants"] = [
    md("""
# Variants

Real layers differ from the paper's: flash attention, SwiGLU, RMSNorm, grouped-query attention,
no dropout, other precisions. Each is a switch; each switch changes which tensors are declared.
`derivation.comparison.compare(a, b)` names the tensors that appear, disappear or change.
"""),
    code("""
from derivation import derive
from derivation.comparison import compare

derive(attention="flash")
"""),
    md("""
## Flash attention

Flash attention keeps no `s × s` tensor: it keeps its output and an fp32 logsumexp (4 bytes per
head and token) and recomputes the probabilities in backward. The 5as²b term becomes 4as.
"""),
    code("""
compare("megatron", {"attention": "flash"})
"""),
    md("## Grouped-query attention (with flash): K and V shrink to g heads"),
    code("""
compare({"attention": "flash"}, {"attention": "flash", "kv_heads": "g"})
"""),
    md("""
Eager attention with GQA repeats K and V to *a* heads before the matmul, and keeps the repeated
copies: nothing is saved over multi-head attention.
"""),
    code("""
derive(kv_heads="g")
"""),
    md("## SwiGLU (unfused and Megatron's fused kernel), with MLP width f"),
    code("""
compare({"ffn_hidden": "f"}, {"mlp": "swiglu", "ffn_hidden": "f"})
"""),
    code("""
compare({"mlp": "swiglu", "ffn_hidden": "f"}, {"mlp": "swiglu_fused", "ffn_hidden": "f"})
"""),
    md("## RMSNorm: fused, and the upcasting implementation Hugging Face writes"),
    code("""
compare({"norm": "rmsnorm"}, {"norm": "rmsnorm", "norm_impl": "unfused_fp32"})
"""),
    md("## Dropout off"),
    code("""
compare("megatron", {"dropout": False})
"""),
    md("## Precision: fp32, and the general form in β and μ bytes"),
    code("""
display(derive(dtype="fp32"))
derive(dtype="symbolic")
"""),
    md("## Presets: a Llama-style layer against the paper's"),
    code("""
c = compare("megatron", "llama")
print(c)
"""),
    code("""
from derivation.presets import MODEL_PRESETS
from derivation.render.plots import memory_vs_sequence

sizes = {k: v for k, v in MODEL_PRESETS["llama3-8b"].values.items() if k in "bhagf"}
memory_vs_sequence({name: derive(preset=name) for name in ("megatron", "gpt2", "llama", "llama-hf")}, sizes)
"""),
]

NOTEBOOKS["04-parallelism-and-recomputation"] = [
    md("""
# Parallelism and recomputation

The paper's Table 2, row by row, as transformations of the same declarations: tensor parallelism
(`tensor_parallel="t"`), sequence parallelism, selective and full recomputation. Then the whole
model on the first pipeline stage (`scope="model"`) for the paper's four models.
"""),
    code("""
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
"""),
    md("""
## Tensor parallelism

Heads and the MLP width are split across t ranks; the LayerNorm inputs, the two hidden dropout
masks and the inputs of the QKV projection and the first MLP linear are replicated: the 10 in
10 + 24/t.
"""),
    code("""
derive(tensor_parallel="t")
"""),
    md("## Sequence parallelism splits the replicated tensors along s"),
    code("""
derive(tensor_parallel="t", sequence_parallel=True)
"""),
    md("""
## Selective recomputation

Drops exactly the core-attention tensors (the 5as²b) and recomputes them in backward, at the cost
of the QKᵀ and probs·V matmuls:
"""),
    code("""
sel = derive(tensor_parallel="t", sequence_parallel=True, recompute="selective")
print("recomputed:", [t.name for t in sel.recomputed])
print("extra forward FLOPs per layer:", notation.text(sel.recompute_flops))
sel
"""),
    md("## The paper's models: selective recomputation saves about 70% (GPT-3) and 65% (MT-NLG)"),
    code("""
from derivation.presets import MODEL_PRESETS
from derivation.render.units import human

sp = derive(tensor_parallel="t", sequence_parallel=True)
for name in ("gpt-22b", "gpt3-175b", "mt-nlg-530b", "gpt-1t"):
    values = {k: v for k, v in MODEL_PRESETS[name].values.items() if k in "sbhat"}
    before, after = sp.evaluate(**values), sel.evaluate(**values)
    print(f"{name:12} {human(before):>11} -> {human(after):>11} per layer per rank, "
          f"saves {100 * (before - after) / before:.1f}%")
"""),
    md("""
## The first pipeline stage

With the 1F1B schedule the first stage holds L layers' worth of activations whatever p is, plus
the embedding's dropout mask per micro-batch in flight; the interleaved schedule multiplies the
layers' part by 1 + (p − 1)/(pm).
"""),
    code("""
first = derive(scope="model", tensor_parallel="t", pipeline_parallel="p", interleave="m",
               sequence_parallel=True, recompute="selective")
first
"""),
    code("""
for name, model in MODEL_PRESETS.items():
    if model.layer != "megatron":
        continue
    stage = derive(**model.switches("model"), scope="model", sequence_parallel=True, recompute="selective")
    values = {k: v for k, v in model.values.items() if k in {x.name for x in stage.symbols}}
    print(f"{name:12} {human(stage.evaluate(**values)):>10}  {stage}")
"""),
    md("## Memory against sequence length, GPT-3 175B sizes, per rank"),
    code("""
from derivation.render.plots import breakdown_bars, memory_vs_sequence

gpt3 = {k: v for k, v in MODEL_PRESETS["gpt3-175b"].values.items() if k in "bhat"}
memory_vs_sequence({name: derive(**switches) for name, switches in rows.items()}, gpt3)
"""),
    code("""
breakdown_bars({name.replace(" + ", " +\\n"): derive(**switches) for name, switches in list(rows.items())[1:5]},
               {**gpt3, "s": 2048})
"""),
]

NOTEBOOKS["05-checking-with-pytorch"] = [
    md("""
# Checking with PyTorch

The derivation is checked against PyTorch autograd itself. `derivation.verify` builds a reference
layer from the same switches with plain PyTorch ops, runs a forward pass, and records every tensor
autograd saves for backward (`torch.autograd.graph.saved_tensors_hooks`), each storage once,
parameters excluded. Needs `torch` (`pip install 'derivation[verify]'`).
"""),
    code("""
from derivation import derive
from derivation.verify import build_layer, fit_variant, layer_input, measure, measure_variant

d = derive()
sizes = dict(s=16, b=2, h=32, a=4)
layer = build_layer(d.variant, sizes)
m = measure(layer, layer_input(layer))
print(m)
"""),
    md("""
Every storage above matches a declaration; LayerNorm's mean and rstd are listed as statistics,
which the paper leaves out. The bytes agree exactly:
"""),
    code("""
print("measured:", m.bytes, " derived:", d.evaluate(**sizes))
assert m.bytes == d.evaluate(**sizes)
"""),
    md("""
## Recovering the 34 and the 5

Measured bytes are whole numbers and the closed form is linear in its coefficients, so measuring at
a few sizes and solving exactly recovers them; every extra size is a check.
"""),
    code("""
from derivation.symbols import a, b, h, s

sizes_list = [dict(s=8, b=1, h=16, a=2), dict(s=16, b=2, h=32, a=4),
              dict(s=8, b=2, h=64, a=4), dict(s=32, b=1, h=16, a=4)]
fit_variant(d.variant, sizes_list, [s * b * h, a * s**2 * b])
"""),
    md("## Variants too: a Llama-style layer, and fp32"),
    code("""
for switches, z in [({"preset": "llama"}, dict(s=16, b=2, h=32, a=4, g=2, f=48)),
                    ({"dtype": "fp32"}, sizes),
                    ({"attention": "flash", "kv_heads": "g", "attention_dropout": False},
                     dict(s=16, b=2, h=32, a=4, g=2))]:
    v = derive(**switches)
    measured = measure_variant(v.variant, z).bytes
    print(f"{str(switches):40} measured {measured:>7,}  derived {v.evaluate(**z):>7,}  {v}")
    assert measured == v.evaluate(**z)
"""),
    md("""
Large sizes need no memory: `measure_variant(..., fake=True)` runs the layer under PyTorch's
`FakeTensorMode`, so a GPT-3-sized layer is measured without allocating it.
"""),
    code("""
gpt3 = dict(s=2048, b=1, h=12288, a=96)
print(measure_variant(d.variant, gpt3, fake=True).bytes, d.evaluate(**gpt3))
"""),
]

NOTEBOOKS["06-latex-for-your-paper"] = [
    md("""
# LaTeX for your paper

`derivation latex` (and `derivation.render.latex` in Python) writes the derivation for a paper:
an `align*` from per-tensor terms to block subtotals to the closed form, and a `booktabs` table,
one row per tensor. The fragment needs `\\usepackage{amsmath,booktabs}` and can be `\\input`;
`--standalone` writes a complete document that pdflatex compiles.
"""),
    code("""
from derivation import derive
from derivation.render import latex

d = derive(attention="flash", kv_heads="g")
print(latex.align(d))
"""),
    md("The table (a `table` float with caption and label `tab:activation-memory`):"),
    code("""
print(latex.table(d))
"""),
    md("""
With `--macros` (`with_macros=True`) the fragment starts with one `\\newcommand` per symbol of
`derivation.symbols.SYMBOLS`, and the closed form and block subtotals as macros, so the prose can
write `$M = \\acttotal$` and never disagree with the table:
"""),
    code("""
print(latex.macros(d))
"""),
    md("""
From the command line, the same with sizes (the last line of the `align*` gives the exact
bytes), written atomically to a file:

```
derivation latex --attention flash --kv-heads g --model llama3-8b --standalone -o layer.tex
pdflatex layer.tex
```
"""),
    code("""
import tempfile
from derivation.cli import main

path = tempfile.mkdtemp() + "/layer.tex"
main(["latex", "--standalone", "--preset", "llama", "--model", "llama3-8b", "-o", path])
print(open(path).read()[:1200])
"""),
    md("""
Text is escaped for pdflatex: underscores in tensor names become `\\_`, and the Unicode the
declarations use (×, ᵀ, ·, β, μ) becomes LaTeX commands, so the output is pure ASCII; the same
input always gives byte-identical output.
"""),
    code("""
print(latex.escape("backward of QKᵀ: s×s scores, probs·V, β bytes"))
assert latex.document(d) == latex.document(derive(attention="flash", kv_heads="g"))
"""),
]


def kernel_name() -> str:
    """python3, the kernel of this interpreter (ipykernel's built-in spec when none is installed)."""
    return "python3"


def build(name: str, cells: list) -> Path:
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    NotebookClient(nb, timeout=300, kernel_name=kernel_name(),
                   resources={"metadata": {"path": str(HERE)}}).execute()
    for index, cell in enumerate(nb.cells):  # stable ids keep the diffs small
        cell["id"] = f"{name[:2]}-{index:02d}"
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    path = HERE / f"{name}.ipynb"
    write_atomic(path, nbformat.writes(nb) + "\n")
    return path


def main(argv: list[str]) -> int:
    wanted = [name for name in NOTEBOOKS if not argv or any(name.startswith(arg) for arg in argv)]
    for name in wanted:
        print("wrote", build(name, NOTEBOOKS[name]).relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
