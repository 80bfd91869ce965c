"""Small filesystems the tests create and always remove: a size-limited tmpfs and a read-only
bind mount (needs root, as the project's test machines run; a failure says so)."""
from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise AssertionError(f"mount {' '.join(args)} failed (these tests need root and "
                             f"CAP_SYS_ADMIN): {result.stderr.strip()}")


def _umount(path: Path) -> None:
    # Lazy: a process that still holds a file open must not leave the mount behind.
    subprocess.run(["umount", "--lazy", str(path)], capture_output=True, timeout=10)


@contextmanager
def tmpfs(path: Path, size_kib: int):
    """Mount a tmpfs of ``size_kib`` KiB at ``path`` (created) for the block's duration."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(path))
    try:
        yield path
    finally:
        _umount(path)


def resize(path: Path, size_kib: int) -> None:
    """Grow (or shrink) a mounted tmpfs in place; open files stay open."""
    _mount("-o", f"remount,size={size_kib}k", str(path))


@contextmanager
def read_only_view(source: Path, path: Path):
    """A read-only bind mount of ``source`` at ``path`` for the block's duration."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(source), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield path
    finally:
        _umount(path)


def fill(directory: Path, name: str = "ballast") -> Path:
    """Write zeros into ``directory/name`` until the filesystem is full; returns the file."""
    ballast = directory / name
    block = bytes(64 * 1024)
    with open(ballast, "wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError:
            pass
    with open(ballast, "ab", buffering=0) as out:  # the last partial block's worth too
        try:
            while True:
                out.write(b"\0" * 512)
        except OSError:
            pass
    return ballast
