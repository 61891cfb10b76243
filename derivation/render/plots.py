"""Plots (matplotlib): activation memory against sequence length, and a per-block breakdown.

Every number drawn comes from :meth:`Derivation.evaluate` / :meth:`Derivation.evaluate_breakdown`
as an exact integer of bytes; it becomes a float of GiB (1024³ bytes) only when it is drawn. No
configuration is refused for being too big: a layer that needs a terabyte is drawn at a terabyte.

matplotlib is imported inside the functions (the ``notebooks`` extra), so importing this module
costs nothing. The functions return a ``matplotlib.figure.Figure``, which Jupyter displays inline
and :func:`save` writes; the command line selects the Agg backend first, so no GUI is involved.

>>> from derivation import derive
>>> series = memory_series(derive(), dict(b=1, h=12288, a=96), [1024, 2048])
>>> series
[(1024, 931135488), (2048, 2868903936)]
>>> _, n = series[-1]
>>> round(gib(n), 3)
2.672
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    from ..result import Derivation


GIB = 1024**3
SEQUENCE_LENGTHS = tuple(2**k for k in range(9, 18))  # 512 … 131072 tokens
BLOCK_COLOURS = {"attention": "#4C72B0", "mlp": "#DD8452", "norm": "#55A868", "layer": "#8172B3",
                 "embedding": "#937860", "output": "#DA8BC3", "kv_cache": "#8C8C8C",
                 "parameters": "#2F4B7C", "gradients": "#665191", "optimizer": "#A05195",
                 "optimizer_steps": "#D45087", "transient": "#F95D6A", "working_set": "#FF7C43"}


def gib(n: int) -> float:
    """Bytes → GiB (1024-based), for drawing only."""
    return n / GIB


def memory_series(d: Derivation, values: Mapping[str, Any], seqs: Iterable[int]) -> list[tuple[int, int]]:
    """``(s, exact bytes)`` for each sequence length, the other sizes from ``values``."""
    return [(s, d.evaluate(**{**values, "s": s})) for s in seqs]


def memory_vs_sequence(variants: Mapping[str, Derivation], values: Mapping[str, Any],
                       seqs: Sequence[int] = SEQUENCE_LENGTHS, *, title: str | None = None, ax=None):
    """Log-log lines: bytes kept (in GiB) against sequence length, one line per variant.

    ``values`` gives every size but ``s``; returns the matplotlib ``Figure``.
    """
    fig, ax = _axes(ax)
    for label, d in variants.items():
        series = memory_series(d, values, seqs)
        ax.plot([s for s, _ in series], [gib(n) for _, n in series], marker="o", markersize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length s (tokens)")
    ax.set_ylabel("activation memory (GiB)")
    sizes = ", ".join(f"{k} = {v}" for k, v in values.items() if k != "s")
    ax.set_title(title or f"Activation memory against sequence length\n({sizes})", fontsize=10)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def breakdown_bars(variants: Mapping[str, Derivation], values: Mapping[str, Any], *,
                   title: str | None = None, ax=None):
    """Stacked bars: one bar per variant, one segment per block (attention, mlp, norm, ...), GiB."""
    fig, ax = _axes(ax)
    labels = list(variants)
    per_variant = [variants[label].evaluate_breakdown(**values) for label in labels]
    blocks = list(dict.fromkeys(block for breakdown in per_variant for block in breakdown))
    bottoms = [0.0] * len(labels)
    for block in blocks:
        heights = [gib(breakdown.get(block, 0)) for breakdown in per_variant]
        ax.bar(labels, heights, bottom=bottoms, label=block, color=BLOCK_COLOURS.get(block))
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights)]
    ax.set_ylabel("activation memory (GiB)")
    sizes = ", ".join(f"{k} = {v}" for k, v in values.items())
    ax.set_title(title or f"Activation memory by block\n({sizes})", fontsize=10)
    ax.legend(fontsize=8)
    if len(labels) > 3:
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def rank_segments(rank) -> dict[str, int]:
    """One rank's bar: its model states, then its activations block by block, then transients."""
    out = {term: n for term, n in rank.breakdown.items() if term != "activations"}
    states = {term: out.pop(term) for term in ("parameters", "gradients", "optimizer", "optimizer_steps")
              if term in out}
    blocks = rank.activation_blocks or ({"activations": rank.breakdown["activations"]}
                                        if "activations" in rank.breakdown else {})
    return {**states, **blocks, **out}


def ranks_bars(result, *, title: str | None = None, ax=None):
    """Stacked bars, one per pipeline rank: parameters, gradients, optimizer states, the
    activations by block, the transient, in GiB; a line at the GPU's memory when it is given."""
    fig, ax = _axes(ax)
    per_rank = [rank_segments(rank) for rank in result.ranks]
    labels = [str(rank.rank) for rank in result.ranks]
    segments = list(dict.fromkeys(name for bar in per_rank for name in bar))
    bottoms = [0.0] * len(labels)
    for name in segments:
        heights = [gib(bar.get(name, 0)) for bar in per_rank]
        ax.bar(labels, heights, bottom=bottoms, label=name, color=BLOCK_COLOURS.get(name))
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights)]
    if result.gpu_memory is not None:
        ax.axhline(gib(result.gpu_memory), color="black", linewidth=0.8, linestyle="--", label="GPU memory")
    ax.set_xlabel("pipeline rank")
    ax.set_ylabel("memory (GiB)")
    ax.set_title(title or "Memory per pipeline rank", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    if len(labels) > 16:
        ax.tick_params(axis="x", labelsize=6, labelrotation=90)
    fig.tight_layout()
    return fig


def _axes(ax):
    # Through pyplot so that Jupyter's inline backend registers its display of figures; closed at
    # once, so pyplot keeps no reference and the figure shows once, as the cell's result.
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=(7, 4.5))
    plt.close(fig)
    return fig, fig.add_subplot()


FORMATS = ("png", "svg", "pdf")


def save(fig, path, fmt: str) -> None:
    """Write ``fig`` to ``path`` in ``fmt`` without dates in the file, so reruns give equal files."""
    import matplotlib

    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    with matplotlib.rc_context({"svg.hashsalt": "derivation"}):
        fig.savefig(path, format=fmt, dpi=150, metadata=metadata)
