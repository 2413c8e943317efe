"""Reasons in words: free is never shown below 0, and what is missing is said instead."""
from ovirt_scheduler_proxy_plugins import decide, render

from tests.builders import host, need


def words(h, demand=2):
    return render.reason_words(decide.fits(need(demand), h, True), h)


def test_a_full_host_with_a_reserve_is_0_free_and_1_short_never_9_of_8_used():
    full = host(vfs=8, used=8, users=4, reserve=1)
    assert words(full) == "needs 2, 0 free: 8 of 8 used by 4 VMs, 1 short of the reserve"
    assert render.arithmetic(full) == ("8 cap - 8 used (4 VMs) - 0 pending - 1 reserve = 0 free "
                                       "(1 short of the reserve) [engine: test]")
    assert render.free_shown(full) == 0


def test_vms_holding_more_than_the_host_has_are_over_capacity():
    over = host(vfs=8, used=8, users=5, pending=1, reserve=2)
    assert words(over) == ("needs 2, 0 free: 5 VMs hold 9 VFs (incl. 1 pending) of 8: 1 over capacity, "
                           "none of the reserve of 2 left")


def test_enough_and_too_few_free_keep_their_usual_words():
    assert words(host(vfs=8, used=6, users=3, reserve=1)) == "needs 2, 1 free: 7 of 8 used by 3 VMs (incl. 1 reserved)"
    assert render.shortfall(host(vfs=8, used=7, reserve=1)) == "" and render.free_shown(host(vfs=None)) is None


def test_ties_are_called_ties():
    assert render.ranking([("b", 5), ("a", 5), ("c", 9)], "%s best at %d") == (
        "VfWeight scores a and b equally (weight 5, a 2-way tie): the engine's other weights decide among them")
    assert render.ranking([("c", 0), ("b", 0), ("a", 0)], "%s best at %d") == (
        "VfWeight scores a, b and c equally (weight 0, a 3-way tie): the engine's other weights decide among them")
    assert render.ranking([("b", 5), ("a", 6)], "%s best at %d") == "b best at 5"


def test_a_decision_line_details_at_most_line_hosts_kept_ones_first_and_counts_them_all():
    """30 hosts, the VM needs 2: h0..h9 have 8 free (kept), h10..h29 none. The line names the 10
    kept and 14 dropped hosts (24 in all) and says how many more there are; the summary counts 30."""
    from ovirt_scheduler_proxy_plugins.model import Snapshot, Vm
    hosts = {"h%d" % i: host("h%d" % i, vfs=8, used=0 if i < 10 else 8) for i in range(30)}
    order = ["h%d" % i for i in range(29, -1, -1)]                 # the engine's order: dropped first
    snap = Snapshot(vm=Vm("vm", "web", need(2), None, "down"), hosts=hosts)
    line = render.filter_line(snap, decide.filter_hosts(need(2), order, hosts, True))
    assert line.startswith("10 of 30 hosts can run web (20 too few free VFs) | h9 keep: ")
    assert line.count(" keep: ") == 10 and line.count(" DROP: ") == 14
    assert line.endswith("; ... 6 more hosts (ovirt-vf-scheduler explain shows every one)")
    weights = render.weight_line(snap, decide.score_hosts("spread", need(2), order, hosts))
    assert weights.count(" free [") == 24 and weights.startswith("h9=992 ")   # best first: 8 - 2 = 6 left
