"""deploy/: every file parses, the dashboard queries real metrics, every ESB_* variable exists.

The deployment files are not imported by the bus, so nothing else notices when
a metric or a setting is renamed under them. These tests tie them to the code:
the PromQL of the Grafana dashboard and of the Prometheus alerts may only name
metrics (and labels) that :class:`bus.telemetry.metrics.Metrics` renders, and
every ``ESB_*`` variable named anywhere in deploy/ must be a field of
:class:`bus.settings.Settings` (nested with ``__``), a process-level variable
the bus reads, or an adapter variable listed as future in deploy/README.md.
"""

from __future__ import annotations

import inspect
import json
import re
import tomllib
import typing
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel

import bus.schema.registry
import bus.settings
from bus.settings import DeliverySettings, Settings
from bus.telemetry.metrics import Metrics, Outcome
from bus.transport.amqp.transport import retry_queue
from bus.transport.base import dead_letter_queue
from migrations.cli import db

UPGRADE = ["upgrade"]
"""``esb db upgrade``: the deploy step before the workers (compose, Kubernetes)."""

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
README = DEPLOY / "README.md"
DASHBOARD = DEPLOY / "grafana" / "esb-dashboard.json"
ALERTS = DEPLOY / "prometheus-alerts.yml"

YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
JSON_FILES = sorted(DEPLOY.rglob("*.json"))
TEXT_FILES = sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.name != ".env")

# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"instance", "job"})

# Aggregations, functions and keywords of PromQL: every other identifier is a metric.
PROMQL_WORDS = frozenset({
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "limitk", "limit_ratio",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "changes",
    "resets", "histogram_quantile", "histogram_fraction", "clamp", "clamp_min", "clamp_max",
    "abs", "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt", "sgn", "sort",
    "sort_desc", "time", "timestamp", "vector", "scalar", "absent", "absent_over_time",
    "label_replace", "label_join", "avg_over_time", "min_over_time", "max_over_time",
    "sum_over_time", "count_over_time", "last_over_time", "quantile_over_time",
    "stddev_over_time", "present_over_time",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
})

IDENTIFIER = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SELECTOR = re.compile(rf"({IDENTIFIER})\s*\{{([^}}]*)\}}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"([^\"]*)\"")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
ESB_VARIABLE = re.compile(r"\bESB_[A-Z0-9_]*[A-Z0-9]")


# -- what the bus exports -----------------------------------------------------------------


def exported_series() -> dict[str, frozenset[str]]:
    """Every sample name the bus renders, with its labels, after one event of each kind."""
    metrics = Metrics()
    metrics.message_published("pbx.call.ended.v1")
    for outcome in get_args(Outcome):
        metrics.message_consumed("esb.crm.call-log", outcome, duration=0.01)
    metrics.journal_written(3)
    metrics.journal_dropped(1)
    metrics.set_queue_depth("esb.crm.call-log", 2)
    metrics.set_queue_depth(dead_letter_queue("esb.crm.call-log"), 0)
    series: dict[str, set[str]] = {}
    for line in metrics.render().decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        name = name.split(" ")[0]
        labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", rest)) if rest else set()
        series.setdefault(name, set()).update(labels)
    return {name: frozenset(labels | TARGET_LABELS) for name, labels in series.items()}


EXPORTED = exported_series()


# -- PromQL, read just enough -------------------------------------------------------------


def without_grafana_variables(expr: str) -> str:
    expr = re.sub(r"\$\{[^}]*\}", ".+", expr)
    expr = re.sub(r"\$__\w+", "1m", expr)
    return re.sub(r"\$\w+", ".+", expr)


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression (not its functions, labels or keywords)."""
    expr = without_grafana_variables(expr)
    expr = re.sub(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range selectors
    expr = GROUPING.sub(" ", expr)  # by (...), on (...)
    names = set()
    for match in re.finditer(rf"(?<![\w.]){IDENTIFIER}", expr):
        word = match.group(0)
        if word.lower() in PROMQL_WORDS or expr[match.end():].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """``metric{label="value"}`` pairs: the metric and its matchers."""
    expr = without_grafana_variables(expr)
    return [(name, {label: value for label, _op, value in MATCHER.findall(body)})
            for name, body in SELECTOR.findall(expr)]


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()
    for body in GROUPING.findall(expr):
        labels.update(label.strip() for label in body.split(",") if label.strip())
    return labels


def dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                found.append((f"panel {inner['title']!r}", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable.get("type") == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            found.append((f"variable {variable['name']}", text))
    return found


def alert_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [(f"alert {rule['alert']}", rule["expr"])
            for group in rules["groups"] for rule in group["rules"]]


def label_values_query(expr: str) -> str:
    """``label_values(metric, label)`` (a Grafana variable) as the selector it reads."""
    match = re.fullmatch(rf"\s*label_values\(\s*({IDENTIFIER})\s*,\s*(\w+)\s*\)\s*", expr)
    return f"sum by ({match.group(2)}) ({match.group(1)})" if match else expr


PROMQL = dashboard_expressions() + alert_expressions()


# -- parsing ------------------------------------------------------------------------------


def test_deploy_has_the_files_integrators_need() -> None:
    for name in ["README.md", "compose.yaml", "Dockerfile", "prometheus.yml",
                 "otel-collector.yaml", "rabbitmq/rabbitmq.conf", "rabbitmq/enabled_plugins",
                 "rabbitmq/definitions.json", "postgres/init.sql",
                 "postgres/postgresql.conf.sample", "grafana/esb-dashboard.json",
                 "systemd/esb.service"]:
        assert (DEPLOY / name).is_file(), name
    assert YAML_FILES and JSON_FILES


def test_the_image_installs_every_package_of_the_project() -> None:
    """``pip install .`` in the image installs what was copied: a package left out loses
    its entry points (the operator page, the console) without failing the build."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in
                project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (DEPLOY / "Dockerfile").read_text(),
                            re.MULTILINE))
    assert packages <= copied, sorted(packages - copied)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text()), dict)


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_json_parses(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)


# -- compose ------------------------------------------------------------------------------


def test_compose_mounts_files_that_exist() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file(), name


def test_compose_workers_are_competing_consumers_on_quorum_queues() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    workers = {n: s for n, s in compose["services"].items() if n.startswith("esb-worker")}
    assert len(workers) >= 2
    for name, worker in workers.items():
        env = worker["environment"]
        assert env["ESB_DELIVERY__QUORUM_QUEUES"] == "true", name
        assert env["ESB_BROKER_URL"].startswith("amqp://"), name
        assert env["ESB_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert env["ESB_API__HOST"] == "0.0.0.0", f"{name}: Prometheus could not scrape it"
        assert "ESB_INSTANCE" not in env, f"{name}: scaled copies would share a reply queue"
        assert not worker.get("init"), f"{name}: esb must be PID 1 to finish its shutdown"


def test_the_deploy_step_is_a_command_of_esb_db() -> None:
    assert UPGRADE[0] in db.commands


def test_compose_starts_the_esb_services_after_the_one_shot_schema_upgrade() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    migrate = services["esb-migrate"]
    assert migrate["command"] == ["esb", "db", *UPGRADE]
    assert migrate["restart"] == "no"
    assert migrate["image"] == services["esb-worker-1"]["image"]
    assert migrate["environment"] == services["esb-worker-1"]["environment"]
    for name, service in services.items():
        if name.startswith("esb-") and name != "esb-migrate":
            assert service["depends_on"]["esb-migrate"] == {
                "condition": "service_completed_successfully"}, name


# -- PromQL of the dashboard and the alerts -----------------------------------------------


@pytest.mark.parametrize(("where", "expr"), PROMQL, ids=[w for w, _ in PROMQL])
def test_promql_names_only_metrics_the_bus_exports(where: str, expr: str) -> None:
    expr = label_values_query(expr)
    names = metric_names(expr)
    allowed = set(EXPORTED) | ({"up"} if where.startswith("alert") else set())
    assert names, f"{where}: no metric in {expr!r}"
    assert names <= allowed, f"{where}: unknown metrics {sorted(names - allowed)}"


@pytest.mark.parametrize(("where", "expr"), PROMQL, ids=[w for w, _ in PROMQL])
def test_promql_uses_labels_the_metrics_have(where: str, expr: str) -> None:
    expr = label_values_query(expr)
    metrics_here = metric_names(expr) & set(EXPORTED)
    for metric, matchers in selectors(expr):
        if metric in EXPORTED:
            unknown = set(matchers) - EXPORTED[metric]
            assert not unknown, f"{where}: {metric} has no label {sorted(unknown)}"
    available = set().union(*(EXPORTED[m] for m in metrics_here)) if metrics_here else set()
    unknown = grouping_labels(expr) - available
    assert not unknown, f"{where}: grouping by labels no metric has: {sorted(unknown)}"


@pytest.mark.parametrize(("where", "expr"), PROMQL, ids=[w for w, _ in PROMQL])
def test_promql_outcomes_are_outcomes_the_bus_records(where: str, expr: str) -> None:
    for _metric, matchers in selectors(expr):
        if "outcome" in matchers:
            for value in matchers["outcome"].split("|"):
                assert value in get_args(Outcome), f"{where}: no outcome {value!r}"


def test_the_dashboard_covers_what_operators_watch() -> None:
    exprs = " ".join(expr for _where, expr in dashboard_expressions())
    for metric in ["esb_messages_published_total", "esb_messages_consumed_total",
                   "esb_handler_duration_seconds_bucket", "esb_queue_depth",
                   "esb_journal_records_written_total", "esb_journal_records_dropped_total"]:
        assert metric in exprs, metric
    for quantile in ["0.5", "0.95", "0.99"]:
        assert f"histogram_quantile({quantile}," in exprs
    for outcome in ["retried", "dead_lettered"]:
        assert outcome in exprs


def test_the_reader_of_promql_is_not_fooled() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, subscription) '
            '(rate(esb_handler_duration_seconds_bucket{subscription=~"$subscription"}'
            '[$__rate_interval]))) / on (instance) group_left bogus_metric > 1e-9')
    assert metric_names(expr) == {"esb_handler_duration_seconds_bucket", "bogus_metric"}
    assert grouping_labels(expr) == {"le", "subscription", "instance"}
    assert selectors(expr) == [("esb_handler_duration_seconds_bucket", {"subscription": ".+"})]


# -- ESB_* variables ----------------------------------------------------------------------


def setting_exists(variable: str) -> bool:
    """``ESB_JOURNAL__BATCH_SIZE`` -> Settings.journal.batch_size (case-insensitive)."""
    parts = variable.removeprefix("ESB_").lower().split("__")
    model: type[BaseModel] = Settings
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation: Any = field.annotation
        last = index == len(parts) - 1
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif typing.get_origin(annotation) is dict:
            return index == len(parts) - 2  # a map: ESB_API__AUTH__USERS__<name>
        elif not last:
            return False
    return True


def process_variables() -> set[str]:
    """Variables the bus reads outside Settings, checked against the code that reads them."""
    found = set()
    if "ESB_SETTINGS_FILE" in inspect.getsource(bus.settings.load_settings):
        found.add("ESB_SETTINGS_FILE")
    if "ESB_SCHEMAS_DIR" in inspect.getsource(bus.schema.registry):
        found.add("ESB_SCHEMAS_DIR")
    return found


def adapter_packages() -> set[str]:
    return {p.parent.name for p in (ROOT / "adapters").glob("*/__init__.py")}


def adapter_setting_exists(variable: str) -> bool:
    """A field of an installed adapter's settings (``ESB_<NAME>__<FIELD>``)."""
    from bus.adapters import discover

    for loaded in discover():
        if loaded.adapter_class is None:
            continue
        settings = loaded.adapter_class.manifest.settings
        prefix = str(settings.model_config.get("env_prefix", "")).upper()
        if prefix and variable.startswith(prefix):
            return variable.removeprefix(prefix).lower() in settings.model_fields
    return False


def future_section_variables() -> set[str]:
    """ESB_* names in the README sections whose heading says "future"."""
    sections = re.split(r"^(#{1,6} .*)$", README.read_text(), flags=re.MULTILINE)
    found: set[str] = set()
    for heading, body in zip(sections[1::2], sections[2::2], strict=True):
        if "future" in heading.lower():
            found.update(ESB_VARIABLE.findall(body))
    return found


def mentions() -> list[tuple[str, str]]:
    found = []
    for path in TEXT_FILES:
        text = path.read_text(errors="replace")
        for variable in sorted(set(ESB_VARIABLE.findall(text))):
            found.append((str(path.relative_to(DEPLOY)), variable))
    return found


def test_deploy_names_esb_variables() -> None:
    variables = {variable for _where, variable in mentions()}
    assert {"ESB_BROKER_URL", "ESB_DATABASE_URL", "ESB_DELIVERY__QUORUM_QUEUES"} <= variables


@pytest.mark.parametrize(("where", "variable"), mentions())
def test_every_esb_variable_is_a_setting_or_documented_as_future(
    where: str, variable: str
) -> None:
    if setting_exists(variable) or variable in process_variables():
        return
    if adapter_setting_exists(variable):
        return
    adapter = variable.removeprefix("ESB_").split("__")[0].lower()
    assert adapter in adapter_packages(), (
        f"{where}: {variable} is not a field of bus.settings.Settings, nor a variable the bus"
        f" reads, nor an adapter's ({sorted(adapter_packages())})"
    )
    assert where == "README.md" and variable in future_section_variables(), (
        f"{where}: {variable} belongs to adapter {adapter}, which does not read it yet:"
        " list it only in a README section marked (future)"
    )


def test_the_variable_check_rejects_what_does_not_exist() -> None:
    assert setting_exists("ESB_JOURNAL__BATCH_SIZE")
    assert setting_exists("ESB_API__AUTH__USERS__ADMIN")
    assert not setting_exists("ESB_API__AUTH__USERS")
    assert not setting_exists("ESB_API__AUTH__USERS__ADMIN__ROLE")
    assert setting_exists("ESB_DELIVERY")
    assert not setting_exists("ESB_JOURNAL__BATCH")
    assert not setting_exists("ESB_BROKER_URL__HOST")
    assert not setting_exists("ESB_JOURNAL_HASH_SECRET")
    assert process_variables() == {"ESB_SETTINGS_FILE", "ESB_SCHEMAS_DIR"}


# -- RabbitMQ definitions and limits against the bus's own names ---------------------------


def test_quorum_policy_matches_subscription_queues_but_not_dead_letter_queues() -> None:
    definitions = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())
    vhosts = {vhost["name"] for vhost in definitions["vhosts"]}
    assert "esb" in vhosts
    policies = [p for p in definitions["policies"] if "delivery-limit" in p["definition"]]
    assert policies, "no policy sets delivery-limit"
    queue = f"{Settings().queue_prefix}.crm.call-log"
    for policy in policies:
        assert policy["vhost"] in vhosts
        assert policy["apply-to"] == "quorum_queues"
        pattern = re.compile(policy["pattern"])
        assert pattern.search(queue)
        assert pattern.search(retry_queue(queue, 5000))  # classic: apply-to keeps it out
        # The bus requeues dead letters while PostgreSQL is down: a limit would drop them.
        assert not pattern.search(dead_letter_queue(queue))


def test_broker_accepts_the_largest_message_the_bus_sends() -> None:
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text()
    match = re.search(r"^max_message_size\s*=\s*(\d+)\s*$", conf, flags=re.MULTILINE)
    assert match is not None
    largest = DeliverySettings.model_fields["max_message_bytes"].default
    assert int(match.group(1)) > largest
