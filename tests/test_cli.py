"""The command line: what users type, what they read, and exit codes."""

import json
import subprocess
import sys

import pytest

from derivation.cli import COMMANDS, main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_formula_prints_the_paper_form(capsys):
    assert run(capsys, "formula") == (0, "sbh(34 + 5as/h)\n", "")


def test_formula_latex(capsys):
    code, out, _ = run(capsys, "formula", "--latex")
    assert code == 0 and out.strip() == r"s b h \left(34 + \frac{5 a s}{h}\right)"


def test_formula_json_has_expression_paper_form_and_latex(capsys):
    code, out, _ = run(capsys, "formula", "--json")
    data = json.loads(out)
    assert data["expression"] == "5*a*b*s**2 + 34*b*h*s"
    assert data["paper_form"] == "sbh(34 + 5as/h)" and data["latex"].startswith("s b h")


def test_formula_with_switches(capsys):
    assert run(capsys, "formula", "--attention", "flash", "--kv-heads", "g")[1] == "sbh(30 + 4a/h + 4g/a)\n"


def test_table_text_lists_every_tensor_with_subtotals_and_the_closed_form(capsys):
    code, out, _ = run(capsys, "table")
    assert code == 0
    for piece in ("softmax_dropout_mask", "attention subtotal", "11sbh + 5as^2b", "19sbh",
                  "closed form  sbh(34 + 5as/h)", "28.1%"):
        assert piece in out


@pytest.mark.parametrize("fmt, piece", [("markdown", "| attention | q |"), ("json", '"paper_form"'),
                                        ("latex", r"\toprule")])
def test_table_formats(capsys, fmt, piece):
    code, out, _ = run(capsys, "table", "--format", fmt)
    assert code == 0 and piece in out


def test_evaluate_json_gpt3(capsys):
    code, out, _ = run(capsys, "evaluate", "--set", "s=2048", "--set", "b=1", "--set", "h=12288",
                       "--set", "a=96", "--json")
    data = json.loads(out)
    assert code == 0 and data["bytes"] == 2_868_903_936
    assert data["breakdown"] == {"attention": 2_290_089_984, "mlp": 478_150_656, "norm": 100_663_296}
    assert data["values"] == {"s": 2048, "b": 1, "h": 12288, "a": 96}


def test_evaluate_text_labels_gib(capsys):
    _, out, _ = run(capsys, "evaluate", "--set", "s=2048", "--set", "b=1", "--set", "h=12288", "--set", "a=96")
    assert "2,868,903,936 bytes" in out and "2.67 GiB" in out and " GB" not in out


def test_evaluate_issue_example_tp8_sp_selective(capsys):
    _, out, _ = run(capsys, "evaluate", "--tensor-parallel", "8", "--sequence-parallel", "--recompute",
                    "selective", "--set", "s=2048", "--set", "b=1", "--set", "h=12288", "--set", "a=96", "--json")
    assert json.loads(out)["bytes"] == 106954752


def test_evaluate_flash_gqa_example(capsys):
    code, out, _ = run(capsys, "evaluate", "--attention", "flash", "--kv-heads", "g", "--set", "s=64",
                       "--set", "b=2", "--set", "h=128", "--set", "a=8", "--set", "g=2", "--json")
    assert code == 0 and json.loads(out)["bytes"] == 64 * 2 * 128 * 30 + 64 * 2 * 128 * 4 * 2 // 8 + 4 * 8 * 2 * 64


def test_model_preset_fills_values_and_set_overrides(capsys):
    _, out, _ = run(capsys, "evaluate", "--model", "gpt3-175b", "--json")
    assert json.loads(out)["values"] == {"a": 96, "h": 12288, "t": 8, "b": 1, "s": 2048}
    _, out, _ = run(capsys, "evaluate", "--model", "gpt3-175b", "--set", "b=2", "--json")
    assert json.loads(out)["values"]["b"] == 2


def test_model_scope_with_model_preset(capsys):
    code, out, _ = run(capsys, "evaluate", "--model", "gpt3-175b", "--scope", "model",
                       "--sequence-parallel", "--recompute", "selective", "--json")
    data = json.loads(out)
    assert code == 0 and set(data["breakdown"]) == {"attention", "mlp", "norm", "embedding"}


def test_presets_lists_layer_and_model_presets(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0 and all(name in out for name in ("megatron", "gpt2", "llama", "gpt3-175b", "llama3-70b"))


def test_compare_names_the_tensors_that_differ(capsys):
    code, out, _ = run(capsys, "compare", "megatron", "attention=flash")
    assert code == 0 and "- attention/softmax_output" in out and "+ attention/logsumexp" in out


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "--set", "s=2048", "--set", "b=1", "--set", "h=12288"], "missing value for a"),
    (["evaluate", "--set", "s=0", "--set", "b=1", "--set", "h=8", "--set", "a=2"], "s must be a positive whole number"),
    (["evaluate", "--set", "s=2.5", "--set", "b=1", "--set", "h=8", "--set", "a=2"], "s must be a positive whole number"),
    (["evaluate", "--set", "s=8", "--set", "b=1", "--set", "h=10", "--set", "a=4"], "h/a = 5/2 is not a whole number"),
    (["evaluate", "--set", "q=8"], "unknown symbol 'q'"),
    (["evaluate", "--set", "s8"], "malformed --set 's8'"),
    (["evaluate", "--set", "s="], "malformed --set 's='"),
    (["formula", "--attention", "flsh"], "switch 'attention' got 'flsh'"),
    (["formula", "--sequence-parallel"], "sequence_parallel needs tensor parallelism"),
    (["formula", "--bogus"], "unrecognized arguments: --bogus"),
    (["evaluate", "--model", "gpt-5"], "unknown model 'gpt-5'"),
    (["formula", "--config", "/nonexistent/x.toml"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_module_entry_point_exits_2_without_traceback():
    result = subprocess.run([sys.executable, "-m", "derivation", "evaluate", "--set", "h=12288"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error: missing value for")
    assert "Traceback" not in result.stderr


def test_every_listed_command_exists():
    import importlib

    for name in COMMANDS:
        module = importlib.import_module(f"derivation.cli.{name}")
        assert callable(module.add_parser) and callable(module.run)


SIZES = dict(s=64, b=2, h=96, a=8, f=256, g=2, k=2, E=8, F=320, t=2, c=2, p=4, m=2, L=24, v=1024, d=2, i=1, beta=2, mu=1)


def _every_switch_value():
    from derivation.switches import DECLARED, context_of

    for switch in DECLARED:
        for value in switch.values:
            yield {**context_of(switch.name), switch.name: value}


@pytest.mark.parametrize("switches", list(_every_switch_value()), ids=str)
def test_evaluate_json_works_with_every_switch_value(capsys, switches):
    from derivation import derive

    argv = ["evaluate", "--json"]
    for name, value in switches.items():
        text = ("on" if value else "off") if isinstance(value, bool) else str(value)
        argv += ["--" + name.replace("_", "-"), text]
    d = derive(**switches)
    values = {x.name: SIZES[x.name] for x in d.symbols}
    for name, number in values.items():
        argv += ["--set", f"{name}={number}"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)["bytes"] == d.evaluate(**values)


def test_an_explicit_preset_replaces_the_models_layer_preset(capsys):
    code, out, _ = run(capsys, "formula", "--model", "llama3-8b", "--preset", "megatron")
    assert code == 0 and out == "sbh(10 + 24/t + 5as/(ht))\n"  # megatron layer, llama layout (t)
