"""The resident memory of a process and every process under it, sampled while it runs.

``ru_maxrss`` cannot say it: a worker started when its parent is large reports, as its
own peak, the pages it shared with the parent between ``fork`` and ``exec`` (Linux
keeps the old address space's high-water mark across ``exec``). Summing resident sets
of the live tree every quarter second counts each process once, as it is; shared
library pages are counted once per process, so the sum errs high, never low.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["TreeMemory"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        parent = int(stat[stat.rindex(")") + 2 :].split(" ", 2)[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _resident(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError):
        return 0


def tree_resident(root: int) -> int:
    """Bytes resident now in ``root`` and its descendants."""
    tree = _children_of()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _resident(pid)
        todo.extend(tree.get(pid, ()))
    return total


class TreeMemory:
    """``with TreeMemory() as memory: ...`` then ``memory.peak_mb``: the largest sum seen."""

    def __init__(self, every: float = 0.25, root: int | None = None) -> None:
        self.every = every
        self.root = root or os.getpid()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="tree-memory", daemon=True)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    def _watch(self) -> None:
        while True:
            self.peak = max(self.peak, tree_resident(self.root))
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_resident(self.root))
