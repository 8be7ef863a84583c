"""Walking a folder of notes without losing a file: every path once, with why it is unreadable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["walk_files"]


def walk_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Every file under ``root`` in sorted path order, with why it cannot be read (or None).

    An unreadable subfolder, a path too long or a symlink loop is yielded with its reason.

    Iterative (deep trees do not hit the recursion limit); symlinked folders are not
    followed (no loops); a symlinked file is listed like a file.
    """
    stack: list[Iterator[Path]] = [iter([root])]
    first = True
    while stack:
        path = next(stack[-1], None)
        if path is None:
            stack.pop()
            continue
        try:
            is_dir = path.is_dir() if first else (path.is_dir() and not path.is_symlink())
        except OSError as exc:
            yield path, f"cannot read file: {exc.strerror or exc}"
            continue
        if not is_dir:
            yield path, None
            continue
        first = False
        try:
            with os.scandir(path) as entries:
                names = sorted(entry.name for entry in entries)
        except OSError as exc:
            yield path, f"cannot read folder: {exc.strerror or exc}"
            continue
        stack.append(iter([path / name for name in names]))
