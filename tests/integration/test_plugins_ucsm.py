"""The units with capacity from UCS-M (`ucsm`) and from the smaller of both (`min`), end to end:
proxy-style processes, fake engine and fake UCS-M over real HTTP.

World (VM "new" needs 2 VFs; "used" = VFs other VMs hold, from the engine):
  host  engine VFs  UCS-M dynamicEth   used   engine     ucsm        min
  h1    8           4                  3      5 keep     1 drop      min 4 -> 1 drop
  h2    8           10                 0      8 keep     10 keep     min 8 -> 8 keep
  h3    0           6                  0      0 drop     6 keep      min 0 -> 0 drop
  h4    8           (not in UCS-M)     0      8 keep     unknown     engine only -> 8 keep
"""
import pytest

from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmServer

from tests.integration.helpers import host_ids, int_scores, ucsm_section, write_conf

DEADLINE, SLACK = 4.0, 2.0


@pytest.fixture
def ucs_world(world):
    for name, vfs in (("h1", 8), ("h2", 8), ("h3", 0), ("h4", 8)):
        world.add_host(name, vf_devices=vfs)
    world.add_vm("busy", host="h1", vmfex_nics=3)
    world.add_vm("new", vmfex_nics=2)
    return world


@pytest.fixture
def ucsm(ucs_world):
    servers = [UcsmServer(dn="sys/chassis-1/blade-%d" % index, uuid=ucs_world.host_by_name(name).hw_uuid.lower(),
                          serial="FCHX%04d" % index, sp_name=name, policy_name="kvm%s" % eth, dynamic_eth=eth)
               for index, (name, eth) in enumerate((("h1", "4"), ("h2", "10"), ("h3", "6")), start=1)]
    fake = FakeUcsm(servers)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def ucs_units(units, engine, ucsm, tmp_path):
    """The conftest runner, re-pointed at a config with a [ucsm] section."""
    units.conf_path = write_conf(units.state_dir, engine.url, "capacity_source = ucsm\n",
                                 extra=ucsm_section(units.state_dir, ucsm.url))
    return units


ALL = ("h1", "h2", "h3", "h4")


@pytest.mark.parametrize("source, kept", [
    ("engine", ("h1", "h2", "h4")),
    ("ucsm", ("h2", "h3", "h4")),          # h4 unknown to UCS-M: kept by on_error = open
    ("min", ("h2", "h4")),
])
def test_filter_by_source(ucs_world, ucs_units, ucsm, source, kept):
    run = ucs_units.filter(host_ids(ucs_world, *ALL), ucs_world.vm_by_name("new").id, {"vf_source": source})
    assert run.ok and run.stderr == "", run.stderr
    assert run.result == host_ids(ucs_world, *kept)
    assert ucsm.active_sessions == 0                     # always logged out


def test_unknown_host_is_dropped_when_failing_closed(ucs_world, ucs_units):
    run = ucs_units.filter(host_ids(ucs_world, *ALL), ucs_world.vm_by_name("new").id, {"vf_on_error": "closed"})
    assert run.result == host_ids(ucs_world, "h2", "h3")
    assert "h4 DROP: needs 2, capacity unknown (not found in any UCS domain)" in ucs_units.log_text()


def test_weight_uses_ucsm_capacity_and_scores_unknown_last_but_one(ucs_world, ucs_units):
    scores = ucs_units.weight(host_ids(ucs_world, *ALL), ucs_world.vm_by_name("new").id).result
    h1, h2, h3, h4 = host_ids(ucs_world, *ALL)
    assert int_scores(scores) == [(h1, 1000), (h2, 998 - 8), (h3, 998 - 4), (h4, 999)]


def test_min_logs_disagreement_with_both_numbers_once_per_ucsm_read(ucs_world, ucs_units):
    for _ in range(2):
        ucs_units.filter(host_ids(ucs_world, *ALL), ucs_world.vm_by_name("new").id, {"vf_source": "min"})
    log = ucs_units.log_text()
    assert log.count("capacity sources disagree on host h1:") == 1     # the 2nd used the cache
    assert "capacity sources disagree on host h1: engine 8 (8 enic VF devices), ucsm 4 (" in log
    assert "capacity sources disagree on host h3: engine 0" in log
    assert "disagree on host h4" not in log


def test_warm_cache_costs_no_ucsm_request(ucs_world, ucs_units, ucsm):
    hosts, vm = host_ids(ucs_world, *ALL), ucs_world.vm_by_name("new").id
    ucs_units.filter(hosts, vm)
    # The design's cold cost per UCS domain, whatever the host count: login, one batch of the
    # inventory classes, one filtered count of deployed dynamic vNICs, the port profiles (read in
    # the same session, for the port-profile rule), logout (README "Cost").
    assert [request[:2] for request in ucsm.requests] == [
        ("aaaLogin",), ("configResolveClasses", "lsServer"), ("configResolveClass", "vnicEther"),
        ("configResolveClass", "vnicProfile"), ("aaaLogout",)]
    assert ucs_units.weight(hosts, vm).ok
    assert ucs_units.filter(hosts, vm).ok
    assert len(ucsm.requests) == 5                       # warm: none


@pytest.mark.parametrize("fault, words", [
    (dict(http_status=503), "UCS-M"),
    (dict(delay=30), "UCS-M"),
    (dict(malformed_xml=True), "UCS-M"),
    (dict(entity_bomb=True), "UCS-M"),
])
def test_ucsm_faults(ucs_world, ucs_units, ucsm, fault, words):
    for key, value in fault.items():
        setattr(ucsm.faults, key, value)
    hosts, vm = host_ids(ucs_world, *ALL), ucs_world.vm_by_name("new").id
    run = ucs_units.filter(hosts, vm)
    assert run.elapsed < DEADLINE + SLACK
    assert run.returncode == 1 and run.stdout == "" and run.stderr.count("\n") == 1
    assert words in run.stderr and "secret" not in run.stderr
    closed = ucs_units.filter(hosts, vm, {"vf_on_error": "closed"})
    assert closed.ok and closed.result == []
    # min: UCS-M down means "missing from one source": the engine's numbers decide alone
    degraded = ucs_units.filter(hosts, vm, {"vf_source": "min"})
    assert degraded.ok and degraded.result == host_ids(ucs_world, "h1", "h2", "h4")
    assert "using engine capacity alone" in ucs_units.log_text()


def test_ucsm_login_refused(ucs_world, ucs_units, ucsm):
    ucsm.users["ovirt-ro"] = "changed"
    run = ucs_units.filter(host_ids(ucs_world, *ALL), ucs_world.vm_by_name("new").id)
    assert run.returncode == 1 and "551" in run.stderr and "secret" not in run.stderr


def test_a_hung_ucs_domain_is_not_asked_again_for_a_while(ucs_world, ucs_units, ucsm):
    """During an outage one decision waits for UCS-M's timeout (3 s here), the next ones do not:
    each would otherwise hold the engine's scheduling for that long per VM."""
    ucsm.faults.delay = 30
    hosts, vm = host_ids(ucs_world, *ALL), ucs_world.vm_by_name("new").id
    first = ucs_units.filter(hosts, vm, {"vf_source": "min"})
    assert first.ok and first.result == host_ids(ucs_world, "h1", "h2", "h4") and first.elapsed >= 3.0
    asked = len(ucsm.requests)
    second = ucs_units.filter(hosts, vm, {"vf_source": "min"})
    assert second.ok and second.result == first.result
    assert len(ucsm.requests) == asked                                   # not asked at all, so no 3 s wait:
    assert second.elapsed < DEADLINE                                     # (a loaded machine may take 2 s to start)
    assert "(not asked again for" in ucs_units.log_text()
