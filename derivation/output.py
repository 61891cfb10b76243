"""Writing files the user named, atomically: the whole file appears, or nothing does, and nothing
but a regular file is ever replaced.

Output goes to a temporary file in the target's folder, which is then renamed over the target, so
a failure never leaves a half-written ``.tex``, ``.png``, ``.csv`` or ``.json`` behind. The rules:

- ``-`` is standard output, as Unix tools read it (write ``./-`` for a file named ``-``);
- a new path, or an existing **regular file**, is written; the file keeps its mode and, where the
  process may set it, its owner and group;
- a **symlink is followed**: its target is written (and created, when the link dangles), the link
  itself stays a link;
- anything else is refused with one line and left untouched: a directory, a character or block
  device, a FIFO, a socket, a file with other hard links (an atomic rename would split them), an
  empty path, a symlink loop, a name the system cannot hold;
- SIGTERM and SIGHUP, like Ctrl-C, remove the temporary file before the process exits.

>>> import os, stat, tempfile
>>> folder = tempfile.mkdtemp()
>>> fifo = os.path.join(folder, "pipe")
>>> os.mkfifo(fifo)
>>> write_atomic(fifo, "x")
Traceback (most recent call last):
...
derivation.errors.DerivationError: cannot write '.../pipe': it is a FIFO (named pipe), not a regular file; name a file, or write - for standard output
>>> stat.S_ISFIFO(os.stat(fifo).st_mode)
True
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import tempfile
from pathlib import Path
from typing import Callable

from . import signals
from .errors import DerivationError, shown
from .files import kind_of

STDOUT = "-"
"""The output name that means standard output."""


def is_stdout(path: str | Path) -> bool:
    """Whether an output name means standard output (``-``)."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path) == STDOUT


def _target(path: str | Path) -> tuple[Path, os.stat_result | None]:
    """The file that will be replaced (symlinks followed) and its current status, or None when
    it does not exist yet; a one-line refusal for anything that is not a regular file."""
    if not isinstance(path, (str, os.PathLike)):
        raise DerivationError(f"an output path must be text or a Path, got {type(path).__name__}")
    text = os.fspath(path)
    name = shown(text)
    if text == "":
        raise DerivationError("the output path is empty; name a file, or write - for standard output")
    if "\0" in text:
        raise DerivationError(f"cannot write {name}: a file name cannot hold a NUL character")
    try:
        info = os.stat(text)  # follows symlinks, the kernel's /proc/self/fd links included
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise DerivationError(f"cannot write {name}: {error.strerror or error}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise DerivationError(f"output path {name} is a directory; name a file")
        link = "a symlink to " if os.path.islink(text) else ""  # -o /dev/stdout: a link to a pipe
        raise DerivationError(f"cannot write {name}: it is {link}{kind_of(info.st_mode)}, not a "
                              "regular file; name a file, or write - for standard output")
    if info is not None and info.st_nlink > 1:
        raise DerivationError(
            f"cannot write {name}: the file has {info.st_nlink} hard links, and replacing it "
            "atomically would split them; write to another name, or remove the other links")
    real = Path(os.path.realpath(text))
    folder = real.parent
    if not folder.is_dir():
        raise DerivationError(f"cannot write {name}: folder {shown(str(Path(text).parent))} does not exist")
    if not os.access(folder, os.W_OK):
        raise DerivationError(f"cannot write {name}: folder {shown(str(folder))} is not writable")
    if info is not None and not os.access(real, os.W_OK):
        raise DerivationError(f"cannot write {name}: the file is read-only")
    return real, info


def check_writable(path: str | Path) -> Path:
    """The output path as given, once we know a file can be written there (before any work is
    done): ``-`` (standard output), a new name in a writable folder, or a writable regular file."""
    if not is_stdout(path):
        _target(path)
    return Path(path)


def write_atomic(path: str | Path, write: Callable[[Path], None] | str | bytes) -> Path:
    """Write ``path`` atomically (``-``: standard output). ``write`` is the content (text is
    UTF-8), or a function that writes a file at the path it is given."""
    if is_stdout(path):
        _write_stdout(write)
        return Path(path)
    target, before = _target(path)
    name = shown(os.fspath(path))
    with signals.terminating() as taken:
        try:
            _replace(target, before, write, name)
            return Path(path)
        except signals.Terminated as stop:
            if stop.signum not in taken:
                raise  # the caller asked for Terminated (the CLI): let it see it
            signum = stop.signum
    # Terminated under our own handler: the partial file is gone, the default action is back;
    # now die of the signal, as the process would have without us.
    signal.raise_signal(signum)
    raise signals.Terminated(signum)  # pragma: no cover (only if the signal did not end us)


def _replace(target: Path, before: os.stat_result | None, write, name: str) -> None:
    temp: Path | None = None
    try:
        # The temporary name must fit in a folder entry even when the target's name nearly fills it.
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name[:100]}.", suffix=".partial",
                                             dir=target.parent)
        temp = Path(temporary)
        os.close(handle)
        if callable(write):
            write(temp)
        elif isinstance(write, bytes):
            temp.write_bytes(write)
        else:
            temp.write_text(write, encoding="utf-8")
        _keep_status(temp, before)
        os.replace(temp, target)
        temp = None
    except OSError as error:
        raise DerivationError(f"cannot write {name}: {error.strerror or error}") from None
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)


def _keep_status(temp: Path, before: os.stat_result | None) -> None:
    """Give the new file the old one's owner, group and mode (a new file: the user's umask)."""
    if before is None:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the user's usual mode
        return
    if hasattr(os, "chown"):
        for uid, gid in ((before.st_uid, before.st_gid), (-1, before.st_gid)):
            try:
                os.chown(temp, uid, gid)
                break
            except PermissionError:
                continue  # only root may give a file away; keep the group if we can
    os.chmod(temp, stat.S_IMODE(before.st_mode))


def _write_stdout(write: Callable[[Path], None] | str | bytes) -> None:
    if callable(write):  # a writer that needs a file: write one aside, then copy it out
        with tempfile.TemporaryDirectory(prefix="derivation-") as folder:
            temp = Path(folder) / "output"
            write(temp)
            write = temp.read_bytes()
    if isinstance(write, bytes):
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # a text-only stream (a test's StringIO): text output is UTF-8
            write = write.decode("utf-8", "surrogateescape")
        else:
            sys.stdout.flush()
            buffer.write(write)
            buffer.flush()
            return
    sys.stdout.write(write)
    sys.stdout.flush()
