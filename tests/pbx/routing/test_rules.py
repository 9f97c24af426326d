"""Every routing rule on real directory and presence state, decided from local data only."""

from __future__ import annotations

import datetime as dt

from adapters.pbx.routing.directory import manager_ref
from tests.pbx.routing.conftest import (
    KNOWN_CALLER,
    VIP_CALLER,
    WEDNESDAY_MORNING,
    World,
    customer,
    manager,
    presence,
)


def test_known_customer_goes_to_their_free_responsible_manager() -> None:
    world = World()
    world.add_customer(customer("C-1", KNOWN_CALLER, manager_id="boris"))

    decision = world.decide("89161234567")

    assert (decision.rule, decision.targets) == ("owner", ("2002",))
    assert (decision.customer_id, decision.manager_id) == ("C-1", "boris")
    assert "responsible manager" in decision.reason and "free" in decision.reason


def test_busy_owner_sends_the_call_to_their_group_and_back_when_free() -> None:
    world = World()
    world.add_customer(customer("C-1", KNOWN_CALLER, manager_id="boris"))
    world.presence.apply(presence("2002", "in_call"))

    busy = world.decide(KNOWN_CALLER)
    world.presence.apply(presence("2002", "idle"))
    free = world.decide(KNOWN_CALLER)

    assert (busy.rule, busy.queue, busy.targets) == ("group", "sales", ())
    assert "in_call" in busy.reason
    assert (free.rule, free.targets) == ("owner", ("2002",))


def test_offline_owner_without_a_group_falls_back_to_the_default_queue() -> None:
    world = World(default_queue="main")
    world.directory.put_manager(manager_ref(manager("solo", "2009")["manager"]))
    world.add_customer(customer("C-2", KNOWN_CALLER, manager_id="solo"))
    world.presence.apply(presence("2009", "offline"))

    decision = world.decide(KNOWN_CALLER)

    assert (decision.rule, decision.queue, decision.manager_id) == ("default", "main", "solo")
    assert "offline" in decision.reason


def test_paused_owner_and_manual_away_status_both_make_the_owner_not_free() -> None:
    world = World(group_fallback=False)
    world.add_customer(customer("C-1", KNOWN_CALLER, manager_id="anna"))
    world.presence.apply(presence("2001", "paused", queue="sales"))
    paused = world.decide(KNOWN_CALLER)
    world.presence.apply(presence("2001", "unpaused", queue="sales"))
    world.presence.set_manual("2001", "away", "lunch")
    away = world.decide(KNOWN_CALLER)
    world.presence.set_manual("2001", None)
    back = world.decide(KNOWN_CALLER)

    assert paused.rule == "default" and "paused in sales" in paused.reason
    assert away.rule == "default" and "away by hand (lunch)" in away.reason
    assert back.targets == ("2001",)


def test_vip_customer_goes_to_the_head_of_sales_or_their_manager_when_head_is_busy() -> None:
    world = World(head_of_sales="2100")
    world.add_customer(customer("C-9", VIP_CALLER, manager_id="anna", segment="vip"))

    vip = world.decide(VIP_CALLER)
    world.presence.apply(presence("2100", "busy"))
    head_busy = world.decide(VIP_CALLER)

    assert (vip.rule, vip.targets, vip.customer_id) == ("vip", ("2100",), "C-9")
    assert (head_busy.rule, head_busy.targets) == ("owner", ("2001",))
    assert "head of sales 2100 device busy" in head_busy.reason


def test_outside_working_hours_calls_go_to_voicemail() -> None:
    world = World(calendar={"timezone": "Europe/Moscow"}, voicemail="vm-office")
    world.add_customer(customer("C-1", KNOWN_CALLER, manager_id="anna"))
    evening = dt.datetime(2026, 11, 25, 16, 30, tzinfo=dt.UTC)  # 19:30 in Moscow
    saturday = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)

    late = world.decide(KNOWN_CALLER, at=evening)
    weekend = world.decide(KNOWN_CALLER, at=saturday)
    morning = world.decide(KNOWN_CALLER, at=WEDNESDAY_MORNING)

    assert (late.rule, late.voicemail, late.kind) == ("after_hours", "vm-office", "voicemail")
    assert "outside 09:00-18:00" in late.reason
    assert weekend.rule == "after_hours" and "closed on sat" in weekend.reason
    assert morning.rule == "owner"


def test_holidays_close_and_moved_workdays_open_in_the_calendars_timezone() -> None:
    world = World(calendar={"timezone": "Asia/Yekaterinburg",
                            "hours": {"mon": ["08:00-17:00"], "wed": ["08:00-17:00"]},
                            "holidays": ["2026-11-04"], "workdays": ["2026-11-28"]})
    holiday = world.decide(KNOWN_CALLER, at=dt.datetime(2026, 11, 4, 6, 0, tzinfo=dt.UTC))
    saturday_worked = world.decide(KNOWN_CALLER,
                                   at=dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC))
    # 02:30 UTC is 07:30 in Yekaterinburg: before opening, although 05:30 in Moscow
    too_early = world.decide(KNOWN_CALLER, at=dt.datetime(2026, 11, 25, 2, 30, tzinfo=dt.UTC))

    assert holiday.rule == "after_hours" and "holiday" in holiday.reason
    assert saturday_worked.rule == "default"  # open: an unknown caller, default strategy
    assert too_early.rule == "after_hours" and "Asia/Yekaterinburg" in too_early.reason


def test_unknown_caller_goes_to_a_random_free_manager_never_a_busy_one() -> None:
    world = World(unknown_strategy="random_free", pool_queue="sales")
    world.presence.apply(presence("2001", "in_call"))
    world.presence.apply(presence("2100", "offline"))

    chosen = {world.decide("+79990001122", linkedid=f"1.{n}").targets for n in range(20)}
    for extension in ("2001", "2002", "2100"):
        world.presence.apply(presence(extension, "busy"))
    nobody = world.decide("+79990001122")

    assert chosen == {("2002",)}
    assert (nobody.rule, nobody.queue) == ("default", "support")
    assert "no manager is free" in nobody.reason


def test_unknown_caller_goes_to_the_secretary() -> None:
    decision = World(unknown_strategy="secretary", secretary="2500").decide("+79990001122")

    assert (decision.rule, decision.targets) == ("secretary", ("2500",))


def test_unknown_caller_rings_every_free_manager_of_the_department() -> None:
    world = World(unknown_strategy="ring_all", ring_all_queue="sales")
    world.presence.apply(presence("2002", "ringing"))

    decision = world.decide("+79990001122")
    for extension in ("2001", "2100"):
        world.presence.apply(presence(extension, "in_call"))
    queued = world.decide("+79990001122")

    assert (decision.rule, decision.targets) == ("ring_all", ("2001", "2100"))
    assert decision.to_payload()["target_extension"] == "2001"
    assert decision.dial("PJSIP/{extension}") == "PJSIP/2001&PJSIP/2100"
    assert (queued.rule, queued.queue) == ("queue", "sales")


def test_unknown_landline_caller_goes_to_the_branch_of_its_area_code() -> None:
    world = World(unknown_strategy="region", branches={"Свердловская": "7002", "Моск": "7001"})

    yekaterinburg = world.decide("+73432123456")
    moscow = world.decide("84951112233")

    assert (yekaterinburg.rule, yekaterinburg.targets) == ("region", ("7002",))
    assert "area code" in yekaterinburg.reason and yekaterinburg.region
    assert moscow.targets == ("7001",)


def test_unknown_mobile_caller_goes_to_the_branch_of_its_numbering_plan_range() -> None:
    from adapters.pbx.routing.numbering import NumberingPlan

    world = World(unknown_strategy="region", branches={"Свердловская": "7002",
                                                       "Иркутская": "7003"})
    world.engine.plan = NumberingPlan.load(world.settings.numbering_plan)

    ural = world.decide("+79122345678")        # 912 2xx: Свердловская область
    irkutsk = world.decide("+79501234567")     # 950 0500000-1499999: Иркутская область
    elsewhere = world.decide("+79161234567")   # Moscow: no branch configured

    assert (ural.rule, ural.targets, ural.region) == ("region", ("7002",),
                                                      "Свердловская область")
    assert "numbering plan" in ural.reason
    assert irkutsk.targets == ("7003",)
    assert elsewhere.rule == "default" and "no branch" in elsewhere.reason


def test_hidden_caller_number_cannot_be_auto_assigned_and_goes_to_default() -> None:
    decision = World(unknown_strategy="auto_assign").decide(None)

    assert decision.rule == "default" and "hidden" in decision.reason
    assert decision.assignment is None


def test_a_number_that_moves_to_another_customer_follows_the_new_owner() -> None:
    world = World()
    world.add_customer(customer("C-1", KNOWN_CALLER, manager_id="anna"))
    world.add_customer(customer("C-2", KNOWN_CALLER, manager_id="vera"))
    world.add_customer(customer("C-1", "+79990009999", manager_id="anna"))  # C-1 changed phone

    decision = world.decide(KNOWN_CALLER)

    assert (decision.customer_id, decision.targets) == ("C-2", ("2003",))
    assert world.directory.customers["+79990009999"].customer_id == "C-1"


def test_a_presence_change_arriving_late_does_not_undo_a_newer_one() -> None:
    world = World()
    world.add_customer(customer("C-1", KNOWN_CALLER, manager_id="anna"))
    busy = {**presence("2001", "in_call"), "at": "2026-11-25T07:00:01.000000Z"}
    idle = {**presence("2001", "idle"), "at": "2026-11-25T07:00:02.000000Z"}
    world.presence.apply(busy)
    world.presence.apply(idle)
    world.presence.apply(busy)  # the same change again, later (over the bus)

    assert world.decide(KNOWN_CALLER).targets == ("2001",)
