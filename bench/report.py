"""Run every benchmark in ``bench/`` and write ``bench/REPORT.md`` with its charts.

Each bench runs as a child process (its own interpreter, as when run by hand) and
prints its figures; this file reads them off the printed lines, puts each figure
beside the baseline the same bench measured in the same run, and writes:

* ``bench/REPORT.md``: the machine (CPU, cores, load average at start and end,
  Python, date), one table of every figure as a ratio against its baseline with
  the absolute figures beside it, and each bench's command and output;
* ``bench/charts/throughput.png`` and ``bench/charts/latency.png`` (matplotlib).

``--quick`` uses small sizes (the whole report in a few minutes); the default
sizes are each bench's own, except the synchronizer's (20k and 200k accounts;
``--sync-sizes 20000,200000,1000000`` adds the long 1M run). Nothing is asserted.

    python bench/report.py [--quick] [--only bus_throughput,screen_pop] [--sync-sizes ...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NUMBER = r"[\d,]+(?:\.\d+)?"


@dataclass(frozen=True)
class Figure:
    """One measured figure beside the baseline its bench measured in the same run."""

    bench: str
    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    higher_is_better: bool
    percentiles: dict[str, float] = field(default_factory=dict)
    """Latency figures: p50 / p95 / p99 / max in ``unit``, for the latency chart."""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("nan")


@dataclass(frozen=True)
class Outcome:
    """A bench's run: its command, what it printed, how long it took, and its figures."""

    bench: str
    command: list[str]
    seconds: float
    output: str
    error: str = ""
    figures: list[Figure] = field(default_factory=list)


def _num(text: str) -> float:
    return float(text.replace(",", ""))


# -- reading each bench's printed lines -----------------------------------------------------

def parse_bus_throughput(output: str) -> list[Figure]:
    """``[broker] N messages``, then ``label  rate msg/s`` rows; the first is raw kombu."""
    figures: list[Figure] = []
    broker, baseline = "", ("", 0.0)
    for text in output.splitlines():
        if header := re.match(r"\[(\w+)\] (\d+) messages", text):
            broker = header[1]
            baseline = ("", 0.0)
        elif row := re.match(rf"\s+(.+?)\s+({NUMBER}) msg/s", text):
            label, rate = f"[{broker}] {row[1]}", _num(row[2])
            if not baseline[0]:
                baseline = (label, rate)
            figures.append(Figure("bus_throughput", label, rate, "msg/s", *baseline, True))
    return figures


def parse_amqp_clients(output: str) -> list[Figure]:
    """``client  total publish consume  ratio x`` rows; the first is raw kombu."""
    figures: list[Figure] = []
    baseline = ("", 0.0)
    for text in output.splitlines():
        row = re.match(rf"\s+(.+?)\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+{NUMBER}x$", text)
        if row:
            label, rate = f"{row[1]} publish→consume", _num(row[2])
            if not baseline[0]:
                baseline = (label, rate)
            figures.append(Figure("amqp_clients", label, rate, "msg/s", *baseline, True))
    return figures


def parse_journal_throughput(output: str) -> list[Figure]:
    """Per database: the journal's rate and the raw driver's on the same rows."""
    figures: list[Figure] = []
    database, journal = "", 0.0
    for text in output.splitlines():
        if header := re.match(r"\[(\w+)\] \d+ messages", text):
            database = header[1]
        elif row := re.match(rf"\s+journal \(.*?\):\s+({NUMBER}) msg/s", text):
            journal = _num(row[1])
        elif row := re.match(rf"\s+raw (.+?):\s+({NUMBER}) msg/s", text):
            raw_label = f"[{database}] raw {row[1]}"
            raw = _num(row[2])
            figures.append(Figure("journal_throughput", raw_label, raw, "msg/s", raw_label,
                                  raw, True))
            figures.append(Figure("journal_throughput", f"[{database}] journal record + write",
                                  journal, "msg/s", raw_label, raw, True))
    return figures


def parse_billing_soap(output: str) -> list[Figure]:
    """``label  rate accounts/s`` rows; the first is raw zeep getAccounts pages."""
    figures: list[Figure] = []
    baseline = ("", 0.0)
    for text in output.splitlines():
        if row := re.match(rf"(\S.*?)\s+({NUMBER}) accounts/s", text):
            label, rate = row[1], _num(row[2])
            if not baseline[0]:
                baseline = (label, rate)
            figures.append(Figure("billing_soap", label, rate, "accounts/s", *baseline, True))
    return figures


def parse_screen_pop(output: str) -> list[Figure]:
    """Latency rows ``label n= p50 .. ms p99 .. ms``; ratio of p99 to the bare AMI parse's."""
    rows: list[tuple[str, float, float]] = []
    for text in output.splitlines():
        row = re.match(rf"\s+(.+?)\s+n=\s*(\d+)\s+p50\s+({NUMBER}) ms\s+p99\s+({NUMBER}) ms",
                       text)
        if row and int(row[2]) > 0:
            rows.append((row[1], _num(row[3]), _num(row[4])))
    baseline = next(((label, p99) for label, _, p99 in rows if label.startswith("baseline")),
                    ("", 0.0))
    return [Figure("screen_pop", label, p99, "ms p99", *baseline, False,
                   {"p50": p50, "p99": p99}) for label, p50, p99 in rows]


def parse_unified_view(output: str) -> list[Figure]:
    """Per broker, ``label p50 p95 max`` rows; ratio of p95 to the slowest backend's alone."""
    figures: list[Figure] = []
    broker, baseline = "", ("", 0.0)
    for text in output.splitlines():
        if header := re.match(r"(\w+): \d+ cold views", text):
            broker, baseline = header[1], ("", 0.0)
        elif row := re.match(rf"\s+(.+?)\s+p50\s+({NUMBER}) ms\s+p95\s+({NUMBER}) ms\s+"
                             rf"max\s+({NUMBER}) ms", text):
            label, p95 = f"[{broker}] {row[1]}", _num(row[3])
            if not baseline[0]:
                baseline = (label, p95)
            figures.append(Figure("unified_view", label, p95, "ms p95", *baseline, False,
                                  {"p50": _num(row[2]), "p95": p95, "max": _num(row[4])}))
    return figures


def parse_sync_scale(output: str) -> list[Figure]:
    """Per size, ours and Splink: wall and CPU seconds, peak memory, F1 (Splink the baseline)."""
    figures: list[Figure] = []
    size = ""
    found: dict[str, tuple[float, float, float, float]] = {}
    for text in output.splitlines():
        if header := re.match(r"(\d+) accounts \(", text):
            size, found = header[1], {}
        elif row := re.match(rf"\s+(ours|splink)\s+({NUMBER}) s wall\s+({NUMBER}) s CPU\s+"
                             rf"({NUMBER}) MB.*F1 ({NUMBER})", text):
            found[row[1]] = (_num(row[2]), _num(row[3]), _num(row[4]), _num(row[5]))
            if row[1] != "splink" or "ours" not in found:
                continue
            (wall, cpu, mb, f1), (s_wall, s_cpu, s_mb, s_f1) = found["ours"], found["splink"]
            for what, unit, ours, theirs, higher in (
                ("wall time", "s", wall, s_wall, False),
                ("CPU time", "s CPU", cpu, s_cpu, False),
                ("peak memory", "MB", mb, s_mb, False),
                ("F1 of record links", "F1", f1, s_f1, True),
            ):
                figures.append(Figure("sync_scale", f"{size} accounts: ours, {what}", ours, unit,
                                      f"Splink, {what}", theirs, higher))
    return figures


def parse_sync_accuracy(output: str) -> list[Figure]:
    """Per data set (seed, noise), our F1 of record links beside Splink's on the same data."""
    figures: list[Figure] = []
    data_set = ""
    found: dict[str, float] = {}
    for text in output.splitlines():
        if header := re.match(r"\d+ customers, (seed \d+, noise [\d.]+):", text):
            data_set, found = header[1], {}
        elif row := re.match(rf"\s+(ours|splink)\s+P {NUMBER}\s+R {NUMBER}\s+F1 ({NUMBER})",
                             text):
            found[row[1]] = _num(row[2])
            if row[1] == "splink" and "ours" in found:
                figures.append(Figure("sync_accuracy", f"{data_set}: ours, F1 of record links",
                                      found["ours"], "F1", "Splink, F1", found["splink"], True))
    return figures


def parse_sync_incremental(output: str) -> list[Figure]:
    """Per size, a single change's median CPU against the full run's CPU on the same data."""
    figures: list[Figure] = []
    size = ""
    change = 0.0
    for text in output.splitlines():
        if header := re.match(r"(\d+) accounts \(", text):
            size = header[1]
        elif row := re.search(rf"per change CPU median ({NUMBER}) s", text):
            change = _num(row[1])
        elif row := re.search(rf"baseline: the full run alone ({NUMBER}) s CPU", text):
            figures.append(Figure("sync_incremental", f"{size} accounts: one change, CPU",
                                  change, "s CPU", "the full run, CPU", _num(row[1]), False))
    return figures


PARSERS: dict[str, Callable[[str], list[Figure]]] = {
    "bus_throughput": parse_bus_throughput,
    "amqp_clients": parse_amqp_clients,
    "journal_throughput": parse_journal_throughput,
    "billing_soap": parse_billing_soap,
    "screen_pop": parse_screen_pop,
    "unified_view": parse_unified_view,
    "sync_scale": parse_sync_scale,
    "sync_accuracy": parse_sync_accuracy,
    "sync_incremental": parse_sync_incremental,
}

BASELINES = {
    "bus_throughput": "raw kombu publish→consume on the same broker",
    "amqp_clients": "raw kombu publish→consume (confirms, persistent)",
    "journal_throughput": "the raw driver's executemany of the same rows",
    "billing_soap": "raw zeep getAccounts pages on the same simulator",
    "screen_pop": "bare AMI parse of the captured stream (p99)",
    "unified_view": "the slowest backend alone, request-reply (p95)",
    "sync_scale": "Splink (DuckDB) on the same data",
    "sync_accuracy": "Splink (DuckDB) on the same data set",
    "sync_incremental": "the full reconciliation run on the same data (CPU)",
}


def arguments_for(bench: str, quick: bool, sync_sizes: str) -> list[str]:
    """Each bench's command-line sizes: small with ``--quick``, else its own defaults."""
    quick_sizes = {
        "bus_throughput": ["--count", "3000"],
        "amqp_clients": ["--count", "3000"],
        "journal_throughput": ["--count", "5000"],
        "billing_soap": ["--customers", "200"],
        "screen_pop": ["--rate", "50", "--seconds", "4"],
        "unified_view": ["--views", "300", "--brokers", "memory,rabbitmq"],
        "sync_scale": ["--sizes", sync_sizes or "20000"],
        "sync_accuracy": ["--seeds", "7", "--noises", "1.5"],
        "sync_incremental": ["--sizes", "20000", "--changes", "5"],
    }
    if quick:
        return quick_sizes[bench]
    if bench == "unified_view":
        return ["--brokers", "memory,rabbitmq"]
    if bench == "sync_scale":
        return ["--sizes", sync_sizes or "20000,200000"]
    return []


def run_bench(bench: str, args: list[str], timeout: float) -> Outcome:
    command = [sys.executable, str(BENCH / f"{bench}.py"), *args]
    print(f"running {bench} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout if isinstance(exc.stdout, str) else ""
        return Outcome(bench, command, time.perf_counter() - started, output,
                       f"timed out after {timeout:.0f} s")
    seconds = time.perf_counter() - started
    error = ""
    if done.returncode:
        error = f"exit {done.returncode}: " + " | ".join(done.stderr.strip().splitlines()[-3:])
    figures = PARSERS[bench](done.stdout)
    if not figures and not error:
        error = "no figures found in its output"
    return Outcome(bench, command, seconds, done.stdout, error, figures)


# -- the machine --------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for text in info:
                if text.startswith("model name"):
                    return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


@dataclass
class Machine:
    cpu: str = field(default_factory=cpu_model)
    cores: int = field(default_factory=lambda: os.cpu_count() or 0)
    python: str = field(default_factory=lambda: f"{platform.python_implementation()} "
                        f"{platform.python_version()}")
    system: str = field(default_factory=lambda: f"{platform.system()} {platform.release()}")
    started: str = field(default_factory=lambda: datetime.datetime.now(datetime.UTC)
                         .strftime("%Y-%m-%d %H:%M UTC"))
    load_start: str = field(default_factory=load_average)
    load_end: str = ""

    def finish(self) -> None:
        self.load_end = load_average()


# -- the report -----------------------------------------------------------------------------

def _value(value: float, unit: str) -> str:
    if unit == "F1":
        return f"{value:.4f}"
    if unit.startswith("s"):
        return f"{value:,.1f} {unit}"
    if unit.startswith("ms "):
        return f"{value:,.3f} {unit}" if value < 10 else f"{value:,.1f} {unit}"
    return f"{value:,.0f} {unit}" if value >= 10 else f"{value:,.2f} {unit}"


def _ratio(figure: Figure) -> str:
    if figure.name == figure.baseline:
        return "1 (baseline)"
    ratio = figure.ratio
    return f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.3g}"


def table(outcomes: list[Outcome]) -> list[str]:
    lines = ["| Bench | Figure | Ratio | Absolute | Baseline (same run) | Better |",
             "|---|---|---:|---:|---:|---|"]
    for outcome in outcomes:
        names = {f.name for f in outcome.figures}
        for f in outcome.figures:
            better = "higher" if f.higher_is_better else "lower"
            baseline = _value(f.baseline_value, f.unit)
            if f.baseline not in names:  # not a row of its own: say which it is
                baseline = f"{f.baseline}: {baseline}"
            lines.append(f"| {f.bench} | {f.name} | {_ratio(f)} | {_value(f.value, f.unit)} | "
                         f"{baseline} | {better} |")
    return lines


def write_report(outcomes: list[Outcome], machine: Machine, out: Path, quick: bool) -> Path:
    """``REPORT.md`` and its charts under ``out``; returns the report's path."""
    charts = draw_charts([f for o in outcomes for f in o.figures], out / "charts")
    lines = [
        "# Benchmark report",
        "",
        "Written by `make bench` (`bench/report.py"
        + (" --quick" if quick else "") + "`). Every figure is a **ratio against its"
        " baseline measured in the same run** by the same bench; the absolute figures are"
        " beside it. Ratios travel between machines far better than absolute figures, which"
        " swing with the neighbours' load on a shared box.",
        "",
        "## Machine",
        "",
        f"* CPU: {machine.cpu}, {machine.cores} cores; {machine.system}",
        f"* Python: {machine.python}",
        f"* Date: {machine.started}",
        f"* Load average (1 / 5 / 15 min): {machine.load_start} at start, "
        f"{machine.load_end} at end",
        f"* Sizes: {'quick (small)' if quick else 'default'}; run time "
        f"{sum(o.seconds for o in outcomes):.0f} s",
        "",
        "## Figures",
        "",
        "Ratio = figure / baseline. For rates, above 1 is faster than the baseline; for"
        " latencies, times and memory, below 1 is better.",
        "",
        *table(outcomes),
        "",
        "Baselines: " + "; ".join(f"**{o.bench}**: {BASELINES[o.bench]}" for o in outcomes)
        + ".",
        "",
    ]
    failed = [o for o in outcomes if o.error]
    if failed:
        lines += ["## Not measured", ""]
        lines += [f"* {o.bench}: {o.error}" for o in failed]
        lines.append("")
    if charts:
        lines += ["## Charts", ""]
        lines += [f"![{path.stem}](charts/{path.name})" for path in charts]
        lines.append("")
    lines += ["## Each bench's command and output", ""]
    for outcome in outcomes:
        shown = " ".join(["python", *(Path(p).relative_to(ROOT).as_posix()
                                      if p.startswith(str(ROOT)) else p
                                      for p in outcome.command[1:])])
        lines += [f"### {outcome.bench} ({outcome.seconds:.0f} s)", "", f"`{shown}`", "",
                  "```", outcome.output.rstrip() or "(no output)", "```", ""]
    out.mkdir(parents=True, exist_ok=True)
    report = out / "REPORT.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


def draw_charts(figures: list[Figure], directory: Path) -> list[Path]:
    """Throughput bars (one panel per bench, baseline first) and latency percentiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    rates = [f for f in figures if f.unit.endswith("/s")]
    groups = sorted({f.bench: None for f in rates}, key=list(PARSERS).index)
    if groups:
        fig, axes = plt.subplots(len(groups), 1, figsize=(10, 2.2 + 1.1 * len(rates)),
                                 squeeze=False)
        for axis, bench in zip(axes[:, 0], groups, strict=True):
            shown = [f for f in rates if f.bench == bench]
            colours = ["grey" if f.name == f.baseline else "tab:blue" for f in shown]
            bars = axis.barh([f.name for f in shown], [f.value for f in shown], color=colours)
            axis.bar_label(bars, [f"{f.value:,.0f} ({_ratio(f)})" for f in shown], padding=3,
                           fontsize=8)
            axis.invert_yaxis()
            axis.set_title(f"{bench}: {shown[0].unit} (ratio vs baseline in grey)", fontsize=9)
            axis.tick_params(labelsize=8)
            axis.margins(x=0.25)
        fig.tight_layout()
        path = directory / "throughput.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    latencies = [f for f in figures if f.percentiles]
    if latencies:
        cuts = sorted({c for f in latencies for c in f.percentiles},
                      key=["p50", "p95", "p99", "max"].index)
        fig, axis = plt.subplots(figsize=(10, 2 + 0.6 * len(latencies)))
        height = 0.8 / len(cuts)
        for index, cut in enumerate(cuts):
            axis.barh([n + index * height for n in range(len(latencies))],
                      [f.percentiles.get(cut, 0.0) for f in latencies], height=height, label=cut)
        axis.set_yticks([n + height * (len(cuts) - 1) / 2 for n in range(len(latencies))],
                        [f"{f.bench}: {f.name}" for f in latencies], fontsize=8)
        axis.invert_yaxis()
        axis.set_xscale("log")
        axis.set_xlabel("ms (log scale)")
        axis.set_title("Latency percentiles")
        axis.legend(fontsize=8)
        fig.tight_layout()
        path = directory / "latency.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument("--only", default=",".join(PARSERS), help="benches, comma-separated")
    parser.add_argument("--sync-sizes", default="",
                        help="sync_scale sizes (default 20000,200000; quick 20000)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per bench")
    parser.add_argument("--out", type=Path, default=BENCH, help="where REPORT.md goes")
    args = parser.parse_args(argv)
    machine = Machine()
    outcomes = []
    for bench in args.only.split(","):
        outcome = run_bench(bench, arguments_for(bench, args.quick, args.sync_sizes),
                            args.timeout)
        print(f"  {len(outcome.figures)} figures in {outcome.seconds:.0f} s"
              + (f"; {outcome.error}" if outcome.error else ""), flush=True)
        outcomes.append(outcome)
    machine.finish()
    report = write_report(outcomes, machine, args.out, args.quick)
    print("\n".join(table(outcomes)))
    print(f"written {report}")


if __name__ == "__main__":
    main()
