"""The lean lxml reader must see exactly what the SDK's own readers see in the same documents,
and the token cache must hold up with filter and weight processes starting at once."""
import os
import threading
import time

import ovirtsdk4
import pytest

from ovirt_scheduler_proxy_plugins.accounting import HostRecord, VfProfile, VmRecord, VnicRecord, vf_networks
from ovirt_scheduler_proxy_plugins.config import EngineSettings
from ovirt_scheduler_proxy_plugins.engine import EngineSession, vm_search
from ovirt_scheduler_proxy_plugins.store import TokenCache


@pytest.fixture
def varied(world):
    world.add_profile("vmfex-a", network_name="net-a", vmfex="pp-a")
    world.add_profile("vmfex-b", network_name="net-b", vmfex="pp-b")
    world.add_profile("other", network_name="net-a", custom_properties={"SecurityGroups": "x"})
    world.add_host("enic", vf_devices=6)
    world.add_host("mixed", vf_devices=3, vf_driver="ixgbevf", nic_vfs_configured=7, vf_nics=2)
    world.add_host("cfg", nic_vfs_configured=5)
    world.add_host("bare")
    world.add_vm("a", host="enic", vmfex_nics=2, plain_nics=1, empty_nics=1, vmfex_profile="vmfex-a")
    world.add_vm("b", host="mixed", status="migrating", vmfex_nics=1, unplugged_vmfex=2, vmfex_profile="vmfex-b")
    world.add_vm("c", host="cfg", status="paused", vmfex_nics=1, vmfex_profile="vmfex-a", plain_profile="other",
                 plain_nics=2)
    world.add_vm("d", status="down", vmfex_nics=3, vmfex_profile="vmfex-a")
    return world


def _session(engine, tmp_path):
    settings = EngineSettings(url=engine.url, username="admin@internal", password="secret")
    tokens = TokenCache(str(tmp_path), engine.url, "admin@internal", "secret")
    return EngineSession(settings, tokens, time.monotonic() + 10)


def test_lean_reader_matches_the_sdk(varied, engine, tmp_path):
    session = _session(engine, tmp_path)
    try:
        profiles = session.vf_profiles("vmfex")
        vms = session.vms(varied.vm_by_name("d").id, vf_networks(profiles))
        hosts = session.hosts()
    finally:
        session.close()
    conn = ovirtsdk4.Connection(url=engine.url, username="admin@internal", password="secret")
    system = conn.system_service()
    sdk_profiles = {p.id: VfProfile(p.network.name, c.value) for p in system.vnic_profiles_service().list(follow="network")
                    for c in p.custom_properties or () if c.name == "vmfex"}
    search = vm_search(varied.vm_by_name("d").id, vf_networks(sdk_profiles))
    sdk_vms = [VmRecord(v.id, v.name, v.status.value, v.host.id if v.host else None,
                        tuple(VnicRecord(bool(n.plugged), n.vnic_profile.id if n.vnic_profile else None)
                              for n in v.nics or ()))
               for v in system.vms_service().list(search=search, follow="nics")]
    sdk_hosts = [HostRecord(h.id, h.name,
                            tuple(d.driver or "" for d in h.devices or () if d.physical_function is not None),
                            tuple(n.virtual_functions_configuration.number_of_virtual_functions or 0
                                  for n in h.nics or () if n.virtual_functions_configuration is not None),
                            h.hardware_information.uuid, h.hardware_information.serial_number)
                 for h in system.hosts_service().list(follow="nics,devices", all_content=True)]
    conn.close()
    assert profiles == sdk_profiles and vf_networks(profiles) == {"net-a", "net-b"}
    assert {p.port_profile for p in profiles.values()} == {"pp-a", "pp-b"}
    assert vms == sdk_vms
    assert {v.name for v in vms} == {"a", "b", "c", "d"}          # d by id; a, b, c on the networks
    assert hosts == sdk_hosts
    by_name = {h.name: h for h in hosts}
    assert by_name["mixed"].nic_vfs_configured == (7,) and by_name["mixed"].vf_device_drivers.count("ixgbevf") == 3


def test_filter_and_weight_starting_together_share_one_token(world, engine, units):
    world.add_host("h", vf_devices=4)
    vm = world.add_vm("new", vmfex_nics=1)
    hosts = [world.host_by_name("h").id]
    units.filter(hosts, vm.id)                                     # one login, token cached
    logins = engine.logins
    runs = []

    def run(unit):
        runs.append(units.run(unit, hosts, vm.id))

    threads = [threading.Thread(target=run, args=(unit,)) for unit in ("VfFilter", "VfWeight") * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 8 and all(r.ok and r.stderr == "" for r in runs)
    assert engine.logins == logins                                 # nobody logged in again
    cache = os.path.join(units.state_dir, "cache")
    assert len([f for f in os.listdir(cache) if f.startswith("engine-token-")]) == 1


def test_cold_processes_at_once_all_succeed_and_leave_one_valid_token(world, engine, units):
    """Nothing serialises cold logins: each process that finds no cached token logs in once.
    The slow SSO answer keeps both processes in their login together, so both are cold."""
    world.add_host("h", vf_devices=4)
    vm = world.add_vm("new", vmfex_nics=1)
    hosts = [world.host_by_name("h").id]
    engine.faults.login_delay = 1.0
    runs = []
    threads = [threading.Thread(target=lambda u=unit: runs.append(units.run(u, hosts, vm.id)))
               for unit in ("VfFilter", "VfWeight")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.ok for r in runs), runs
    # one login per cold process, none retried; serve's one connection logs in once for both calls
    cold_logins = 2 if units.mode == "process" else 1
    assert engine.logins == cold_logins
    engine.faults.login_delay = 0.0
    assert units.filter(hosts, vm.id).ok and engine.logins == cold_logins    # the survivor token works


def test_an_answer_larger_than_the_bound_is_refused_not_buffered(tmp_path, engine, world):
    """Every read is bounded in size: the stream stops at the bound, nothing past it is kept."""
    from ovirt_scheduler_proxy_plugins import connection
    from ovirt_scheduler_proxy_plugins.config import EngineSettings
    from ovirt_scheduler_proxy_plugins.engine import sdk_connection
    for i in range(5):
        world.add_host("big%d" % i, vf_devices=16)
    conn = sdk_connection(EngineSettings(engine.url, "admin@internal", "secret"), None)
    seen = []
    try:
        with pytest.raises(connection.ovirtsdk4.Error, match="answer larger than 0 MB: refused"):
            conn.stream_get("/hosts", {"follow": "nics,devices", "all_content": "true"}, seen.append, 100_000)
        assert sum(map(len, seen)) <= 100_000
        status, _ = conn.stream_get("/vnicprofiles", {}, seen.append, 100_000)    # the next read works
        assert status == 200
    finally:
        conn.close(logout=False)
