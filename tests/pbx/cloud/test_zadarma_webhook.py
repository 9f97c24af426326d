"""Zadarma notifications in -> one canonical call on the bus, exactly once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from adapters.pbx.callstore import CALLS_REQUESTED, CallStore, calls_router
from adapters.pbx.cloud.webhooks import FORM
from adapters.pbx.events import CALL_ANSWERED, CALL_ENDED, CALL_RINGING
from tests.conftest import eventually
from tests.pbx.cloud.conftest import SECRET, URL, ZONE, SiteFactory

CALLER = "79123456789"
STARTED = datetime(2024, 3, 12, 9, 15, 7)  # Moscow time, as Zadarma sends it
STARTED_UTC = "2024-03-12T06:15:07.000000Z"


async def settled(seconds: float = 0.3) -> None:
    """Time for anything wrongly published to arrive (and fail the test)."""
    await asyncio.sleep(seconds)


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_zadarma_url_check_echoes_zd_echo(zadarma_site: SiteFactory) -> None:
    site = await zadarma_site()

    echoed = await site.client.get(URL, params={"zd_echo": "a1b2c3"})

    assert (echoed.status_code, echoed.text) == (200, "a1b2c3")
    assert echoed.headers["content-type"].startswith("text/plain")
    assert (await site.client.get(URL)).status_code == 422


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_full_zadarma_call_is_one_ringing_one_answered_one_ended_even_if_resent(
    zadarma_site: SiteFactory,
) -> None:
    site = await zadarma_site()
    forms = site.cloud.inbound("in_1001", CALLER, STARTED, rings=["101"], answered_by="101",
                               talk=42)

    first = await site.cloud.play(site.client, URL, forms)
    again = await site.cloud.play(site.client, URL, forms)  # Zadarma retries every one

    assert [r.status_code for r in first + again] == [200] * 8
    assert [r.headers["X-ESB-Published"] for r in first + again] == list("0111" "0000")
    await eventually(lambda: len(site.of(CALL_ENDED)) == 1)
    await settled()
    assert [e.type for e in site.events] == [CALL_RINGING, CALL_ANSWERED, CALL_ENDED]
    ringing, answered, ended = (e.payload for e in site.events)
    assert ringing == {"linkedid": "in_1001", "direction": "inbound", "caller_number": CALLER,
                       "customer_e164": "+79123456789", "called_number": site.cloud.did,
                       "queue": None,
                       "ring_targets": ["101"], "started_at": STARTED_UTC}
    assert answered["answered_by_extension"] == "101"
    assert (ended["disposition"], ended["talk_seconds"], ended["answered_by_extension"],
            ended["hangup_cause"], ended["started_at"]) == ("answered", 42, "101", 16,
                                                           STARTED_UTC)
    assert {(e.key, e.source) for e in site.events} == {("in_1001", "zadarma")}
    assert site.adapter.ingress.duplicates == 4


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_unsigned_forged_or_tampered_notifications_are_refused_and_publish_nothing(
    zadarma_site: SiteFactory,
) -> None:
    site = await zadarma_site()
    start = site.cloud.inbound("in_2001", CALLER, STARTED, rings=["101"],
                               answered_by=None)[1]  # NOTIFY_INTERNAL: would ring
    body, headers = site.cloud.signed(start)
    forged_body, forged_headers = site.cloud.signed(start, secret="guessed")
    tampered = body.replace(CALLER.encode(), b"79990000000")
    unsigned = {k: v for k, v in headers.items() if k != "Signature"}

    answers = [await site.client.post(URL, content=b, headers=h) for b, h in (
        (forged_body, forged_headers), (tampered, headers), (body, unsigned))]
    not_a_form = await site.client.post(URL, json=start, headers={"Signature": "x"})

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert not_a_form.status_code == 415
    accepted = await site.client.post(URL, content=body, headers=headers)
    assert accepted.status_code == 200
    await eventually(lambda: len(site.events) == 1)
    await settled()
    assert [e.type for e in site.events] == [CALL_RINGING]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_without_a_configured_secret_every_notification_is_refused(
    zadarma_site: SiteFactory,
) -> None:
    site = await zadarma_site(secret="")
    form = site.cloud.inbound("in_3001", CALLER, STARTED, rings=["101"], answered_by=None)[0]
    body, headers = site.cloud.signed(form, secret="")

    assert (await site.client.post(URL, content=body, headers=headers)).status_code == 401


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_ring_all_missed_and_an_outbound_call_map_like_asterisk_calls(
    zadarma_site: SiteFactory,
) -> None:
    site = await zadarma_site()
    missed = site.cloud.inbound("in_4001", CALLER, STARTED, rings=["101", "102"],
                                answered_by=None)
    busy = site.cloud.outbound("out_4002", "103", "89123456789", STARTED, answered=False)
    talked = site.cloud.outbound("out_4003", "103", "89123456789", STARTED, answered=True,
                                 talk=30)

    for forms in (missed, busy, talked):
        await site.cloud.play(site.client, URL, forms)

    await eventually(lambda: len(site.of(CALL_ENDED)) == 3)
    await settled()
    rings = [e.payload["ring_targets"] for e in site.of(CALL_RINGING)]
    ended = {e.payload["linkedid"]: e.payload for e in site.of(CALL_ENDED)}
    assert rings == [["101"], ["101", "102"]]
    assert site.of(CALL_ANSWERED) == []
    assert (ended["in_4001"]["disposition"], ended["in_4001"]["ring_targets"],
            ended["in_4001"]["answered_by_extension"]) == ("missed", ["101", "102"], None)
    assert (ended["out_4002"]["direction"], ended["out_4002"]["disposition"],
            ended["out_4002"]["hangup_cause"]) == ("outbound", "busy", 17)
    assert (ended["out_4003"]["caller_number"], ended["out_4003"]["called_number"],
            ended["out_4003"]["answered_by_extension"], ended["out_4003"]["talk_seconds"]
            ) == ("103", "89123456789", "103", 30)
    # the customer is the dialled number of an outbound call, the caller of an inbound one
    assert {linkedid: call["customer_e164"] for linkedid, call in ended.items()} == {
        "in_4001": "+79123456789", "out_4002": "+79123456789", "out_4003": "+79123456789"}


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_zadarma_call_lands_in_the_call_store_like_an_asterisk_call(
    zadarma_site: SiteFactory,
) -> None:
    site = await zadarma_site(calls_router)
    store = CallStore(site.bus.engine, timezone=ZONE)
    site.bus.provide(CallStore, store)

    await site.cloud.play(site.client, URL, site.cloud.inbound(
        "in_5001", CALLER, STARTED, rings=["101"], answered_by="101", talk=12))

    await eventually(lambda: store.count() == 1)
    reply = await site.bus.request(CALLS_REQUESTED, {"phone": "+" + CALLER}, timeout=5)
    [call] = reply.payload["calls"]
    assert (call["linkedid"], call["talk_seconds"]) == ("in_5001", 12)
    local = datetime.fromisoformat(call["started_at"].replace("Z", "+00:00"))
    assert local.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None) == STARTED
    assert reply.payload["error"] is None
    assert SECRET not in str(reply.payload)


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_call_states_older_than_the_retention_are_pruned_and_newer_ones_kept(
    zadarma_site: SiteFactory,
) -> None:
    site = await zadarma_site()
    now = [1_700_000_000.0]
    site.adapter.ingress.clock = lambda: now[0]
    old = site.cloud.inbound("in_6001", CALLER, STARTED, rings=["101"], answered_by=None)
    await site.cloud.play(site.client, URL, old)
    now[0] += 7200
    fresh = site.cloud.inbound("in_6002", CALLER, STARTED, rings=["101"], answered_by=None)
    await site.cloud.play(site.client, URL, fresh[:2])

    gone = site.adapter.ingress.prune(older_than=3600)
    kept = site.adapter.ingress.prune(older_than=3600)

    assert gone == 1 + len(old)  # the old call's state and each of its notifications
    assert kept == 0
    await eventually(lambda: len(site.of(CALL_RINGING)) == 2)
    answers = await site.cloud.play(site.client, URL, fresh[2:])
    assert [a.headers["X-ESB-Published"] for a in answers] == ["1"]  # state still there


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_other_events_are_ignored_and_malformed_or_huge_ones_refused(
    zadarma_site: SiteFactory,
) -> None:
    site = await zadarma_site()
    start = site.cloud.inbound("in_7001", CALLER, STARTED, rings=[], answered_by=None)[0]
    record = {"event": "NOTIFY_RECORD", "pbx_call_id": "in_7001", "call_id_with_rec": "1"}
    no_id = {k: v for k, v in start.items() if k != "pbx_call_id"}
    bad_time = {**start, "call_start": "yesterday"}
    huge = {**start, "caller_name": "x" * 20_000}

    signed = [site.cloud.signed(form) for form in (no_id, bad_time, huge)]
    unsigned = (urlencode(record).encode(), {"Content-Type": FORM})  # we cannot check it

    answers = [await site.client.post(URL, content=body, headers=headers)
               for body, headers in (unsigned, *signed)]

    assert [a.status_code for a in answers] == [200, 422, 422, 413]
    assert answers[0].headers["X-ESB-Published"] == "0"
    await settled()
    assert site.events == []
