"""The audit log (who replayed, edited, failed to sign in), PII masked by role in dead
letters, and webhook ingress reachable with its own signatures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import orjson
import pytest

from adapters.crm.simulator import CrmSimulator
from adapters.pbx.cloud.signature import sign
from bus.adapters import discover
from bus.envelope import Envelope
from bus.errors import SchemaViolation
from bus.router import Router
from tests.api.auth_harness import Secured, auth_settings, components, key, secured_api
from tests.conftest import BusFactory, eventually

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

THING = "test.thing.happened.v1"
INN, PASSPORT = "7701234567", "4509 123456"
ZADARMA_SECRET = "zadarma-secret-for-tests"
FORM = {"content-type": "application/x-www-form-urlencoded"}
CRM_SECRET = "crm-webhook-secret-for-tests"
CRM_HOOK = "/v1/adapters/crm/webhooks/customer"


@pytest.fixture
async def api(make_bus: BusFactory, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Secured]:
    monkeypatch.setenv("ESB_ZADARMA__ENABLED", "true")
    monkeypatch.setenv("ESB_ZADARMA__API_SECRET", ZADARMA_SECRET)
    router = Router()

    @router.subscriber("strict", THING)
    async def strict(envelope: Envelope) -> None:
        if envelope.payload.get("n") != "fixed":
            raise SchemaViolation("payload.n: must be fixed", field="payload.n")

    bus = await make_bus(router, source="audit", start=False)
    async for secured in secured_api(bus, components(), auth_settings()):
        yield secured


async def _dead_letter(api: Secured) -> int:
    message = Envelope(type=THING, source="test", payload={
        "n": "broken", "customer": {"inn": INN, "passport": PASSPORT}})
    await api.bus.publish(message)
    await eventually(lambda: api.bus.dead_letters.count() == 1)
    [record] = api.bus.dead_letters.list()
    return record.id


async def test_a_replay_is_audited_and_recorded_as_by_the_signed_in_user(api: Secured) -> None:
    record_id = await _dead_letter(api)
    integrator = await api.bearer("ivan")

    replayed = await api.client.post(f"/v1/dlq/{record_id}/replay",
                                     json={"by": "somebody else"}, headers=integrator)
    audit = await api.client.get("/v1/audit", headers=key("admin"))

    assert replayed.status_code == 202, replayed.text
    [row] = [row for row in audit.json()["entries"] if row["action"] == "dlq.replay"]
    assert (row["actor"], row["role"], row["kind"]) == ("ivan", "integrator", "user")
    assert (row["target"], row["status"], row["client"]) == (str(record_id), 202, "192.0.2.7")
    record = api.bus.dead_letters.get(record_id)
    assert record is not None and record.replayed_by == "ivan"


async def test_an_edit_and_replay_and_a_refused_attempt_are_audited(api: Secured) -> None:
    record_id = await _dead_letter(api)
    original = orjson.loads((await api.client.get(f"/v1/dlq/{record_id}",
                                                  headers=key("integrator"))).json()["body"])
    edited = {**original, "payload": {"n": "fixed"}}

    refused = await api.client.post(f"/v1/dlq/{record_id}/replay", json={"envelope": edited},
                                    headers=key("monitoring"))
    done = await api.client.post(f"/v1/dlq/{record_id}/replay", json={"envelope": edited},
                                 headers=key("integrator"))
    rows = (await api.client.get("/v1/audit?action=dlq.", headers=key("admin"))).json()["entries"]
    attempts = (await api.client.get("/v1/audit?actor=monitoring-system",
                                     headers=key("admin"))).json()["entries"]

    assert (refused.status_code, done.status_code) == (403, 202)
    assert [(row["action"], row["actor"]) for row in rows] == [
        ("dlq.edit_and_replay", "integrator-system")]
    assert [(row["action"], row["status"]) for row in attempts] == [
        (f"POST /v1/dlq/{record_id}/replay", 403)]  # refused before routing: the plain path


async def test_failed_logins_are_audited_and_only_admins_read_the_audit(api: Secured) -> None:
    await api.client.post("/v1/auth/login", json={"username": "olga", "password": "guess"})
    as_integrator = await api.client.get("/v1/audit", headers=key("integrator"))
    rows = (await api.client.get("/v1/audit?action=auth.",
                                 headers=key("admin"))).json()["entries"]
    assert as_integrator.status_code == 403
    assert [(row["action"], row["actor"], row["status"]) for row in rows] == [
        ("auth.login_failed", "olga", 401)]


async def test_a_dead_letter_body_shows_passport_and_inn_masked_to_an_operator(
    api: Secured,
) -> None:
    record_id = await _dead_letter(api)
    for role in ("operator", "monitoring"):
        shown = (await api.client.get(f"/v1/dlq/{record_id}", headers=key(role))).json()
        customer = orjson.loads(shown["body"])["payload"]["customer"]
        assert customer == {"inn": "77******67", "passport": "45** ****56"}, role
        assert INN not in shown["body"]
    full = (await api.client.get(f"/v1/dlq/{record_id}", headers=key("integrator"))).json()
    assert orjson.loads(full["body"])["payload"]["customer"] == {"inn": INN, "passport": PASSPORT}


async def test_webhook_ingress_is_reached_without_credentials_and_checks_its_signature(
    api: Secured,
) -> None:
    form = {"event": "NOTIFY_START", "call_start": "2026-11-26 10:00:00",
            "pbx_call_id": "in_1", "caller_id": "+79161234567", "called_did": "74951234567"}
    body = urlencode(form).encode()

    echo = await api.client.get("/v1/adapters/zadarma/webhook?zd_echo=ping")
    unsigned = await api.client.post("/v1/adapters/zadarma/webhook", content=body, headers=FORM)
    signed = await api.client.post("/v1/adapters/zadarma/webhook", content=body,
                                   headers={**FORM, "Signature": sign(ZADARMA_SECRET, form)})

    assert (echo.status_code, echo.text) == (200, "ping")
    assert unsigned.status_code == 401
    assert unsigned.json()["detail"] == "the signature does not match"  # its own check
    assert signed.status_code == 200, signed.text


async def test_crm_webhooks_are_reached_without_credentials_and_check_their_signature(
    make_bus: BusFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with CrmSimulator() as crm:
        monkeypatch.setenv("ESB_CRM__URL", crm.url)
        monkeypatch.setenv("ESB_CRM__TOKEN", crm.token)
        monkeypatch.setenv("ESB_CRM__WEBHOOK_SECRET", CRM_SECRET)
        bus = await make_bus(source="crm", start=False)
        [loaded] = [found for found in discover() if found.name == "crm"]
        async for api in secured_api(bus, [loaded], auth_settings()):
            body, headers = crm.customer_webhook(CRM_SECRET, "C-1001", changed_fields=["phones"])
            signed = await api.client.post(CRM_HOOK, content=body, headers=headers)
            replayed = await api.client.post(CRM_HOOK, content=body, headers=headers)
            tampered = await api.client.post(CRM_HOOK, content=body.replace(b"C-1001", b"C-1002"),
                                             headers=headers)
            click = await api.client.post("/v1/adapters/crm/click-to-call", json={})

    assert signed.status_code == 202, signed.text
    assert replayed.status_code == tampered.status_code == 401  # refused by the CRM's verifier
    assert "authentication required" not in replayed.text + tampered.text
    assert click.status_code == 401  # the unsigned click-to-call needs a caller


async def test_a_conflict_resolution_is_audited_with_the_route_and_its_target(
    api: Secured,
) -> None:
    response = await api.client.post("/v1/sync/conflicts/4242/resolve",
                                     json={"action": "merge"}, headers=key("integrator"))
    [row] = (await api.client.get("/v1/audit?action=POST /v1/sync",
                                  headers=key("admin"))).json()["entries"]
    assert (row["action"], row["target"]) == ("POST /v1/sync/conflicts/{conflict_id}/resolve",
                                              "conflict_id=4242")
    assert (row["actor"], row["status"]) == ("integrator-system", response.status_code)
