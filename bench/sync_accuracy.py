"""The synchronizer's accuracy across seeds and noise levels, against Splink on the same data.

The issue's accuracy bar: on the shared generator's output (``--customers 20000``,
several seeds, ``--noise 1.0`` and ``1.5``), with the thresholds fixed in settings,
precision >= 0.999 and recall >= 0.998 of CRM and billing record->customer links
(pairwise, both systems together), and namesakes and family members never merged.

For each data set (generated once, cached in ``~/.cache/telecom-esb/datagen``):

* ours: ``sync.match.reconcile`` over the CRM and billing records, default settings;
* Splink, the baseline, in the same run on the same records (``bench/sync_scale.py``'s
  model: blocking on INN, passport, phone and surname within a city; its threshold fixed
  on seed 7).

Prints pairwise precision / recall / F1 of each, the ratio of their F1 and of their
error rates (1 - F1), and every wrong merge (two true customers in one cluster) by kind:
**namesakes** (the two share a full name), **family** (they share a phone or an address,
not a name), other. Not a test: nothing is asserted; the last line says whether the bar
was met on every data set.

    .venv/bin/python bench/sync_accuracy.py [--seeds 7,11,...,59] [--noises 1.0,1.5]
        [--customers 20000] [--no-splink] [--cache DIR]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_scale import DEFAULT_CACHE, GENERATOR, generated, splink_clusters

from sync.evaluate import evaluate, read_truth
from sync.match import reconcile
from sync.model import RecordKey
from sync.normalize import normalize_record
from sync.normalize.record import NormalizedRecord
from sync.sources import read_directory

PRECISION_BAR, RECALL_BAR = 0.999, 0.998
KINDS = ("namesakes", "family", "other")


def wrong_merges(clusters: Mapping[RecordKey, int], truth: Mapping[RecordKey, str],
                 records: Mapping[RecordKey, NormalizedRecord]) -> Counter[str]:
    """Pairs of true customers that share a cluster, by what joins them."""
    members: dict[int, dict[str, list[NormalizedRecord]]] = defaultdict(lambda: defaultdict(list))
    for key, label in clusters.items():
        if key in records:
            members[label][truth[key]].append(records[key])
    found: Counter[str] = Counter()
    for customers in members.values():
        for (_, left), (_, right) in itertools.combinations(customers.items(), 2):
            found[_kind(left, right)] += 1
    return found


def _kind(left: list[NormalizedRecord], right: list[NormalizedRecord]) -> str:
    def names(side: list[NormalizedRecord]) -> set[tuple[str, str, str]]:
        return {(r.surname, r.first, r.patronymic) for r in side if r.surname and r.first}

    def contacts(side: list[NormalizedRecord]) -> set[str]:
        return {p for r in side for p in r.phones} | {r.address for r in side if r.address}

    if names(left) & names(right):
        return "namesakes"
    if contacts(left) & contacts(right):
        return "family"
    return "other"


def measure(directory: Path, with_splink: bool) -> dict[str, dict[str, object]]:
    truth = read_truth(directory / "truth.csv")
    records = list(read_directory(directory, docflow=False))
    normalized = {r.key: normalize_record(r) for r in records}
    began = time.perf_counter()
    result = reconcile(records)
    ours_wall = time.perf_counter() - began
    figures = evaluate(result.clusters, truth)
    rows: dict[str, dict[str, object]] = {"ours": {
        "precision": figures.precision, "recall": figures.recall, "f1": figures.f1,
        "wall_s": ours_wall, "wrong": wrong_merges(result.clusters, truth, normalized)}}
    if with_splink:
        began = time.perf_counter()
        clusters = splink_clusters(directory, log_level="ERROR")  # its training notes: not figures
        splink_wall = time.perf_counter() - began
        theirs = evaluate(clusters, truth)
        rows["splink"] = {"precision": theirs.precision, "recall": theirs.recall,
                          "f1": theirs.f1, "wall_s": splink_wall,
                          "wrong": wrong_merges(clusters, truth, normalized)}
    return rows


def _line(name: str, row: Mapping[str, object]) -> str:
    wrong = row["wrong"]
    assert isinstance(wrong, Counter)
    return (f"  {name:<7} P {row['precision']:.5f}  R {row['recall']:.5f}  F1 {row['f1']:.5f}"
            f"  in {row['wall_s']:5.1f} s;  wrong merges: "
            + ", ".join(f"{kind} {wrong[kind]}" for kind in KINDS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="7,11,23,31,37,41,43,47,53,59")
    parser.add_argument("--noises", default="1.0,1.5")
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--no-splink", action="store_true", help="skip the baseline")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    if not GENERATOR.exists():
        sys.exit(f"the generator is not at {GENERATOR}")
    met = True
    for noise, seed in itertools.product((float(n) for n in args.noises.split(",")),
                                         (int(s) for s in args.seeds.split(","))):
        directory = generated("customers", args.customers, seed, noise, args.cache)
        print(f"{args.customers} customers, seed {seed}, noise {noise}:", flush=True)
        rows = measure(directory, not args.no_splink)
        ours = rows["ours"]
        print(_line("ours", ours), flush=True)
        wrong = ours["wrong"]
        assert isinstance(wrong, Counter)
        met &= (float(str(ours["precision"])) >= PRECISION_BAR
                and float(str(ours["recall"])) >= RECALL_BAR
                and wrong["namesakes"] == 0 and wrong["family"] == 0)
        if "splink" in rows:
            splink = rows["splink"]
            print(_line("splink", splink), flush=True)
            ours_f1, splink_f1 = float(str(ours["f1"])), float(str(splink["f1"]))
            errors = (1 - ours_f1) / (1 - splink_f1) if splink_f1 < 1 else float("nan")
            print(f"  ours / Splink: F1 {ours_f1 / splink_f1:.4f}, error rate (1 - F1) "
                  f"{errors:.3f}", flush=True)
            met &= ours_f1 > splink_f1
    print(f"bar (P >= {PRECISION_BAR}, R >= {RECALL_BAR}, no namesake or family merged"
          f"{', F1 above Splink' if not args.no_splink else ''}) on every data set: "
          f"{'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
