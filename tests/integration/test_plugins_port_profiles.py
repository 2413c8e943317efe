"""The port-profile rule end to end: VfFilter/VfWeight as the proxy runs them, fake engine and two fake
UCS domains over real HTTP.

World: h1, h2 in UCS domain A (defines pp-db, pp:db and pp-vmfex), h3, h4 in domain B (only pp-vmfex),
h5 in no domain; every host has 8 free VFs. VM "db" needs 2 VFs on vNIC profile db (vmfex=pp-db);
"colon" the same on vmfex=pp:db (UCS-M allows ':'); "web" on vmfex=pp-vmfex (defined everywhere).
"""
import json
import os
import re
import time

import pytest

from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmPortProfile, UcsmServer

from tests.integration.helpers import host_ids, ucsm_section, write_conf

HOSTS = ("h1", "h2", "h3", "h4", "h5")
DOMAIN_A = [UcsmPortProfile("pp-db"), UcsmPortProfile("pp:db"), UcsmPortProfile("pp-vmfex")]
DOMAIN_B = [UcsmPortProfile("pp-vmfex")]
DEADLINE, SLACK = 4.0, 2.0


@pytest.fixture
def pp_world(world):
    for name in HOSTS:
        world.add_host(name, vf_devices=8)
    world.add_profile("db", vmfex="pp-db")
    world.add_profile("colon", vmfex="pp:db")
    world.add_vm("db", vmfex_nics=2, vmfex_profile="db")
    world.add_vm("colon", vmfex_nics=2, vmfex_profile="colon")
    world.add_vm("web", vmfex_nics=2)
    return world


def servers(world, names):
    return [UcsmServer(dn="sys/chassis-1/blade-%d" % index, uuid=world.host_by_name(name).hw_uuid.lower(),
                       serial="FCHP%04d" % index, sp_name=name, policy_name="kvm8", dynamic_eth="8")
            for index, name in enumerate(names, start=1)]


@pytest.fixture
def domains(pp_world):
    with FakeUcsm(servers(pp_world, ("h1", "h2")), port_profiles=DOMAIN_A) as first, \
            FakeUcsm(servers(pp_world, ("h3", "h4")), port_profiles=DOMAIN_B) as second:
        yield first, second


def configure(units, engine, domains, scheduler="", ucsm=""):
    section = ucsm_section(units.state_dir, " ".join(d.url for d in domains)) + ucsm
    units.conf_path = write_conf(units.state_dir, engine.url, scheduler, extra=section)
    return units


@pytest.fixture
def pp_units(units, engine, domains):
    """capacity_source = engine (the default) with [ucsm] present: the rule still applies."""
    return configure(units, engine, domains)


def label(fake):
    return fake.url.split("//")[1]


def test_a_domain_lacking_the_port_profile_is_dropped_whatever_the_capacity_source(pp_world, pp_units, domains):
    run = pp_units.filter(host_ids(pp_world, *HOSTS), pp_world.vm_by_name("db").id)
    assert run.ok and run.stderr == ""
    assert run.result == host_ids(pp_world, "h1", "h2", "h5")                      # h5: in no domain, kept (open)
    log = pp_units.log_text()
    assert "h3 DROP: port profile pp-db is not defined in UCS domain %s" % label(domains[1]) in log
    assert "h5 keep: needs port profile pp-db, unknown here (not found in any UCS domain)" in log
    assert "3 of 5 hosts can run db (2 lacking a port profile) (port profiles: pp-db)" in log
    assert "claim: 2 VFs on any of h1, h2, h5" in log      # the engine may pick h5 too: counted there
    assert domains[0].active_sessions == domains[1].active_sessions == 0


def test_source_ucsm_and_min_apply_the_same_rule(pp_world, pp_units):
    for source in ("ucsm", "min"):
        run = pp_units.filter(host_ids(pp_world, *HOSTS), pp_world.vm_by_name("db").id, {"vf_source": source})
        # ucsm: h5 has no UCS-M capacity (unknown, kept by on_error = open); min: the engine's 8
        assert run.result == host_ids(pp_world, "h1", "h2", "h5"), source


def test_port_profile_names_with_a_colon(pp_world, pp_units):
    run = pp_units.filter(host_ids(pp_world, "h1", "h3"), pp_world.vm_by_name("colon").id)
    assert run.result == host_ids(pp_world, "h1")
    assert "port profile pp:db is not defined" in pp_units.log_text()


def test_a_port_profile_defined_everywhere_keeps_every_mapped_host(pp_world, pp_units):
    assert pp_units.filter(host_ids(pp_world, *HOSTS), pp_world.vm_by_name("web").id).result == host_ids(pp_world, *HOSTS)


def test_ignore_turns_the_rule_off(pp_world, units, engine, domains):
    configure(units, engine, domains, ucsm="port_profiles = ignore\n")
    run = units.filter(host_ids(pp_world, *HOSTS), pp_world.vm_by_name("db").id)
    assert run.result == host_ids(pp_world, *HOSTS)
    assert sum(len(d.requests) for d in domains) == 0            # engine capacity, no rule: UCS-M not asked


def test_failing_closed_drops_hosts_in_no_domain(pp_world, pp_units):
    run = pp_units.filter(host_ids(pp_world, *HOSTS), pp_world.vm_by_name("db").id, {"vf_on_error": "closed"})
    assert run.result == host_ids(pp_world, "h1", "h2")
    assert "h5 DROP: needs port profile pp-db, unknown here" in pp_units.log_text()


def test_the_current_host_is_kept_even_in_a_domain_lacking_the_port_profile(pp_world, pp_units, engine):
    with engine.mutate() as inv:
        vm = inv.vm_by_name("db")
        vm.host_id, vm.status = pp_world.host_by_name("h3").id, "up"
    run = pp_units.filter(host_ids(pp_world, "h3", "h4"), pp_world.vm_by_name("db").id)
    assert run.result == host_ids(pp_world, "h3")
    assert "h3 keep: runs here now and holds its 2 VFs" in pp_units.log_text()


def test_weight_scores_missing_last_and_unknown_after_every_fit(pp_world, pp_units):
    scores = dict(pp_units.weight(host_ids(pp_world, *HOSTS), pp_world.vm_by_name("db").id).result)
    h1, h2, h3, h4, h5 = host_ids(pp_world, *HOSTS)
    assert scores == {h1: 998 - 6, h2: 998 - 6, h3: 1000, h4: 1000, h5: 999}


def test_cold_at_most_five_requests_per_domain_in_one_session_warm_none(pp_world, pp_units, domains, engine):
    hosts, vm = host_ids(pp_world, *HOSTS), pp_world.vm_by_name("db").id
    engine.reset_requests()
    pp_units.filter(hosts, vm)
    for domain in domains:
        assert [r[0] for r in domain.requests] == ["aaaLogin", "configResolveClasses", "configResolveClass",
                                                   "configResolveClass", "aaaLogout"]
        assert domain.logins == 1
    cold_engine = engine.api_request_count()
    # no engine request added by the rule: vnicprofiles, vms, hosts (serve: its usage view's full
    # read at start, the same three but the VM list; then the events, the VM and the hosts)
    assert cold_engine == (3 if pp_units.mode == "process" else 6)
    for unit in (pp_units.weight, pp_units.filter):
        assert unit(hosts, vm).ok
    assert [len(d.requests) for d in domains] == [5, 5]
    # warm: 2 engine requests per decision (process: vnicprofiles, vms; serve: events, the VM);
    # serve's weight reuses the read of the filter just before it for the same VM
    assert engine.api_request_count() == cold_engine + (4 if pp_units.mode == "process" else 2)


@pytest.mark.parametrize("fault", [dict(http_status=503), dict(delay=30)])
def test_a_domain_down_makes_its_hosts_unknown_open_keeps_closed_drops(pp_world, pp_units, domains, fault):
    for key, value in fault.items():
        setattr(domains[1].faults, key, value)
    hosts, vm = host_ids(pp_world, *HOSTS), pp_world.vm_by_name("db").id
    started = time.monotonic()
    run = pp_units.filter(hosts, vm)
    assert time.monotonic() - started < DEADLINE + SLACK
    assert run.ok and run.stderr == "" and run.result == host_ids(pp_world, *HOSTS)
    log = pp_units.log_text()
    assert re.search(r"h3 keep: needs port profile pp-db, unknown here \(not in the UCS domains that answered; "
                     r"UCS-M %s: " % re.escape(domains[1].url), log)
    closed = pp_units.filter(hosts, vm, {"vf_on_error": "closed"})
    assert closed.ok and closed.result == host_ids(pp_world, "h1", "h2")
    assert domains[0].logins == 2                         # a partly failed read is not cached: read again
    assert domains[0].active_sessions == domains[1].active_sessions == 0


def test_a_capacity_cache_from_before_port_profiles_is_read_again(pp_world, pp_units, domains):
    """capacity-ucsm.json entries without the host's domain (written by the previous version) are stale."""
    cache = os.path.join(pp_units.state_dir, "cache")
    os.makedirs(cache, exist_ok=True)
    old = {host.id: {"vfs": 8, "detail": "dynamicEth=8", "in_use": 0, "read_at": time.time()}
           for host in pp_world.hosts.values()}
    with open(os.path.join(cache, "capacity-ucsm.json"), "w") as handle:
        json.dump(old, handle)
    run = pp_units.filter(host_ids(pp_world, *HOSTS), pp_world.vm_by_name("db").id)
    assert run.result == host_ids(pp_world, "h1", "h2", "h5")
    assert [d.logins for d in domains] == [1, 1]
