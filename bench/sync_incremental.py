"""A single change through the synchronizer: CPU seconds per change at each size.

For each size (billing accounts, the generator's directory cached as in
``bench/sync_scale.py``) a fresh child process imports CRM, billing and docflow
into a fresh SQLite file (the embedded default), runs the full reconciliation,
then applies the first ``--changes`` rows of the directory's ``changes.jsonl``
one by one through :meth:`sync.service.SyncService.apply` (store, re-match,
persist, stage events: the whole path of the bus consumer). Prints the CPU and
wall seconds of each change (median and worst; the first change also builds the
engine's label index and is shown apart) and the records held. CPU time is the
figure to trust on a shared machine. Baseline in the same process: the full
run's CPU (what a change would cost if it were reconciled by running everything
again), and the change's median CPU as a ratio of it. Not a test: nothing is asserted.

    .venv/bin/python bench/sync_incremental.py [--sizes 20000,200000] [--changes 20]
        [--seed 7] [--noise 1.3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_scale import DEFAULT_CACHE, generated


def run_changes(directory: Path, count: int) -> dict[str, Any]:
    from bus.db import create_engine
    from sync.canonical import RecordChange
    from sync.service import SyncService
    from sync.sources import read_changes

    with tempfile.TemporaryDirectory(prefix="sync-incremental-") as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'esb.db'}")
        service = SyncService(engine)
        began, cpu = time.perf_counter(), time.process_time()
        counts = service.import_directory(directory)
        run_cpu = time.process_time()
        service.run()  # the baseline: what reconciling a change costs without this path
        setup = (time.perf_counter() - began, time.process_time() - cpu)
        run_cpu = time.process_time() - run_cpu
        walls: list[float] = []
        cpus: list[float] = []
        for change in list(read_changes(directory / "changes.jsonl"))[:count]:
            began, cpu = time.perf_counter(), time.process_time()
            service.apply(RecordChange(change.record, change.op == "delete"))
            walls.append(time.perf_counter() - began)
            cpus.append(time.process_time() - cpu)
        engine.dispose()
    return {"records": sum(counts.values()), "setup": setup, "run_cpu": run_cpu,
            "walls": walls, "cpus": cpus}


def _line(f: dict[str, Any]) -> str:
    cpus, walls = f["cpus"][1:], f["walls"][1:]
    return (f"  {f['records']} records (import + full run {f['setup'][1]:.0f} s CPU); "
            f"first change {f['cpus'][0]:.3f} s CPU; then per change CPU median "
            f"{statistics.median(cpus):.4f} s, max {max(cpus):.4f} s; wall median "
            f"{statistics.median(walls):.4f} s, max {max(walls):.4f} s "
            f"({len(cpus)} changes)\n"
            f"  baseline: the full run alone {f['run_cpu']:.1f} s CPU; a change costs "
            f"{statistics.median(cpus) / f['run_cpu']:.5f} x that")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,200000")
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--noise", type=float, default=1.3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--child", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_changes(Path(args.child), args.changes)))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        directory = generated("accounts", size, args.seed, args.noise, args.cache)
        print(f"{size} accounts (seed {args.seed}, noise {args.noise}): single changes", flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(directory), "--changes", str(args.changes)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        print(_line(json.loads(out.stdout.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
