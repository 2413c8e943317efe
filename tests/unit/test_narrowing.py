"""The narrowing rule (narrowing.py) with hand-made hosts: each case states its arithmetic.

free = capacity - used - pending (every claim that may land there) - reserve; a host "stays
roomy" when free - demand >= margin (the largest demand around)."""
from ovirt_scheduler_proxy_plugins import claims, decide, narrowing
from ovirt_scheduler_proxy_plugins.model import Demand, Reason

from tests.builders import host


def decide_for(demand, hosts, margin=2, cap=32, mode="spread"):
    by_id = {h.host_id: h for h in hosts}
    verdicts = narrowing.filter_decision(Demand(demand), [h.host_id for h in hosts], by_id, True, mode, margin, cap)
    return {v.host_id: v.reason for v in verdicts}, [v.host_id for v in verdicts if v.keep]


def test_no_burst_in_progress_keeps_every_host_that_fits():
    # no uncertain claim anywhere: a: 6 free, b: 4, c: 2 (left with 0 < margin 2): a and b stay
    # roomy, so there is room: all three kept
    reasons, kept = decide_for(2, [host("a", 8, used=2), host("b", 8, used=4), host("c", 8, used=6)])
    assert kept == ["a", "b", "c"] and set(reasons.values()) == {Reason.FITS}


def test_scarce_vfs_keep_one_host_even_outside_a_burst():
    # a: 4 free (2 left), b: 2 free (0 left): only a stays roomy -> one host, the best by spread
    reasons, kept = decide_for(2, [host("a", 8, used=4), host("b", 8, used=6)])
    assert kept == ["a"] and reasons["b"] is Reason.HELD_BACK_SCARCE


def test_in_a_burst_only_hosts_that_stay_roomy_are_kept():
    # a: 8-2 = 6 free (4 left after), b: 8-4 = 4 (2 left), c: 8-6 = 2 (0 left), d: uncertain 1 -> 8-3-1 = 4
    hosts = [host("a", 8, used=2), host("b", 8, used=4), host("c", 8, used=6),
             host("d", 8, used=3, pending=1, uncertain=1)]
    reasons, kept = decide_for(2, hosts)
    assert kept == ["a", "b", "d"]
    assert reasons["c"] is Reason.HELD_BACK_SCARCE


def test_when_too_few_stay_roomy_one_host_is_kept_preferably_one_counted_exactly():
    # a: 3 free, 1 of its pending uncertain; b: 3 free, nothing uncertain; c: 2 free. demand 2,
    # margin 2: nobody keeps 2 after placement -> one host, and b's count is exact
    hosts = [host("a", 8, used=4, pending=1, uncertain=1), host("b", 8, used=5), host("c", 8, used=6)]
    reasons, kept = decide_for(2, hosts)
    assert kept == ["b"]
    assert reasons["a"] is reasons["c"] is Reason.HELD_BACK_SCARCE
    # with no exact host, the best by weight mode: spread prefers a (3 free) over c (2 free)
    hosts = [host("a", 8, used=4, pending=1, uncertain=1), host("c", 8, used=5, pending=1, uncertain=1)]
    assert decide_for(2, hosts)[1] == ["a"]


def test_a_claim_spans_at_most_cap_hosts_the_best_by_weight_mode():
    # 6 roomy hosts with 9, 9, 8, 7, 6, 5 free (h0: 16-6-1 pending): cap 3 keeps the 3 with most (spread)
    hosts = [host("h%d" % i, 16, used=6 + i, pending=int(i == 0), uncertain=int(i == 0)) for i in range(6)]
    reasons, kept = decide_for(1, hosts, margin=1, cap=3)
    assert kept == ["h0", "h1", "h2"]
    assert [reasons["h%d" % i] for i in (3, 4, 5)] == [Reason.HELD_BACK_CAP] * 3
    # pack keeps the tightest fits
    assert decide_for(1, hosts, margin=1, cap=3, mode="pack")[1] == ["h3", "h4", "h5"]


def test_other_kept_hosts_stay_kept():
    # the VM's current host (migration source) and an unknown host under on_error = open are kept
    # as fits() says, whatever the narrowing does to the hosts that fit
    hosts = [host("src", 4, used=4, current=True), host("unk", None), host("a", 8, used=5, uncertain=1, pending=1),
             host("b", 8, used=6)]
    reasons, kept = decide_for(2, hosts)
    assert kept == ["src", "unk", "b"]                     # a and b: 2 free each, b counted exactly
    assert reasons["src"] is Reason.CURRENT_HOST and reasons["unk"] is Reason.UNKNOWN
    # The claim covers every kept host: the engine may pick unk as well as b (the ledger leaves
    # out the source, where the VM holds its VFs already).
    assert narrowing.hosts_to_claim(narrowing.filter_decision(
        Demand(2), [h.host_id for h in hosts], {h.host_id: h for h in hosts}, True, "spread", 2, 32)) == [
        "src", "unk", "b"]


def test_worth_waiting_only_when_nothing_is_kept_and_a_claim_may_be_elsewhere():
    tight = host("a", 4, used=2, pending=2, uncertain=2)   # 0 free, but 2 of it may be a phantom
    exact = host("b", 4, used=2, pending=2)                # 0 free for sure
    by_id = {h.host_id: h for h in (tight, exact)}
    verdicts = decide.filter_hosts(Demand(2), ["a", "b"], by_id, True)
    assert narrowing.worth_waiting(2, verdicts, by_id) == ["a"]
    assert narrowing.worth_waiting(3, verdicts, by_id) is None          # 0 + 2 < 3: never fits
    by_id["b"] = host("b", 4, used=1)                                   # b fits: no need to wait
    assert narrowing.worth_waiting(2, decide.filter_hosts(Demand(2), ["a", "b"], by_id, True), by_id) is None


def test_margin_is_the_largest_demand_around():
    assert claims.margin_for(1, [0, 3]) == 3 and claims.margin_for(2, []) == 2
