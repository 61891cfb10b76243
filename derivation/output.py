"""Writing files the user named, atomically: the whole file appears, or nothing does.

Output goes to a temporary file in the same folder, which is then renamed over the target, so a
failure never leaves a half-written ``.tex``, ``.png``, ``.csv`` or ``.json`` behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from .errors import DerivationError


def check_writable(path: str | Path) -> Path:
    """The target path, once we know a file can be written there (before any work is done)."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise DerivationError(f"output path {str(path)!r} is a directory; name a file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DerivationError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise DerivationError(f"cannot write {str(path)!r}: folder {str(folder)!r} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise DerivationError(f"cannot write {str(path)!r}: the file is read-only")
    return path


def write_atomic(path: str | Path, write: Callable[[Path], None] | str | bytes) -> Path:
    """Write ``path`` atomically. ``write`` is the content, or a function that writes a file."""
    path = check_writable(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent or ".")
    os.close(handle)
    temp = Path(temporary)
    try:
        if callable(write):
            write(temp)
        elif isinstance(write, bytes):
            temp.write_bytes(write)
        else:
            temp.write_text(write, encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the user's usual mode
        os.replace(temp, path)
    except OSError as error:
        raise DerivationError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
    finally:
        if temp.exists():
            temp.unlink()
    return path
