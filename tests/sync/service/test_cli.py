"""``esb sync ...`` through click: import, run, status, xref, conflicts, evaluate, report."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bus.cli.main import cli  # loads the esb.commands plug-ins, sync among them


def test_the_sync_commands_from_import_to_report(tmp_path: Path, generated: Path) -> None:
    runner = CliRunner(env={"ESB_DATABASE_URL": f"sqlite:///{tmp_path / 'esb.db'}"})

    def esb(*args: str) -> str:
        result = runner.invoke(cli, ["sync", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    imported = esb("import", str(generated))
    summary = json.loads(esb("run", "--json").splitlines()[-1])
    status = json.loads(esb("status", "--json"))
    xref = [json.loads(line) for line in esb("xref", "--json").splitlines()]
    conflicts = [json.loads(line) for line in esb("conflicts", "list", "--json").splitlines()]
    first = conflicts[0]["conflict_id"]
    shown = json.loads(esb("conflicts", "show", first, "--json"))
    resolved = esb("conflicts", "resolve", first, "-r", "dismiss", "--actor", "petrova")
    after = [json.loads(line) for line in esb("conflicts", "list", "--state", "resolved",
                                               "--json").splitlines()]
    figures = json.loads(esb("evaluate", "--truth", str(generated / "truth.csv"), "--json"))
    report = json.loads(esb("report", "--format", "json"))
    page = esb("report", "--format", "html")
    markdown = esb("report", "--format", "md")
    assert "crm: " in imported and "billing: " in imported
    assert summary["records"] == len(xref) == status["linked_records"]
    assert {row["system"] for row in xref} == {"crm", "billing", "docflow"}
    assert shown["conflict_id"] == first and "dismiss" in resolved
    assert [c["conflict_id"] for c in after] == [first]
    assert figures["links"]["precision"] >= 0.99 and figures["links"]["recall"] >= 0.99
    assert figures["missing_from_result"] == 0
    assert set(report["systems"]) == {"crm", "billing", "docflow"}
    assert report["systems"]["billing"]["write_back"] is False
    assert page.startswith("<!doctype html>") and "| billing |" in markdown


def test_resolving_an_unknown_conflict_fails_with_a_message(tmp_path: Path) -> None:
    runner = CliRunner(env={"ESB_DATABASE_URL": f"sqlite:///{tmp_path / 'esb.db'}"})
    result = runner.invoke(cli, ["sync", "conflicts", "resolve", "C0000042", "-r", "merge",
                                 "--actor", "petrova"])
    assert result.exit_code != 0 and "no conflict" in result.output
