"""schemathesis against the API's own OpenAPI document, with an admin key, on ``memory://``.

The API is served by uvicorn on loopback on the test's event loop (the bus lives there);
schemathesis generates requests for every operation from a worker thread and checks each
answer: no 5xx, and a body that matches the documented schema. Bounded: a few examples per
operation, derandomized, so that the run is repeatable and well under a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from bus.adapters import AdapterHost
from bus.api.app import create_app
from tests.api.auth_harness import auth_settings, components, key
from tests.api.auth_harness import served as served_on_loopback
from tests.conftest import BusFactory

EXAMPLES = 6
SKIPPED = {"GET /v1/screen-pop/stream"}
"""An event stream never ends; its authentication is tested in test_auth_credentials."""
REPORTED: dict[str, str] = {}
"""Failures in components' routes, reported to their owners; remove an entry once fixed."""


@pytest.fixture
async def served(make_bus: BusFactory) -> AsyncIterator[tuple[str, dict[str, object]]]:
    bus = await make_bus(source="fuzz", start=False)
    bus.settings.api.auth = auth_settings()
    host = AdapterHost(bus, components())
    host.build()
    await bus.start()
    await host.start()
    app = create_app(bus, host)
    async with served_on_loopback(app) as base_url:
        yield base_url, app.openapi()
    await host.stop()


def _fuzz(base_url: str, document: dict[str, object]) -> tuple[list[str], list[str]]:
    """(operations exercised, failures as 'METHOD /path: request -> what went wrong')."""
    schema = schemathesis.openapi.from_dict(document)
    exercised: list[str] = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the schema has an operation schemathesis cannot read: {result}")
            continue
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in SKIPPED:
            continue
        exercised.append(label)

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=base_url, headers=key("admin"), timeout=10)
            case.validate_response(response, checks=[not_a_server_error,
                                                      response_schema_conformance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as failure:  # schemathesis raises a group
            failures.append(f"{label}: {_summary(failure)}")
    return exercised, failures


def _summary(failure: BaseException) -> str:
    """The failure's titles and the request that reproduces it (a curl line)."""
    notes = getattr(failure, "__notes__", [])
    errors = failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,)
    lines = [line.strip() for text in (*map(str, errors), *notes) for line in text.splitlines()]
    return " | ".join(line for line in lines if line)[:1000]


@pytest.mark.slow
@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_no_operation_answers_5xx_or_breaks_its_schema(
    served: tuple[str, dict[str, object]],
) -> None:
    base_url, document = served
    exercised, failures = await asyncio.to_thread(_fuzz, base_url, document)
    assert "POST /v1/dlq/{record_id}/replay" in exercised
    assert "GET /v1/customers/{golden_id}/view" in exercised
    unexpected = [failure for failure in failures if failure.split(":")[0] not in REPORTED]
    assert not unexpected, "\n".join(unexpected)
