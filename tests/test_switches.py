"""The switch registry is the one place a switch is declared: everything else must follow it.

Walks the registry through every place that names a switch (the CLI and its --help, TOML variant
files, docs/notation.md, the dispatch tables of the declarations), and checks the structure the
registry relies on: no import cycles, no function that shadows its module, loud internal errors.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
import sympy

import derivation
from derivation import DerivationError, derive, make_variant
from derivation.checker import check
from derivation.cli import build_parser
from derivation.errors import InternalError
from derivation.switches import DECLARED, DISPATCH, REGISTRY, SHORTHANDS, context_of, dispatch
from derivation.symbols import beta, mu, t
from derivation.transforms import divide_axis
from derivation.tensors import BF16, Tensor
from derivation.variant import SWITCHES, Variant

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "derivation"
EVERY_VALUE = [(switch.name, value) for switch in DECLARED for value in switch.values]


# --- every switch everywhere ----------------------------------------------------------------------

def test_the_variant_has_exactly_the_registry_switches_in_order():
    assert SWITCHES == tuple(REGISTRY) and len(SWITCHES) == len(set(SWITCHES))
    defaults = Variant()
    for switch in DECLARED:
        assert getattr(defaults, switch.name) == getattr(make_variant({switch.name: switch.default}), switch.name)


@pytest.mark.parametrize("command", ["formula", "table", "evaluate", "check", "sweep", "latex", "verify"])
def test_every_switch_is_an_option_in_help(command):
    parser = build_parser()
    sub = next(action for action in parser._subparsers._group_actions if command in action.choices)
    text = sub.choices[command].format_help()
    for switch in (*DECLARED, *SHORTHANDS):
        assert "--" + switch.name.replace("_", "-") in text, (command, switch.name)
    for switch in DECLARED:
        if switch.kind == "choice":
            assert "|".join(switch.values) in text, (command, switch.name)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return '"' + str(value) + '"'


@pytest.mark.parametrize("name, value", EVERY_VALUE, ids=[f"{n}={v}" for n, v in EVERY_VALUE])
def test_every_switch_value_reads_from_a_toml_file(tmp_path, name, value):
    switches = {**context_of(name), name: value}
    path = tmp_path / "variant.toml"
    path.write_text("".join(f"{key} = {_toml(item)}\n" for key, item in switches.items()), encoding="utf-8")
    try:
        expected = derive(**switches)
    except DerivationError as error:  # refused combinations are refused from a file with the same line
        with pytest.raises(DerivationError, match=str(error)[:40].replace("(", r"\(").replace(")", r"\)")):
            derive(config=path)
        return
    assert sympy.expand(derive(config=path).total - expected.total) == 0


def test_every_switch_and_value_is_in_the_notation_page():
    page = (ROOT / "docs" / "notation.md").read_text(encoding="utf-8")
    for switch in (*DECLARED, *SHORTHANDS):
        assert f"| `{switch.name}` |" in page, switch.name
    for switch in DECLARED:
        for value, meaning in switch.choices:
            assert f"`{value}`: {meaning.replace('|', '&#124;')}" in page or f"`{value}`:" in page


def test_every_choice_switch_has_a_declaration_table_and_no_other_switch_does():
    choices = {switch.name for switch in DECLARED if switch.kind == "choice"}
    assert set(DISPATCH) == choices
    for name, tables in DISPATCH.items():
        for table in tables:
            assert set(table) == set(REGISTRY[name].values), name


def test_a_table_missing_a_choice_fails_loudly():
    with pytest.raises(InternalError, match="choices without an entry: flash"):
        dispatch("attention", {"eager": None})
    with pytest.raises(InternalError, match="entries that are not choices: flsh"):
        dispatch("attention", {"eager": None, "flash": None, "flsh": None})


@pytest.mark.parametrize("name, value", EVERY_VALUE, ids=[f"{n}={v}" for n, v in EVERY_VALUE])
def test_every_value_with_its_context_derives(name, value):
    d = derive(**{**context_of(name), name: value})
    assert d.total.free_symbols and d.tensors


# --- no value falls through, no combination is silently ignored -----------------------------------

def test_an_unknown_choice_is_refused_not_taken_for_the_last_branch():
    for switches in ({"mlp": "reglu"}, {"attention": "flsh"}, {"recompute": "partial"}):
        with pytest.raises(DerivationError, match="expected one of"):
            derive(**switches)
    with pytest.raises(DerivationError, match="expected one of"):
        Variant(attention="flsh")


def test_symbolic_dtype_with_bit_masks_is_refused_with_the_way_to_write_it():
    with pytest.raises(DerivationError, match="set mu=1/8"):
        derive(dtype="symbolic", mask_bytes="bits")
    general = derive(dtype="symbolic").total  # the way the message gives: μ = 1/8
    assert sympy.expand(general.subs({beta: 2, mu: sympy.Rational(1, 8)})
                        - derive(dtype="bf16", mask_bytes="bits").total) == 0


def test_a_variant_made_directly_is_checked_like_one_made_from_text():
    with pytest.raises(DerivationError, match="positive whole number"):
        Variant(tensor_parallel=-8)
    with pytest.raises(DerivationError, match="sequence_parallel needs tensor parallelism"):
        Variant(sequence_parallel=True)
    assert Variant(tensor_parallel="t").tensor_parallel == t


def test_an_axis_that_cannot_be_split_is_an_internal_error():
    with pytest.raises(InternalError, match="no axis"):
        divide_axis(Tensor("x/y", "s b h", BF16, why="", source=""), t, 2)


# --- recomputed tensors are per rank: check attributes the gap to them -----------------------------

def test_check_attributes_the_tp_sp_selective_gap_to_the_three_recomputed_tensors_per_rank():
    result = check("sbh(34 + 5as/h)/t", tensor_parallel="t", sequence_parallel=True, recompute="selective")
    assert not result.holds
    [attribution] = result.total.attributions
    names = [part.name for part in attribution.parts]
    assert names == ["attention/softmax_output", "attention/softmax_dropout_mask",
                     "attention/softmax_dropout_output"]
    a, s, b = (sympy.Symbol(x, positive=True, integer=True) for x in "asb")
    assert sympy.expand(sum(part.bytes for part in attribution.parts) - 5 * a * s**2 * b / t) == 0
    assert all(t in part.bytes.free_symbols for part in attribution.parts)


def test_recomputed_tensors_are_split_and_multiplied_like_kept_ones():
    d = derive(tensor_parallel="t", sequence_parallel=True, recompute="full", scope="model")
    none = derive(tensor_parallel="t", sequence_parallel=True, scope="model")
    kept_input = [tensor.bytes for tensor in d.tensors if tensor.name == "layer/input"]
    recomputed = sum(tensor.bytes for tensor in d.recomputed)
    assert sympy.expand(d.total - sum(kept_input) + recomputed - none.total) == 0
    assert all(t in tensor.bytes.free_symbols for tensor in d.recomputed)


def test_flops_follow_each_matmuls_split():
    d = derive(tensor_parallel="t", context_parallel="c", attention="flash")
    one = derive(attention="flash")
    c = sympy.Symbol("c", positive=True, integer=True)
    assert sympy.expand(d.forward_flops * t * c - one.forward_flops) == 0
    assert {op.name for op in d.matmuls} == {op.name for op in one.matmuls}
    selective = derive(recompute="selective")
    assert sympy.expand(selective.recompute_flops - sum(op.flops for op in selective.matmuls
                                                         if op.region.name == "CORE_ATTENTION")) == 0


# --- structure: no import cycles, no shadowed modules ------------------------------------------------

def _modules() -> dict[str, Path]:
    """Every module of the package (those of derivation.verify only where torch is installed)."""
    out = {"derivation": PACKAGE / "__init__.py"}
    torch = importlib.util.find_spec("torch") is not None
    for info in pkgutil.walk_packages([str(PACKAGE)], "derivation.",
                                      onerror=lambda name: None):
        if info.name.endswith("__main__") or not torch and info.name.startswith("derivation.verify"):
            continue
        spec = importlib.util.find_spec(info.name)
        out[info.name] = Path(spec.origin)
    return out


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _module_level_imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports when it is imported (not under TYPE_CHECKING, not in
    a function body)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.ImportFrom):
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                    if node.level else (node.module or "")
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if candidate in modules else base)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)

    visit(tree.body)
    return {module for module in found if module in modules and module != name}


def test_no_import_cycle_among_module_level_imports():
    modules = _modules()
    graph = {name: _module_level_imports(name, path, modules) for name, path in modules.items()}
    # A package's __init__ is imported before its submodules, so a submodule importing its own
    # package is how Python works, not a cycle.
    for name in graph:
        graph[name] = {other for other in graph[name] if not name.startswith(other + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for other in sorted(graph[node]):
            if state.get(other) == 1:
                cycle = path[path.index(other):] + [other]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if other not in state:
                visit(other)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_only_heavy_optional_libraries_are_imported_inside_functions():
    lazy_allowed = ("numpy", "matplotlib", "torch", "derivation.verify", "derivation.vectorized",
                    "derivation.render.columns")
    modules = _modules()
    late = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    target = importlib.util.resolve_name("." * inner.level + (inner.module or ""), package) \
                        if inner.level else inner.module
                elif isinstance(inner, ast.Import):
                    target = inner.names[0].name
                else:
                    continue
                if not target.startswith(lazy_allowed) and not target.endswith((".vectorized", ".verify.against")):
                    late.append(f"{name}: {target}")
    assert late == []


def test_no_public_function_is_named_like_the_module_that_holds_it():
    shadowed = []
    for name in _modules():
        leaf = name.rsplit(".", 1)[-1]
        module = importlib.import_module(name)
        parent = importlib.import_module(name.rsplit(".", 1)[0]) if "." in name else None
        if parent is not None and getattr(parent, leaf, module) is not module:
            shadowed.append(name)
    assert shadowed == []
    assert derivation.check.__module__ == "derivation.checker"
    assert derivation.compare.__module__ == "derivation.comparison"
