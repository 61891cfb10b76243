"""Exact numbers at the speed of the hardware (issue 17): each figure against its natural baseline,
and against the previous code, run side by side.

    python benchmarks/run.py --baseline-ref c360d78   # also measure that commit, interleaved

*Natural baselines*: the bare numpy expression for ``evaluate_many``, ``numpy.savetxt`` writing the
same bytes for ``sweep``, ``derivation formula`` for a sweep's start-up, ``import torch`` for
``verify --fake``; and, for ``Derivation.evaluate``, the sympy substitution it replaced, which is
still in the tree (``Derivation._evaluate_sympy``), so the two run in one process.

*Side by side*: with a baseline tree (``--baseline PATH``, or ``--baseline-ref REF``, which
extracts ``git archive REF``), every measurement that runs the package runs in fresh processes,
alternating between this tree and the baseline (``PYTHONPATH``), and each figure is the median.
The in-process measurements are *probes*, ``python benchmarks/speed.py PROBE``, which print JSON
and use only what both trees have (``derive``, ``evaluate``, ``evaluate_many``, ``check``,
``notation``). Nothing here asserts a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent

VARIANTS = {
    "baseline": {},
    "t + SP + selective": {"tensor_parallel": "t", "sequence_parallel": True, "recompute": "selective"},
    "model scope": {"scope": "model", "tensor_parallel": "t", "sequence_parallel": True,
                    "pipeline_parallel": "p", "interleave": "m"},
}
GPT3 = dict(s=2048, b=1, h=12288, a=96, t=8, L=96, p=8, m=3)

# a sweep of 10⁶ and one of 10⁷ rows: grids of a few hundred values, as sweeps are
SWEEP_6 = ["--grid", "s=128:128000:+128", "--grid", "b=1:10:+1", "--grid", "h=96:9600:+96", "--set", "a=96"]
SWEEP_7 = ["--grid", "s=128:128000:+128", "--grid", "b=1:100:+1", "--grid", "h=96:9600:+96", "--set", "a=96"]
CLAIM = "".join("(" + " + ".join(f"{x}^{k}" for k in range(1, 11)) + ")" for x in "sbh")  # 1000 terms


# --- probes: run in a fresh process of either tree ----------------------------------------------

def _median_time(call: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return statistics.median(times)


def probe_evaluate() -> dict:
    """µs per call of evaluate / evaluate_breakdown / evaluate_tensors, a new s each call."""
    from derivation import derive

    out = {}
    for label, switches in VARIANTS.items():
        d = derive(**switches)
        values = d.relevant(GPT3)
        d.evaluate(**values)
        row = {}
        for method in ("evaluate", "evaluate_breakdown", "evaluate_tensors"):
            call = getattr(d, method)
            call(**values)
            count = 200
            rounds = []
            for r in range(5):
                start = time.process_time()
                for i in range(count):
                    call(**{**values, "s": 2048 + 8 * (r * count + i + 1)})
                rounds.append((time.process_time() - start) / count)
            row[method] = statistics.median(rounds) * 1e6
        out[label] = row
    return out


def _flat(n: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return dict(s=128 * rng.integers(1, 1001, n), b=rng.integers(1, 11, n), h=1024 * rng.integers(1, 11, n),
                a=2 ** rng.integers(3, 10, n), t=2 ** rng.integers(0, 4, n), L=np.full(n, 96),
                p=2 ** rng.integers(0, 4, n), m=rng.integers(2, 4, n))


def _bare(d) -> Any:
    """The closed form as one numpy expression (sympy's factored spelling, ``//`` only where it
    divides), nothing checked: the natural baseline."""
    import sympy

    numerator, denominator = sympy.fraction(sympy.together(d.total))
    text = f"({numerator})" if denominator == 1 else f"({numerator}) // ({denominator})"
    return compile(text, "<bare>", "eval")


def probe_evaluate_many() -> dict:
    """ms per call on flat arrays (10⁶, 10⁷), interleaved with the bare expression."""
    import numpy as np

    from derivation import derive
    from derivation.vectorized import evaluate_many

    out = {}
    for n, repeats in ((10**6, 15), (10**7, 5)):
        arrays = _flat(n)
        for label, switches in VARIANTS.items():
            d = derive(**switches)
            given = {s.name: arrays[s.name] for s in d.symbols}
            code = _bare(d)
            assert np.array_equal(eval(code, {}, dict(given)), evaluate_many(d, **given))  # noqa: S307
            ours, bare = [], []
            for _ in range(repeats):
                ours.append(_median_time(lambda: evaluate_many(d, **given), 1))
                bare.append(_median_time(lambda: eval(code, {}, dict(given)), 1))  # noqa: S307
            out[f"{label}, {n:.0e}"] = {"ours_ms": statistics.median(ours) * 1e3,
                                        "bare_ms": statistics.median(bare) * 1e3}
        del arrays
    return out


def probe_open_grid() -> dict:
    """An open grid 10 b × 10 h × 10⁵ s, short axes first and long axis first: ms and peak MiB
    of what numpy allocates (tracemalloc sees numpy's buffers)."""
    import tracemalloc

    import numpy as np

    from derivation import derive
    from derivation.vectorized import evaluate_many

    d = derive()
    s = np.arange(1, 100001, dtype=np.int64) * 8
    b = np.arange(1, 11, dtype=np.int64)
    h = np.arange(1, 11, dtype=np.int64) * 96
    orders = {"short axes first": lambda: evaluate_many(d, b=b[:, None, None], h=h[None, :, None],
                                                        s=s[None, None, :], a=96),
              "long axis first": lambda: evaluate_many(d, s=s[:, None, None], b=b[None, :, None],
                                                       h=h[None, None, :], a=96)}
    out = {}
    for label, call in orders.items():
        call()
        milliseconds = _median_time(call, 9) * 1e3
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out[label] = {"ms": milliseconds, "peak_mib": peak / 2**20}
    return out


def probe_check() -> dict:
    """A 1000-term wrong claim: seconds to check it, and to write the result as text."""
    import sympy

    from derivation import check

    start = time.process_time()
    result = check(CLAIM)
    checked = time.process_time() - start
    start = time.process_time()
    str(result)
    return {"terms": len(sympy.Add.make_args(result.total.claimed)), "check_s": checked,
            "text_s": time.process_time() - start}


def probe_paper() -> dict:
    """ms to write totals of 4, 6 and 13 symbols in paper form (text and LaTeX), caches cleared."""
    import sympy

    from derivation import derive, notation

    variants = {"4 symbols": {}, "6 symbols (β, μ)": {"dtype": "symbolic"},
                "13 symbols": {"dtype": "symbolic", "scope": "model", "tensor_parallel": "t",
                               "context_parallel": "c", "attention": "flash", "pipeline_parallel": "p",
                               "interleave": "m", "kv_heads": "g", "ffn_hidden": "f",
                               "sequence_parallel": True}}
    out = {}
    for label, switches in variants.items():
        total = derive(**switches).total

        def write():
            sympy.core.cache.clear_cache()
            notation.paper_text(total)
            notation.paper_latex(total)

        out[label] = _median_time(write, 9) * 1e3
    return out


PROBES = {"evaluate": probe_evaluate, "evaluate_many": probe_evaluate_many, "open_grid": probe_open_grid,
          "check": probe_check, "paper": probe_paper}


# --- the parent: fresh processes, this tree and the baseline alternating ------------------------

_PEAK = """
import atexit, runpy, sys
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("\\nPEAK_KIB " + line.split()[1] + "\\n")
atexit.register(_peak)
target, sys.argv = sys.argv[1], sys.argv[1:]
if target.endswith(".py"):
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def _run(command: list[str], tree: Path, stdout=subprocess.DEVNULL) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one fresh process with ``tree`` first on the path.

    ``PYTHONSAFEPATH`` keeps the working directory off ``sys.path`` (``python -m derivation`` run
    from a checkout would import that checkout). The peak is the child's own ``VmHWM``, which it
    writes at exit: ``ru_maxrss`` would carry the benchmark's own peak across ``exec``.
    """
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}
    if command[:2] == [sys.executable, "-m"]:  # the child reports its own peak (VmHWM)
        command = [sys.executable, "-c", _PEAK, *command[2:]]
    elif command[0] == sys.executable and command[1].endswith(".py"):
        command = [sys.executable, "-c", _PEAK, *command[1:]]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, env=env, close_fds=False)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    errors = process.stderr.read().decode()
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{command} failed in {tree}: {errors[-500:]}")
    peaks = [line.split()[1] for line in errors.splitlines() if line.startswith("PEAK_KIB ")]
    peak = int(peaks[-1]) / 1024 if peaks else usage.ru_maxrss / 1024
    return wall, usage.ru_utime + usage.ru_stime, peak


def _probe(name: str, tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), name], capture_output=True,
                         text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"probe {name} failed in {tree}: {out.stderr[-800:]}")
    return json.loads(out.stdout)


def _merge(runs: list[dict]) -> dict:
    """Medians, key by key, of several probes' results."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: _merge([r[k] for r in runs]) for k in first}
    return statistics.median(runs) if isinstance(first, (int, float)) else first


def probes(trees: dict[str, Path], rounds: int) -> dict[str, dict[str, dict]]:
    """Every probe, ``rounds`` fresh processes per tree, the trees alternating."""
    results: dict[str, dict[str, list]] = {tree: {name: [] for name in PROBES} for tree in trees}
    for _ in range(rounds):
        for name in PROBES:
            for label, tree in trees.items():
                results[label][name].append(_probe(name, tree))
    return {label: {name: _merge(runs) for name, runs in by.items()} for label, by in results.items()}


def _savetxt_script(grids: list[str]) -> str:
    """A script writing the CSV of ``derivation sweep`` with numpy.savetxt: the same bytes."""
    return f"""
import sys, numpy as np
from derivation import derive
from derivation.vectorized import evaluate_many
args = {grids!r}
grids = dict(a.split("=", 1) for a in args[1::2] if a.count(":") == 2)
def values(spec):
    start, stop, step = spec.split(":")
    return np.arange(int(start), int(stop) + 1, int(step[1:]), dtype=np.int64)
s, b, h = (values(grids[n]) for n in "sbh")
result = evaluate_many(derive(), s=s[:, None, None], b=b[None, :, None], h=h[None, None, :], a=96)
S, B, H = np.meshgrid(s, b, h, indexing="ij")
table = np.column_stack([np.full(result.size, 96), S.ravel(), B.ravel(), H.ravel(), result.ravel()])
np.savetxt(sys.argv[1], table, fmt="%d", delimiter=",", newline="\\r\\n", header="a,s,b,h,bytes", comments="")
"""


def sweeps(trees: dict[str, Path], rounds: int, quick: bool) -> dict:
    """Sweeps in fresh processes: 10⁶ rows as CSV (and `derivation formula`, the start-up they
    share), 10⁷ rows as CSV, JSON and a table, and numpy.savetxt writing the same CSV bytes."""
    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    target = work / "out.csv"
    commands = {
        "derivation formula": ([python, "-m", "derivation", "formula"], None),
        "sweep 10⁶ rows, CSV": ([python, "-m", "derivation", "sweep", *SWEEP_6, "--csv", str(target)], None),
        "sweep 10⁷ rows, CSV": ([python, "-m", "derivation", "sweep", *SWEEP_7, "--csv", str(target)], None),
        "sweep 10⁷ rows, JSON": ([python, "-m", "derivation", "sweep", *SWEEP_7, "--json"], work / "out.json"),
        "sweep 10⁷ rows, table": ([python, "-m", "derivation", "sweep", *SWEEP_7], work / "out.txt"),
    }
    script = work / "savetxt.py"
    savetxt = {"numpy.savetxt, the same 10⁶ rows": SWEEP_6, "numpy.savetxt, the same 10⁷ rows": SWEEP_7}
    out: dict[str, dict[str, list]] = {label: {} for label in trees}
    digests: dict[str, set] = {}
    this = next(iter(trees.values()))
    try:
        for round_ in range(rounds):
            for name, (command, sink) in commands.items():
                big = "10⁷" in name
                for label, tree in trees.items():
                    if big and label != "this tree" and (quick or round_ > 0):
                        continue  # the previous code takes tens of seconds a run: once
                    with open(sink, "wb") if sink else open(os.devnull, "wb") as handle:
                        figures = _run(command, tree, stdout=handle)
                    out[label].setdefault(name, []).append(figures)
                    if "CSV" in name:
                        digests.setdefault(name, set()).add(hashlib.sha256(target.read_bytes()).hexdigest())
            for name, grids in savetxt.items():
                if "10⁷" in name and round_ > 0:
                    continue
                script.write_text(_savetxt_script(grids))
                out["this tree"].setdefault(name, []).append(_run([python, str(script), str(target)], this))
                digests.setdefault(name.replace("numpy.savetxt, the same", "sweep").replace(" rows", " rows, CSV"),
                                   set()).add(hashlib.sha256(target.read_bytes()).hexdigest())
    finally:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    medians = {label: {name: tuple(statistics.median(f[i] for f in runs) for i in range(3))
                       for name, runs in by.items()} for label, by in out.items()}
    same = {name: len(found) == 1 for name, found in digests.items()}
    return {"figures": medians, "same_bytes": same}


def verify_import(rounds: int) -> dict:
    """Fresh processes: ``import torch``, and constructing ``FakeTensorMode()`` after it."""
    python = sys.executable
    commands = {"import torch": [python, "-c", "import torch"],
                "import torch; FakeTensorMode()": [python, "-c", "import torch\nfrom torch._subclasses."
                                                   "fake_tensor import FakeTensorMode\nFakeTensorMode()"]}
    try:
        times = {name: [_run(command, ROOT)[1] for _ in range(rounds)] for name, command in commands.items()}
    except (RuntimeError, OSError) as error:
        return {"skipped": str(error).splitlines()[0]}
    return {name: statistics.median(t) for name, t in times.items()}


def baseline_tree(path: str | None, ref: str | None) -> Path | None:
    """The baseline's source tree: a path, or ``git archive REF`` extracted to a temporary folder."""
    if path:
        return Path(path).resolve()
    if not ref:
        return None
    folder = Path(tempfile.mkdtemp(prefix=f"derivation-{ref}-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


# --- the report section ---------------------------------------------------------------------------

def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def section(quick: bool, baseline: Path | None, label: str = "") -> list[str]:
    """Every figure of issue 17, measured now, as Markdown lines."""
    trees = {"this tree": ROOT}
    if baseline is not None:
        trees["previous"] = baseline
    rounds = 3 if quick else 7
    found = probes(trees, rounds)
    sweep = sweeps(trees, 2 if quick else 3, quick)
    torch_import = verify_import(3 if quick else 7)
    now, before = found["this tree"], found.get("previous")
    lines = ["### Exact numbers at the speed of the hardware", "",
             "Each figure is the median of interleaved runs in fresh processes "
             f"({rounds} per tree for the in-process probes); CPU time (user + system), the steadier "
             "figure on a shared machine. *Natural baseline* is what the issue measures against; "
             + (f"*previous* is {label}, run side by side." if before else "no previous tree was given.")]
    # targets
    model = now["evaluate"]["model scope"]
    sympy_path = before["evaluate"]["model scope"]["evaluate"] if before else None
    worst = max(row["ours_ms"] / row["bare_ms"] for row in now["evaluate_many"].values())
    figures = sweep["figures"]["this tree"]
    formula_cpu = figures["derivation formula"][1]
    csv6 = figures["sweep 10⁶ rows, CSV"][1]
    csv7 = figures["sweep 10⁷ rows, CSV"]
    checked = now["check"]["check_s"]
    lines += ["", "| target | measured | |", "|---|---|---|",
              f"| `evaluate_many` within 1.5 × the bare numpy expression, flat arrays, 10⁶ and 10⁷, three "
              f"variants | worst {worst:.2f}× | {_met(worst <= 1.5)} |"]
    if sympy_path:
        lines.append(f"| `Derivation.evaluate` ≥ 100 × faster at model scope | {model['evaluate']:.1f} µs "
                     f"against {sympy_path:,.0f} µs before: {sympy_path / model['evaluate']:,.0f}× | "
                     f"{_met(sympy_path / model['evaluate'] >= 100)} |")
    lines += [f"| `sweep` of 10⁶ rows to CSV ≤ 3 × `derivation formula` | {csv6 / formula_cpu:.2f}× "
              f"({_ms(csv6)} against {_ms(formula_cpu)}) | {_met(csv6 <= 3 * formula_cpu)} |",
              f"| `sweep` of 10⁷ rows to CSV ≤ 5 s, peak ≤ 300 MB | {_ms(csv7[1])} CPU ({_ms(csv7[0])} wall), "
              f"peak RSS {csv7[2]:.0f} MiB | {_met(csv7[1] <= 5 and csv7[0] <= 5 and csv7[2] <= 300 * 1e6 / 2**20)} |",
              f"| `check` of a 1000-term wrong claim ≤ 1 s | {_ms(checked)} "
              f"(+ {_ms(now['check']['text_s'])} to write it) | {_met(checked <= 1)} |"]

    lines += ["", "#### `Derivation.evaluate`: compiled integer polynomials, against the sympy substitution",
              "", "µs per call at GPT-3 sizes (t = 8, L = 96, p = 8, m = 3), a new s each call so that "
              "no cache answers."
              + (" *Previous*: the same calls in the previous tree (eight sympy `subs`)." if before else ""),
              "", "| variant | `evaluate` | `evaluate_breakdown` | `evaluate_tensors` |"
              + (" previous `evaluate` | speed-up |" if before else ""),
              "|---|---|---|---|" + ("---|---|" if before else "")]
    for variant, row in now["evaluate"].items():
        line = (f"| {variant} | {row['evaluate']:.1f} µs | {row['evaluate_breakdown']:.1f} µs | "
                f"{row['evaluate_tensors']:.1f} µs |")
        if before:
            old = before["evaluate"][variant]["evaluate"]
            line += f" {old:,.0f} µs | {old / row['evaluate']:,.0f}× |"
        lines.append(line)

    lines += ["", "#### `evaluate_many` on flat arrays, with its own checks, against the bare numpy expression",
              "", "Random valid configurations (a and t powers of two, p a power of two, m ∈ {2, 3}); "
              "the bare expression is sympy's factored fraction evaluated by numpy, nothing checked.", "",
              "| variant, configurations | bare numpy | `evaluate_many` | ratio |"
              + (" previous | previous ratio |" if before else ""),
              "|---|---|---|---|" + ("---|---|" if before else "")]
    for key, row in now["evaluate_many"].items():
        line = (f"| {key.replace('e+06', '⁶').replace('1⁶', '10⁶').replace('e+07', '⁷').replace('1⁷', '10⁷')} | "
                f"{row['bare_ms']:.1f} ms | {row['ours_ms']:.1f} ms | {row['ours_ms'] / row['bare_ms']:.2f}× |")
        if before:
            old = before["evaluate_many"][key]
            line += f" {old['ours_ms']:.1f} ms | {old['ours_ms'] / old['bare_ms']:.2f}× |"
        lines.append(line)
    lines += ["", "Open grid of 10 b × 10 h × 10⁵ s (10⁷ configurations), in two axis orders: ms, and the "
              "peak of numpy's allocations during the call (tracemalloc).", "",
              "| axis order | ms | peak MiB |" + (" previous ms | previous peak MiB |" if before else ""),
              "|---|---|---|" + ("---|---|" if before else "")]
    for order, row in now["open_grid"].items():
        line = f"| {order} | {row['ms']:.1f} | {row['peak_mib']:.0f} |"
        if before:
            old = before["open_grid"][order]
            line += f" {old['ms']:.1f} | {old['peak_mib']:.0f} |"
        lines.append(line)

    lines += ["", "#### `derivation sweep`: whole columns at once", "",
              "Fresh processes: wall, CPU (user + system) and peak RSS. The CSV files of both trees and of "
              "numpy.savetxt are compared byte for byte: "
              + ", ".join(f"{name}: {'identical' if same else 'DIFFERENT'}" for name, same in sweep["same_bytes"].items())
              + ".", "", "| command | wall | CPU | peak RSS |" + (" previous CPU | previous peak RSS | speed-up |" if before else ""),
              "|---|---|---|---|" + ("---|---|---|" if before else "")]
    for name, (wall, cpu, rss) in figures.items():
        line = f"| {name} | {_ms(wall)} | {_ms(cpu)} | {rss:.0f} MiB |"
        if before:
            old = sweep["figures"].get("previous", {}).get(name)
            line += (f" {_ms(old[1])} | {old[2]:.0f} MiB | {old[1] / cpu:.1f}× |" if old else " | | |")
        lines.append(line)
    for rows in ("10⁶", "10⁷"):
        ours, theirs = figures.get(f"sweep {rows} rows, CSV"), figures.get(f"numpy.savetxt, the same {rows} rows")
        if ours and theirs:
            lines.append(f"\n{rows} rows as CSV: `derivation sweep` takes {ours[1] / theirs[1]:.2f}× the CPU time of "
                         f"numpy.savetxt writing the same bytes (its process evaluates the grid with "
                         f"`evaluate_many` too).")

    lines += ["", "#### `check` and paper-form printing", "",
              f"A claim of {now['check']['terms']} terms, "
              f"`{CLAIM[:40]}…`, against the paper's layer: checking it takes {_ms(now['check']['check_s'])}"
              + (f" ({_ms(before['check']['check_s'])} before)" if before else "")
              + f", writing the result as text {_ms(now['check']['text_s'])}"
              + (f" ({_ms(before['check']['text_s'])} before)" if before else "") + ".", "",
              "| paper form (text and LaTeX), sympy's cache cleared | ms |" + (" previous ms |" if before else ""),
              "|---|---|" + ("---|" if before else "")]
    for name, ms in now["paper"].items():
        lines.append(f"| {name} | {ms:.1f} |" + (f" {before['paper'][name]:.1f} |" if before else ""))

    lines += ["", "#### `verify --fake`: the import FakeTensorMode needs", ""]
    if "skipped" in torch_import:
        lines.append(f"Not measured: {torch_import['skipped']}")
    else:
        base, fake = torch_import["import torch"], torch_import["import torch; FakeTensorMode()"]
        lines.append(f"CPU time of a fresh process: `import torch` {_ms(base)}; `import torch` and "
                     f"`FakeTensorMode()` {_ms(fake)} ({fake / base:.2f}×). Constructing the mode imports "
                     f"`torch._dynamo` (its `__init__` runs for `import torch._dynamo.config`): "
                     f"{_ms(fake - base)} that real tensors never pay.")
    return lines


if __name__ == "__main__":
    print(json.dumps(PROBES[sys.argv[1]]()))
