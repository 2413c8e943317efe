"""What serve reads from the engine between calls: a warm view costs one request per VM, a fresh view
is reused, host data is renewed in the background, unknown host ids are remembered briefly."""
import json
import os
import time

from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit
from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmPortProfile, UcsmServer
from ovirt_scheduler_proxy_plugins.store import RecordCache

from tests.integration.helpers import host_ids, ucsm_section, write_conf


def log_text(server):
    path = os.path.join(server.state, "log", "vf.log")
    return open(path).read() if os.path.exists(path) else ""


def _four_vms_through_serve(world, engine, tmp_path, plugin_dir, scheduler_lines, events):
    """Hosts a and b, four 1-VF VMs: the first decided cold, then filter and weight for the other
    three; the API requests of those three, and serve (stopped) for its last words."""
    world.add_host("a", vf_devices=4)
    world.add_host("b", vf_devices=4)
    vms = [world.add_vm("vm%d" % i, vmfex_nics=1).id for i in range(4)]
    server = ServeProcess(write_conf(str(tmp_path / "state"), engine.url, scheduler_lines), plugin_dir)
    try:
        if events:
            server.wait_for_usage_events()
        ab = host_ids(world, "a", "b")
        call_unit(server, "VfFilter", ab, vms[0])                       # cold: login, view, hosts
        engine.reset_requests()
        for vm in vms[1:]:
            call_unit(server, "VfFilter", ab, vm)
            call_unit(server, "VfWeight", ab, vm)
        mode = server.usage_mode()
    finally:
        assert server.stop() == 0
    api = [r for r in engine.requests if "/api" in r.path]
    return api, ["/ovirt-engine/api/vms/%s" % vm for vm in vms[1:]], mode


def test_warm_decisions_cost_one_engine_request_per_vm(world, engine, tmp_path, plugin_dir):
    """With the event-driven view (polled in the background, usage_max_age 60): the filter reads
    only its VM, the weight nothing; nothing else but event polls."""
    api, vm_paths, _ = _four_vms_through_serve(world, engine, tmp_path, plugin_dir, "usage_max_age = 60\n", True)
    assert [(r.path, r.query.get("follow")) for r in api if r.path != "/ovirt-engine/api/events"] == \
        [(path, "nics") for path in vm_paths]
    assert engine.logins == 1


def test_without_events_a_fresh_view_is_reused(world, engine, tmp_path, plugin_dir):
    """usage_events = no: a view read whole serves usage_max_age; the filter reads only the VM."""
    api, vm_paths, mode = _four_vms_through_serve(world, engine, tmp_path, plugin_dir,
                                                  "usage_max_age = 60\nusage_events = no\n", False)
    assert [(r.path, r.query) for r in api] == [(path, {"follow": "nics"}) for path in vm_paths]
    assert mode == "off"
    assert engine.logins == 1


def _domain(host, slot, port_profiles):
    """A UCS domain managing `host` alone, defining `port_profiles`."""
    server = UcsmServer(dn="sys/chassis-1/blade-%d" % slot, uuid=host.hw_uuid.lower(), serial="FCHW%04d" % slot,
                        sp_name=host.name, policy_name="kvm4", dynamic_eth="4")
    return FakeUcsm([server], port_profiles=[UcsmPortProfile(name) for name in port_profiles])


def test_a_warm_view_keeps_the_port_profile_of_each_vnic_profile(world, engine, tmp_path, plugin_dir):
    """Decisions from the usage view (the VM read alone) apply the port-profile rule with the view's
    vNIC profiles: a VM on pp-db stays out of b, whose UCS domain lacks pp-db; UCS-M is read once."""
    a, b = world.add_host("a", vf_devices=4), world.add_host("b", vf_devices=4)
    world.add_profile("db", vmfex="pp-db")
    web = world.add_vm("web", vmfex_nics=1).id                          # vmfex=pp-vmfex: defined in both
    db = world.add_vm("db", vmfex_nics=1, vmfex_profile="db").id
    state = str(tmp_path)
    with _domain(a, 1, ["pp-db", "pp-vmfex"]) as first, _domain(b, 2, ["pp-vmfex"]) as second:
        conf = write_conf(state, engine.url, "usage_max_age = 60\n",
                          extra=ucsm_section(state, "%s %s" % (first.url, second.url)))
        server = ServeProcess(conf, plugin_dir)
        server.state = state
        try:
            server.wait_for_usage_events()
            ab = [a.id, b.id]
            assert call_unit(server, "VfFilter", ab, web) == {"result_code": 0, "result": ab}   # cold
            engine.reset_requests()
            assert call_unit(server, "VfFilter", ab, db) == {"result_code": 0, "result": [a.id]}
            weights = call_unit(server, "VfWeight", ab, db)["result"]
            # a: 4 - 1 claimed by web (the first of the tie) - 1 = 2 free after; b: lacks pp-db
            assert weights == [[a.id, 998 - 2, "VfWeight"], [b.id, 1000, "VfWeight"]]
            assert [r.path for r in engine.requests if "/api" in r.path and not r.path.endswith("/events")] \
                == ["/ovirt-engine/api/vms/%s" % db]                         # and event polls, maybe
            assert [len(domain.requests) for domain in (first, second)] == [5, 5]       # the cold read only
            assert "b DROP: port profile pp-db is not defined in UCS domain %s" % second.url.split("//")[1] \
                in log_text(server)
        finally:
            assert server.stop() == 0


def test_host_data_is_refreshed_in_the_background_before_its_ttl(world, engine, tmp_path, plugin_dir):
    """The read of every host (115 KB each with devices) is the largest of all: serve renews it
    past half capacity_ttl in the background, so no decision waits for it."""
    world.add_host("a", vf_devices=4)
    vms = [world.add_vm("vm%d" % i, vmfex_nics=1).id for i in range(3)]
    conf = write_conf(str(tmp_path / "state"), engine.url, "capacity_ttl = 2\nusage_max_age = 60\n")
    server = ServeProcess(conf, plugin_dir)
    try:
        server.wait_for_usage_events()
        a = host_ids(world, "a")
        call_unit(server, "VfFilter", a, vms[0])                           # cold: reads the hosts
        hosts_reads = lambda: sum(r.path.endswith("/hosts") for r in engine.requests)   # noqa: E731
        assert hosts_reads() == 1
        time.sleep(1.2)                                                    # past half the TTL
        call_unit(server, "VfFilter", a, vms[1])                           # starts the refresh
        give_up = time.monotonic() + 5
        while hosts_reads() < 2 and time.monotonic() < give_up:
            time.sleep(0.05)
        assert hosts_reads() == 2
        time.sleep(1.0)                                 # 2.2 s after the first read: its TTL is over
        assert call_unit(server, "VfFilter", a, vms[2])["result"] == a
        # the refreshed cache served it: the decision itself asked only for its VM (the usage view
        # is polled in the background; the refresh it may start again runs beside it)
        with open(os.path.join(os.path.dirname(conf), "log", "vf.log")) as log:
            last = [line for line in log if "VfFilter vm=vm2" in line][-1]
        assert " requests=1 " in last, last
    finally:
        assert server.stop() == 0


def test_unknown_host_ids_are_remembered_briefly_and_few(bed, world):
    """Random host ids from any caller: each unknown id is remembered (so a stray one does not
    cost a whole read of the engine's hosts every time), but at most RecordCache.ABSENT_MAX of them:
    the file every decision reads stays small, however many ids are sent."""
    import uuid
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    for _ in range(2):
        strays = [str(uuid.uuid4()) for _ in range(1000)]
        reply = bed.client().runFilters(["VfFilter"], [a, b] + strays, vm, {})
        assert reply["result"] == [b] + strays                   # unknown: kept by on_error = open
    path = os.path.join(bed.state, "cache", "hosts-engine.json")
    entries = json.load(open(path))
    assert sum(1 for entry in entries.values() if entry.get("absent")) == RecordCache.ABSENT_MAX
    assert not entries[a].get("absent") and not entries[b].get("absent")
    assert os.path.getsize(path) < 64 * 1024
