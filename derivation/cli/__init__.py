"""The ``derivation`` command line.

Each sub-command lives in its own module under :mod:`derivation.cli` with two functions:
``add_parser(subparsers)`` and ``run(args) -> int``. Modules import heavy libraries (numpy,
matplotlib, torch) inside ``run`` only, so ``derivation formula`` starts as fast as sympy allows.

Every way a command can end is one of these, and nothing else reaches the terminal:

====  ==========================================================================================
code  meaning
====  ==========================================================================================
0     done (``check``: the claim holds; ``verify``: an exact match)
1     ``check``: the claim does not hold; ``verify``: a mismatch
2     bad input, or an output that cannot be written: one line, ``error: ...``, on stderr
70    a bug: one line, ``error: internal error: ...; please report it``; the traceback only
      with ``DERIVATION_DEBUG=1`` in the environment
130   Ctrl-C (SIGINT); 129 and 143 for SIGHUP and SIGTERM: partial output files are removed
====  ==========================================================================================
"""

from __future__ import annotations

import argparse
import codecs
import errno
import importlib
import os
import sys
import traceback

from .. import __version__, signals
from ..errors import DerivationError, shown
from ..switches import read_flag

INTERNAL_ERROR = 70  # EX_SOFTWARE in sysexits.h
DEBUG = "DERIVATION_DEBUG"

COMMANDS = ("formula", "table", "evaluate", "budget", "presets", "compare", "check", "latex", "sweep",
            "plot", "verify", "from_hf")
"""The sub-command modules; a command's name is its module's with dashes (``from-hf``)."""

DESCRIPTION = """\
Derive the activation memory of Transformer layers, tensor by tensor.

Every activation a layer keeps for backward is declared with a shape, a dtype and a storage; sympy
sums them into closed forms. The paper's GPT layer (Korthikanti et al. 2022) keeps
sbh(34 + 5as/h) bytes: s sequence, b micro-batch, h hidden, a heads.

examples:
  derivation table                                   the per-tensor derivation
  derivation formula --attention flash               closed form with flash attention
  derivation evaluate --model gpt3-175b              bytes for GPT-3 175B
  derivation budget --model gpt3-175b --set d=8 --gpu-memory 80GiB
                                                     every rank's whole memory: does it fit?
  derivation evaluate --tensor-parallel 8 --sequence-parallel --recompute selective \\
      --set s=2048 --set b=1 --set h=12288 --set a=96
  derivation check "sbh(34 + 5as/h)" --attention flash
"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2, and an option given
    twice with different values is such a mistake (argparse would keep the last one silently)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, _Once)
        self.register("action", "store", _Once)
        self.register("action", "store_const", _ConstOnce)

    def error(self, message: str):
        sys.stderr.write(f"error: {' '.join(message.split())} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _same(first, second) -> bool:
    """Two spellings of one value: equal text, or the same flag (``on`` and ``true``)."""
    if first == second:
        return True
    try:
        return read_flag("", first) == read_flag("", second)
    except DerivationError:
        return False


def _remember(parser, namespace, action: argparse.Action, value, option: str | None) -> None:
    given = namespace.__dict__.setdefault("_given", {})
    if action.dest in given and not _same(given[action.dest][1], value):
        first, earlier = given[action.dest]
        parser.error(f"{first} {shown(earlier)} and {option} {shown(value)} disagree; give the "
                     "option once")
    given[action.dest] = (option, value)


class _Once(argparse._StoreAction):
    def __call__(self, parser, namespace, values, option_string=None):
        _remember(parser, namespace, self, values, option_string)
        setattr(namespace, self.dest, values)


class _ConstOnce(argparse._StoreConstAction):
    def __call__(self, parser, namespace, values, option_string=None):
        _remember(parser, namespace, self, self.const, option_string)
        setattr(namespace, self.dest, self.const)


def build_parser(only: str | None = None) -> Parser:
    """The full parser, or (``only``) one with just that sub-command, which starts faster."""
    parser = Parser(prog="derivation", description=DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)

    parser.add_argument("--version", action="version", version=f"derivation {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f".{name}", __name__)
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    for stream in (sys.stdout, sys.stderr):
        _spell_out_of_reach_characters(stream)
    with signals.terminating():
        try:
            code = _main(argv)
            sys.stdout.flush()  # a full disk shows up here, not at exit
            return code
        except DerivationError as error:
            return _fail(str(error), 2)
        except KeyboardInterrupt:
            return _fail("interrupted", 130)
        except signals.Terminated as stop:
            return _fail(f"terminated ({stop.name})", stop.exit_code)
        except BrokenPipeError:
            _silence_stdout()  # the reader left (derivation table | head): not an error
            return 0
        except OSError as error:
            if _is_output_error(error):
                _silence_stdout()
                return _fail(f"cannot write to standard output: {error.strerror or error}", 2)
            return _internal(error)
        except Exception as error:  # a bug: one line, and the traceback only when asked for
            return _internal(error)


def _main(argv: list[str]) -> int:
    command = next((word.replace("-", "_") for word in argv if not word.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version, or a usage error already printed
        return int(exit.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    return code


def _internal(error: BaseException) -> int:
    if os.environ.get(DEBUG, "") not in ("", "0"):
        traceback.print_exception(error, file=sys.stderr)
    text = " ".join(str(error).split())
    text = text if len(text) <= 200 else text[:200] + "..."
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return _fail(f"internal error: {what}; please report it (run with {DEBUG}=1 for the traceback)",
                 INTERNAL_ERROR)


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EPIPE, errno.EBADF,
                  getattr(errno, "EDQUOT", errno.ENOSPC)}


def _is_output_error(error: OSError) -> bool:
    """A failed write to standard output (``> /dev/full``): no file name, an I/O errno."""
    return error.filename is None and error.errno in _OUTPUT_ERRNOS


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass  # not a real file (a test's captured stdout)


# --- terminals that cannot show every character ---------------------------------------------------

ASCII = {"√": "sqrt", "π": "pi", "±": "+/-", "¹": "^1", "⁴": "^4", "⁶": "^6", "⁻": "^-", "₁": "_1", "₂": "_2",
         "⌊": "floor(", "⌋": ")", "⌈": "ceil(", "⌉": ")", "Ψ": "Psi", "·": "*", "→": "->", "×": "x", "μ": "mu", "µ": "mu", "β": "beta", "ᵀ": "^T", "§": "S",
         "²": "^2", "³": "^3", "−": "-", "…": "...", "≥": ">=", "≤": "<=", "≠": "!=", "≈": "~",
         "Π": "prod", "∏": "prod", "Σ": "sum", "—": "--", "–": "-", "↦": "|->", "÷": "/",
         "“": '"', "”": '"', "‘": "'", "’": "'", "°": " deg"}
"""How a stream that cannot encode a character writes it (``PYTHONIOENCODING=ascii``)."""


def _spell(error: UnicodeError):
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(ASCII.get(char, char.encode("ascii", "backslashreplace").decode()) for char in text), error.end


codecs.register_error("derivation-ascii", _spell)


def _spell_out_of_reach_characters(stream) -> None:
    """Let a stream whose encoding lacks QKᵀ, β or → write them in ASCII instead of failing."""
    encoding = getattr(stream, "encoding", None)
    if not encoding or not hasattr(stream, "reconfigure"):
        return
    try:
        "".join(ASCII).encode(encoding)
    except UnicodeEncodeError:
        try:
            stream.reconfigure(errors="derivation-ascii")
        except (ValueError, OSError, LookupError):
            pass
    except LookupError:
        pass
