"""bench/report.py on the figures of a real, tiny run of a bench: table, ratios, charts."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def load_report() -> ModuleType:
    """bench/ is scripts, not a package: load bench/report.py by its path."""
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


report = load_report()


@pytest.fixture(scope="module")
def tiny_runs() -> list[Any]:
    """The two benches that need no server, at their smallest sizes, run as make bench does."""
    return [
        report.run_bench("bus_throughput", ["--count", "200", "--brokers", "memory"], 120),
        report.run_bench("journal_throughput", ["--count", "200", "--postgres", "none"], 120),
    ]


def test_each_figure_is_read_beside_its_baseline_of_the_same_run(tiny_runs: list[Any]) -> None:
    for outcome in tiny_runs:
        assert not outcome.error, outcome.output
        names = {figure.name for figure in outcome.figures}
        for figure in outcome.figures:
            assert figure.baseline in names  # a figure of this very run
            assert figure.value > 0 and figure.baseline_value > 0
            baseline = next(f for f in outcome.figures if f.name == figure.baseline)
            assert figure.baseline_value == baseline.value
            assert math.isclose(figure.ratio, figure.value / baseline.value)
        assert len(names) > len({f.baseline for f in outcome.figures})  # not baselines only
    bus = tiny_runs[0]
    assert bus.figures[0].name == bus.figures[0].baseline
    assert "kombu" in bus.figures[0].name
    for figure in bus.figures:  # the bench's own printed ratios agree with the report's
        printed = next(line for line in bus.output.splitlines() if figure.name.split("] ")[1]
                       in line)
        if "ratio" in printed:
            assert float(printed.split("ratio")[1].split()[0]) == pytest.approx(
                figure.ratio, abs=0.011)


def test_the_report_has_machine_table_charts_and_outputs(tiny_runs: list[Any],
                                                          tmp_path: Path) -> None:
    machine = report.Machine()
    machine.finish()
    written = report.write_report(tiny_runs, machine, tmp_path, quick=True)
    text = written.read_text(encoding="utf-8")
    assert f"{machine.cores} cores" in text and machine.cpu in text
    assert f"{machine.load_start} at start" in text
    figures = [f for outcome in tiny_runs for f in outcome.figures]
    rows = [line for line in text.splitlines() if line.startswith("| bus_throughput")
            or line.startswith("| journal_throughput")]
    assert len(rows) == len(figures)
    for figure, row in zip(figures, rows, strict=True):
        assert figure.name in row and report._ratio(figure) in row
    assert "Not measured" not in text
    chart = tmp_path / "charts" / "throughput.png"
    assert chart.read_bytes().startswith(PNG)
    assert "charts/throughput.png" in text
    assert tiny_runs[0].output.strip().splitlines()[0] in text


def test_a_bench_that_fails_is_reported_not_hidden(tmp_path: Path) -> None:
    failed = report.run_bench("journal_throughput", ["--count", "not-a-number"], 60)
    assert failed.error and not failed.figures
    machine = report.Machine()
    machine.finish()
    text = report.write_report([failed], machine, tmp_path, quick=True).read_text("utf-8")
    assert "## Not measured" in text and "journal_throughput: exit 2" in text


def test_latency_rows_go_to_the_percentile_chart(tmp_path: Path) -> None:
    """unified_view's line format, measured: the tiny run's numbers give the latency chart."""
    outcome = report.run_bench("unified_view", ["--views", "20", "--concurrency", "10"], 120)
    assert not outcome.error, outcome.output
    assert all(f.percentiles["p95"] == f.value for f in outcome.figures)
    charts = report.draw_charts(outcome.figures, tmp_path)
    assert [path.name for path in charts] == ["latency.png"]
    assert charts[0].read_bytes().startswith(PNG)
