"""Hostile and bad input, across the command line and the API: one line, exit code 2, nothing written.

The tables below are also the source of docs/bad-input.md: ``python tests/test_bad_input.py``
rewrites the page from what the code answers, and a test fails when the page has drifted.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from derivation import DerivationError, Variant, derive
from derivation.checker import check
from derivation.cli import main
from derivation.config import read_config, read_config_values
from derivation.output import check_writable, write_atomic
from derivation.symbols import b, h, s

PAGE = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"
GPT3 = ("--set", "s=2048", "--set", "b=1", "--set", "h=12288", "--set", "a=96")


@dataclass(frozen=True)
class Case:
    """One bad command line: the files in the working folder, the arguments, what the answer names."""

    kind: str
    argv: tuple[str, ...]
    mentions: str
    files: tuple[tuple[str, str | bytes | None], ...] = ()  # None: a folder; FIFO, or LINK + target
    abridged: str = ""  # how the page shows an argument too long to print

    @property
    def shown(self) -> str:
        words = [self.abridged or arg if len(arg) > 200 else arg for arg in self.argv]
        return " ".join(["derivation", *map(_quote, words)])


def _quote(word: str) -> str:
    """A shell word as people write it: bare, or in double quotes where that is safe."""
    if shlex.quote(word) == word:
        return word
    return f'"{word}"' if not set(word) & set('"$`\\!') else shlex.quote(word)


FIFO = "<a FIFO>"  # a named pipe, made with os.mkfifo
LINK = "<a symlink to>"  # LINK + "name": a symlink to name


def cli(kind, argv, mentions, abridged="", **files) -> Case:
    return Case(kind, tuple(argv), mentions, tuple((name.replace("_", "."), content)
                                                  for name, content in files.items()), abridged)


CASES = [
    # sizes
    cli("size missing", ["evaluate"], "missing value for a"),
    cli("size missing", ["evaluate", "--set", "s=2048"], "missing value for a"),
    cli("--set without a value", ["evaluate", "--set"], "argument --set: expected one argument"),
    cli("size not whole", ["evaluate", "--set", "h=12.5"], "h must be a positive whole number, got '12.5'"),
    cli("size negative", ["evaluate", "--set", "h=-1"], "got '-1'"),
    cli("size zero", ["evaluate", "--set", "h=0"], "got '0'"),
    cli("size not a number", ["evaluate", "--set", "h=abc"], "got 'abc'"),
    cli("size in scientific notation", ["evaluate", "--set", "s=1e3"], "got '1e3'"),
    cli("size empty", ["evaluate", "--set", "h="], "malformed --set 'h='"),
    cli("size without a name", ["evaluate", "--set", "=5"], "malformed --set '=5'"),
    cli("size without =", ["evaluate", "--set", "h"], "malformed --set 'h'"),
    cli("unknown symbol", ["evaluate", "--set", "x=3"], "unknown symbol 'x'"),
    cli("h not divisible by a", ["evaluate", "--set", "s=2048", "--set", "b=1", "--set", "h=12289",
                                 "--set", "a=96"], "h/a = 12289/96 is not a whole number"),
    cli("kv_heads not dividing a", ["evaluate", "--kv-heads", "g", *GPT3, "--set", "g=5"],
        "a/g = 96/5 is not a whole number"),
    cli("interleave stage count below 2", ["evaluate", "--scope", "model", "--pipeline-parallel", "p",
                                           "--interleave", "m", "--set", "m=1"], "m (interleaved"),
    # switches
    cli("unknown switch", ["evaluate", "--atention", "flash"], "unrecognized arguments: --atention"),
    cli("unknown command", ["evalute"], "invalid choice: 'evalute'"),
    cli("bad switch value", ["formula", "--attention", "flsh"], "switch 'attention' got 'flsh'"),
    cli("bad switch value", ["formula", "--tensor-parallel", "0"], "expected a positive whole number"),
    cli("bad switch value", ["formula", "--tensor-parallel", "1.5"], "expected a positive whole number"),
    cli("bad switch value", ["formula", "--tensor-parallel", "p"], "which uses p"),
    cli("bad switch value", ["formula", "--kv-heads", "__import__('os')"], "unexpected character '_'"),
    cli("unknown preset", ["formula", "--preset", "gpt5"], "unknown layer preset 'gpt5'"),
    cli("unknown model", ["evaluate", "--model", "gpt5"], "unknown model 'gpt5'"),
    # conflicting switches
    cli("sequence parallel without tensor parallel", ["formula", "--sequence-parallel"],
        "sequence_parallel needs tensor parallelism"),
    cli("selective recompute with flash", ["formula", "--recompute", "selective", "--attention", "flash"],
        "recompute = 'selective' with attention = 'flash'"),
    cli("unfused fp32 norm with LayerNorm", ["formula", "--norm-impl", "unfused_fp32"],
        "norm_impl = 'unfused_fp32'"),
    cli("context parallel with eager attention", ["formula", "--context-parallel", "c"],
        "context_parallel needs attention = 'flash'"),
    cli("fp32 softmax with flash", ["formula", "--softmax-dtype", "fp32", "--attention", "flash"],
        "softmax_dtype = 'fp32'"),
    cli("interleave = 1", ["formula", "--scope", "model", "--pipeline-parallel", "p", "--interleave", "1"],
        "interleave = 1 is the plain 1F1B schedule"),
    cli("interleave without pipeline parallel", ["formula", "--scope", "model", "--interleave", "m"],
        "interleave needs pipeline parallelism"),
    cli("pipeline parallel for one layer", ["formula", "--pipeline-parallel", "p"],
        "pipeline_parallel applies to the whole model"),
    # pipeline ranks, schedules, model states
    cli("pipeline rank past the last", ["formula", "--scope", "model", "--pipeline-parallel", "8",
                                        "--pipeline-rank", "8"], "names no rank of a 8-rank pipeline"),
    cli("pipeline rank negative", ["formula", "--scope", "model", "--pipeline-parallel", "p",
                                   "--pipeline-rank", "-1"], "expected a whole number, 0 or more"),
    cli("middle rank of two", ["formula", "--scope", "model", "--pipeline-parallel", "2", "--pipeline-rank", "i"],
        "has none"),
    cli("middle rank evaluated at the first", ["evaluate", "--scope", "model", "--pipeline-parallel", "p",
                                               "--pipeline-rank", "i", *GPT3, "--set", "L=96", "--set", "p=8",
                                               "--set", "i=0"], "i must be a positive whole number"),
    cli("numeric rank that is not the last", ["evaluate", "--scope", "model", "--pipeline-parallel", "p",
                                              "--pipeline-rank", "3", *GPT3, "--set", "L=96", "--set", "p=3"],
        "is not the last rank here"),
    cli("output on the last rank of a V shape", ["formula", "--scope", "model", "--pipeline-parallel", "p",
                                                 "--schedule", "zbv", "--output-rank", "last"],
        "runs its last stage on the first rank"),
    cli("DualPipe on an odd pipeline", ["formula", "--scope", "model", "--pipeline-parallel", "7",
                                        "--schedule", "dualpipe"], "needs an even number of ranks"),
    cli("schedule with interleave", ["formula", "--scope", "model", "--pipeline-parallel", "p", "--schedule",
                                     "zb2p", "--interleave", "m"], "needs schedule = '1f1b'"),
    cli("recomputation for inference", ["formula", "--scope", "inference", "--recompute", "selective"],
        "inference keeps nothing for backward"),
    cli("ZeRO without d", ["budget", "--params", "7500000000", "--zero", "1"], "give d"),
    cli("parameter count not whole", ["budget", "--params", "7.5e9"], "expected a positive whole number of parameters"),
    cli("GPU memory unreadable", ["budget", "--params", "10", "--gpu-memory", "80 gigs"], "write a size such as 80GiB"),
    cli("budget of one layer", ["budget", "--scope", "layer", "--params", "10"], "budget counts what a rank holds"),
    # variant files
    cli("config file missing", ["formula", "--config", "missing.toml"], "does not exist"),
    cli("config path is a folder", ["formula", "--config", "layers"], "is a directory", layers=None),
    cli("config not TOML", ["formula", "--config", "bad.toml"], "is not valid TOML", bad_toml="attention =\n"),
    cli("config not UTF-8", ["formula", "--config", "bad.toml"], "is not UTF-8", bad_toml=b"\xff\xfe=1\n"),
    cli("config unknown key", ["formula", "--config", "bad.toml"], "unknown switch 'colour'",
        bad_toml='colour = "red"\n'),
    cli("config bad value", ["formula", "--config", "bad.toml"], "switch 'attention' got 'flsh'",
        bad_toml='attention = "flsh"\n'),
    cli("config bad value type", ["formula", "--config", "bad.toml"], "switch 'tensor_parallel' got 1.5",
        bad_toml="tensor_parallel = 1.5\n"),
    cli("config table where a value belongs", ["formula", "--config", "bad.toml"],
        "config key 'attention' is a table", bad_toml='[attention]\nkind = "flash"\n'),
    cli("config values not a table", ["evaluate", "--config", "bad.toml"], "'values' must be a table",
        bad_toml="values = 3\n"),
    cli("config size not whole", ["evaluate", "--config", "bad.toml"], "s must be a positive whole number",
        bad_toml="[values]\ns = 2048.0\nb = 1\nh = 12288\na = 96\n"),
    cli("config size a boolean", ["evaluate", "--config", "bad.toml"], "got True",
        bad_toml="[values]\ns = true\nb = 1\nh = 12288\na = 96\n"),
    # claims
    cli("claim not a formula", ["check", "sbh + x"], "unknown symbol 'x'"),
    cli("claim with code in it", ["check", "__import__('os').system('ls')"], "unexpected character '_'"),
    cli("claim too long", ["check", "s" + "+s" * 600], "the limit is 1000",
        abridged="s+s+...+s (1201 characters)"),
    cli("claim nested too deep", ["check", "(" * 65 + "s" + ")" * 65], "nested deeper than 64"),
    cli("claim with a huge power", ["check", "s^100"], "exponent must be a whole number"),
    cli("claim that explodes when expanded", ["check", "(s+b+h+a+f+g+v)^64"], "more than 2000 terms"),
    cli("claim for an unknown block", ["check", "34sbh", "--per-block", "attn=11sbh"], "unknown block 'attn'"),
    cli("claim for a block, malformed", ["check", "34sbh", "--per-block", "attention"],
        "malformed --per-block"),
    cli("claim too costly to check", ["check", "(s+b+h+a)^20"], "too large to check"),
    # hostile input: what once printed a traceback, or was silently ignored
    cli("switch paper notation cannot divide by", ["formula", "--tensor-parallel", "t+1"],
        "cannot write as a divisor"),
    cli("switch paper notation cannot divide by", ["evaluate", "--kv-heads", "a+1", *GPT3],
        "cannot write as a divisor"),
    cli("size with a zero denominator", ["evaluate", "--dtype", "symbolic", "--set", "mu=1/0", "--set",
                                         "beta=2", *GPT3], "the denominator is 0"),
    cli("number over the digit limit", ["evaluate", "--set", "s=" + "9" * 5000, "--set", "b=1", "--set",
                                        "h=12288", "--set", "a=96"], "numbers may have at most 1000",
        abridged="s=99...9 (5000 digits)"),
    cli("grid step in superscript digits", ["sweep", "--grid", "s=1:10:x²", "--set", "b=1", "--set",
                                           "h=12288", "--set", "a=96"], "neither xFACTOR nor +STEP"),
    cli("grid beyond int64", ["sweep", "--grid", "s=1:" + "1" + "0" * 30 + ":x2", "--set", "b=1", "--set",
                              "h=12288", "--set", "a=96"], "above the int64 limit"),
    cli("size for a letter the variant lacks", ["evaluate", *GPT3, "--set", "t=8"],
        "add --tensor-parallel t"),
    cli("size for a letter the variant lacks", ["evaluate", *GPT3, "--set", "beta=0.5"],
        "add --dtype symbolic"),
    cli("size given twice", ["evaluate", *GPT3, "--set", "s=4096"], "--set s is given twice"),
    cli("switch given twice", ["formula", "--attention", "flash", "--attention", "eager"], "disagree"),
    cli("shorthand against its switch", ["formula", "--dropout", "--no-attention-dropout"], "disagree"),
    cli("symbolic p evaluated at 1", ["evaluate", "--model", "gpt3-175b", "--scope", "model",
                                      "--pipeline-parallel", "p", "--interleave", "none", "--set", "p=1"],
        "assumes at least 2 stages"),
    cli("variant switches given twice", ["compare", "attention=flash,attention=eager", "baseline"],
        "is given twice"),
    cli("config preset against --preset", ["formula", "--config", "v.toml", "--preset", "megatron"],
        "names preset 'llama'", v_toml='preset = "llama"\n'),
    cli("config path empty", ["formula", "--config", ""], "the config file path is empty"),
    cli("config a FIFO", ["formula", "--config", "v.toml"], "is a FIFO", v_toml=FIFO),
    cli("config a symlink loop", ["formula", "--config", "v.toml"], "Too many levels",
        v_toml=LINK + "v.toml"),
    cli("config nested too deep", ["formula", "--config", "v.toml"], "nests arrays or tables 12 deep",
        v_toml="x = " + "[" * 12 + "]" * 12 + "\n"),
    cli("config name too long", ["formula", "--config", "x" * 300 + ".toml"], "File name too long",
        abridged="xx...x.toml (305 characters)"),
    cli("output path empty", ["latex", "-o", ""], "the output path is empty"),
    cli("output a FIFO", ["latex", "-o", "out.tex"], "it is a FIFO", out_tex=FIFO),
    cli("output a folder", ["sweep", "--grid", "s=1,2", "--set", "b=1", "--set", "h=64", "--set", "a=4",
                            "--csv", "out.csv"], "is a directory", out_csv=None),
    cli("output a symlink loop", ["latex", "-o", "out.tex"], "Too many levels", out_tex=LINK + "out.tex"),
    cli("output name too long", ["latex", "-o", "x" * 300 + ".tex"], "File name too long",
        abridged="xx...x.tex (304 characters)"),
    cli("CSV and JSON both to stdout", ["sweep", "--grid", "s=1,2", "--set", "b=1", "--set", "h=64",
                                         "--set", "a=4", "--csv", "-", "--json"], "both write to standard output"),
    cli("verify: a switch the reference layer lacks", ["verify", "--tensor-parallel", "2"],
        "no tensor parallelism"),
    cli("verify: a switch the reference layer lacks", ["verify", "--recompute", "selective"],
        "no recomputation"),
    cli("verify: too large for a real measurement", ["verify", "--set", "s=100000"], "add --fake"),
    cli("verify: too large even under --fake", ["verify", "--fake", "--set", "s=" + "1" + "0" * 30],
        "beyond what PyTorch can describe"),
    cli("Hugging Face config that is missing", ["formula", "--hf-config", "nowhere"], "not a config.json file"),
    cli("Hugging Face config that is not JSON", ["formula", "--hf-config", "config.json"], "not valid JSON",
        config_json="{not json"),
    cli("Hugging Face config of an unknown model type", ["formula", "--hf-config", "config.json"], "model_type = 'gpt5'",
        config_json='{"model_type": "gpt5", "hidden_size": 128, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu"}'),
    cli("Hugging Face config with its own head size", ["formula", "--hf-config", "config.json"], "head_dim = 64",
        config_json='{"model_type": "llama", "hidden_size": 128, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu", "head_dim": 64}'),
    cli("Hugging Face config with an activation not described", ["formula", "--hf-config", "config.json"],
        "hidden_act = 'gelu'", config_json='{"model_type": "llama", "hidden_size": 128, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "gelu"}'),
    cli("Hugging Face config with an unknown dtype", ["formula", "--hf-config", "config.json"],
        "torch_dtype = 'float8'", config_json='{"model_type": "llama", "hidden_size": 128, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu", "torch_dtype": "float8"}'),
    cli("Hugging Face config with a bad size", ["formula", "--hf-config", "config.json"], "hidden_size = 0",
        config_json='{"model_type": "llama", "hidden_size": 0, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu"}'),
    cli("Hugging Face config whose heads do not divide h", ["formula", "--hf-config", "config.json"],
        "must divide the hidden size", config_json='{"model_type": "llama", "hidden_size": 100, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu"}'),
    cli("Hugging Face config with a dropout above 1", ["formula", "--hf-config", "config.json"],
        "attention_dropout = 1.5", config_json='{"model_type": "llama", "hidden_size": 128, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu", "attention_dropout": 1.5}'),
    cli("attention implementation without a config", ["formula", "--attn-implementation", "eager"],
        "applies to --hf-config"),
    cli("model and config together", ["formula", "--model", "gpt2", "--hf-config", "config.json"],
        "either --model or --hf-config", config_json='{"model_type": "llama", "hidden_size": 128, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu"}'),
]


def _prepare(case: Case, folder: Path) -> None:
    for name, content in case.files:
        if content is None:
            (folder / name).mkdir()
        elif content == FIFO:
            os.mkfifo(folder / name)
        elif isinstance(content, str) and content.startswith(LINK):
            os.symlink(content[len(LINK):], folder / name)
        elif isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content)


def answer(case: Case) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the case, run in-process in a fresh folder."""
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        _prepare(case, Path(folder))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(case.argv))
            except SystemExit as stop:  # argparse usage errors
                code = stop.code
        return code, out.getvalue(), err.getvalue()


# --- the command line ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.kind}: {shlex.join(case.argv)[:50]}")
def test_bad_command_line_is_one_error_line_and_exit_code_2(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _prepare(case, tmp_path)
    before = sorted(tmp_path.iterdir())
    try:
        code = main(list(case.argv))
    except SystemExit as stop:  # argparse usage errors, should main let them through
        code = stop.code
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1
    assert case.mentions in err and "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize("argv", [
    ["evaluate", "--set", "h=12.5"],
    ["check", "__import__('os').system('touch pwned')"],
    ["formula", "--config", "missing.toml"],
])
def test_bad_input_in_a_real_process_prints_no_traceback(argv, tmp_path):
    done = subprocess.run([sys.executable, "-m", "derivation", *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no output file, and no sentinel from the payload


# --- sizes so large that floats would lose them ---------------------------------------------------

HUGE = 10**30


def test_huge_sizes_stay_exact_integers():
    d = derive()
    expected = 34 * HUGE * 1 * 96 + 5 * 96 * HUGE**2 * 1
    assert d.evaluate(s=HUGE, b=1, h=96, a=96) == expected
    assert isinstance(d.evaluate(s=HUGE, b=1, h=96, a=96), int)


def test_huge_sizes_stay_exact_per_tensor():
    tensors = derive(tensor_parallel="t").evaluate_tensors(s=HUGE, b=3, h=HUGE * 8, a=8, t=8)
    assert dict((t.name, n) for t, n in tensors)["mlp/gelu_input"] == 2 * HUGE * 3 * 4 * HUGE * 8 // 8


def test_huge_sizes_stay_exact_in_json(capsys):
    import json

    assert main(["evaluate", "--json", "--set", f"s={HUGE}", "--set", "b=1", "--set", "h=96", "--set", "a=96"]) == 0
    assert json.loads(capsys.readouterr().out)["bytes"] == 34 * HUGE * 96 + 5 * 96 * HUGE**2


# --- the Python API answers the same -------------------------------------------------------------

@pytest.mark.parametrize("values, message", [
    (dict(s=2048, b=1, h=12.5, a=96), "h must be a positive whole number, got 12.5"),
    (dict(s=2048, b=1, h=-1, a=96), "got -1"),
    (dict(s=2048, b=1, h=True, a=96), "got True"),
    (dict(s=2048, b=1, h="12288x", a=96), "got '12288x'"),
    (dict(s=2048, b=1, h=12288), "missing value for a"),
    (dict(s=2048, b=1, h=12288, a=96, x=1), "unknown symbol 'x'"),
    (dict(s=2048, b=1, h=12289, a=96), "h/a = 12289/96 is not a whole number"),
])
def test_bad_sizes_through_the_api(values, message):
    with pytest.raises(DerivationError, match=message.replace("(", r"\(")):
        derive().evaluate(**values)


@pytest.mark.parametrize("switches, message", [
    (dict(atention="flash"), "unknown switch 'atention'"),
    (dict(attention="flsh"), "switch 'attention' got 'flsh'"),
    (dict(tensor_parallel=0), "expected a positive whole number"),
    (dict(tensor_parallel=True), "expected a number or an expression"),
    (dict(kv_heads=1.5), "expected a number or an expression"),
    (dict(sequence_parallel=True), "sequence_parallel needs tensor parallelism"),
    (dict(sequence_parallel="maybe"), "expected on or off"),
])
def test_bad_switches_through_the_api(switches, message):
    with pytest.raises(DerivationError, match=message):
        derive(**switches)


def test_an_unreadable_config_file_is_one_error(tmp_path, monkeypatch):
    path = tmp_path / "locked.toml"
    path.write_text('attention = "flash"\n')

    real_open = os.open

    def locked(name, *args, **kwargs):  # root may read anything: refuse this one file
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", locked)
    with pytest.raises(DerivationError, match="cannot be read \\(permission denied\\)"):
        read_config(path)


def test_config_values_in_a_mapping_are_checked_when_used():
    values = read_config_values({"values": {"s": 2048, "b": 1, "h": 12288, "a": 96, "x": 1}})
    with pytest.raises(DerivationError, match="unknown symbol 'x'"):
        derive().evaluate(**values)


def test_an_unknown_symbol_under_config_values_is_refused_by_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sizes.toml").write_text("[values]\ns = 2048\nb = 1\nh = 12288\na = 96\nx = 5\n")
    assert main(["evaluate", "--config", "sizes.toml"]) == 2


def test_a_fractional_mask_size_is_exact():
    from fractions import Fraction

    mu = Fraction(1, 8)  # a bit-packed mask; sbh(16β + 2μ) + as²b(2β + μ) at sbh = 64, as²b = 512
    expected = 64 * (16 * 2 + 2 * mu) + 512 * (2 * 2 + mu)
    assert derive(dtype="symbolic").evaluate(s=8, b=1, h=8, a=8, beta=2, mu="1/8") == expected


# --- output files: the whole file, or nothing -----------------------------------------------------

def test_writing_into_a_missing_folder_is_refused_before_any_work(tmp_path):
    with pytest.raises(DerivationError, match="folder .* does not exist"):
        check_writable(tmp_path / "missing" / "out.tex")


def test_writing_over_a_folder_is_refused(tmp_path):
    with pytest.raises(DerivationError, match="is a directory; name a file"):
        write_atomic(tmp_path, "x")


def test_writing_into_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere
    with pytest.raises(DerivationError, match="is not writable"):
        write_atomic(tmp_path / "out.tex", "x")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_writing_into_a_really_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    with pytest.raises(DerivationError, match="is not writable"):
        write_atomic(folder / "out.tex", "x")


def _failing_writer(error: Exception) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text("half a fi")
        raise error

    return write


def test_a_failing_writer_leaves_no_file_and_no_temporary(tmp_path):
    with pytest.raises(DerivationError, match="cannot write .*No space left on device"):
        write_atomic(tmp_path / "out.png", _failing_writer(OSError(28, "No space left on device")))
    assert list(tmp_path.iterdir()) == []


def test_a_failing_writer_does_not_clobber_an_existing_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("the old table\n")
    with pytest.raises(DerivationError):
        write_atomic(target, _failing_writer(OSError(28, "No space left on device")))
    assert target.read_text() == "the old table\n" and list(tmp_path.iterdir()) == [target]


def test_a_writer_bug_propagates_and_still_cleans_up(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(ZeroDivisionError):
        write_atomic(target, _failing_writer(ZeroDivisionError()))
    assert target.read_text() == "old\n" and list(tmp_path.iterdir()) == [target]


def test_a_successful_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.tex"
    target.write_text("old\n")
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n" and list(tmp_path.iterdir()) == [target]


# --- the page ------------------------------------------------------------------------------------

API_CASES: list[tuple[str, str, Callable[[], object]]] = [
    ("size not whole", "derive().evaluate(s=2048, b=1, h=12.5, a=96)",
     lambda: derive().evaluate(s=2048, b=1, h=12.5, a=96)),
    ("size a boolean", "derive().evaluate(s=2048, b=1, h=True, a=96)",
     lambda: derive().evaluate(s=2048, b=1, h=True, a=96)),
    ("unknown switch", 'derive(atention="flash")', lambda: derive(atention="flash")),
    ("switch of the wrong type", "derive(kv_heads=1.5)", lambda: derive(kv_heads=1.5)),
    ("claim not a formula", 'check("sbh + x")', lambda: check("sbh + x")),
    ("claim with a sum in a denominator", 'check("sbh/(1 + t)")', lambda: check("sbh/(1 + t)")),
    ("claim with a float", "check(34.0 * s * b * h)", lambda: check(34.0 * s * b * h)),
    ("output folder missing", 'write_atomic("missing/out.tex", text)',
     lambda: write_atomic("missing/out.tex", "x")),
    ("output path is a folder", 'write_atomic(".", text)', lambda: write_atomic(".", "x")),
    ("output writer fails (disk full)", 'write_atomic("out.png", writer)',
     lambda: write_atomic("out.png", _failing_writer(OSError(28, "No space left on device")))),
    ("output path empty", 'write_atomic("", text)', lambda: write_atomic("", "x")),
    ("output a FIFO", 'write_atomic("pipe", text)', lambda: (os.mkfifo("pipe"), write_atomic("pipe", "x"))),
    ("variant with a negative size", "Variant(tensor_parallel=-8)", lambda: Variant(tensor_parallel=-8)),
    ("variant with a misspelt choice", 'Variant(attention="flsh")', lambda: Variant(attention="flsh")),
    ("variant with an unknown choice", 'Variant(recompute="partial")', lambda: Variant(recompute="partial")),
    ("switch paper notation cannot divide by", 'derive(tensor_parallel="t+1")',
     lambda: derive(tensor_parallel="t+1")),
    ("size with a zero denominator", 'derive(dtype="symbolic").evaluate(..., mu="1/0")',
     lambda: derive(dtype="symbolic").evaluate(s=8, b=1, h=8, a=8, beta=2, mu="1/0")),
    ("number over the digit limit", "derive().evaluate(s=10**1000, b=1, h=8, a=8)",
     lambda: derive().evaluate(s=10**1000, b=1, h=8, a=8)),
    ("claim too costly to check", 'check("(s+b+h+a)^20")', lambda: check("(s+b+h+a)^20")),
]


def api_answer(call: Callable[[], object]) -> str:
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        try:
            call()
        except DerivationError as error:
            return str(error)
    raise AssertionError("the call was accepted")


def _code(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _files(case: Case) -> str:
    shown = []
    for name, content in case.files:
        if content is None:
            shown.append(f"folder `{name}`")
        elif content == FIFO:
            shown.append(f"FIFO `{name}`")
        elif isinstance(content, str) and content.startswith(LINK):
            shown.append(f"symlink `{name}` → `{content[len(LINK):]}`")
        else:
            body = content.decode("latin-1").encode("unicode_escape").decode() if isinstance(content, bytes) \
                else content.rstrip("\n").replace("\n", "\\n")
            shown.append(f"`{name}`: {_code(body)}")
    return "; ".join(shown)


def page() -> str:
    """docs/bad-input.md, from what the code answers."""
    lines = [
        "<!-- Generated by tests/test_bad_input.py from the code: do not edit; "
        "run python tests/test_bad_input.py -->",
        "",
        "# Bad input, and the answer it gets",
        "",
        "Every entry point refuses bad input the same way. The command line prints exactly one line,",
        "`error: ...`, on stderr, exits with code 2, and writes no file; it never shows a traceback.",
        "The Python API raises `DerivationError` (a `ValueError`) with the same message. Formula",
        "text is read by the project's own parser and is never evaluated as code.",
        "",
        "- **Output files** (`-o`, `--csv`) are written atomically, and only over a regular file or a",
        "  new path; a symlink is followed and its target written. A device, FIFO, socket, folder or",
        "  hard-linked file is refused and left as it was; `-o -` is standard output. The replaced",
        "  file keeps its mode and, where the process may set it, its owner. SIGINT, SIGTERM and",
        "  SIGHUP remove the partial file and exit 128 + the signal's number.",
        "- **Variant files** (`--config`) are read once, only when they are regular files, and only up",
        "  to 1 MiB and 8 levels of nesting.",
        "- **Numbers**, wherever they come from (`--set`, grids, TOML, β and μ, claims, switch",
        "  expressions, the API), have at most 1000 digits.",
        "- **Nothing is silently ignored**: a `--set` for a letter the variant lacks, an option given",
        "  twice with different values, and a config preset that contradicts `--preset` are refused.",
        "- **A bug** is one line too, `error: internal error: ...; please report it`, with exit code",
        "  70; `DERIVATION_DEBUG=1` adds the traceback.",
        "",
        "## Command line",
        "",
        "| kind | you type | files in the folder | the answer (stderr; exit code 2) |",
        "|---|---|---|---|",
    ]
    for case in CASES:
        _, _, err = answer(case)
        lines.append(f"| {case.kind} | {_code(case.shown)} | {_files(case)} | {_code(err.rstrip())} |")
    lines += ["", "## Python API", "", "| kind | you call | the answer (`DerivationError`) |", "|---|---|---|"]
    for kind, shown, call in API_CASES:
        lines.append(f"| {kind} | {_code(shown)} | {_code(api_answer(call))} |")
    return "\n".join(lines) + "\n"


def test_the_bad_input_page_matches_what_the_code_answers():
    assert PAGE.read_text() == page(), "docs/bad-input.md is stale: run python tests/test_bad_input.py"


@pytest.mark.parametrize("kind, shown, call", API_CASES, ids=[case[0] for case in API_CASES])
def test_every_documented_api_call_is_refused_with_a_derivation_error(kind, shown, call):
    assert api_answer(call)


if __name__ == "__main__":
    write_atomic(PAGE, page())
    print(f"wrote {PAGE}")
