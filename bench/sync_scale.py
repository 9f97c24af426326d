"""The synchronizer's matching engine at scale, against Splink on the same data.

For each size (billing accounts) the shared generator's directory is made once
and cached (``~/.cache/telecom-esb/datagen``). Then, each in a fresh child
process so that peak memory is its own:

* ours: read CRM + billing records and ``sync.match.reconcile`` them (the
  thresholds fixed in ``MatchSettings``);
* Splink (DuckDB): a dedupe model over the union of CRM and billing records,
  normalized by ``sync.normalize`` (so it gets the same clean fields), blocking
  on INN, passport, phone and surname (within a city), trained unsupervised
  (random-sampling u, EM for m), clustered at a fixed match probability.

Prints wall time, CPU time (this process and its workers), peak RSS and pairwise
precision / recall / F1 of record→customer links (``sync.evaluate``) per size,
and the ratios ours/Splink. For ours also each phase's wall/CPU seconds in the
main process (``load``: read, normalize in the worker pool, index and, a first load
being one, compare each record as it comes; ``compare``: what is left of it;
``cluster``; ``result``), the workers' CPU, and the main process's peak memory
after each phase. CPU time is the figure to trust on a shared machine.

``--persist`` adds the persisted full run, also in a fresh child: ``esb sync
import DIR`` and ``esb sync run`` through :class:`sync.service.SyncService` into a
fresh SQLite file (the embedded default; CRM and billing records, as ours reads, and with
``--persist-docflow`` the documents too), with each stage's wall/CPU seconds
(``import``; the run's ``load`` of the xref and decisions, ``match``, which streams the
records from SQL into the engine (its worker processes decode and normalize them), and
``persist``, which reads them again a batch of customers at a time), peak memory and the
database's size. As ``esb sync run`` does, the run lets the engine go before the write
stage (``keep_engine=False``): nothing follows it in that process. Its workers start mid-run,
and a child's ``ru_maxrss`` counts the parent's pages it held between fork and exec:
the ``ru_maxrss`` total is an upper bound. The figure is the run's peak sampled
(:mod:`tree_memory`: the resident memory of the main process and its workers summed
every half second), next to the main process's peaks after each stage.
``--no-ours`` leaves the in-memory run out.
Not a test: nothing is asserted.

    .venv/bin/python bench/sync_scale.py [--sizes 20000,200000,1000000] [--seed 7]
        [--noise 1.3] [--no-splink] [--no-ours] [--persist] [--persist-docflow]
        [--cache DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tree_memory import TreeMemory

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "datagen" / "generate.py"
DEFAULT_CACHE = Path.home() / ".cache" / "telecom-esb" / "datagen"
SPLINK_THRESHOLD = 0.999  # the best of 0.5...0.999 on seed 7, fixed for every size


def generated(size: str, count: int, seed: int, noise: float, cache: Path) -> Path:
    """The generator's directory of ``--<size> <count>`` (accounts or customers) with this
    seed and noise, generated once into ``cache``."""
    out = cache / f"{size}-{count}-seed{seed}-noise{noise}"
    if (out / "truth.csv").exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"generating {count} {size} into {out} ...", flush=True)
    subprocess.run(
        [sys.executable, str(GENERATOR), f"--{size}", str(count), "--seed", str(seed),
         "--noise", str(noise), "--out", str(tmp)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    tmp.rename(out)
    return out


def _peak_mb() -> float:
    """Peak RSS of this process plus its worker processes' peaks (an upper bound)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + workers) / 1024


def _cpu_s() -> float:
    """CPU seconds of this process and its workers: the cost when the machine is shared."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _figures(clusters: dict[tuple[str, str], int], directory: Path) -> dict[str, float]:
    from sync.evaluate import evaluate, read_truth

    figures = evaluate(clusters, read_truth(directory / "truth.csv"))
    return {"precision": figures.precision, "recall": figures.recall, "f1": figures.f1}


_PHASES = ("load", "compare", "cluster")


def run_ours(directory: Path) -> dict[str, Any]:
    from sync.match import Matcher
    from sync.sources import read_directory

    start = time.perf_counter()
    with TreeMemory(every=0.5) as memory:
        matcher = Matcher().add_all(read_directory(directory, docflow=False))
        before_result = (time.perf_counter(), time.process_time())
        result = matcher.result()
    wall = time.perf_counter() - start
    phases = {p: (result.stats[f"{p}_wall_s"], result.stats[f"{p}_cpu_s"]) for p in _PHASES}
    phases["result"] = (time.perf_counter() - before_result[0],
                        time.process_time() - before_result[1])  # fmt: skip
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, peak = _cpu_s(), _peak_mb()
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak, "records": len(result.clusters),
            "review": len(result.review), "phases": phases,
            "phase_peaks": {p: result.stats[f"{p}_peak_mb"] for p in _PHASES} | {
                "result": own.ru_maxrss / 1024},
            "main_peak_mb": own.ru_maxrss / 1024, "worker_peak_mb": workers.ru_maxrss / 1024,
            "tree_peak_mb": memory.peak_mb,
            "worker_cpu_s": workers.ru_utime + workers.ru_stime,
            "pairs": result.stats.get("pairs_compared", 0.0),
            **_figures(result.clusters, directory)}  # fmt: skip


def run_persisted(directory: Path, docflow: bool = False, database: str = "sqlite"
                  ) -> dict[str, Any]:
    """``esb sync import DIR`` then ``esb sync run`` on a fresh database (``sqlite``: a
    file, the embedded default; ``postgres``: a database made for the run on the server
    of ``ESB_BENCH_POSTGRES``, dropped after): each stage's wall and CPU seconds, the
    run's own split (read the store, match, persist) and the database's size."""
    import tempfile

    from bus.db import create_engine
    from sync.service import SyncService

    with tempfile.TemporaryDirectory(prefix="sync-persist-") as tmp, \
            _fresh_database(database, Path(tmp)) as url:
        service = SyncService(create_engine(url))
        marks: list[tuple[str, float, float]] = [("start", time.perf_counter(), _cpu_s())]
        peaks: dict[str, float] = {}

        def mark(stage: str, _n: int = 0) -> None:
            marks.append((stage, time.perf_counter(), _cpu_s()))
            peaks[stage] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        counts = service.import_directory(directory, docflow=docflow)
        mark("import")
        with TreeMemory(every=0.5) as memory:
            outcome = service.run(progress=mark, keep_engine=False)  # as esb sync run
        stages = {name: (wall - marks[i][1], cpu - marks[i][2])
                  for i, (name, wall, cpu) in enumerate(marks[1:])}  # fmt: skip
        peak = _peak_mb()
        db_mb = _database_mb(service.engine, Path(tmp))
        figures = _stored_figures(service, directory)
        service.engine.dispose()
    return {"database": database, "stages": stages, "stage_peaks": peaks,
            "records": sum(counts.values()),
            "customers": outcome.customers, "conflicts": outcome.conflicts,
            "peak_mb": peak, "tree_peak_mb": memory.peak_mb, "db_mb": db_mb,
            **figures}  # fmt: skip


POSTGRES_SERVER = os.environ.get("ESB_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def _fresh_database(database: str, tmp: Path) -> Iterator[str]:
    """The URL of an empty database of the kind asked for, gone after the block."""
    if database == "sqlite":
        yield f"sqlite:///{tmp / 'esb.db'}"
        return
    import sqlalchemy as sa

    name = f"sync_bench_{os.getpid()}_{int(time.time())}"
    server = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


def _database_mb(engine: Any, tmp: Path) -> float:
    if engine.dialect.name == "sqlite":
        return sum(f.stat().st_size for f in tmp.iterdir()) / 2**20
    with engine.connect() as connection:
        size = connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
    return float(size) / 2**20


def _stored_figures(service: Any, directory: Path) -> dict[str, float]:
    """Precision / recall / F1 of the xref the run wrote (the import made record ids
    canonical: the truth's are made so too)."""
    from sync.canonical import canonical_id
    from sync.evaluate import evaluate, read_truth
    from sync.store.xref import read_xref

    with service.engine.connect() as connection:
        owner = read_xref(connection)
    labels: dict[str, int] = {}
    clusters = {key: labels.setdefault(gid, len(labels)) for key, gid in owner.items()}
    truth = {(system, canonical_id(record_id)): customer
             for (system, record_id), customer in read_truth(directory / "truth.csv").items()}
    figures = evaluate(clusters, truth)
    return {"precision": figures.precision, "recall": figures.recall, "f1": figures.f1}


def _persist_line(f: dict[str, Any]) -> str:
    stages = "  ".join(f"{name} {wall:.1f}/{cpu:.1f}" for name, (wall, cpu) in f["stages"].items())
    run_wall = sum(wall for name, (wall, _) in f["stages"].items() if name != "import")
    peaks = "  ".join(f"{name} {mb:.0f}" for name, mb in f["stage_peaks"].items())
    where = "SQLite" if f["database"] == "sqlite" else "PostgreSQL, its server's CPU not counted"
    return (f"  persist import + run ({where}) wall/CPU s: {stages}; run {run_wall:.1f} s wall; "
            f"run's peak {f['tree_peak_mb']:.0f} MB (main + workers, sampled; ru_maxrss sum "
            f"<= {f['peak_mb']:.0f}); database {f['db_mb']:.0f} MB; {f['records']} records "
            f"-> {f['customers']} customers, {f['conflicts']} conflicts; P {f['precision']:.5f} "
            f"R {f['recall']:.5f} F1 {f['f1']:.5f}\n"
            f"          main peak MB after: {peaks}")  # fmt: skip


def _phase_lines(f: dict[str, Any]) -> str:
    """Per-phase wall / CPU of this process, then the workers' CPU and peaks."""
    parts = [f"{name} {wall:.1f}/{cpu:.1f}" for name, (wall, cpu) in f["phases"].items()]
    peaks = "  ".join(f"{name} {mb:.0f}" for name, mb in f["phase_peaks"].items())
    return (
        f"          phases wall/CPU s: {'  '.join(parts)}; workers CPU "
        f"{f['worker_cpu_s']:.1f} s; peak main {f['main_peak_mb']:.0f} MB, worker "
        f"{f['worker_peak_mb']:.0f} MB, main + workers sampled {f['tree_peak_mb']:.0f} MB; "
        f"{f['pairs']:.0f} pairs compared\n"
        f"          main peak MB after: {peaks}"
    )


def _splink_rows(directory: Path) -> dict[str, list[Any]]:
    from sync.normalize import normalize_record
    from sync.sources import read_directory

    columns = ["unique_id", "kind", "surname", "first_name", "patronymic", "birth_date", "inn",
               "passport", "phone", "email", "city", "address"]  # fmt: skip
    rows: dict[str, list[Any]] = {c: [] for c in columns}
    for record in read_directory(directory, docflow=False):
        n = normalize_record(record)
        values = {
            "unique_id": f"{record.system}|{record.record_id}", "kind": n.kind,
            "surname": n.surname or n.name_key or None, "first_name": n.first or None,
            "patronymic": n.patronymic or None, "birth_date": n.birth_date, "inn": n.inn,
            "passport": n.passport, "phone": min(n.phones) if n.phones else None,
            "email": n.email, "city": n.city or None, "address": n.address or None,
        }  # fmt: skip
        for c in columns:
            rows[c].append(values[c])
    return rows


def splink_clusters(directory: Path, log_level: str = "WARNING") -> dict[tuple[str, str], int]:
    """Splink's clusters of the directory's CRM and billing records (record key -> label)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    db_api = DuckDBAPI()
    table = db_api.register(_splink_rows(directory))
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ExactMatch("kind"),
            cl.ExactMatch("inn"),
            cl.ExactMatch("passport"),
            cl.ExactMatch("birth_date"),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("first_name", [0.92]),
            cl.JaroWinklerAtThresholds("patronymic", [0.92]),
            cl.ExactMatch("phone"),
            cl.ExactMatch("email"),
            cl.LevenshteinAtThresholds("address", [2]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("inn"),
            block_on("passport"),
            block_on("phone"),
            block_on("surname", "city"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(table, settings, log_level=log_level)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("inn"), block_on("passport")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname", "birth_date")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=SPLINK_THRESHOLD
    )
    ids = clustered.as_dict()
    labels: dict[str, int] = {}
    clusters: dict[tuple[str, str], int] = {}
    for uid, cluster_id in zip(ids["unique_id"], ids["cluster_id"], strict=True):
        system, record_id = str(uid).split("|", 1)
        clusters[(system, record_id)] = labels.setdefault(str(cluster_id), len(labels))
    return clusters


def run_splink(directory: Path) -> dict[str, Any]:
    start = time.perf_counter()
    clusters = splink_clusters(directory)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "cpu_s": _cpu_s(), "peak_mb": _peak_mb(), "records": len(clusters),
            **_figures(clusters, directory)}  # fmt: skip


def _child(engine: str, directory: Path) -> dict[str, Any]:
    """Run one engine in a fresh interpreter; its JSON figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", engine, str(directory)],
        check=True, capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _line(name: str, f: dict[str, Any]) -> str:
    return (f"  {name:<7} {f['wall_s']:7.1f} s wall {f['cpu_s']:7.1f} s CPU {f['peak_mb']:7.0f} MB"
            f"  P {f['precision']:.5f}"
            f"  R {f['recall']:.5f}  F1 {f['f1']:.5f}  ({f['records']} records)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,200000,1000000",
                        help="billing accounts per data set, comma-separated")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--noise", type=float, default=1.3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-splink", action="store_true", help="skip the baseline")
    parser.add_argument("--no-ours", action="store_true", help="skip the in-memory engine run")
    parser.add_argument("--persist", action="store_true",
                        help="also time esb sync import + run into a fresh SQLite database")
    parser.add_argument("--persist-docflow", action="store_true",
                        help="the persisted run imports docflow_documents.csv too")
    parser.add_argument("--persist-on", default="sqlite",
                        help="the persisted run's databases, one run each: sqlite,postgres "
                             "(a fresh database on the server of ESB_BENCH_POSTGRES, "
                             f"default {POSTGRES_SERVER})")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, directory = args.child
        if engine.startswith("persist"):
            kind, _, database = engine.partition(":")
            print(json.dumps(run_persisted(Path(directory), docflow=kind == "persist+docflow",
                                           database=database or "sqlite")))
            return
        run = run_ours if engine == "ours" else run_splink
        print(json.dumps(run(Path(directory))))
        return
    if not GENERATOR.exists():
        sys.exit(f"the generator is not at {GENERATOR}")
    for size in (int(s) for s in args.sizes.split(",")):
        directory = generated("accounts", size, args.seed, args.noise, args.cache)
        print(f"{size} accounts (seed {args.seed}, noise {args.noise}):", flush=True)
        if args.persist:
            engine = "persist+docflow" if args.persist_docflow else "persist"
            for database in args.persist_on.split(","):
                print(_persist_line(_child(f"{engine}:{database}", directory)), flush=True)
        if args.no_ours:
            continue
        ours = _child("ours", directory)
        print(_line("ours", ours), flush=True)
        print(_phase_lines(ours), flush=True)
        if args.no_splink:
            continue
        try:
            splink = _child("splink", directory)
        except subprocess.CalledProcessError as exc:
            print(f"  splink  failed: {exc.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        print(_line("splink", splink))
        print(f"  ratio   wall {ours['wall_s'] / splink['wall_s']:.2f}x  "
              f"CPU {ours['cpu_s'] / splink['cpu_s']:.2f}x  memory "
              f"{ours['peak_mb'] / splink['peak_mb']:.2f}x  F1 {ours['f1'] - splink['f1']:+.5f}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
