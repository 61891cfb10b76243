"""Hostile input: every path answers in one line, output never destroys what it replaces, and no
public door skips validation.

Each refusal is checked for its exit code, its single ``error:`` line, the absence of a
traceback, that the target path is unchanged (type, mode, owner, content) and that no partial
file is left. Device nodes, FIFOs, sockets and symlinks are made by the tests in their own
temporary folders; the real ``/dev`` is never touched.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derivation import DerivationError, Variant, check, derive
from derivation.cli import COMMANDS, INTERNAL_ERROR, build_parser, main
from derivation.config import load_toml
from derivation.limits import MAX_CONFIG_BYTES, MAX_DIGITS
from derivation.output import write_atomic
from derivation.switches import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
GPT3 = ("--set", "s=2048", "--set", "b=1", "--set", "h=12288", "--set", "a=96")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="making device nodes and giving files away needs root")


def run(argv, folder: Path) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the command line, run in-process in ``folder``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def refused(argv, folder: Path, mentions: str = "") -> str:
    """Run a command that must be refused: exit 2, nothing on stdout, one error line, no
    traceback, no partial file. Returns the error line."""
    before = _snapshot(folder)
    code, out, err = run(argv, folder)
    assert (code, out) == (2, ""), (code, out, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and mentions in err, err
    assert _snapshot(folder) == before  # nothing created, replaced, or left half-written
    return err


def _snapshot(folder: Path) -> dict:
    """Everything about every entry in a folder that a write could change."""
    out = {}
    for entry in sorted(folder.iterdir()):
        info = os.lstat(entry)
        content = entry.read_bytes() if stat.S_ISREG(info.st_mode) else os.readlink(entry) \
            if stat.S_ISLNK(info.st_mode) else None
        out[entry.name] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid,
                           info.st_gid, info.st_rdev, info.st_ino, info.st_nlink, content)
    return out


def _partials(folder: Path) -> list[str]:
    return [entry.name for entry in folder.iterdir() if entry.name.endswith(".partial")]


# --- output: only a regular file or a new path is ever replaced -----------------------------------

def _char_device(path: Path) -> Path:
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a copy of /dev/null's node
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _loop(path: Path) -> Path:
    os.symlink(path.name, path)
    return path


def _hard_link(path: Path) -> Path:
    path.write_text("linked\n")
    os.link(path, path.with_name("other-name"))
    return path


def _link_to_device(path: Path) -> Path:
    _char_device(path.with_name("device"))
    os.symlink("device", path)
    return path


def _link_to_fifo(path: Path) -> Path:  # what -o /dev/stdout is when stdout is a pipe
    _fifo(path.with_name("pipe"))
    os.symlink("pipe", path)
    return path


OBSTACLES = {
    "a FIFO": (_fifo, "it is a FIFO"),
    "a symlink to a FIFO": (_link_to_fifo, "it is a symlink to a FIFO"),
    "a socket": (_socket, "it is a socket"),
    "a folder": (_folder, "is a directory"),
    "a symlink loop": (_loop, "Too many levels of symbolic links"),
    "a file with two hard links": (_hard_link, "has 2 hard links"),
}
DEVICE_OBSTACLES = {
    "a character device": (_char_device, "it is a character device"),
    "a symlink to a character device": (_link_to_device, "it is a symlink to a character device"),
}


def _writers(target: str) -> list[list[str]]:
    return [["latex", "-o", target],
            ["sweep", "--grid", "s=1,2", "--set", "b=1", "--set", "h=64", "--set", "a=4", "--csv", target]]


@pytest.mark.parametrize("kind", OBSTACLES)
@pytest.mark.parametrize("command", [0, 1], ids=["latex -o", "sweep --csv"])
def test_output_over_anything_but_a_regular_file_is_refused_and_left_alone(tmp_path, kind, command):
    make, message = OBSTACLES[kind]
    make(tmp_path / "out.tex")
    refused(_writers("out.tex")[command], tmp_path, message)


@needs_root
@pytest.mark.parametrize("kind", DEVICE_OBSTACLES)
@pytest.mark.parametrize("command", [0, 1], ids=["latex -o", "sweep --csv"])
def test_output_over_a_device_is_refused_and_the_device_survives(tmp_path, kind, command):
    make, message = DEVICE_OBSTACLES[kind]
    make(tmp_path / "out.tex")
    refused(_writers("out.tex")[command], tmp_path, message)
    assert stat.S_ISCHR(os.stat(tmp_path / "out.tex").st_mode)


def test_the_api_refuses_a_fifo_too(tmp_path):
    fifo = _fifo(tmp_path / "pipe")
    with pytest.raises(DerivationError, match="it is a FIFO"):
        write_atomic(fifo, "x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and _partials(tmp_path) == []


def test_a_symlink_is_followed_its_target_written_and_the_link_kept(tmp_path):
    (tmp_path / "real.tex").write_text("old\n")
    os.symlink("real.tex", tmp_path / "out.tex")
    code, _, err = run(["latex", "-o", "out.tex"], tmp_path)
    assert (code, err) == (0, "")
    assert os.readlink(tmp_path / "out.tex") == "real.tex"
    assert (tmp_path / "real.tex").read_text().startswith("% Activation memory")
    assert _partials(tmp_path) == []


def test_a_dangling_symlink_creates_its_target(tmp_path):
    os.symlink("made.tex", tmp_path / "out.tex")
    assert run(["latex", "-o", "out.tex"], tmp_path)[0] == 0
    assert os.path.islink(tmp_path / "out.tex") and (tmp_path / "made.tex").read_text().startswith("%")


def test_a_private_file_keeps_its_mode(tmp_path):
    target = tmp_path / "out.tex"
    target.write_text("old\n")
    target.chmod(0o600)
    assert run(["latex", "-o", "out.tex"], tmp_path)[0] == 0
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600 and target.read_text() != "old\n"


@needs_root
def test_a_file_of_another_owner_keeps_its_owner_and_group(tmp_path):
    target = tmp_path / "out.tex"
    target.write_text("old\n")
    os.chown(target, 1234, 4321)
    target.chmod(0o640)
    assert run(["latex", "-o", "out.tex"], tmp_path)[0] == 0
    info = os.stat(target)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1234, 4321, 0o640)


def test_a_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        assert run(["latex", "-o", "new.tex"], tmp_path)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.tex").st_mode) == 0o640


@pytest.mark.parametrize("argv", [["latex", "-o", ""], _writers("")[1], ["plot", "-o", ""]],
                         ids=["latex", "sweep", "plot"])
def test_an_empty_output_path_is_refused(tmp_path, argv):
    refused(argv, tmp_path, "the output path is empty")


def test_dash_is_standard_output(tmp_path):
    code, out, err = run(["latex", "-o", "-"], tmp_path)
    assert (code, err) == (0, "") and out.startswith("% Activation memory")
    code, out, err = run(_writers("-")[1], tmp_path)
    assert (code, err) == (0, "") and out.splitlines()[0] == "a,s,b,h,bytes"
    assert list(tmp_path.iterdir()) == []  # no file named -


def test_csv_to_standard_output_with_json_is_refused(tmp_path):
    refused([*_writers("-")[1], "--json"], tmp_path, "both write to standard output")


def test_an_output_name_too_long_for_the_system_is_one_line(tmp_path):
    refused(["latex", "-o", "x" * 300 + ".tex"], tmp_path, "File name too long")


def test_an_output_name_that_nearly_fills_a_folder_entry_still_gets_its_temporary(tmp_path):
    name = "x" * 250 + ".tex"
    assert run(["latex", "-o", name], tmp_path)[0] == 0
    assert [entry.name for entry in tmp_path.iterdir()] == [name]


_SIGNALLED = """
import os, signal, sys
from pathlib import Path
import derivation.output as output
from derivation.cli import main
def interrupt(temp, before):  # the signal arrives while the temporary file is half done
    Path(temp).write_text("half a fi")
    os.kill(os.getpid(), signal.{signal})
output._keep_status = interrupt
if sys.argv[1] == "cli":
    sys.exit(main(["latex", "-o", "out.tex"]))
output.write_atomic("out.tex", "the new file")
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_during_a_write_removes_the_partial_file_and_exits_128_plus_n(tmp_path, name):
    number = getattr(signal, name)
    (tmp_path / "out.tex").write_text("the old file\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _SIGNALLED.format(signal=name), "cli"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 128 + number
    assert done.stderr == f"error: terminated ({name})\n"
    assert (tmp_path / "out.tex").read_text() == "the old file\n" and _partials(tmp_path) == []
    # Through the Python API the process dies of the signal, as it would have anyway, but clean.
    done = subprocess.run([sys.executable, "-c", _SIGNALLED.format(signal=name), "api"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -number and "Traceback" not in done.stderr
    assert (tmp_path / "out.tex").read_text() == "the old file\n" and _partials(tmp_path) == []


# --- the causes of tracebacks, one by one ---------------------------------------------------------

LONG = "1" * (MAX_DIGITS + 1)
HUGE = "1" * 5000  # past Python's own 4300-digit limit on reading integers


@pytest.mark.parametrize("argv, mentions", [
    (["formula", "--tensor-parallel", "t+1"], "cannot write as a divisor (1/(t + 1))"),
    (["evaluate", "--kv-heads", "a+1", *GPT3], "cannot write as a divisor (1/(a + 1))"),
    (["formula", "--scope", "model", "--pipeline-parallel", "p+1"], "cannot write as a divisor"),
    (["sweep", "--grid", "s=1:1000000000000000000000000000000:x2", "--set", "b=1", "--set", "h=12288",
      "--set", "a=96"], "above the int64 limit"),
    (["sweep", "--grid", "s=1:10:x²", "--set", "b=1", "--set", "h=12288", "--set", "a=96"],
     "neither xFACTOR nor +STEP"),
    (["sweep", "--grid", f"s=1:10:x{HUGE}", "--set", "b=1", "--set", "h=12288", "--set", "a=96"],
     "the step has 5000 digits"),
    (["evaluate", "--dtype", "symbolic", "--set", "mu=1/0", "--set", "beta=2", *GPT3], "the denominator is 0"),
    (["evaluate", "--set", f"s={HUGE}", "--set", "b=1", "--set", "h=12288", "--set", "a=96"],
     f"numbers may have at most {MAX_DIGITS}"),
    (["evaluate", "--set", f"s={LONG}", "--set", "b=1", "--set", "h=12288", "--set", "a=96"],
     f"numbers may have at most {MAX_DIGITS}"),
    (["evaluate", "--dtype", "symbolic", "--set", f"beta={HUGE}/3", "--set", "mu=1", *GPT3],
     f"numbers may have at most {MAX_DIGITS}"),
    (["check", "(10^40)^30 sbh"], f"number too large (more than {MAX_DIGITS} digits)"),
    (["formula", "--tensor-parallel", "(10^40)^30"], f"number too large (more than {MAX_DIGITS} digits)"),
    (["formula", "--config", "x" * 300 + ".toml"], "File name too long"),
    (["compare", "y" * 300 + ".toml", "baseline"], "File name too long"),
    (["verify", "--fake", "--set", "s=1000000000000000000000000000000"], "beyond what PyTorch can describe"),
])
def test_inputs_that_once_printed_a_traceback_answer_in_one_line(tmp_path, argv, mentions):
    refused(argv, tmp_path, mentions)


def test_a_switch_set_longer_than_a_file_name_is_read_as_switches(tmp_path):
    spec = ",".join(["attention=flash", "attention_dropout=off", "kv_heads=g", "ffn_hidden=8*h/3",
                     "mlp=swiglu", "norm=rmsnorm", "rope=fused", "qkv=separate", "hidden_dropout=off",
                     "norm_stats=off", "softmax_dtype=dtype", "attention_output=view", "mask_bytes=1",
                     "recompute=none", "sequence_parallel=off", "dtype=bf16", "norm_impl=fused",
                     "sequence_parallel_gather=recompute"])
    assert len(spec) > 255
    code, out, err = run(["compare", spec, "baseline"], tmp_path)
    assert (code, err) == (0, "") and "difference B - A" in out


@pytest.mark.parametrize("sizes", ['mu = "1/0"', f"s = {HUGE}", f'beta = "{HUGE}"'])
def test_bad_numbers_in_a_config_file_are_one_line(tmp_path, sizes):
    (tmp_path / "v.toml").write_text(f'dtype = "symbolic"\n[values]\n{sizes}\n')
    refused(["evaluate", "--config", "v.toml"], tmp_path, "")


def test_a_symlink_loop_as_config_is_one_line(tmp_path):
    _loop(tmp_path / "loop.toml")
    refused(["formula", "--config", "loop.toml"], tmp_path, "Too many levels of symbolic links")


def test_a_toml_nested_ten_thousand_deep_is_one_line(tmp_path):
    (tmp_path / "deep.toml").write_text("x = " + "[" * 10_000 + "]" * 10_000 + "\n")
    refused(["formula", "--config", "deep.toml"], tmp_path, "nests arrays or tables 10000 deep")


def test_brackets_inside_strings_and_comments_are_not_nesting(tmp_path):
    path = tmp_path / "v.toml"
    path.write_text('preset = "llama" # [[[[[[[[[[[[[[[[\n'
                    "kv_heads = 'g'\n" + 'ffn_hidden = """8*h/3"""\n[values]\ns = 2048\n')
    assert load_toml(path) == {"preset": "llama", "kv_heads": "g", "ffn_hidden": "8*h/3",
                               "values": {"s": 2048}}


def test_a_toml_integer_past_pythons_digit_limit_is_one_line(tmp_path):
    (tmp_path / "big.toml").write_text(f"[values]\ns = {HUGE}\n")
    refused(["evaluate", "--config", "big.toml"], tmp_path, "big.toml")


def test_a_full_disk_on_standard_output_is_one_line(tmp_path):
    if not IS_ROOT:
        pytest.skip("a copy of /dev/full needs root to make")
    full = tmp_path / "full"
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # a copy of /dev/full's node
    with full.open("w") as sink:
        done = subprocess.run([sys.executable, "-m", "derivation", "table"], stdout=sink,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2
    assert done.stderr == "error: cannot write to standard output: No space left on device\n"


def test_an_ascii_terminal_gets_ascii_spellings(tmp_path):
    done = subprocess.run([sys.executable, "-m", "derivation", "table"], capture_output=True,
                          cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii"})
    assert (done.returncode, done.stderr) == (0, b"")
    text = done.stdout.decode("ascii")
    assert "backward of QK^T (gradient of K)" in text and "probs*V" in text


def test_an_unexpected_error_is_one_internal_error_line_and_exit_70(tmp_path, monkeypatch):
    import derivation.cli.formula as formula

    def broken(args):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(formula, "run", broken)
    monkeypatch.delenv("DERIVATION_DEBUG", raising=False)
    code, out, err = run(["formula"], tmp_path)
    assert (code, out) == (INTERNAL_ERROR, "") and err.count("\n") == 1
    assert err == ("error: internal error: ZeroDivisionError: division by zero second line; please "
                   "report it (run with DERIVATION_DEBUG=1 for the traceback)\n")
    monkeypatch.setenv("DERIVATION_DEBUG", "1")
    code, _, err = run(["formula"], tmp_path)
    assert code == INTERNAL_ERROR and "Traceback" in err and err.endswith("for the traceback)\n")


# --- no public door skips validation --------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: Variant(tensor_parallel=-8), "expected a positive whole number"),
    (lambda: Variant(attention="flsh"), "switch 'attention' got 'flsh'"),
    (lambda: Variant(recompute="partial"), "switch 'recompute' got 'partial'"),
    (lambda: derive(tensor_parallel="t+1"), "cannot write as a divisor"),
    (lambda: derive(dtype="symbolic").evaluate(s=8, b=1, h=8, a=8, beta=2, mu="1/0"), "denominator is 0"),
    (lambda: derive().evaluate(s=10**MAX_DIGITS, b=1, h=8, a=8), "numbers may have at most"),
    (lambda: check("(s+b+h+a)^20"), "too large to check"),
    (lambda: write_atomic("", "x"), "the output path is empty"),
    (lambda: load_toml(""), "the config file path is empty"),
])
def test_the_api_refuses_what_the_command_line_refuses(call, message):
    with pytest.raises(DerivationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_numpy_integers_are_sizes_and_switch_values():
    np = pytest.importorskip("numpy")
    d = derive(tensor_parallel=np.int64(8))
    assert d is derive(tensor_parallel=8)
    assert d.evaluate(s=np.int64(2048), b=np.int32(1), h=np.uint16(12288), a=96) == \
        d.evaluate(s=2048, b=1, h=12288, a=96)
    with pytest.raises(DerivationError, match="got np.True_"):
        derive().evaluate(s=2048, b=1, h=np.bool_(True), a=96)


@pytest.mark.parametrize("text, expected", [("1", True), ("0", False), ("yes", True), ("off", False)])
def test_flags_read_the_same_from_the_command_line_toml_and_python(tmp_path, text, expected):
    toml = tmp_path / "v.toml"
    toml.write_text(f"hidden_dropout = {text if text in '01' else repr(text)}\n")
    from_cli = run(["formula", "--hidden-dropout", text], tmp_path)[1]
    assert derive(config=toml).variant.hidden_dropout is expected
    assert run(["formula", "--config", "v.toml"], tmp_path)[1] == from_cli
    if text in "01":
        assert derive(hidden_dropout=int(text)).variant.hidden_dropout is expected


# --- symbolic and numeric agree -------------------------------------------------------------------

MODEL = ("--model", "gpt3-175b", "--scope", "model")


def test_symbolic_p_states_its_assumption_and_refuses_p_1(tmp_path):
    err = refused(["evaluate", *MODEL, "--pipeline-parallel", "p", "--interleave", "none", "--set", "p=1"],
                  tmp_path, "assumes at least 2 stages")
    assert "use pipeline_parallel = 1" in err
    one = derive(scope="model", pipeline_parallel=1, tensor_parallel="t")
    assert any(t.name.startswith("output/") for t in one.tensors)  # p = 1 keeps the output layer


@pytest.mark.parametrize("p", [2, 4, 8])
def test_symbolic_p_evaluated_at_a_value_equals_the_number(p):
    values = dict(a=96, h=12288, L=96, t=8, b=1, s=2048, v=51200)
    symbolic = derive(scope="model", pipeline_parallel="p", tensor_parallel="t")
    numeric = derive(scope="model", pipeline_parallel=p, tensor_parallel="t")
    assert symbolic.evaluate(**values, p=p) == numeric.evaluate(**values)


def test_a_sweep_over_symbolic_p_refuses_p_1(tmp_path):
    pytest.importorskip("numpy")
    refused(["sweep", *MODEL, "--pipeline-parallel", "p", "--interleave", "none", "--grid", "p=1,2"],
            tmp_path, "assumes at least 2 stages")


# --- config files: regular files only, read once, bounded -----------------------------------------

def test_a_fifo_as_config_is_refused_without_waiting_for_a_writer(tmp_path):
    _fifo(tmp_path / "v.toml")
    done = subprocess.run([sys.executable, "-m", "derivation", "formula", "--config", "v.toml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: config file 'v.toml' is a FIFO (named pipe); name a regular .toml file\n"


@needs_root
def test_a_zero_device_as_config_is_refused_before_reading(tmp_path):
    os.mknod(tmp_path / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # a copy of /dev/zero
    refused(["formula", "--config", "zero"], tmp_path, "is a character device")


def test_a_config_file_over_the_size_bound_is_refused(tmp_path):
    (tmp_path / "big.toml").write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    refused(["formula", "--config", "big.toml"], tmp_path, "is larger than 1024 KiB")


def test_the_config_file_is_read_once(tmp_path, monkeypatch):
    (tmp_path / "v.toml").write_text('attention = "flash"\n[values]\ns = 2048\nb = 1\nh = 12288\na = 96\n')
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda name, *rest, **kw: (opened.append(os.fspath(name)),
                                                               real_open(name, *rest, **kw))[1])
    code, out, _ = run(["evaluate", "--config", "v.toml"], tmp_path)
    assert code == 0 and opened.count("v.toml") == 1


def test_an_empty_config_path_is_refused(tmp_path):
    refused(["formula", "--config", ""], tmp_path, "the config file path is empty")


# --- verify: refuses before importing torch -------------------------------------------------------

_VERIFY = """
import sys
from derivation.cli import main
code = main(sys.argv[1:])
print("torch imported" if "torch" in sys.modules else "torch not imported", code, file=sys.stderr)
"""


@pytest.mark.parametrize("argv, mentions", [
    (["--tensor-parallel", "2"], "no tensor parallelism"),
    (["--recompute", "selective"], "no recomputation"),
    (["--recompute", "full"], "no recomputation"),
    (["--tensor-parallel", "t", "--sequence-parallel", "--set", "t=1"], "no sequence parallelism"),
    (["--model", "gpt3-175b"], "tensor_parallel = t = 8"),
    (["--set", "s=100000"], "add --fake"),
    (["--mask-bytes", "bits"], "has no PyTorch kernel"),  # flash with dropout is measured without it
    (["--attention", "flsh"], "switch 'attention' got 'flsh'"),
])
def test_verify_refuses_what_its_layer_cannot_realise_before_importing_torch(tmp_path, argv, mentions):
    done = subprocess.run([sys.executable, "-c", _VERIFY, "verify", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    error, verdict = done.stderr.splitlines()
    assert error.startswith("error: ") and mentions in error and done.stdout == ""
    assert verdict == "torch not imported 2"


# --- check: cost bounded by terms × degree --------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["check", "(s+b+h+a)^20"],
    ["check", "34sbh", *sum((["--per-block", f"{block}=(s+b+h+a)^20"] for block in ("attention", "mlp", "norm")), [])],
])
def test_a_claim_too_costly_to_check_is_refused_early(tmp_path, argv):
    refused(argv, tmp_path, "too large to check")


# --- silently ignored input is an error -----------------------------------------------------------

@pytest.mark.parametrize("argv, mentions", [
    (["evaluate", *GPT3, "--set", "t=8"], "t is set (--set t=...) but tensor_parallel is 1, so the "
     "formula has no t; add --tensor-parallel t"),
    (["evaluate", "--model", "gpt3-175b", "--set", "p=4"], "add --scope model --pipeline-parallel p"),
    (["evaluate", *GPT3, "--set", "beta=0.5"], "beta is set (--set beta=...) but dtype is bf16"),
    (["evaluate", *GPT3, "--set", "g=8"], "add --kv-heads g"),
    (["check", "34sbh", "--set", "t=8"], "add --tensor-parallel t"),
    (["evaluate", *GPT3, "--set", "s=4096"], "--set s is given twice, as 2048 and 4096"),
    (["formula", "--attention", "flash", "--attention", "eager"],
     "--attention 'flash' and --attention 'eager' disagree"),
    (["formula", "--dropout", "--no-dropout"], "--dropout 'on' and --no-dropout 'off' disagree"),
    (["formula", "--dropout", "--no-attention-dropout"], "--dropout on and --attention-dropout off disagree"),
    (["latex", "-o", "a.tex", "-o", "b.tex"], "-o 'a.tex' and -o 'b.tex' disagree"),
    (["compare", "attention=flash,attention=eager", "baseline"], "switch 'attention' is given twice"),
])
def test_input_that_would_be_silently_ignored_or_overridden_is_refused(tmp_path, argv, mentions):
    refused(argv, tmp_path, mentions)


def test_the_same_value_twice_is_not_a_conflict(tmp_path):
    assert run(["formula", "--attention", "flash", "--attention", "flash", "--dropout", "on",
                "--dropout", "true"], tmp_path)[0] == 0
    assert run(["evaluate", *GPT3, "--set", "s=2048"], tmp_path)[0] == 0


def test_a_config_preset_that_contradicts_the_typed_preset_is_refused(tmp_path):
    (tmp_path / "v.toml").write_text('preset = "llama"\n')
    refused(["formula", "--config", "v.toml", "--preset", "megatron"], tmp_path,
            "names preset 'llama' but --preset is 'megatron'")
    same = run(["formula", "--config", "v.toml", "--preset", "llama"], tmp_path)
    assert same == run(["formula", "--preset", "llama"], tmp_path)


# --- random text into every option and every TOML key ---------------------------------------------

def _options(command: str) -> list[str]:
    """Every option of a command that takes a value, as its first spelling."""
    parser = build_parser(command.replace("-", "_"))  # the command's module
    sub = parser._subparsers._group_actions[0].choices[command]
    return [action.option_strings[0] for action in sub._actions
            if action.option_strings and action.nargs != 0 and action.dest != "help"]


FAST = [command.replace("_", "-") for command in COMMANDS if command not in ("plot", "verify", "presets")]
OPTIONS = {command: _options(command) for command in FAST}
POSITIONALS = {"check": ["sbh(34 + 5as/h)"], "compare": ["baseline", "megatron"],
               "sweep": ["--grid", "s=1,2"], "from-hf": ["gpt2"]}
PATHS = ("-o", "--csv")  # written: random names stay inside the test's folder
PROPERTY = settings(derandomize=True, database=None, max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _answers_cleanly(argv, folder: Path) -> None:
    try:
        code, out, err = run(argv, folder)
    except SystemExit as stop:  # must not happen: main returns its code
        pytest.fail(f"main raised SystemExit({stop.code}) for {argv!r}")
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, (argv, err)


_random_text = st.one_of(st.text(max_size=40), st.sampled_from(
    ["0", "-1", "1/0", "t+1", "x²", "1e9", LONG, "s=1:9:x²", "p=1", "on", "nan", "\0", "a\0.toml",
     "attention=flash,attention=eager", "(s+b+h+a)^30", "s=" + HUGE, "x" * 300]))


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(FAST))
    argv = [command, *POSITIONALS.get(command, [])]
    if command in ("check", "compare") and draw(st.booleans()):  # random claims and variants too
        argv[1:] = draw(st.lists(_random_text, min_size=len(argv) - 1, max_size=len(argv) - 1))
    for option in draw(st.lists(st.sampled_from(OPTIONS[command]), min_size=1, max_size=3)):
        if option in PATHS:
            value = draw(st.text(st.characters(blacklist_characters="/\0"), min_size=1, max_size=20)
                         .filter(lambda name: name not in (".", "..")))
        else:
            value = draw(_random_text)
        argv += [option, value]
    return argv


@PROPERTY
@given(argv=command_lines())
def test_random_text_in_any_option_answers_with_0_1_or_2_and_never_a_traceback(tmp_path, argv):
    _answers_cleanly(argv, Path(tempfile.mkdtemp(dir=tmp_path)))


class _Measured:
    exact = True

    def __str__(self) -> str:
        return "verdict: exact match (stub)"


@settings(PROPERTY, max_examples=60)
@given(options=st.lists(st.sampled_from(_options("verify")), min_size=1, max_size=3),
       values=st.lists(_random_text, min_size=3, max_size=3), fake=st.booleans())
def test_random_text_in_verify_options_is_checked_before_any_measurement(tmp_path, monkeypatch,
                                                                         options, values, fake):
    pytest.importorskip("torch")
    import derivation.verify.against as against

    monkeypatch.setattr(against, "verify", lambda d, sizes, fake=False: _Measured())  # no torch run
    argv = ["verify", *(["--fake"] if fake else [])]
    for option, value in zip(options, values):
        argv += [option, value]
    _answers_cleanly(argv, Path(tempfile.mkdtemp(dir=tmp_path)))


KEYS = [*REGISTRY, "dropout", "preset", "values"]
_values = st.one_of(st.text(max_size=30), st.integers(-10, 10**40), st.booleans(),
                    st.sampled_from(["t", "t+1", "1/0", "flash", "llama", "8*h/3", "on"]))


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else str(value)


@PROPERTY
@given(switches=st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=12)),
                                _values, max_size=4),
       sizes=st.dictionaries(st.one_of(st.sampled_from(["s", "b", "h", "a", "t", "beta", "mu"]),
                                       st.text(min_size=1, max_size=6)), _values, max_size=4))
def test_random_toml_keys_and_values_answer_with_0_1_or_2_and_never_a_traceback(tmp_path, switches, sizes):
    body = "".join(f"{json.dumps(key)} = {_toml(value)}\n" for key, value in switches.items()
                   if key != "values")
    body += "[values]\n" + "".join(f"{json.dumps(key)} = {_toml(value)}\n" for key, value in sizes.items())
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "v.toml").write_text(body, encoding="utf-8")
    for command in (["formula"], ["evaluate"], ["check", "34sbh"]):
        _answers_cleanly([*command, "--config", "v.toml"], folder)


def test_the_property_covers_every_value_option_of_every_fast_command():
    assert all(OPTIONS[command] for command in FAST)
    for switch in REGISTRY:
        assert "--" + switch.replace("_", "-") in OPTIONS["formula"]
    assert "-o" in OPTIONS["latex"] and "--csv" in OPTIONS["sweep"] and "--set" in OPTIONS["evaluate"]


def test_the_ascii_spellings_cover_every_character_the_package_prints():
    from derivation.cli import ASCII

    package = ROOT / "derivation"
    seen = {char for path in package.rglob("*.py") for char in path.read_text(encoding="utf-8")
            if ord(char) > 127}
    assert seen <= set(ASCII), sorted(seen - set(ASCII))

