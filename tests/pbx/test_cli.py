"""``esb pbx replay FILE`` and how ``esb`` picks up adapters' commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.pbx.replay import replay
from bus.cli.main import cli, load_plugin_commands
from tests.entry_points import write_distribution
from tests.pbx.conftest import scenario_names, transcript


def test_esb_pbx_replay_prints_the_canonical_events_as_json_lines() -> None:
    if "inbound_queue_answered" not in scenario_names():
        pytest.skip("AMI fixtures absent (../shared/fixtures/ami)")
    path = transcript("inbound_queue_answered")
    result = CliRunner().invoke(cli, ["pbx", "replay", str(path)])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines()]
    assert printed == replay(path)
    only = CliRunner().invoke(cli, ["pbx", "replay", str(path), "--type", "pbx.call.ended.v1"])
    [ended] = [json.loads(line) for line in only.output.splitlines()]
    assert ended["payload"]["answered_by_extension"] == "2002"


def test_replay_of_a_bare_lf_capture_without_banner(tmp_path: Path) -> None:
    capture = tmp_path / "site.ami"
    capture.write_bytes(
        b"Event: Newchannel\nTimestamp: 1710224107.000715\nChannel: PJSIP/trunk-00000001\n"
        b"CallerIDNum: 89123456789\nExten: 73912001122\nUniqueid: 1.1\nLinkedid: 1.1\n\n"
        b"garbage line\n"
        b"Event: Hangup\nTimestamp: 1710224117.000000\nChannel: PJSIP/trunk-00000001\n"
        b"Uniqueid: 1.1\nLinkedid: 1.1\nCause: 16")  # no final empty line
    [ended] = replay(capture)
    assert ended["payload"]["caller_number"] == "89123456789"
    assert ended["payload"]["ended_at"] == "2024-03-12T06:15:17.000000Z"


@pytest.fixture
def command_plugins(tmp_path: Path) -> Iterator[str]:
    group = "esb.test-commands"
    write_distribution(tmp_path, "sample-commands", {group: {
        "pbx-copy": "adapters.pbx.cli:pbx",
        "ghost": "tests.no_such_module:command",
        "plain": "adapters.pbx.replay:replay",
        "run": "adapters.pbx.cli:pbx",
    }})
    sys.path.insert(0, str(tmp_path))
    yield group
    sys.path.remove(str(tmp_path))
    cli.commands.pop("pbx-copy", None)


def test_broken_command_plugins_are_reported_and_skipped(
    command_plugins: str, capsys: pytest.CaptureFixture[str],
) -> None:
    run_before = cli.commands["run"]
    load_plugin_commands(command_plugins)
    err = capsys.readouterr().err
    assert "pbx-copy" in cli.commands
    assert "'ghost' skipped: ModuleNotFoundError" in err
    assert "'plain' skipped: TypeError" in err
    assert "'run' skipped" in err and cli.commands["run"] is run_before
