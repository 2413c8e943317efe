"""Pending claims: the rule (claims.py) with hand-made claims, and the ledger file (ledger.py)."""
import json
import os
import threading
import time

import pytest

from ovirt_scheduler_proxy_plugins.claims import (Claim, Pending, is_live, largest, new_claim, pending_by_host, prune,
                                                  weight_claim)
from ovirt_scheduler_proxy_plugins.ledger import Ledger
from ovirt_scheduler_proxy_plugins.store import StoreError, locked


def record(ledger, vm_id, demand, hosts, source=None):
    """What a decision does: the rule makes the claim, the ledger keeps it."""
    made = new_claim(vm_id, demand, hosts, source, time.monotonic(), ledger.boot)
    if made is not None:
        ledger.put(made)
    return made


BOOT = "boot-1"


def claim(vm, hosts=("h1", "h2"), demand=2, source=None, at=100.0, boot=BOOT):
    return Claim(vm, demand, tuple(hosts), source, at, boot)


@pytest.mark.parametrize("c, seen, now, live", [
    (claim("a"), {}, 150.0, True),                                        # not visible yet: pending
    (claim("a"), {"a": (None, "down")}, 150.0, True),                     # down, no host: NOT released
    (claim("a"), {"a": ("h2", "wait_for_launch")}, 150.0, False),         # on a host: usage counts it
    (claim("a", source="h9"), {"a": ("h9", "migrating")}, 150.0, True),   # migrating from its source
    (claim("a", source="h9"), {"a": ("h9", "up")}, 110.0, True),          # not migrating yet (10 s)
    (claim("a", source="h9"), {"a": ("h9", "up")}, 116.0, False),         # never started (>15 s)
    (claim("a", source="h9"), {"a": ("h1", "up")}, 150.0, False),         # migration done
    (claim("a"), {}, 100.0 + 121, False),                                 # TTL 120 s passed
    (claim("a", source="h9"), {"a": ("h9", "migrating")}, 100.0 + 600, True),  # long migration: kept
    (claim("a", source="h9"), {}, 100.0 + 600, False),                   # not seen: TTL applies
    (claim("a", at=500.0), {}, 150.0, False),                             # from the future: clock restarted
    (claim("a", boot="boot-0"), {}, 150.0, False),                        # another boot
])
def test_prune(c, seen, now, live):
    assert (prune([c], seen, now, BOOT, ttl=120.0, seen_at=now) == [c]) is live


def test_only_evidence_newer_than_the_claim_releases_it():
    """A usage view asked for before the claim (serve reuses one for a few seconds) may show the
    VM where it ran before it was stopped and started again: that must not release the claim."""
    on_old_host = {"a": ("h2", "up")}
    assert prune([claim("a", at=100.0)], on_old_host, 150.0, BOOT, ttl=120.0, seen_at=99.0) == [claim("a")]
    assert prune([claim("a", at=100.0)], on_old_host, 150.0, BOOT, ttl=120.0, seen_at=101.0) == []


def test_a_claim_counts_on_every_host_it_may_go_to():
    """No choice of the engine among a claim's hosts can over-book: each counts it whole. Only
    a claim with one host is certain; the source of a migration is not a host it goes to."""
    claims = [claim("a", ("h1", "h2"), 2),                 # may go to h1 or h2: 2 on each, uncertain
              claim("b", ("h1",), 1),                      # certain: 1 on h1
              claim("m", ("h3", "h2"), 3, source="h3"),    # a migration from h3: certain on h2
              claim("me", ("h1", "h2", "h3"), 5)]          # the scheduled VM's own claim: not counted
    assert pending_by_host(claims, "me") == {
        "h1": Pending(vfs=3, claims=2, uncertain=2),
        "h2": Pending(vfs=5, claims=2, uncertain=2)}
    assert largest(claims) == 5 and largest([]) == 0


def test_malformed_entries_are_dropped():
    assert Claim.from_json("x", {"demand": "two"}) is None
    assert Claim.from_json("x", {"demand": 0, "hosts": ["h"], "source": None, "at": 1, "boot": "b"}) is None
    assert Claim.from_json("x", {"demand": 1, "hosts": ["h"], "source": "h", "at": 1, "boot": "b"}) is None
    good = claim("x").to_json()
    assert Claim.from_json("x", good) == claim("x")
    older = dict(good, best="h1")                                  # written by 0.1: an extra key
    assert Claim.from_json("x", older) == claim("x")


def test_ledger_round_trip_replace_and_release(tmp_path):
    ledger = Ledger(str(tmp_path), ttl=120.0)
    record(ledger, "a", 2, ["h1", "h2", "h3"])
    record(ledger, "b", 1, ["h2"])
    record(ledger, "a", 3, ["h2", "h3"])                      # a rerun replaces a's claim
    pending = {c.vm_id: (c.demand, c.hosts) for c in ledger.pending({}, time.monotonic())}
    assert pending == {"a": (3, ("h2", "h3")), "b": (1, ("h2",))}
    assert [c.vm_id for c in ledger.pending({"b": ("h2", "up")}, time.monotonic())] == ["a"]   # b placed
    assert set(json.load(open(ledger.path))) == {"a"}                    # and written back
    assert oct(os.stat(ledger.path).st_mode & 0o777) == "0o600"
    assert record(ledger, "m", 2, ["src"], "src") is None                 # only its own source: nothing new


def _weighed(on_file, weighed, may_go, now=100.0, source=None):
    return weight_claim(on_file, "a", 3, weighed, may_go, source, now, "boot", 120.0)


def test_the_weight_narrows_this_schedulings_claim_to_what_it_sees():
    filtered = Claim("a", 3, ("h2", "h3"), None, 90.0, "boot")
    assert _weighed([filtered], ["h3", "h9"], ["h3"]).hosts == ("h3",)   # the weight saw only h3, h9
    assert _weighed([filtered], ["h3", "h9"], ["h3"]).at == 90.0         # the same claim, narrowed
    assert _weighed([filtered], ["h2", "h3"], ["h2", "h3"]) is filtered  # nothing to narrow


def test_the_weight_claims_afresh_when_it_sees_a_host_outside_the_claim():
    """Filter on [a], weight on [a, c] where both fit (another filter kept c, or ours failed
    open): the VM may go to c, so the claim must hold on both."""
    filtered = Claim("a", 3, ("ha",), None, 90.0, "boot")
    fresh = _weighed([filtered], ["ha", "hc"], ["ha", "hc"])
    assert (fresh.hosts, fresh.at) == (("ha", "hc"), 100.0)


def test_the_weight_claims_afresh_without_a_claim_of_this_scheduling():
    assert _weighed([], ["h1"], ["h1"]).hosts == ("h1",)                       # no VfFilter in the policy
    older = Claim("a", 3, ("h1",), None, 100.0 - 61, "boot")                  # an earlier scheduling's
    assert _weighed([older], ["h1"], ["h1"]).at == 100.0
    elsewhere = Claim("a", 3, ("h7",), None, 90.0, "boot")                    # none of its hosts seen
    assert _weighed([elsewhere], ["h1"], ["h1"]).hosts == ("h1",)
    assert _weighed([], ["h1"], []) is None                                   # fits nowhere: nothing to claim
    assert _weighed([], ["src"], ["src"], source="src") is None               # only its own source


def test_a_claim_is_live_until_its_ttl_not_half_of_it():
    made = Claim("a", 1, ("h",), None, 1000.0, "boot")
    assert is_live(made, 1000.0 + 0.9 * 120, "boot", 120.0)
    assert not is_live(made, 1000.0 + 1.1 * 120, "boot", 120.0)
    assert not is_live(made, 1000.0 + 10, "another boot", 120.0)


def test_recording_a_claim_keeps_a_long_migration_for_the_view_to_judge(tmp_path):
    """Writing a claim has no view of the engine: an expired migration claim may still be
    running, so it stays until a decision's view says whether the VM still migrates."""
    ledger = Ledger(str(tmp_path), ttl=120.0)
    now = time.monotonic()
    old = {"mig": claim("mig", hosts=("dst",), source="src", at=now - 600, boot=ledger.boot).to_json(),
           "start": claim("start", hosts=("h1",), at=now - 600, boot=ledger.boot).to_json()}
    with open(ledger.path, "w") as handle:
        json.dump(old, handle)
    record(ledger, "new", 1, ["h1"])
    assert set(json.load(open(ledger.path))) == {"mig", "new"}           # the expired start is gone
    still = ledger.pending({"mig": ("src", "migrating")}, time.monotonic())
    assert sorted(c.vm_id for c in still) == ["mig", "new"]               # still migrating: counted
    assert [c.vm_id for c in ledger.pending({}, time.monotonic())] == ["new"]    # not seen: TTL applies


def test_corrupt_ledger_is_treated_as_empty_and_repaired(tmp_path):
    ledger = Ledger(str(tmp_path), ttl=120.0)
    with open(ledger.path, "w") as handle:
        handle.write('{"a": {"demand": 2, "hos')
    assert ledger.pending({}, time.monotonic()) == []
    record(ledger, "b", 1, ["h1"])
    assert list(json.load(open(ledger.path))) == ["b"]


def test_concurrent_writers_lose_no_claim(tmp_path):
    ledger_dir = str(tmp_path)

    def writer(index):
        record(Ledger(ledger_dir, ttl=120.0), "vm%d" % index, 1, ["h"])

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(Ledger(ledger_dir, ttl=120.0).pending({}, time.monotonic())) == 20


def test_a_decision_needs_the_ledger_lock_a_look_does_not(tmp_path):
    """A decision reads the claims and records its own in one section: without the lock it fails
    (StoreError). An operator's look (explain, capacity) still reads them."""
    ledger = Ledger(str(tmp_path), ttl=120.0)
    record(ledger, "a", 1, ["h1"])
    with locked(ledger.path):                                             # held by another process
        assert [c.vm_id for c in Ledger(str(tmp_path), ttl=120.0).pending({}, time.monotonic())] == ["a"]
        deciding = Ledger(str(tmp_path), ttl=120.0)
        with pytest.raises(StoreError, match="the ledger of pending claims cannot be used: cannot lock"):
            with deciding.section():
                deciding.pending({}, time.monotonic())


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_state_written_by_root_keeps_the_directory_owner(tmp_path):
    """Operator commands run as root must not leave files the units (proxy user) cannot use."""
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chown(str(cache), 4321, 4321)
    record(Ledger(str(cache), ttl=120.0), "a", 1, ["h"])
    owners = {name: os.stat(str(cache / name)).st_uid for name in os.listdir(str(cache))}
    assert owners == {"claims.json": 4321, "claims.json.lock": 4321}


