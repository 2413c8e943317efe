"""`ovirt-vf-scheduler port-profiles [sync]`: the real console script against the fake engine and two
fake UCS domains over HTTP, with the SDK writes recorded by the fake engine."""
import json
import subprocess

import pytest

from ovirt_scheduler_proxy_plugins.sim.inventory import sim_id
from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmPortProfile
from ovirt_scheduler_proxy_plugins.tools.port_profile_plan import MARK

from tests.integration.helpers import CLI, stderr_lines, ucsm_section, write_conf


def run(conf, *args):
    return subprocess.run([CLI, "port-profiles"] + list(args) + ["--config", conf], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def domains(world):
    """Domain A: the fake's defaults (pp-vmfex, pp-vlan100, pp-db, pp:legacy); B: pp-vmfex and pp-web.
    vNIC profiles: vmfex (pp-vmfex, everywhere), db (pp-db, missing in B), odd (pp-nowhere, nowhere)."""
    world.add_profile("vmfex", vmfex="pp-vmfex")
    world.add_profile("db", network_name="data", vmfex="pp-db")
    world.add_profile("odd", network_name="data", vmfex="pp-nowhere")
    world.add_profile("ovirtmgmt")
    world.add_cluster()
    with FakeUcsm([]) as first, FakeUcsm([], port_profiles=[UcsmPortProfile("pp-vmfex"),
                                                            UcsmPortProfile("pp-web", vlans=(("web", 20),))]) as second:
        yield first, second


@pytest.fixture
def conf(engine, domains, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    return write_conf(str(state), engine.url, extra=ucsm_section(str(state), " ".join(d.url for d in domains)))


def label(fake):
    return fake.url.split("//")[1]


def posts(engine):
    return [r for r in engine.requests if r.method == "POST" and "/api/" in r.path]


def test_json_report_shows_where_each_value_resolves(conf, domains):
    first, second = domains
    result = run(conf, "--json")
    assert result.returncode == 1 and stderr_lines(result) == []         # some values do not resolve everywhere
    report = json.loads(result.stdout)
    rows = {row["name"]: row for row in report["vnic_profiles"]}
    assert sorted(rows) == ["db", "odd", "vmfex"]                         # ovirtmgmt carries no vmfex
    assert (rows["vmfex"]["resolves"], rows["vmfex"]["missing_in"]) == ("everywhere", [])
    assert (rows["db"]["resolves"], rows["db"]["missing_in"], rows["db"]["network"]) == ("missing", [second.url], "data")
    assert (rows["odd"]["resolves"], rows["odd"]["missing_in"]) == ("nowhere", [first.url, second.url])
    assert [d["url"] for d in report["domains"]] == [first.url, second.url]
    db = next(pp for pp in report["domains"][0]["port_profiles"] if pp["name"] == "pp-db")
    assert db == {"name": "pp-db", "descr": "databases", "vlans": ["db-vlan200", "backup-vlan210"],
                  "native_vlan": "db-vlan200", "qos_policy": "gold", "network_control_policy": "", "max_ports": 32,
                  "high_performance": True, "clients": ["kvm"], "used_by": ["db"], "engine_accepts": True}
    assert report["unused"] == {first.url: ["pp-vlan100", "pp:legacy"], second.url: ["pp-web"]}
    assert report["rejected"] == ["pp:legacy"] and report["all_resolve"] is False
    assert first.active_sessions == second.active_sessions == 0
    assert [r[0] for r in first.requests] == ["aaaLogin", "configResolveClass", "aaaLogout"]


def test_text_report_and_exit_0_when_everything_resolves(conf, domains, world):
    first, second = domains
    text = run(conf).stdout
    assert "UCS domain %s: 4 port profiles" % label(first) in text
    assert "db-vlan200*, backup-vlan210" in text and "missing in %s" % label(second) in text
    assert "refused by the engine's vmfex regex ^[a-zA-Z0-9_.-]{2,32}$: pp:legacy" in text
    for name in ("db", "odd"):
        del world.profiles[sim_id("vnicprofile", name)]
    assert run(conf).returncode == 0


def test_sync_dry_run_plans_and_sends_nothing(conf, engine, domains):
    result = run(conf, "sync", "--network", "vmfex", "--dry-run", "--json")
    plan = json.loads(result.stdout)
    assert [c["vnic_profile"] for c in plan["creations"]] == ["pp-vlan100", "pp-web"]
    assert plan["skipped"][0]["port_profile"] == "pp:legacy" and "regex" in plan["skipped"][0]["reason"]
    assert (plan["dry_run"], plan["applied"], result.returncode) == (True, False, 1)
    assert posts(engine) == []
    assert "would create 2 vNIC profiles" in run(conf, "sync", "--network", "vmfex", "--dry-run").stdout


def test_sync_creates_marked_profiles_once_and_leaves_the_rest_alone(conf, engine, domains, world):
    first, second = domains
    before = {pid: (p.name, p.network_name, dict(p.custom_properties), p.description)
              for pid, p in world.profiles.items()}
    result = run(conf, "sync", "--network", "vmfex")
    assert result.returncode == 1 and stderr_lines(result) == []            # pp:legacy skipped
    assert "created 2 vNIC profiles" in result.stdout and "skipped pp:legacy" in result.stdout
    created = {p.name: p for p in world.profiles.values() if p.id not in before}
    assert sorted(created) == ["pp-vlan100", "pp-web"]
    assert all(p.network_name == "vmfex" and p.custom_properties == {"vmfex": p.name} for p in created.values())
    assert created["pp-web"].description == "UCS port profile pp-web (%s); %s" % (label(second), MARK)
    assert [r.path for r in posts(engine)] == ["/ovirt-engine/api/networks/%s/vnicprofiles" % sim_id("network", "vmfex")] * 2
    assert {pid: (p.name, p.network_name, dict(p.custom_properties), p.description)
            for pid, p in world.profiles.items() if pid in before} == before
    engine.reset_requests()
    again = run(conf, "sync", "--network", "vmfex", "--json")
    assert json.loads(again.stdout)["creations"] == [] and posts(engine) == []
    rows = {row["name"]: row for row in json.loads(run(conf, "--json").stdout)["vnic_profiles"]}
    assert rows["pp-web"]["created_by_sync"] and not rows["vmfex"]["created_by_sync"]


def test_sync_of_one_domain_and_names_taken_on_the_network(conf, engine, domains, world):
    first, second = domains
    world.add_profile("pp-web", network_name="vmfex")                     # same name, no vmfex: not ours
    plan = json.loads(run(conf, "sync", "--network", "vmfex", "--domain", second.url + "/", "--json").stdout)
    assert plan["creations"] == [] and plan["domains"] == [second.url]
    assert plan["skipped"] == [{"port_profile": "pp-web", "reason": "network vmfex already has a vNIC profile "
                                "named pp-web without vmfex=pp-web: set the property on it, or rename it"}]
    assert [r[0] for r in first.requests] == [] and posts(engine) == []


def test_an_engine_refusal_is_one_line_with_the_fix(conf, engine, domains, world):
    world.device_properties.clear()                       # vmfex not defined in CustomDeviceProperties
    result = run(conf, "sync", "--network", "vmfex")
    assert result.returncode == 3 and result.stdout == ""
    (line,) = stderr_lines(result)
    assert line.startswith("ovirt-vf-scheduler port-profiles sync: creating vNIC profile pp-vlan100 on network vmfex (1 of 2) "
                           "was refused: ")
    assert "are not configured by the system. The keys are: vmfex" in line
    assert ("fix: the engine does not define vmfex for vNIC profiles: on the engine: engine-config -s "
            "CustomDeviceProperties='{type=interface;prop={vmfex=^[a-zA-Z0-9_.-]{2,32}$}}' --cver=4.7") in line
    assert "the 0 created before it stay" in line


@pytest.mark.parametrize("args, words", [
    (("sync", "--network", "nope"), "no network 'nope' in the engine at"),
    (("sync", "--network", "vmfex", "--domain", "https://elsewhere"), "--domain https://elsewhere is not one of"),
])
def test_unknown_network_or_domain_is_exit_3(conf, args, words):
    result = run(conf, *args)
    assert result.returncode == 3 and len(stderr_lines(result)) == 1 and words in result.stderr


def test_a_domain_down_or_no_ucsm_section_is_exit_3(conf, domains, engine, tmp_path):
    domains[1].faults.http_status = 503
    result = run(conf)
    assert result.returncode == 3 and "HTTP 503" in result.stderr and domains[1].url in result.stderr
    plain = write_conf(str(tmp_path / "plain"), engine.url)
    assert "has no [ucsm] section" in run(plain).stderr


def test_help_documents_the_exit_codes():
    for args in (["port-profiles"], ["port-profiles", "sync"]):
        text = subprocess.run([CLI] + args + ["--help"], capture_output=True, text=True, timeout=30).stdout
        codes = text.split("exit codes:")[1]
        assert [line.split()[0] for line in codes.strip().splitlines() if line[:3].strip().isdigit()] == \
            ["0", "1", "2", "3"], args
