"""serve's usage view from the engine's events (serve/live_usage.py), against a real serve and
the fake engine over HTTP: what it reads, what heals it, and what it does when events fail."""
import os
import re
import time
from contextlib import contextmanager

import pytest

from ovirt_scheduler_proxy_plugins import status
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit

from tests.integration.helpers import host_ids, write_conf


@pytest.fixture
def vf_world(world):
    """Hosts a and b with 4 VFs each: a 2-VF VM keeps both while both stay roomy, b alone once
    a holds 2 VFs (scarce: one host kept, narrowing.py)."""
    world.add_host("a", vf_devices=4)
    world.add_host("b", vf_devices=4)
    return world


@contextmanager
def serving(engine, tmp_path, plugins_dir, scheduler="", events=True):
    """A serve on the fake engine, its usage view in use (`events`: from events), stopped with exit 0."""
    server = ServeProcess(write_conf(str(tmp_path / "state"), engine.url, scheduler), plugins_dir)
    try:
        server.wait_for_usage_events(required=events)
        yield server
    finally:
        engine.faults.api_delay, engine.faults.api_status = 0, None
        assert server.stop() == 0


def kept(server, world, vm_id):
    answer = call_unit(server, "VfFilter", host_ids(world, "a", "b"), vm_id)
    assert not answer.get("plugin_errors"), answer
    names = {h.id: h.name for h in world.hosts.values()}
    return sorted(names[h] for h in answer["result"])


def vm_list_reads(engine):
    return [r for r in engine.requests if r.path.endswith("/api/vms")]


def test_starts_and_stops_reach_decisions_through_events_alone(vf_world, engine, tmp_path, plugins_dir):
    world = vf_world
    first, second = world.add_vm("first", vmfex_nics=2), world.add_vm("second", vmfex_nics=2)
    with serving(engine, tmp_path, plugins_dir, "claims = no\n") as server:
        engine.reset_requests()
        assert kept(server, world, second.id) == ["a", "b"]
        engine.place_vm(first.id, world.host_by_name("a").id).wait(2)       # 153 + 32
        assert kept(server, world, second.id) == ["b"]
        engine.place_vm(first.id, None, "down").wait(2)                      # 61
        assert kept(server, world, second.id) == ["a", "b"]
        assert vm_list_reads(engine) == []                                   # never the whole list
        assert engine.cost.total < 40


def test_a_dropped_event_is_healed_by_the_next_full_read(vf_world, engine, tmp_path, plugins_dir):
    world = vf_world
    holder, new = world.add_vm("holder", vmfex_nics=2), world.add_vm("new", vmfex_nics=2)
    with serving(engine, tmp_path, plugins_dir, "claims = no\nusage_resync = 2\n") as server:
        engine.watch_inventory = False
        with engine.inventory_unlogged() as inv:                             # the event is lost
            inv.vms[holder.id].host_id, inv.vms[holder.id].status = world.host_by_name("a").id, "up"
        assert kept(server, world, new.id) == ["a", "b"]                     # stale: a looks free
        before = server.full_reads().get("usage_resync", 0)
        limit = time.monotonic() + 20
        while server.full_reads().get("usage_resync", 0) == before:
            assert time.monotonic() < limit, server.full_reads()
            call_unit(server, "VfFilter", host_ids(world, "a", "b"), new.id)      # keeps the view active
            time.sleep(0.2)
        assert kept(server, world, new.id) == ["b"]


def test_an_event_committed_late_below_one_already_applied_still_counts(vf_world, engine, tmp_path, plugins_dir):
    """The engine commits each event on its own: index k may appear after k+1 was read. The
    view's polls reach back below the newest index, so k's VM start still reaches decisions."""
    world = vf_world
    holder, new = world.add_vm("holder", vmfex_nics=2), world.add_vm("new", vmfex_nics=2)
    with serving(engine, tmp_path, plugins_dir, "claims = no\n") as server:
        engine.watch_inventory = False
        late = engine.events.reserve()                                       # holder's start, uncommitted
        with engine.inventory_unlogged() as inv:
            inv.vms[holder.id].host_id, inv.vms[holder.id].status = world.host_by_name("a").id, "up"
        engine.events.emit(32, world.add_vm("other", vmfex_nics=0), None, "started")   # k+1, seen first
        assert kept(server, world, new.id) == ["a", "b"]                     # the start is not logged yet
        engine.events.commit(late, 153, holder, world.host_by_name("a").id, "was started")
        assert kept(server, world, new.id) == ["b"]


def test_deleted_events_make_a_full_read_due(vf_world, engine, tmp_path, plugins_dir):
    world = vf_world
    vm = world.add_vm("vm", vmfex_nics=1)
    with serving(engine, tmp_path, plugins_dir) as server:
        engine.place_vm(vm.id, world.host_by_name("a").id).wait(2)
        kept(server, world, world.add_vm("x", vmfex_nics=1).id)              # applies 153 and 32
        engine.events.delete_up_to(engine.events.reserve())                 # an admin clears the log
        kept(server, world, world.add_vm("y", vmfex_nics=1).id)
        limit = time.monotonic() + 20
        while "gone_from_the_engines_log" not in server.full_reads():
            assert time.monotonic() < limit, server.full_reads()
            time.sleep(0.1)
        assert "gone from the engine's log" in server.stderr


def test_an_account_that_cannot_read_events_reads_as_before_and_says_so(vf_world, engine, tmp_path, plugins_dir):
    world = vf_world
    world.forbidden["admin@internal"] = frozenset(["events"])
    holder, new = world.add_vm("holder", vmfex_nics=2), world.add_vm("new", vmfex_nics=2)
    with serving(engine, tmp_path, plugins_dir, "claims = no\n", events=False) as server:
        assert server.usage_mode() == "off"
        assert "cannot read events" in server.stderr and "HTTP 403" in server.stderr
        source = status.read_all(os.path.join(str(tmp_path), "state", "cache"))["sources"]["engine-events"]
        assert "cannot read events" in source["last_failure_reason"] and source["last_ok"] is None
        assert kept(server, world, new.id) == ["a", "b"]
        engine.place_vm(holder.id, world.host_by_name("a").id).wait(2)
        assert kept(server, world, new.id) == ["b"]                          # usage_max_age = 0: read whole
        assert vm_list_reads(engine)


def test_a_new_vnic_profile_on_the_scheduled_vm_is_read_before_deciding(vf_world, engine, tmp_path, plugins_dir):
    """A profile made after the view's read, carrying the VF property: the VM's demand counts it."""
    world = vf_world
    with serving(engine, tmp_path, plugins_dir, "claims = no\n") as server:
        with engine.mutate():
            world.add_vm("holder", host="a", vmfex_nics=2, vmfex_profile="fresh")   # a new VF profile
            new = world.add_vm("new", vmfex_nics=2, vmfex_profile="fresh")
        assert kept(server, world, new.id) == ["b"]


def test_a_vm_on_a_vf_profile_made_since_the_view_is_counted_by_a_fresh_read(vf_world, engine, tmp_path, plugins_dir):
    """The view knows VF profiles (the hosts are counted from it while the VM is read); the VM
    names one made since: the decision reads again, usage and all, instead of counting with the view."""
    world = vf_world
    world.add_vm("old", vmfex_nics=1)                                       # the view's VF profile
    with serving(engine, tmp_path, plugins_dir, "claims = no\n") as server:
        with engine.mutate():
            world.add_vm("holder", host="a", vmfex_nics=2, vmfex_profile="fresh")
            new = world.add_vm("new", vmfex_nics=2, vmfex_profile="fresh")
        assert kept(server, world, new.id) == ["b"]
        assert vm_list_reads(engine)


def test_a_failed_vm_read_leaves_the_ledger_to_the_next_decision(vf_world, engine, tmp_path, plugins_dir):
    """The hosts are counted (pending claims read, the ledger's lock taken) while the VM is read:
    when that read fails, the decision still ends its section, and the next one decides."""
    world = vf_world
    new = world.add_vm("new", vmfex_nics=1)
    with serving(engine, tmp_path, plugins_dir) as server:
        engine.faults.api_status = 500
        failed = call_unit(server, "VfFilter", host_ids(world, "a", "b"), new.id)
        assert "HTTP 500" in str(failed["plugin_errors"])
        engine.faults.api_status = None
        started = time.monotonic()
        assert kept(server, world, new.id) == ["a", "b"]
        assert time.monotonic() - started < 1.0                             # no lock left to wait for


def test_a_new_plain_vnic_profile_costs_a_profile_read_not_a_full_read(vf_world, engine, tmp_path, plugins_dir):
    world = vf_world
    new = world.add_vm("new", vmfex_nics=2)
    with serving(engine, tmp_path, plugins_dir, "claims = no\n") as server:
        with engine.mutate():
            world.add_vm("web", host="a", plain_nics=1, plain_profile="new-plain")
        engine.reset_requests()
        kept(server, world, new.id)                                          # its poll reads web again
        limit = time.monotonic() + 10
        while not any(r.path.endswith("/vnicprofiles") for r in engine.requests):
            assert time.monotonic() < limit, "the profiles were not read again"
            time.sleep(0.05)
        time.sleep(1.5)                                                      # a full read would start now
        assert set(server.full_reads()) == {"start"}
        assert vm_list_reads(engine) == []


def test_after_an_outage_the_units_decide_again_within_a_second(vf_world, engine, tmp_path, plugins_dir):
    """The engine goes away long enough for the backoff to grow past 2 s, then comes back: a probe
    finds it, so calls decide again within a second, not at the end of the backoff's step."""
    world = vf_world
    new = world.add_vm("new", vmfex_nics=1)
    with serving(engine, tmp_path, plugins_dir, "claims = no\n") as server:
        engine.stop()                                                        # refused from now on
        limit = time.monotonic() + 30
        while True:
            errors = str(call_unit(server, "VfFilter", host_ids(world, "a", "b"), new.id).get("plugin_errors"))
            step = re.search(r"not retried for (\d+\.\d) s more", errors)
            if step and float(step.group(1)) >= 2.0:
                break
            assert time.monotonic() < limit, errors
            time.sleep(0.1)
        engine.start()
        back = time.monotonic()
        while call_unit(server, "VfFilter", host_ids(world, "a", "b"), new.id).get("plugin_errors"):
            time.sleep(0.05)
        assert time.monotonic() - back < 1.0 + 0.5                           # the bound, plus a call's time


def test_a_full_read_waiting_for_a_hung_engine_ends_with_serve(world, engine, tmp_path, plugins_dir):
    engine.faults.api_delay = 60
    conf = write_conf(str(tmp_path / "state"), engine.url)
    server = ServeProcess(conf, plugins_dir)
    limit = time.monotonic() + 10
    while not _full_read_children(conf):                                     # it waits for the engine
        assert time.monotonic() < limit, server.stderr
        time.sleep(0.05)
    assert server.stop() == 0
    limit = time.monotonic() + 5
    while _full_read_children(conf):
        assert time.monotonic() < limit, "the full read outlived serve"
        time.sleep(0.05)
    assert "full read" not in server.stderr                                  # no failure reported at stop
    engine.faults.api_delay = 0


def _full_read_children(conf):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"ovirt_scheduler_proxy_plugins.serve.usage_read" in argv and conf.encode() in argv:
            found.append(pid)
    return found


def test_http_500_is_no_reason_to_back_off(vf_world, engine, tmp_path, plugins_dir):
    world = vf_world
    new = world.add_vm("new", vmfex_nics=1)
    with serving(engine, tmp_path, plugins_dir, "claims = no\n") as server:
        engine.faults.api_status = 500
        failed = call_unit(server, "VfFilter", host_ids(world, "a", "b"), new.id)
        assert "HTTP 500" in str(failed["plugin_errors"])
        engine.faults.api_status = None
        assert not call_unit(server, "VfFilter", host_ids(world, "a", "b"), new.id).get("plugin_errors")
