"""Atomic writes: write to a temporary sibling, then rename it over the target.

What is guaranteed, also when the process is killed (SIGKILL) at any instant:

- A file written by :func:`write_file` is the old file or the new one, never a mix.
- A folder written by :func:`write_dir` is the old folder or the new one, whole. On Linux the
  two are swapped by one ``renameat2(RENAME_EXCHANGE)`` call, so the destination never stops
  existing; where that call is unavailable (other systems, old kernels or file systems without
  it) the old folder is first renamed aside, so for an instant the destination is missing —
  then the old folder is still whole under ``.<name>.old-<pid>`` and is cleaned up as below.
- Temporaries are named ``.<name>.<pid>.<random>.tmp`` (and ``.<name>.old-<pid>``) beside the
  target. A kill leaves one behind; the next write to the same target removes every such
  leftover whose process is no longer running (a live concurrent writer's are kept).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from arithlens.errors import ArithlensError

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def _publish(tmp: str | Path, mode: int) -> None:
    """Give a temp file/folder normal permissions (mkstemp/mkdtemp make them private)."""
    os.chmod(tmp, mode & ~_umask())


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clean_stale(path: str | Path) -> list[Path]:
    """Remove the temporaries left beside ``path`` by writers that were killed; returns them.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> (d / ".run.999999999.abc.tmp").mkdir()     # a dead writer's leftover
        >>> [p.name for p in clean_stale(d / "run")]
        ['.run.999999999.abc.tmp']
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(?:(\d+)\.[^/]*\.tmp|old-(\d+))$")
    removed = []
    for entry in path.parent.iterdir():
        m = pattern.match(entry.name)
        if m and not _alive(int(m.group(1) or m.group(2))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one system call (Linux ``renameat2``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def write_file(path: str | Path, fill: Callable[[Path], None]) -> Path:
    """Write a file atomically: ``fill(tmp)`` writes a temporary sibling, which then replaces
    ``path`` (readers see the old file or the new one, never half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    try:
        fill(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _publish(tmp, 0o666)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`write_file`)."""

    def fill(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return write_file(path, fill)


def write_dir(path: str | Path, fill: Callable[[Path], None]) -> Path:
    """Build a folder atomically: ``fill(tmpdir)`` writes its files, then it replaces ``path``
    (see the module docstring for what holds when the process is killed).

    An existing folder at ``path`` is kept until the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    )
    try:
        fill(tmp)
        _publish(tmp, 0o777)
        if path.is_dir() and not path.is_symlink() and _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
        elif path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def check_writable(path: str | Path, what: str = "output folder") -> Path:
    """Raise :class:`ArithlensError` unless ``path`` can be created (or replaced) as a folder
    and written; nothing is left behind (a probe file is written and removed in the nearest
    existing ancestor, which is not created).

    Example:
        >>> import tempfile
        >>> check_writable(tempfile.mkdtemp() + "/new/run").name
        'run'
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ArithlensError(f"{what} {str(path)!r} is a file: expected a folder path")
    base = path
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ArithlensError(
            f"{what} {str(path)!r} cannot be created: {str(base)!r} is a file, not a folder"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".arithlens-write-test-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ArithlensError(
            f"{what} {str(path)!r} cannot be written ({str(base)!r}: {e.strerror or e})"
        ) from None
    return path
