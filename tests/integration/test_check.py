"""`ovirt-vf-scheduler check`: the real console script against the fake engine (over verified TLS where
it matters) and the fake UCS-M; each failure must be a FAIL line with its fix, and the exit code
the worst status (0 OK, 1 WARN, 3 FAIL)."""
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time

import pytest
import trustme

from ovirt_scheduler_proxy_plugins.sim.engine import FakeEngine
from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmPortProfile, sample_servers
from ovirt_scheduler_proxy_plugins.config import PROPERTIES_VALIDATION

from tests.integration.helpers import CLI, ucsm_section, with_discovery, write_conf

LINE = re.compile(r"^(OK|WARN|FAIL)\s+(\S.*?)\s{2,}(.*)$")
VMFEX_DEFINITION = "{type=interface;prop={SecurityGroups=^.*$;vmfex=^[a-zA-Z0-9_.-]{2,32}$}}"


pytestmark = pytest.mark.usefixtures("discovery")


def run_check(conf, plugins_dir, *args):
    """As the current user (CI has no user ovirt; test_check_access.py checks as another user),
    with serve answering discover where the config says (the "serve" line)."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    if os.path.exists(conf):
        with_discovery(conf)
    return subprocess.run([CLI, "check", "--config", conf, "--plugins-dir", plugins_dir, "--python",
                           sys.executable, "--user", user] + list(args), capture_output=True, text=True, timeout=60)


def lines(run):
    """{check name: [(status, message, fix)]} from the human output."""
    found, out = {}, run.stdout.splitlines()
    for index, text in enumerate(out):
        match = LINE.match(text)
        if match:
            fix = out[index + 1].strip() if index + 1 < len(out) and out[index + 1].startswith(" ") else ""
            found.setdefault(match.group(2), []).append((match.group(1), match.group(3), fix))
    return found


def engine_conf(state, url, line):
    """The tests' config with one more [engine] line (ca_file, insecure)."""
    conf = write_conf(state, url)
    with open(conf) as handle:
        text = handle.read().replace("[engine]\n", "[engine]\n%s\n" % line, 1)
    with open(conf, "w") as handle:
        handle.write(text)
    return conf


def healthy(world):
    """What a working site looks like: VM-FEX hosts and profiles, the units discovered and used by the
    cluster's policy, both engine options readable (a real engine keeps them internal)."""
    world.add_host("kvm-host1", vf_devices=10, hw_uuid=sample_servers(2)[0].uuid.upper())
    world.add_host("kvm-host2", vf_devices=4, hw_uuid=sample_servers(2)[1].uuid.upper())
    world.add_vm("app", host="kvm-host1", vmfex_nics=2)
    world.add_builtin_policies()
    world.add_vf_units(PROPERTIES_VALIDATION)
    policy = world.add_policy("vf", filters=["Memory", "VfFilter"], weights=[("VfWeight", 1)], balance="None")
    world.add_cluster().scheduling_policy_id = policy.id
    world.options.update(ExternalSchedulerEnabled={"general": "true"},
                         CustomDeviceProperties={"4.7": VMFEX_DEFINITION})
    return world


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    path = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(path / "server.pem"))
    ca.cert_pem.write_to_path(str(path / "ca.pem"))
    return {"server": str(path / "server.pem"), "ca": str(path / "ca.pem")}


@pytest.fixture
def https_engine(world, tls):
    with FakeEngine(healthy(world), tls_cert=tls["server"]) as fake:
        yield fake


def test_a_healthy_site_over_verified_tls_is_all_ok(https_engine, tls, tmp_path, plugins_dir, discovery):
    run = run_check(engine_conf(str(tmp_path / "state"), https_engine.url, "ca_file = " + tls["ca"]), plugins_dir)
    found = lines(run)
    assert run.returncode == 0, run.stdout
    assert all(status == "OK" for items in found.values() for status, _, _ in items), run.stdout
    assert found["tls [engine]"][0][1] == "certificates verified against %s" % tls["ca"]
    assert "defines vmfex for interfaces in cluster version 4.7" in found["CustomDeviceProperties"][0][1]
    assert found["serve"][0][1].startswith("http://127.0.0.1:%d/ offers VfFilter and VfWeight to the engine"
                                           % discovery.port)
    assert set(found) >= {"config", "state dirs", "plugin files", "proxy python", "serve", "engine login", "rights",
                          "vf property", "usage events", "ExternalSchedulerEnabled", "external units",
                          "cluster policies", "capacity: engine"}
    assert found["usage events"][0][1].startswith("admin@internal can read events (newest ")
    assert re.search(r"^check: 0 FAIL, 0 WARN, \d+ OK \(worst: OK\)$", run.stdout, re.M)


def test_unknown_ca_fails_login_with_the_ca_fix_and_insecure_warns(https_engine, tmp_path, plugins_dir):
    conf = write_conf(str(tmp_path / "state"), https_engine.url)
    run = run_check(conf, plugins_dir)
    status, message, fix = lines(run)["engine login"][0]
    assert (run.returncode, status) == (3, "FAIL")
    assert "TLS verification of %s failed: the engine's certificate is signed by a CA that [engine] ca_file " \
        "does not hold" % https_engine.url in message
    assert "on the engine host set [engine] ca_file = /etc/pki/ovirt-engine/apache-ca.pem" in fix
    assert "curl -o /etc/ovirt-scheduler-proxy/engine-ca.pem 'http://127.0.0.1/ovirt-engine/services/pki-resource?" \
        "resource=ca-certificate&format=X509-PEM-CA'" in fix
    assert "curl -o /etc/pki/" not in fix                      # never over the engine's own CA file
    relaxed = lines(run_check(engine_conf(str(tmp_path / "other"), https_engine.url, "insecure = true"),
                              plugins_dir))
    assert relaxed["tls [engine]"][0][:2] == ("WARN", "insecure = true: the server certificate is not verified")
    assert relaxed["engine login"][0][0] == "OK"


def test_https_to_a_plain_http_port_is_not_called_a_ca_problem(world, engine, tmp_path, plugins_dir):
    healthy(world)
    url = engine.url.replace("http://", "https://")
    status, message, fix = lines(run_check(write_conf(str(tmp_path / "state"), url), plugins_dir))["engine login"][0]
    assert status == "FAIL" and message.startswith("%s: that port speaks plain HTTP, not TLS: " % url)
    assert fix == ("fix: the engine serves TLS on port 443: [engine] url = https://ENGINE_FQDN/ovirt-engine/api "
                   "without the port (or with the engine's https port)")


@pytest.fixture
def http_conf(world, engine, tmp_path):
    healthy(world)
    return write_conf(str(tmp_path / "state"), engine.url)


def test_engine_down_is_a_fail_with_its_fix_and_nothing_after_it(engine, http_conf, plugins_dir):
    engine.stop()
    run = run_check(http_conf, plugins_dir)
    found = lines(run)
    status, message, fix = found["engine login"][0]
    assert (run.returncode, status) == (3, "FAIL")
    assert message.startswith("cannot reach the engine at %s" % engine.url)
    assert fix.startswith("fix: is ovirt-engine running")
    assert "rights" not in found and found["plugin files"][0][0] == "OK"     # local checks still ran
    assert run.stdout.rstrip().endswith("(worst: FAIL)")


def test_wrong_password_fails_even_with_a_valid_cached_token(world, engine, http_conf, plugins_dir):
    assert run_check(http_conf, plugins_dir).returncode == 1                 # http: one WARN; caches a token
    world.users["admin@internal"] = "rotated"
    run = run_check(http_conf, plugins_dir)
    status, message, fix = lines(run)["engine login"][0]
    assert (run.returncode, status) == (3, "FAIL")
    assert "refused the credentials of admin@internal" in message and "password_file" in fix


def test_json_has_every_check_the_worst_status_and_the_exit_code(http_conf, plugins_dir):
    run = run_check(http_conf, plugins_dir, "--json")
    report = json.loads(run.stdout)
    assert (run.returncode, report["worst"], report["exit_code"]) == (1, "WARN", 1)
    assert all(set(item) == {"check", "status", "message", "hint"} for item in report["checks"])
    assert [item["check"] for item in report["checks"] if item["status"] != "OK"] == ["tls [engine]"]


def test_the_plugin_dir_defaults_to_serves(http_conf, plugins_dir, discovery):
    """Without --plugins-dir, check looks where serve runs the units from: [serve] plugins_dir."""
    with open(http_conf, "a") as handle:
        handle.write("\n[serve]\nlisten = 127.0.0.1:%d\nplugins_dir = %s\n" % (discovery.port, plugins_dir))
    user = pwd.getpwuid(os.geteuid()).pw_name
    run = subprocess.run([CLI, "check", "--config", http_conf, "--python", sys.executable, "--user", user],
                         capture_output=True, text=True, timeout=60)
    found = lines(run)
    assert found["plugin files"][0][0] == "OK" and plugins_dir in found["plugin files"][0][1], run.stdout
    assert found["proxy python"][0][0] == "OK", run.stdout


def test_plugin_file_out_of_date_and_a_clashing_class_fail(http_conf, plugins_dir, tmp_path):
    stale = str(tmp_path / "plugins")
    shutil.copytree(plugins_dir, stale)
    with open(os.path.join(stale, "vf_filter.py"), "a") as handle:
        handle.write("# edited by hand\n")
    with open(os.path.join(stale, "site_units.py"), "w") as handle:
        handle.write("class VfWeight:\n    def do_score(self, hosts, vm, args):\n        print([])\n")
    run = run_check(http_conf, stale)
    found = lines(run)["plugin files"]
    assert run.returncode == 3
    assert found[0][:2] == ("FAIL", "in %s: vf_filter.py differs from the installed version 0.1.0" % stale)
    assert found[0][2] == ("fix: ovirt-vf-scheduler install-plugins --plugins-dir %s, then restart ovirt-vf-scheduler "
                           "(ovirt-scheduler-proxy before oVirt 4.5), then ovirt-engine" % stale)
    assert found[1][0] == "FAIL" and found[1][1].startswith("site_units.py also defines class VfWeight")


def test_bad_config_is_one_fail_line_naming_the_key(tmp_path, plugins_dir):
    conf = write_conf(str(tmp_path / "state"), "http://127.0.0.1:9/ovirt-engine/api",
                      extra_scheduler="reserve = -1\n")
    run = run_check(conf, plugins_dir)
    found = lines(run)
    assert run.returncode == 3 and found["config"][0][0] == "FAIL"
    assert "[scheduler] reserve: expected a whole number >= 0" in found["config"][0][1]
    assert "engine login" not in found and "plugin files" in found


def test_rights_options_and_units_each_fail_with_their_fix(world, http_conf, plugins_dir):
    world.forbidden["admin@internal"] = frozenset({"hosts"})
    rights = lines(run_check(http_conf, plugins_dir))["rights"][0]
    assert rights[0] == "FAIL" and "admin@internal cannot read hosts" in rights[1] and "ReadOnlyAdmin" in rights[2]
    world.forbidden.clear()
    world.options.update(ExternalSchedulerEnabled={"general": "false"},
                         CustomDeviceProperties={"4.7": "{type=interface;prop={SecurityGroups=^.*$}}"})
    world.unit_by_name("VfWeight", "weight").enabled = False
    found = lines(run_check(http_conf, plugins_dir))
    assert found["ExternalSchedulerEnabled"][0][:2] == ("FAIL", "is false")
    device = found["CustomDeviceProperties"][0]
    assert device[:2] == ("FAIL", "does not define vmfex for interfaces in cluster version 4.7")
    assert "--cver=4.7" in device[2]
    assert found["external units"][0][0] == "FAIL" and "VfWeight disabled" in found["external units"][0][1]


def test_an_account_that_cannot_read_events_is_a_warning_with_its_fix(world, http_conf, plugins_dir):
    world.forbidden["admin@internal"] = frozenset({"events"})
    status, message, fix = lines(run_check(http_conf, plugins_dir))["usage events"][0]
    assert status == "WARN" and "admin@internal cannot read events" in message and "HTTP 403" in message
    assert "usage_events = no" in fix


def test_internal_options_are_inferred_from_what_the_engine_did(world, http_conf, plugins_dir):
    """A real engine answers 404 for both options: profiles carrying vmfex and discovered units prove them."""
    world.options.clear()
    found = lines(run_check(http_conf, plugins_dir))
    assert found["CustomDeviceProperties"][0][0] == "OK" and "vNIC profiles carry vmfex" in \
        found["CustomDeviceProperties"][0][1]
    assert found["ExternalSchedulerEnabled"][0][0] == "OK"
    del world.policy_units[world.unit_by_name("VfFilter", "filter").id]
    missing = lines(run_check(http_conf, plugins_dir))
    assert missing["ExternalSchedulerEnabled"][0][0] == "WARN"
    assert missing["external units"][0][:2] == ("FAIL", "the engine has not discovered VfFilter")


def test_ucsm_login_per_domain_and_hosts_without_a_service_profile(world, engine, tmp_path, plugins_dir):
    healthy(world)
    world.add_host("rack9", vf_devices=4)                             # no service profile in UCS-M
    with FakeUcsm(sample_servers(2)) as good, FakeUcsm(sample_servers(2), users={"ovirt-ro": "other"}) as bad:
        conf = write_conf(str(tmp_path), engine.url, extra=ucsm_section(str(tmp_path), good.url))
        found = lines(run_check(conf, plugins_dir))
        assert found["ucsm login"][0][:2] == ("OK", "%s: logged in as ovirt-ro and read the service and port "
                                              "profiles; privileges read-only: enough for the units; "
                                              "`port-profiles export` would be refused (it needs the network or "
                                              "admin role)" % good.url)
        assert found["port profiles"][0][:2] == ("OK", "every vmfex value (1) names a port profile in every UCS "
                                                 "domain read (1)")
        mapping = found["capacity: ucsm"][0]
        assert mapping[0] == "WARN" and mapping[1].startswith("1 of 3 hosts have no UCS-M capacity")
        assert "rack9 (not found in any UCS domain)" in mapping[1] and "host_map" in mapping[2]
        (tmp_path / "bad").mkdir()
        other = write_conf(str(tmp_path / "bad"), engine.url, extra=ucsm_section(str(tmp_path / "bad"), bad.url))
        refused = lines(run_check(other, plugins_dir))["ucsm login"][0]
        assert refused[0] == "FAIL" and "refused ovirt-ro" in refused[1] and "username and password" in refused[2]
        assert good.active_sessions == 0 and bad.active_sessions == 0
        good.privileges["ovirt-ro"] = "ls-network,read-only"
        writer = lines(run_check(conf, plugins_dir))["ucsm login"][0][1]
        assert writer.endswith("; privileges ls-network,read-only: `port-profiles export` may write")


def test_vnic_profile_values_missing_in_a_domain_are_warned_about_with_the_domains(world, engine, tmp_path,
                                                                                  plugins_dir):
    healthy(world)
    world.add_profile("db", vmfex="pp-db")
    world.add_profile("odd", vmfex="pp-nowhere")
    servers = sample_servers(2)
    with FakeUcsm(servers[:1]) as first, \
            FakeUcsm(servers[1:], port_profiles=[UcsmPortProfile("pp-vmfex")]) as second:
        section = ucsm_section(str(tmp_path), "%s %s" % (first.url, second.url))
        run = run_check(write_conf(str(tmp_path), engine.url, extra=section), plugins_dir)
        found = lines(run)["port profiles"][0]
        label = second.url.split("//")[1]
        assert found[0] == "WARN" and run.returncode == 1
        assert found[1] == ("2 vNIC profile values name no port profile in some UCS domain, so VfFilter keeps VMs "
                            "using them out of those domains: vmfex=pp-db (missing in %s), vmfex=pp-nowhere "
                            "(missing in %s, %s)" % (label, first.url.split("//")[1], label))
        assert "UCS Manager" in found[2] and "port-profiles" in found[2]
        assert first.active_sessions == second.active_sessions == 0


def test_ucsm_https_to_a_plain_http_port_is_named_so(world, engine, tmp_path, plugins_dir):
    healthy(world)
    with FakeUcsm(sample_servers(2)) as plain:
        url = plain.url.replace("http://", "https://")
        conf = write_conf(str(tmp_path), engine.url, extra=ucsm_section(str(tmp_path), url))
        status, message, fix = lines(run_check(conf, plugins_dir))["ucsm login"][0]
    assert status == "FAIL" and message.startswith("%s: that port speaks plain HTTP, not TLS: " % url), message
    assert fix == "fix: UCS Manager serves TLS on port 443: [ucsm] url = https://UCSM without the port"


def test_a_hung_login_is_given_up_after_the_step_timeout(engine, http_conf, plugins_dir):
    engine.faults.login_delay = 30.0
    started = time.monotonic()
    run = run_check(http_conf, plugins_dir, "--timeout", "1")
    status, message, _ = lines(run)["engine login"][0]
    # Far below the 30 s hang, so the login was given up; far above the ~2 s the whole run takes
    # alone, so a loaded machine (8 busy loops on 2 cores: 3.9 s) does not fail it.
    assert time.monotonic() - started < 15
    assert (run.returncode, status) == (3, "FAIL") and "no answer within 1 s" in message
