"""`ovirt-vf-scheduler capacity`: the first-fit decreasing planner on its own (no servers)."""
from ovirt_scheduler_proxy_plugins.tools import capacity_report
from ovirt_scheduler_proxy_plugins.tools.cluster_read import HostsVfs, VfVm
from ovirt_scheduler_proxy_plugins.tools.evacuate import Mover, Target, first_fit_decreasing

from tests.builders import host


def movers(*demands):
    return [Mover("id-%d" % i, "vm%d" % i, d) for i, d in enumerate(demands)]


def test_decreasing_order_places_what_plain_first_fit_would_not():
    """Needs 2, 2, 3 into free 3 and 4: in the given order 2->h3, 2->h4, then 3 finds no room;
    largest first: 3->h3, 2->h4, 2->h4."""
    plan = first_fit_decreasing(movers(2, 2, 3), [Target("h3", "h3", 3), Target("h4", "h4", 4)])
    assert plan.feasible
    assert [(p.vm.demand, p.target.name) for p in plan.placements] == [(3, "h3"), (2, "h4"), (2, "h4")]
    assert plan.free_after == {"h3": 0, "h4": 0}


def test_vms_without_room_are_listed_and_nothing_is_over_committed():
    plan = first_fit_decreasing(movers(4, 1, 3), [Target("a", "a", 3), Target("b", "b", -2)])
    assert [m.name for m in plan.unplaced] == ["vm0", "vm1"]      # 4 fits nowhere; after 3->a, 1 neither
    assert not plan.feasible and plan.free_after == {"a": 0, "b": -2}


def test_ties_are_placed_by_name_whatever_the_input_order():
    one = first_fit_decreasing([Mover("2", "b", 2), Mover("1", "a", 2)], [Target("t", "t", 2)])
    assert [(p.vm.name, p.target is not None) for p in one.placements] == [("a", True), ("b", False)]


def test_hosts_of_unknown_capacity_are_never_counted_as_room():
    data = HostsVfs(hosts={h.host_id: h for h in (host("leaving", 8, used=4), host("known", 4, used=2),
                                                   host("unknown", None))},
                    vms=[VfVm("v1", "v1", "leaving", "up", 2), VfVm("v2", "v2", "leaving", "up", 2),
                         VfVm("v3", "v3", "known", "up", 2)], source_summary="")
    plan = capacity_report.evacuation("leaving", "leaving", data)
    assert plan["unknown_capacity_hosts"] == ["unknown"] and plan["free_elsewhere"] == 2
    assert [(m["vm"], m["to"]) for m in plan["moves"]] == [("v1", "known"), ("v2", None)]
    assert plan["unplaced"] == [{"vm": "v2", "vm_id": "v2", "demand": 2}] and not plan["feasible"]
