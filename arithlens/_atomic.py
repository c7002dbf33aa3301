"""Atomic writes: write to a temporary sibling, then rename over the target."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from arithlens.errors import ArithlensError


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def _publish(tmp: str | Path, mode: int) -> None:
    """Give a temp file/folder normal permissions (mkstemp/mkdtemp make them private)."""
    os.chmod(tmp, mode & ~_umask())


def write_file(path: str | Path, fill: Callable[[Path], None]) -> Path:
    """Write a file atomically: ``fill(tmp)`` writes a temporary sibling, which then replaces
    ``path`` (readers see the old file or the new one, never half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
    return write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_dir(path: str | Path, fill: Callable[[Path], None]) -> Path:
    """Build a folder atomically: ``fill(tmpdir)`` writes its files, then it replaces ``path``.

    An existing folder at ``path`` is kept until the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        fill(tmp)
        _publish(tmp, 0o777)
        if path.exists():
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
