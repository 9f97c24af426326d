"""The AMI client against a loopback server: logins, actions, keep-alive, reconnects."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.ami.actions import ActionFailed, AmiConnectionLost
from adapters.pbx.ami.client import AmiClient
from adapters.pbx.ami.protocol import AmiMessage
from tests.conftest import BusFactory, eventually
from tests.pbx.ami_server import FakeAmi, Session, block
from tests.pbx.conftest import ami_settings

NEWCHANNEL = block(("Event", "Newchannel"), ("Timestamp", "1710224107.000715"),
                   ("Channel", "PJSIP/2001-00000001"), ("Uniqueid", "1.1"), ("Linkedid", "1.1"))


class Inbox:
    def __init__(self) -> None:
        self.events: list[AmiMessage] = []
        self.logins: list[bool] = []

    async def on_events(self, events: list[AmiMessage]) -> None:
        self.events += events

    async def on_login(self, reconnected: bool) -> None:
        self.logins.append(reconnected)


async def test_md5_challenge_login_then_events_flow() -> None:
    inbox = Inbox()
    async with FakeAmi([Session(rest=NEWCHANNEL, hold_until="Login")], secret="s3cret") as pbx:
        client = AmiClient(ami_settings(pbx.port, auth="md5", ami_secret="s3cret"),
                           on_events=inbox.on_events, on_login=inbox.on_login)
        await client.start()
        try:
            await client.wait_connected(5)
            await eventually(lambda: len(inbox.events) == 1)
        finally:
            await client.stop()
    [(_, challenge)] = pbx.actions_named("Challenge")
    [(_, login)] = pbx.actions_named("Login")
    assert challenge.get("AuthType") == "MD5"
    assert login.action_id == "login-1" and login.get("Secret") is None
    assert login.get("Key") and login.get("AuthType") == "MD5"
    assert inbox.events[0].name == "Newchannel"
    assert inbox.logins == [False]
    assert client.banner == "Asterisk Call Manager/7.0.3"


async def test_a_refused_login_is_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox()
    async with FakeAmi([], secret="right") as pbx:
        client = AmiClient(ami_settings(pbx.port, ami_secret="wrong"),
                           on_events=inbox.on_events)
        with caplog.at_level(logging.WARNING):
            await client.start()
            try:
                await eventually(lambda: pbx.connections >= 3, timeout=5)
            finally:
                await client.stop()
    assert not client.connected.is_set()
    assert "refused" in (client.last_error or "")
    assert "AmiAuthFailed" in caplog.text


async def test_actions_are_matched_to_their_replies_by_action_id() -> None:
    inbox = Inbox()
    channel = [("Channel", "PJSIP/2001-00000001"), ("Uniqueid", "1.1"), ("Linkedid", "1.1")]
    async with FakeAmi([Session(channels=[channel, channel])]) as pbx:
        client = AmiClient(ami_settings(pbx.port), on_events=inbox.on_events)
        await client.start()
        try:
            await client.wait_connected(5)
            reply = await client.originate("PJSIP/2003", exten="89123456789",
                                           context="from-internal", caller_id="Click-to-Call",
                                           variables=["A=1", "B=2"])
            listed, second = await asyncio.gather(client.core_show_channels(),
                                                  client.send_action("Ping"))
        finally:
            await client.stop()
    assert (reply.name, reply.action_id) == ("Success", "originate-1")
    [(_, originate)] = pbx.actions_named("Originate")
    assert originate.get_all("Variable") == ["A=1", "B=2"]
    assert originate.get("Async") == "true"
    assert [item.get("Uniqueid") for item in listed] == ["1.1", "1.1"]
    assert second.get("Ping") == "Pong"
    assert inbox.events == []  # list items are not live events


async def test_an_error_reply_raises_and_no_connection_means_no_action() -> None:
    async with FakeAmi([Session()], secret=None) as pbx:
        client = AmiClient(ami_settings(pbx.port), on_events=Inbox().on_events)
        with pytest.raises(AmiConnectionLost):
            await client.send_action("Ping")
        await client.start()
        try:
            await client.wait_connected(5)
            with pytest.raises(ActionFailed, match="Authentication failed"):
                await client.send_action("Login", {"Username": "nobody"})
        finally:
            await client.stop()


async def test_a_pbx_that_stops_answering_pings_is_reconnected() -> None:
    inbox = Inbox()
    async with FakeAmi([Session(answer_pings=False), Session()]) as pbx:
        client = AmiClient(ami_settings(pbx.port, ping_interval=0.1, ping_timeout=0.2),
                           on_events=inbox.on_events, on_login=inbox.on_login)
        await client.start()
        try:
            await eventually(lambda: inbox.logins == [False, True], timeout=5)
        finally:
            await client.stop()
    assert pbx.connections == 2
    assert client.sessions == 2


async def test_event_filters_are_sent_after_login() -> None:
    async with FakeAmi([Session()]) as pbx:
        client = AmiClient(ami_settings(pbx.port, event_filters=("Event: Dial*", "!Event: VarSet"),
                                        events="call,agent"), on_events=Inbox().on_events)
        await client.start()
        try:
            await eventually(lambda: len(pbx.actions_named("Filter")) == 2)
        finally:
            await client.stop()
    [(_, login)] = pbx.actions_named("Login")
    assert login.get("Events") == "call,agent"
    assert [a.get("Filter") for _, a in pbx.actions_named("Filter")] == [
        "Event: Dial*", "!Event: VarSet"]


async def test_a_handler_that_fails_does_not_cost_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def broken(events: list[AmiMessage]) -> None:
        calls.append(len(events))
        raise RuntimeError("bug")

    async with FakeAmi([Session(after_login=block(("Response", "Success"),
                                                  ("ActionID", "login-1")) + NEWCHANNEL)]) as pbx:
        client = AmiClient(ami_settings(pbx.port), on_events=broken)
        with caplog.at_level(logging.ERROR):
            await client.start()
            try:
                await eventually(lambda: calls == [1])
                reply = await client.send_action("Ping")
            finally:
                await client.stop()
    assert reply.get("Ping") == "Pong"
    assert pbx.connections == 1
    assert "handling 1 AMI events failed" in caplog.text


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_adapter_health_and_check_report_the_pbx(make_bus: BusFactory) -> None:
    channel = [("Channel", "PJSIP/2001-00000001"), ("Uniqueid", "1.1"), ("Linkedid", "1.1")]
    async with FakeAmi([Session(channels=[channel]), Session()]) as pbx:
        settings = ami_settings(pbx.port)
        checker = PbxAdapter(settings, bus=None)  # `esb adapters check` builds it without a bus
        assert await checker.check() == "Asterisk Call Manager/7.0.3: 1 channel(s) up"
        adapter = PbxAdapter(settings, bus=await make_bus(start=False))
        assert not (await adapter.health()).ok
        await adapter.start()
        try:
            await adapter.client.wait_connected(5)
            health = await adapter.health()
        finally:
            await adapter.stop()
    assert health.ok and "Asterisk Call Manager/7.0.3" in health.detail
    assert health.checks["calls_in_flight"] == 0
