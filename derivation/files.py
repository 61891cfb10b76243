"""What a path names, in words, for the one-line refusals of :mod:`.config` (reading) and
:mod:`.output` (writing): both take regular files only.

>>> import os
>>> kind_of(os.stat(".").st_mode)
'a directory'
"""

from __future__ import annotations

import stat

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file"))


def kind_of(mode: int) -> str:
    """The kind of file an ``st_mode`` describes: ``'a FIFO (named pipe)'``, ..."""
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")
