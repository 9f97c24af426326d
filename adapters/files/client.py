"""The folders: the only module that touches the file system of the exchange.

Producers must write a file under a temporary name (a leading dot, or
``.tmp`` / ``.part``) and rename it when complete; as a second guard
:meth:`Folders.stable_files` hands out a file only after its size and
modification time have stayed the same for ``stable_ms``.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from adapters.files.settings import RESERVED, FilesSettings

__all__ = ["Dropped", "Folders", "write_atomically"]

_TEMPORARY = (".tmp", ".part", ".partial", ".report.txt")


@dataclass(frozen=True, slots=True)
class Dropped:
    path: Path
    profile: str


class Folders:
    def __init__(self, settings: FilesSettings) -> None:
        self.settings = settings
        self._seen: dict[Path, tuple[int, int, float]] = {}

    def prepare(self) -> None:
        """Create the inbox and its processed/ and rejected/ folders (and the outbox)."""
        for folder in (self.settings.processed_path, self.settings.rejected_path,
                       *(self.settings.inbox_path / name for name in self.settings.profiles)):
            folder.mkdir(parents=True, exist_ok=True)
        if self.settings.outbox:
            Path(self.settings.outbox).mkdir(parents=True, exist_ok=True)

    def stable_files(self) -> list[Dropped]:
        """Complete files waiting in the inbox, oldest first."""
        now = time.monotonic()
        present: set[Path] = set()
        ready: list[tuple[int, Dropped]] = []
        for folder, profile in self._folders():
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                if not entry.is_file() or _temporary(entry.name):
                    continue
                path = Path(entry.path)
                stat = entry.stat()
                present.add(path)
                signature = (stat.st_size, stat.st_mtime_ns)
                before = self._seen.get(path)
                if before is None or before[:2] != signature:
                    self._seen[path] = (*signature, now)
                    if self.settings.stable_ms > 0:
                        continue
                    before = self._seen[path]
                if (now - before[2]) * 1000 >= self.settings.stable_ms:
                    ready.append((stat.st_mtime_ns, Dropped(path, profile)))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return [dropped for _, dropped in sorted(ready, key=lambda item: item[0])]

    def _folders(self) -> list[tuple[Path, str]]:
        inbox = self.settings.inbox_path
        return [(inbox, self.settings.default_profile),
                *((inbox / name, name) for name in self.settings.profiles
                  if name not in RESERVED)]

    def move(self, path: Path, folder: Path, tag: str) -> Path:
        """Move ``path`` into ``folder``; a name taken there gets ``tag`` added."""
        target = folder / path.name
        if target.exists():
            target = folder / f"{path.stem}.{tag}{path.suffix}"
        os.replace(path, target)
        self._seen.pop(path, None)
        return target

    def reject(self, path: Path, tag: str, report: str) -> Path:
        """Move a bad file to rejected/ and write its report beside it."""
        target = self.move(path, self.settings.rejected_path, tag)
        write_atomically(target.with_name(target.name + ".report.txt"), report.encode())
        return target

    def check(self) -> str:
        """Every folder exists (or can be created) and takes a file; what waits in the inbox."""
        self.prepare()
        folders = [self.settings.inbox_path, self.settings.processed_path,
                   self.settings.rejected_path]
        if self.settings.outbox:
            folders.append(Path(self.settings.outbox))
        for folder in folders:
            probe = folder / f".esb-check-{uuid.uuid4().hex}.tmp"
            probe.write_bytes(b"ok")
            probe.unlink()
            os.listdir(folder)
        waiting = sum(1 for folder, _ in self._folders() for entry in list(os.scandir(folder))
                      if entry.is_file() and not _temporary(entry.name))
        return (f"inbox {self.settings.inbox_path} readable and writable "
                f"({waiting} file(s) waiting), processed/, rejected/"
                + (f", outbox {self.settings.outbox}" if self.settings.outbox else "")
                + " writable")


def write_atomically(target: Path, data: bytes) -> None:
    """Write under a temporary name, flush to disk, then rename: readers never see half."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def _temporary(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(_TEMPORARY)
