"""Replace a file atomically: readers see the old content or the new, never half of it.

Saved chats, the session's edits, patch applies, caches and evaluation reports all write
this way, so a crash, a full disk or Ctrl-C mid-write never leaves a truncated file behind.
The temporary file sits next to the target (same filesystem, so the final ``os.replace`` is
one rename) and is removed if anything fails before the rename.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_file(path: Path, *, keep_mode: bool = False, private: bool = False,
                fsync: bool = False) -> Iterator[BinaryIO]:
    """A binary handle whose content becomes ``path`` when the block ends without an error.

    The new file gets the usual permissions (``0666`` less the umask), or with ``keep_mode``
    those of the file it replaces (an edited script stays executable), or with ``private``
    ``0600`` (saved chats hold the user's code and questions).  ``fsync`` flushes it to the
    disk before the rename (work the user cannot redo, such as an applied patch, must
    survive a power cut, not only a crash).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        if keep_mode:
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o7777)
        elif not private:  # mkstemp's 0600 suits the temporary file, not what the user gets
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes | str, *, keep_mode: bool = False, private: bool = False,
                 fsync: bool = False) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8, newlines untouched); see :func:`atomic_file`."""
    with atomic_file(path, keep_mode=keep_mode, private=private, fsync=fsync) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
