"""Installing entry points for a test: a distribution's metadata written to a folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_distribution(directory: Path, name: str, groups: Mapping[str, Mapping[str, str]]) -> Path:
    """A ``<name>-0.1.dist-info`` declaring ``groups`` (group -> entry name -> target).

    Put ``directory`` on ``sys.path`` (or ``PYTHONPATH``) and ``importlib.metadata``
    finds the entry points as if the distribution were installed.
    """
    dist_info = directory / f"{name.replace('-', '_')}-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{entry} = {target}\n" for entry, target in entries.items())
        for group, entries in groups.items()
    ))
    return directory
