"""File operations beneath a sandbox's root directory that never follow a symlink.

A local sandbox's working copy is a host directory that hostile code (a model's patch, an
agent's `ln -s /etc/shadow f`) can fill with symlinks. Resolving a sandbox path on the host
(`Path(root) / path`, `open(...)`) would follow them out of the sandbox, as root. Instead
every component is opened relative to the previous one with `O_NOFOLLOW` (the portable
form of `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`): a symlink anywhere in the path,
a `..` that climbs out, a FIFO or a hard link to another file is refused with
`UnsafePath`, and nothing outside the root is ever opened.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
from collections.abc import Callable, Iterator

from sandboxes.base import SandboxError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX = 64 << 20  # read_file refuses files larger than this (a sandbox can fill its disk)


class UnsafePath(SandboxError, ValueError):
    """A path that would leave the sandbox, or pass through a symlink, FIFO or hard link."""


def parts_beneath(workdir: str, path: str) -> list[str]:
    """The components of `path` (relative to `workdir`, or absolute inside the sandbox)
    below `workdir`; refuses a path outside it and names with NUL bytes."""
    if "\0" in path:
        raise UnsafePath(f"{path!r}: a path may not contain a NUL byte")
    inner = posixpath.normpath(posixpath.join(workdir, path))
    rel = posixpath.relpath(inner, workdir)
    if rel == ".." or rel.startswith("../"):
        raise UnsafePath(f"{path}: only files under {workdir} can be read or written")
    return [] if rel == "." else rel.split("/")


@contextlib.contextmanager
def _parent(
    root: str, parts: list[str], create: Callable[[int, str], None] | None
) -> Iterator[int]:
    """An fd of the directory holding the last component, walked without following
    symlinks; missing directories are made when `create` is given (then handed to it)."""
    fd = os.open(root, _DIR)
    try:
        for name in parts[:-1]:
            try:
                child = os.open(name, _DIR, dir_fd=fd)
            except FileNotFoundError:
                if create is None:
                    raise
                os.mkdir(name, 0o755, dir_fd=fd)
                create(fd, name)
                child = os.open(name, _DIR, dir_fd=fd)
            except OSError as exc:
                raise _unsafe(exc, name) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _unsafe(exc: OSError, name: str) -> Exception:
    """ELOOP (a symlink under O_NOFOLLOW), ENOTDIR and ENXIO become `UnsafePath`."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return UnsafePath(f"{name} is a symbolic link or not a directory; not following it")
    if exc.errno == errno.ENXIO:  # a FIFO without a reader, or a socket
        return UnsafePath(f"{name} is not a regular file")
    return exc


def _regular(fd: int, path: str) -> os.stat_result:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePath(f"{path} is not a regular file")
    if info.st_nlink > 1:
        raise UnsafePath(f"{path} is hard-linked to another file; not touching it")
    return info


def read_text(root: str, workdir: str, path: str) -> str:
    """The text of a regular file beneath `root` (`path` as seen from `workdir`)."""
    parts = parts_beneath(workdir, path)
    if not parts:
        raise IsADirectoryError(path)
    with _parent(root, parts, None) as parent:
        try:
            fd = os.open(
                parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent
            )
        except OSError as exc:
            raise _unsafe(exc, path) from None
        with os.fdopen(fd, "rb") as handle:
            info = _regular(fd, path)
            if info.st_size > _MAX:
                raise UnsafePath(f"{path} is larger than {_MAX >> 20} MB")
            return handle.read(_MAX + 1).decode(errors="replace")


def write_text(root: str, workdir: str, path: str, content: str, owner: int | None = None) -> None:
    """Create or replace a regular file beneath `root`, making missing directories;
    what is made is handed to `owner` (uid and gid) when given."""
    parts = parts_beneath(workdir, path)
    if not parts:
        raise IsADirectoryError(path)
    data = content.encode()  # a lone surrogate raises UnicodeEncodeError, as in Docker

    def chown(dir_fd: int, name: str) -> None:
        if owner is not None:
            os.chown(name, owner, owner, dir_fd=dir_fd, follow_symlinks=False)

    with _parent(root, parts, chown) as parent:
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(parts[-1], flags, 0o644, dir_fd=parent)
        except OSError as exc:
            raise _unsafe(exc, path) from None
        try:
            _regular(fd, path)  # before truncating: a FIFO or a hard link is left alone
            os.ftruncate(fd, 0)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if owner is not None:
                os.fchown(fd, owner, owner)
        finally:
            os.close(fd)
