"""The derivation result: the kept tensors of one variant, their sum, and what follows from it.

A :class:`Derivation` holds data computed once by :func:`derive`; its methods only read it.
Presentation (text tables, LaTeX, HTML, JSON) lives in :mod:`derivation.render` and never computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

import sympy

from . import exact, notation
from .errors import DerivationError
from .render.html import derivation_html
from .render.latex import chain as latex_chain
from .symbols import ORDER
from .values import missing_error, read_values

if TYPE_CHECKING:
    from .flops import Matmul
    from .tensors import Tensor
    from .variant import Variant

BLOCK_ORDER = ("attention", "mlp", "norm", "layer", "embedding", "output")


@dataclass(frozen=True)
class Whole:
    """A quantity that must be a whole number (≥ 1) at evaluation, and why.

    ``refusal``, when given, is the whole message for a failure: the quantity then states an
    assumption of the symbolic form (``p - 1`` ≥ 1: the form assumes p ≥ 2) rather than a
    divisibility.
    """

    expr: sympy.Expr
    reason: str
    refusal: str = ""

    def failure(self, expr: sympy.Expr, at: str) -> str:
        """The message when ``expr`` (this quantity, some sizes substituted) fails at ``at``."""
        if self.refusal:
            return f"{self.refusal} (at {at})"
        return f"{notation.text(expr)} is not a whole number at {at}: {self.reason}"


@dataclass(frozen=True)
class Derivation:
    """Activation memory of one variant, tensor by tensor, in bytes.

    >>> from derivation import derive
    >>> d = derive()
    >>> d.total
    5*a*b*s**2 + 34*b*h*s
    >>> d.breakdown()
    {'attention': 5*a*b*s**2 + 11*b*h*s, 'mlp': 19*b*h*s, 'norm': 4*b*h*s}
    >>> print(d)
    sbh(34 + 5as/h)
    >>> d.evaluate(s=2048, b=1, h=12288, a=96)
    2868903936
    """

    variant: Variant
    tensors: tuple[Tensor, ...]  # kept for backward, per rank, in forward order
    recomputed: tuple[Tensor, ...]  # declared, but recomputed by the policy: per rank, like tensors
    wholes: tuple[Whole, ...]  # quantities that must be whole numbers (h/a, a/t, ...)
    matmuls: tuple[Matmul, ...] = ()  # one layer's forward matmuls, per rank

    @cached_property
    def forward_flops(self) -> sympy.Expr:
        """Matrix-multiply FLOPs of one layer's forward pass, per rank."""
        return sympy.expand(sympy.Add(*[op.flops for op in self.matmuls]))

    @cached_property
    def recompute_flops(self) -> sympy.Expr:
        """Of those, the FLOPs the recomputation policy runs again during backward."""
        return sympy.expand(sympy.Add(*[op.flops for op in self.matmuls if op.rerun]))

    # --- the closed form -------------------------------------------------------------------------

    @cached_property
    def total(self) -> sympy.Expr:
        """Bytes kept for backward: the sum of every kept tensor's bytes (expanded)."""
        return sympy.expand(sympy.Add(*[tensor.bytes for tensor in self.tensors]))

    def breakdown(self) -> dict[str, sympy.Expr]:
        """Subtotals by block (``attention``, ``mlp``, ``norm``, ...), in bytes."""
        return dict(self._breakdown)

    @cached_property
    def _breakdown(self) -> dict[str, sympy.Expr]:
        sums: dict[str, sympy.Expr] = {}
        for tensor in self.tensors:
            sums[tensor.block] = sums.get(tensor.block, 0) + tensor.bytes
        order = sorted(sums, key=lambda block: BLOCK_ORDER.index(block) if block in BLOCK_ORDER else 99)
        return {block: sympy.expand(sums[block]) for block in order}

    def paper_form(self) -> sympy.Expr:
        """The total written as the paper writes it, ``sbh × (…)`` (an unevaluated product)."""
        return notation.paper_form(self.total)

    def latex(self) -> str:
        """LaTeX of the closed form in paper form (math mode, no delimiters)."""
        return notation.paper_latex(self.total)

    def share(self, tensor: Tensor) -> sympy.Expr:
        """A tensor's fraction of the total."""
        return sympy.cancel(tensor.bytes / self.total)

    @cached_property
    def symbols(self) -> list[sympy.Symbol]:
        """Every symbol the result depends on, in writing order."""
        free = set(self.total.free_symbols)
        for whole in self.wholes:
            free |= whole.expr.free_symbols
        return sorted(free, key=ORDER.get)

    # --- numbers ---------------------------------------------------------------------------------

    def relevant(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Only the sizes this result depends on, in the order given (a model preset also sets
        sizes that a layer does not use).

        >>> from derivation import derive
        >>> derive(attention="flash").relevant({"h": 4096, "v": 50257, "s": 2048, "b": 1, "a": 32})
        {'h': 4096, 's': 2048, 'b': 1, 'a': 32}
        """
        names = {symbol.name for symbol in self.symbols}
        return {name: value for name, value in values.items() if name in names}

    # Each evaluation runs the closed forms compiled to Python integer polynomials
    # (:mod:`derivation.exact`): microseconds, exact at any size. When a size is missing or a check
    # fails there, the sympy methods below redo the work and raise the error, so that every
    # message is theirs.

    @cached_property
    def _exact(self) -> exact.Evaluator:
        return exact.Evaluator(self)

    @staticmethod
    def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
        """The sizes by name (ints, Fractions for β and μ), checked like ``read_values``."""
        fast = exact.read(values)
        return fast if fast is not None else exact.plain(read_values(values))

    def check_values(self, values: dict[str, Any]) -> dict[sympy.Symbol, Any]:
        """The values, checked: every symbol given, positive, and every size whole."""
        numbers = read_values(values)
        if self._exact.whole(exact.plain(numbers)):
            return numbers
        return self._check_values_sympy(numbers)

    def evaluate(self, **values: Any) -> int:
        """Exact integer bytes at the given sizes (``evaluate(s=2048, b=1, h=12288, a=96)``)."""
        total = self._exact.total(self._plain(values))
        return total if total is not None else self._evaluate_sympy(values)

    def evaluate_breakdown(self, **values: Any) -> dict[str, int]:
        """Exact integer bytes per block at the given sizes."""
        blocks = self._exact.blocks(self._plain(values))
        if blocks is None:
            return self._evaluate_breakdown_sympy(values)
        return dict(zip(self._breakdown, blocks))

    def evaluate_tensors(self, **values: Any) -> list[tuple[Tensor, int]]:
        """Exact integer bytes of every kept tensor at the given sizes."""
        numbers = self._exact.tensors(self._plain(values))
        if numbers is None:
            return self._evaluate_tensors_sympy(values)
        return list(zip(self.tensors, numbers))

    def evaluate_flops(self, **values: Any) -> tuple[int, int]:
        """(forward FLOPs of one layer, FLOPs the recomputation policy runs again), per rank."""
        flops = self._exact.flops(self._plain(values))
        return flops if flops is not None else self._evaluate_flops_sympy(values)

    # --- the same with sympy: the reference the tests compare against, and every error ---

    def _check_values_sympy(self, numbers: dict[sympy.Symbol, Any]) -> dict[sympy.Symbol, Any]:
        missing = [symbol for symbol in self.symbols if symbol not in numbers]
        if missing:
            raise missing_error(missing)
        for whole in self.wholes:
            value = whole.expr.subs(numbers)
            if not (value.is_Integer and value > 0) and whole.refusal:
                at = ", ".join(f"{symbol}={numbers[symbol]}" for symbol in
                               sorted(whole.expr.free_symbols, key=ORDER.get))
                raise DerivationError(whole.failure(whole.expr, at))
            if not (value.is_Integer and value > 0):
                raise DerivationError(
                    f"{notation.text(whole.expr)} = {value} is not a whole number: {whole.reason}")
        return numbers

    def _evaluate_sympy(self, values: Mapping[str, Any]) -> int:
        numbers = self._check_values_sympy(read_values(values))
        total = self.total.subs(numbers)
        if total.is_Rational and not total.is_Integer:  # name the tensor that is fractional
            for tensor in self.tensors:
                _whole_bytes(tensor.bytes.subs(numbers), tensor.name)
        return _whole_bytes(total, "the total")

    def _evaluate_breakdown_sympy(self, values: Mapping[str, Any]) -> dict[str, int]:
        numbers = self._check_values_sympy(read_values(values))
        return {block: _whole_bytes(expr.subs(numbers), f"block {block}")
                for block, expr in self.breakdown().items()}

    def _evaluate_tensors_sympy(self, values: Mapping[str, Any]) -> list[tuple[Tensor, int]]:
        numbers = self._check_values_sympy(read_values(values))
        return [(tensor, _whole_bytes(tensor.bytes.subs(numbers), tensor.name)) for tensor in self.tensors]

    def _evaluate_flops_sympy(self, values: Mapping[str, Any]) -> tuple[int, int]:
        numbers = read_values(values)
        forward = self.forward_flops.subs(numbers)
        recompute = self.recompute_flops.subs(numbers)
        missing = sorted(forward.free_symbols | recompute.free_symbols, key=str)
        if missing:
            raise missing_error(missing)
        if not (forward.is_Integer and recompute.is_Integer):
            raise DerivationError(f"FLOPs are not whole numbers at these sizes ({forward}, {recompute})")
        return int(forward), int(recompute)

    def evaluate_many(self, **arrays: Any):
        """Exact int64 bytes over numpy arrays of sizes (broadcast); see :mod:`derivation.vectorized`."""
        from .vectorized import evaluate_many

        return evaluate_many(self, **arrays)

    # --- display ---------------------------------------------------------------------------------

    def __str__(self) -> str:
        return notation.paper_text(self.total)

    def __repr__(self) -> str:
        return f"<Derivation {self.variant}: {self}>"

    def _repr_latex_(self) -> str:
        return f"$\\text{{activation bytes}} = {self.latex()}$"

    def _repr_html_(self) -> str:
        return derivation_html(self)

    def show(self, values: Mapping[str, Any] | None = None):
        """The chain from each tensor's term to the block subtotals and the closed form (with
        ``values``, to the exact bytes), as math: Jupyter displays it, ``str()`` is its LaTeX.

        >>> from derivation import derive
        >>> print(str(derive().show()).splitlines()[1])
        M_{\\text{attention}} &= 2 s b h\\quad \\texttt{qkv\\_input} \\\\
        """
        return latex_chain(self, dict(values) if values else None)


def _whole_bytes(value: sympy.Expr, what: str) -> int:
    if not value.is_Rational:
        raise DerivationError(f"{what} did not reduce to a number ({value}); give every size")
    if not value.is_Integer:
        raise DerivationError(
            f"{what} is {value} bytes, not a whole number: a bit-packed mask needs a multiple of "
            "8 elements, convention='megatron' applies the fractional interleave factor to "
            "per-micro-batch terms, and the V-Half and V-Min schedules hold 1/2 and 1/3 of 1F1B's "
            "micro-batches on average; choose sizes that make it whole")
    return int(value)
