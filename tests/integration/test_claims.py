"""Pending claims end to end: the burst case (the engine shows a started VM on its host only after a
lag) through the units run both ways (the pure rules and the ledger file: tests/unit/test_claims.py)."""
import json
import os
import subprocess
import threading
import time

from ovirt_scheduler_proxy_plugins.config import CONF_ENV
from ovirt_scheduler_proxy_plugins.ledger import Ledger
from ovirt_scheduler_proxy_plugins.store import locked

from tests.integration.helpers import CLI, write_conf


def test_burst_on_the_last_vf(world, engine, units):
    """The engine skips weights with one host left: the filter's own claim must stop the 2nd VM."""
    world.add_host("last", vf_devices=2)
    world.add_vm("holder", host="last", vmfex_nics=1)             # 2 - 1 = 1 free
    first, second = world.add_vm("first", vmfex_nics=1), world.add_vm("second", vmfex_nics=1)
    last = [world.host_by_name("last").id]
    assert units.filter(last, first.id).result == last            # takes the last VF: claim
    assert units.filter(last, second.id).result == []             # engine still shows first down
    assert "1 pending" in units.log_text()
    engine.place_vm(first.id, last[0], "wait_for_launch").wait(2)
    assert units.filter(last, second.id).result == []             # claim released, usage counts it
    assert json.load(open(os.path.join(units.state_dir, "cache", "claims.json"))) == {}
    engine.place_vm(first.id, None, "down").wait(2)               # first failed/stopped
    assert units.filter(last, second.id).result == last


def test_a_claim_holds_whatever_host_the_engine_picks(world, engine, units):
    """a and b have 2 free VFs each, VMs need 1 (margin 1). vm1: room everywhere, no burst: both
    kept, its claim counts on both. vm2: a and b now show 1 free (vm1 may be on either): VFs are
    scarce, so ONE host is kept and its claim is certain. The engine puts vm1 on b, vm2 on a (not
    what VfWeight ranked best): vm3 still fits only where a VF is truly free."""
    a, b = (world.add_host(name, vf_devices=4).id for name in ("a", "b"))
    for name in ("a", "b"):
        for i in range(2):                                                # 4 - 2 = 2 free each
            world.add_vm("held-%s-%d" % (name, i), host=name, vmfex_nics=1)
    vm1, vm2, vm3 = (world.add_vm(name, vmfex_nics=1).id for name in ("vm1", "vm2", "vm3"))
    assert units.filter([a, b], vm1).result == [a, b]
    assert "claim: 1 VFs on any of a, b" in units.log_text()
    kept = units.filter([a, b], vm2).result
    assert kept == [a]                                   # 1 free on both: the first by spread, certain
    assert "b hold: fits (1 free), held back: VFs are scarce" in units.log_text()
    shown = subprocess.run([CLI, "explain", "--config", units.conf_path, "--vm", "vm2", "--json"],
                           capture_output=True, text=True, timeout=60)
    rows = {row["host"]: row for row in json.loads(shown.stdout)["hosts"]}
    assert (rows["a"]["keep"], rows["b"]["keep"], rows["b"]["reason"]) == (True, False, "held_back_scarce")
    assert (rows["a"]["pending"], rows["b"]["pending"]) == (1, 1)         # vm1's claim, on both
    assert "claim: 1 VFs on a (certain)" in units.log_text()
    engine.place_vm(vm1, b, "up").wait(2)               # the engine picked b for vm1
    # a: 2 - 1 (vm2, certain) = 1; b: 2 - 1 (vm1, now shown, its claim released) = 1: both truly
    # have one VF, still scarce, so one host: a, and nothing of vm1's claim is left anywhere
    assert units.filter([a, b], vm3).result == [a]
    assert "claims.json" not in os.listdir(os.path.join(units.state_dir, "cache")) or set(
        json.load(open(os.path.join(units.state_dir, "cache", "claims.json")))) == {vm2, vm3}


def test_a_decision_past_its_deadline_records_no_claim(world, engine, units):
    """The engine got the fail-open answer at the 4 s deadline and placed the VM without VfFilter:
    the decision, still reading the slow engine in serve, must not record a claim when it ends."""
    a = world.add_host("a", vf_devices=8).id
    warm, late = world.add_vm("warm", vmfex_nics=1).id, world.add_vm("late", vmfex_nics=1).id
    assert units.filter([a], warm).result == [a]                          # caches warm, warm's claim
    engine.faults.api_delay = 2.5                                         # each read 2.5 s: done at ~5-8 s
    run = units.filter([a], late)
    assert not run.ok and "deadline of 4 s exceeded" in (run.reported or run.stderr)
    time.sleep(6.0)                                                       # the late decision has ended
    engine.faults.api_delay = 0
    ledger = os.path.join(units.state_dir, "cache", "claims.json")
    assert set(json.load(open(ledger))) == {warm}


def test_a_pending_claims_demand_sets_the_margin(world, engine, units):
    """a and b have 6 VFs each. vm1 needs 3: both roomy (6 - 3 >= 3), no burst: both kept, its claim
    counts 3 on each, so each shows 3 free. vm2 needs 1: margin = max(1, vm1's pending 3) = 3 and
    3 - 1 = 2 < 3 on both: scarce, one host kept, b held back. A margin of vm2's own 1 would keep both."""
    a, b = (world.add_host(name, vf_devices=6).id for name in ("a", "b"))
    vm1, vm2 = world.add_vm("vm1", vmfex_nics=3).id, world.add_vm("vm2", vmfex_nics=1).id
    assert units.filter([a, b], vm1).result == [a, b]
    assert units.filter([a, b], vm2).result == [a]
    assert "b hold: fits (3 free), held back: VFs are scarce" in units.log_text()


def test_narrowing_off_keeps_every_host_that_fits_and_still_never_over_books(world, engine, units, tmp_path):
    """[scheduler] narrowing = off: vm2 keeps a and b although VFs are scarce (both claims count on
    both); a 3-VF vm3 then fits on neither (3 - 3 - 1 < 3), as the true worst case says."""
    a, b = (world.add_host(name, vf_devices=6).id for name in ("a", "b"))
    vm1, vm2, vm3 = (world.add_vm(name, vmfex_nics=n).id for name, n in (("vm1", 3), ("vm2", 1), ("vm3", 3)))
    conf = write_conf(str(tmp_path / "off"), engine.url, extra_scheduler="narrowing = off\n")
    assert units.filter([a, b], vm1, conf_path=conf).result == [a, b]
    assert units.filter([a, b], vm2, conf_path=conf).result == [a, b]
    assert units.filter([a, b], vm3, conf_path=conf).result == []           # after the bounded wait


def test_the_weight_claims_afresh_when_the_claim_is_not_this_schedulings(world, engine, units):
    """The weight narrows the claim its filter just made; a claim naming none of the hosts it is
    called with (VfFilter failed open this time, or left the policy) is an earlier scheduling's:
    the VM is claimed on the hosts it may go to now, never left counted where it cannot go."""
    a, b, c, d = (world.add_host(name, vf_devices=8).id for name in ("a", "b", "c", "d"))
    vm = world.add_vm("vm", vmfex_nics=2).id
    assert units.filter([a, b], vm).result == [a, b]
    def last_weight_line():
        return [line for line in units.log_text().splitlines() if ": VfWeight vm=" in line][-1]
    assert units.weight([a, b], vm).ok
    assert "claim: 2 VFs on any of a, b" in last_weight_line()
    assert units.weight([c, d], vm).ok                                   # a later scheduling, weight only
    assert "claim: 2 VFs on any of c, d" in last_weight_line()
    ledger = json.load(open(os.path.join(units.state_dir, "cache", "claims.json")))
    assert ledger[vm]["hosts"] == [c, d]


def _vm_reads(engine, since, vm):
    """Reads of `vm` since request `since`: a plugin process reads it in the VM list, serve alone."""
    return sum(r.method == "GET" and r.path in ("/ovirt-engine/api/vms", "/ovirt-engine/api/vms/%s" % vm)
               for r in engine.requests[since:])


def test_the_filter_waits_for_a_placement_rather_than_refuse(world, engine, units, tmp_path):
    """a, b: 4 free VFs, VMs of 2 (margin 2). vm1 kept on both (room, no burst); vm2 on one (a,
    scarce); vm3 on b. vm4 then sees 0 free everywhere, but 2 of a's and b's pending may be
    vm1's phantom: it waits, the engine shows vm1 on b, and a fits. vm1 is shown once the filter
    has looked twice (it is waiting), not after a fixed time: on a loaded machine the first look
    alone may take longer than any fixed time. The deadline is 12 s, not the tests' 4: the filter
    waits only while a look fits in what is left of it (a look took 1.5 s at load 20)."""
    conf = write_conf(str(tmp_path / "wait"), engine.url, deadline=12)
    a, b = (world.add_host(name, vf_devices=4).id for name in ("a", "b"))
    vms = [world.add_vm("vm%d" % i, vmfex_nics=2).id for i in range(1, 5)]
    assert units.filter([a, b], vms[0], conf_path=conf).result == [a, b]
    assert units.filter([a, b], vms[1], conf_path=conf).result == [a]
    assert units.filter([a, b], vms[2], conf_path=conf).result == [b]
    since, runs = len(engine.requests), []
    waiting = threading.Thread(target=lambda: runs.append(units.filter([a, b], vms[3], conf_path=conf)))
    waiting.start()
    give_up = time.monotonic() + 12 + 10                          # the deadline, and as much again to start
    while _vm_reads(engine, since, vms[3]) < 2 and waiting.is_alive() and time.monotonic() < give_up:
        time.sleep(0.02)
    engine.place_vm(vms[0], b, "up", after=0).wait(2)            # shown while vm4's filter waits
    waiting.join(30)
    with open(os.path.join(str(tmp_path / "wait"), "log", "vf.log")) as handle:
        log = handle.read()
    assert runs[0].result == [a], log[-600:]                      # a fail-open answer would keep a and b
    assert "waited" in log and "then a host fit" in log


def test_a_waiting_filter_reads_afresh_whatever_view_it_may_reuse(world, engine, units, tmp_path):
    """The same wait with a whole read serve may reuse for 60 s (usage_events = no): each look of
    the waiting filter must read usage again, or vm1's placement never shows and vm4 is refused."""
    conf = write_conf(str(tmp_path / "reuse"), engine.url, "usage_max_age = 60\nusage_events = no\n")
    a, b = (world.add_host(name, vf_devices=4).id for name in ("a", "b"))
    vms = [world.add_vm("vm%d" % i, vmfex_nics=2).id for i in range(1, 5)]
    for vm, kept in zip(vms, ([a, b], [a], [b])):
        assert units.filter([a, b], vm, conf_path=conf).result == kept
    engine.place_vm(vms[0], b, "up", after=1.0)
    run = units.filter([a, b], vms[3], conf_path=conf)
    assert run.result == [a], units.log_text()[-600:]


def test_a_claim_of_a_start_that_never_shows_expires(world, engine, units, tmp_path):
    """The TTL is the deadline (4 s) plus 2 s to start a process: however slow the machine, the second
    call (which answers within its deadline, or fails open) still finds the first's claim."""
    conf = write_conf(str(tmp_path / "ttl"), engine.url, "claim_ttl = 6\n")
    last = [world.add_host("last", vf_devices=1).id]
    first, second = world.add_vm("first", vmfex_nics=1).id, world.add_vm("second", vmfex_nics=1).id
    assert units.filter(last, first, conf_path=conf).result == last       # claims the only VF
    claimed_by = time.monotonic()
    assert units.filter(last, second, conf_path=conf).result == []        # taken: first never shows
    time.sleep(max(0.0, claimed_by + 6.2 - time.monotonic()))            # its start failed: TTL passes
    assert units.filter(last, second, conf_path=conf).result == last


def test_concurrent_decisions_never_over_book(world, engine, plugins_dir, tmp_path):
    """Serve's decision threads and plugin processes deciding at once on one ledger: each reads
    the pending claims and records its own under ONE hold of the lock, so no two of them can book
    the same free VF. 80 hosts with 1 VF each (so every decision keeps one host, the best free
    one, for a certain claim), 48 VMs of 1 VF, the engine never shows a placement: however the
    decisions interleave, no host gets two claims. (With separate lock sections for reading and
    recording, two decisions read the same claims, keep the same best host and both book it.)"""
    from ovirt_scheduler_proxy_plugins.sim import proxy
    from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit
    from ovirt_scheduler_proxy_plugins.sim.workspace import write_config
    hosts = [world.add_host("h%02d" % i, vf_devices=1).id for i in range(80)]
    vms = [world.add_vm("vm%02d" % i, vmfex_nics=1).id for i in range(48)]
    state = str(tmp_path / "state")
    conf = write_config(state, engine.url, "secret", "deadline = 25\nusage_max_age = 0\n", "")
    server = ServeProcess(conf, plugins_dir)
    answers, lock = {}, threading.Lock()

    def by_serve(vm):
        reply = call_unit(server, "VfFilter", hosts, vm)
        with lock:
            answers[vm] = reply.get("plugin_errors") or reply["result"]

    def by_process(vm):
        run = proxy.run_unit(plugins_dir, "VfFilter", hosts, vm, env=proxy.proxy_env({CONF_ENV: conf}))
        with lock:
            answers[vm] = run.stderr or run.result

    try:
        answers[vms[0]] = call_unit(server, "VfFilter", hosts, vms[0])["result"]    # warm: the rest start at once
        threads = [threading.Thread(target=by_process if i % 3 == 0 else by_serve, args=(vm,))
                   for i, vm in enumerate(vms[1:])]
        # A burst piles up on the ledger: held (well within the decisions' lock wait) while they
        # read the engine, then let go, so that they reach it all at once.
        with locked(os.path.join(state, "cache", "claims.json")):
            for thread in threads:
                thread.start()
            time.sleep(1.0)
        for thread in threads:
            thread.join(60)
    finally:
        assert server.stop() == 0
    # A decision failing open on a machine too busy for the deadline records no claim; the others:
    decided = {vm: kept for vm, kept in answers.items() if isinstance(kept, list)}
    assert sorted(answers) == sorted(vms) and len(decided) >= 32, answers
    assert all(len(kept) == 1 for kept in decided.values()), decided
    claims = Ledger(os.path.join(state, "cache"), ttl=120.0).live()
    assert sorted(c.vm_id for c in claims) == sorted(decided)       # every VM kept somewhere has its claim
    booked = [h for c in claims for h in c.targets]
    assert len(booked) == len(set(booked)) == len(decided), booked  # one host per VM, no host twice
    assert sorted(h for kept in decided.values() for h in kept) == sorted(booked)
