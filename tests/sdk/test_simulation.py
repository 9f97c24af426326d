"""Switchable faults of a simulator: which calls misbehave, how often, and back to normal."""

from __future__ import annotations

from bus.adapters.simulation import Fault, FaultSwitches, operations


def test_a_fault_limited_to_some_operations_leaves_the_others_alone() -> None:
    switches = FaultSwitches()
    switches.add(Fault("fail", operations("getAccounts", "getVgroups"), status=500))

    assert switches.active("fail", "Login") is None
    broken = switches.active("fail", "getVgroups")
    assert broken is not None and broken.status == 500


def test_a_fault_for_n_times_after_m_good_calls_spends_itself() -> None:
    switches = FaultSwitches()
    switches.add(Fault("drop", times=2, after=1))

    answers = [switches.active("drop", "query") is not None for _ in range(5)]

    assert answers == [False, True, True, False, False]


def test_a_fault_of_another_kind_is_not_spent_by_asking_for_this_kind() -> None:
    switches = FaultSwitches()
    switches.add(Fault("slow", times=1, seconds=0.5))

    assert switches.active("fail") is None
    slow = switches.active("slow")
    assert slow is not None and slow.seconds == 0.5


def test_clearing_is_back_to_normal_service() -> None:
    switches = FaultSwitches()
    switches.add(Fault("fail"))
    switches.clear()

    assert switches.active("fail", "query") is None


def test_no_operation_named_means_every_operation() -> None:
    assert operations() is None
    assert operations(None) is None
    assert operations("query") == frozenset({"query"})
