"""VfFilter and VfWeight end to end: real processes as the proxy runs them, real ovirtsdk4
client, fake engine over HTTP. Each case states its arithmetic."""
import json
import re
import xmlrpc.client
import os
import stat
import subprocess

import pytest

from ovirt_scheduler_proxy_plugins.sim.inventory import sim_id

from tests.integration.helpers import host_ids, int_scores, write_conf


def assert_clean(run):
    """The proxy keeps a unit's answer only like this."""
    assert run.ok, (run.discarded_because, run.stdout, run.stderr)
    assert run.stderr == "" and run.returncode == 0


@pytest.fixture
def start_world(world):
    """Four hosts seen by a VM with 2 VM-FEX vNICs: free 0, 1, enough (6) and no VFs at all."""
    world.add_host("full", vf_devices=4)
    world.add_host("one", vf_devices=4)
    world.add_host("enough", vf_devices=8)
    world.add_host("novf", vf_devices=0)
    world.add_vm("full-a", host="full", vmfex_nics=2, plain_nics=1)
    world.add_vm("full-b", host="full", vmfex_nics=2)          # full: 4 - 4 = 0 free
    world.add_vm("one-a", host="one", vmfex_nics=3)            # one: 4 - 3 = 1 free
    world.add_vm("enough-a", host="enough", vmfex_nics=2)      # enough: 8 - 2 = 6 free
    world.add_vm("novf-a", host="novf", plain_nics=2)
    world.add_vm("new", vmfex_nics=2, plain_nics=1)            # down, to be started
    return world


def test_start_keeps_only_hosts_with_enough_free_vfs(start_world, units):
    hosts = host_ids(start_world, "full", "one", "enough", "novf")
    run = units.filter(hosts, start_world.vm_by_name("new").id)
    assert_clean(run)
    assert run.result == host_ids(start_world, "enough")
    log = units.log_text()
    assert "1 of 4 hosts can run new (2 too few free VFs, 1 no VFs)" in log
    assert "one DROP: needs 2, 1 free: 3 of 4 used by 1 VM" in log
    assert "secret" not in log


def test_weight_scores_every_host_with_an_int_lower_is_better(start_world, units):
    hosts = host_ids(start_world, "full", "one", "enough", "novf")
    run = units.weight(hosts, start_world.vm_by_name("new").id)
    assert_clean(run)
    # spread: enough has 6 - 2 = 4 free after placement -> 998 - 4; the rest do not fit
    assert int_scores(run.result) == [(hosts[0], 1000), (hosts[1], 1000), (hosts[2], 994), (hosts[3], 1000)]
    # What leaves the process: int literals (the proxy hands them on to the engine over XML-RPC,
    # where 994.0 would become a <double> and break the engine's ranking).
    if units.mode == "process":
        assert run.stdout == "[(%r, 1000), (%r, 1000), (%r, 994), (%r, 1000)]\n" % tuple(hosts)
    else:   # what leaves serve: <int> values in the XML-RPC answer, never <double>
        call = xmlrpc.client.dumps(([["VfWeight", 1]], hosts, start_world.vm_by_name("new").id, {}),
                                   "runCostFunctions")
        status, body = units.server.post(call.encode())
        assert re.findall(rb"<int>(\d+)</int>", body) == [b"0", b"1000", b"1000", b"994", b"1000"]
        assert b"<double>" not in body


def test_pack_and_reserve_from_cluster_properties(start_world, units):
    start_world.add_host("roomy", vf_devices=16)
    hosts = host_ids(start_world, "enough", "roomy")
    vm = start_world.vm_by_name("new").id
    packed = dict(int_scores(units.weight(hosts, vm, {"vf_weight_mode": "pack"}).result))
    assert packed == {hosts[0]: 4, hosts[1]: 14}                      # tightest fit first
    plain = start_world.add_vm("plain", plain_nics=2).id
    reserved = dict(int_scores(units.weight(host_ids(start_world, "novf", "roomy"), plain,
                                            {"vf_weight_mode": "reserve"}).result))
    # reserve: fewest free VFs first. roomy: 16 free - 2 pending (new's claim: it may still be
    # placed on enough OR roomy, so it counts on both) = 14.
    assert reserved == {start_world.host_by_name("novf").id: 0, start_world.host_by_name("roomy").id: 14}


def test_reserve_mode_on_an_engine_without_vf_profiles(world, units):
    """No vNIC profile carries vmfex yet: nothing holds VFs, and reserve still ranks capacity
    (serve once failed here: its usage view is only made when there are VF profiles)."""
    world.add_host("vfs", vf_devices=8)
    world.add_host("none", vf_devices=0)
    vm = world.add_vm("plain", plain_nics=2).id
    run = units.weight(host_ids(world, "vfs", "none"), vm, {"vf_weight_mode": "reserve"})
    assert_clean(run)
    assert dict(int_scores(run.result)) == {world.host_by_name("vfs").id: 8, world.host_by_name("none").id: 0}


def test_reserve_property_reduces_free(start_world, units):
    run = units.filter(host_ids(start_world, "enough"), start_world.vm_by_name("new").id, {"vf_reserve": "5"})
    assert_clean(run)
    assert run.result == []                                         # 8 - 2 - 5 = 1 < 2


def test_vm_without_vmfex_passes_every_host_without_a_host_query(start_world, engine, units):
    vm = start_world.add_vm("plainvm", plain_nics=3).id
    hosts = host_ids(start_world, "full", "novf")
    engine.reset_requests()
    run = units.filter(hosts, vm)
    assert_clean(run)
    assert run.result == hosts
    paths = [r.path for r in engine.requests]
    assert not any(p.endswith("/hosts") for p in paths), paths
    weights = units.weight(hosts, vm)
    assert int_scores(weights.result) == [(hosts[0], 0), (hosts[1], 0)]   # neutral


def test_unplugged_vmfex_nic_takes_no_vf(start_world, units):
    vm = start_world.add_vm("half", vmfex_nics=1, unplugged_vmfex=3).id
    run = units.filter(host_ids(start_world, "one"), vm)
    assert run.result == host_ids(start_world, "one")                    # needs 1 (not 4), 1 free


def test_unplugged_vmfex_nic_of_other_vm_holds_nothing(start_world, units):
    start_world.add_vm("one-b", host="one", unplugged_vmfex=1)
    run = units.filter(host_ids(start_world, "one"), start_world.add_vm("x", vmfex_nics=1).id)
    assert run.result == host_ids(start_world, "one")


def test_migration_keeps_the_source_and_counts_own_vfs_only_there(world, units):
    """vf_reserve=1 makes the source truly full for the rule: 2 VFs - 0 used by others - 1 reserved
    = 1 free < 2 needed. Only "the VM already holds its VFs there" keeps it."""
    world.add_host("src", vf_devices=2)
    world.add_host("dst-full", vf_devices=2)
    world.add_host("dst-ok", vf_devices=3)
    mover = world.add_vm("mover", host="src", status="migrating", vmfex_nics=2)
    world.add_vm("filler", host="dst-full", vmfex_nics=1)
    reserve = {"vf_reserve": "1"}
    src, dst_full, dst_ok = host_ids(world, "src", "dst-full", "dst-ok")
    # balancing/affinity pass the source: kept although its free VFs (1) are fewer than 2
    run = units.filter([src, dst_full, dst_ok], mover.id, reserve)
    assert_clean(run)
    assert run.result == [src, dst_ok]                              # dst-full: 2 - 1 - 1 = 0; dst-ok: 3 - 1 = 2
    assert "src keep: runs here now and holds its 2 VFs" in units.log_text()
    # user migration without destination: the source is not among the candidates
    run = units.filter([dst_full, dst_ok], mover.id, reserve)
    assert run.result == [dst_ok]
    # spread: src 1 - 2 = -1 after (clamped to 0) -> 998; dst-ok 2 - 2 = 0 -> 998; dst-full cannot take it
    scores = units.weight([src, dst_full, dst_ok], mover.id, reserve).result
    assert int_scores(scores) == [(src, 998), (dst_full, 1000), (dst_ok, 998)]


HOLDS = {"up", "powering_up", "powering_down", "paused", "migrating", "wait_for_launch",
         "reboot_in_progress", "saving_state", "restoring_state", "unknown", "not_responding"}


@pytest.mark.parametrize("status", sorted(HOLDS | {"down", "suspended", "image_locked", "unassigned"}))
def test_vm_states_that_hold_vfs(world, units, status):
    world.add_host("h", vf_devices=1)
    world.add_vm("other", host="h", status=status, vmfex_nics=1)
    run = units.filter(host_ids(world, "h"), world.add_vm("new", vmfex_nics=1).id)
    assert_clean(run)
    assert run.result == ([] if status in HOLDS else host_ids(world, "h"))


def test_host_without_vf_devices_falls_back_to_nic_vf_configuration(world, units):
    world.add_host("cfg", vf_devices=0, nic_vfs_configured=3)
    world.add_vm("a", host="cfg", vmfex_nics=2)
    vm = world.add_vm("new", vmfex_nics=1).id
    assert units.filter(host_ids(world, "cfg"), vm).result == host_ids(world, "cfg")     # 3 - 2 = 1
    world.add_vm("b", host="cfg", vmfex_nics=1)
    assert units.filter(host_ids(world, "cfg"), vm).result == []                     # usage is fresh


def test_capacity_is_cached_and_usage_is_not(start_world, engine, units):
    vm = start_world.vm_by_name("new").id
    hosts = host_ids(start_world, "enough", "one")
    units.filter(hosts, vm)
    engine.reset_requests()
    run = units.filter(hosts, vm)
    assert run.result == host_ids(start_world, "enough")
    api = [r.path for r in engine.requests if "/api/" in r.path]
    assert len(api) == 2 and not any(p.endswith("/hosts") for p in api), api   # warm: 2 requests
    assert engine.logins == 1                                                    # token reused


def test_odd_inputs_from_the_proxy(start_world, units):
    vm = start_world.vm_by_name("new").id
    enough = start_world.host_by_name("enough").id
    assert units.filter([], vm).result == []
    assert units.weight([], vm).result == []
    if units.mode == "serve":
        # The engine only sends UUIDs: anything else is a malformed call, answered with a fault
        # (the engine then fails open for that call), and the next call is answered as usual.
        bad = units.filter([enough, "not-a-uuid"], vm)
        assert bad.stderr == "fault: bad call: host id 'not-a-uuid' is not a UUID\n"
        run = units.filter([enough, enough, sim_id("host", "ghost")], vm)
        assert_clean(run)
        assert run.result == [enough, enough, sim_id("host", "ghost")]              # open: unknown kept
    else:
        run = units.filter([enough, enough, "not-a-uuid", sim_id("host", "ghost")], vm)
        assert_clean(run)
        assert run.result == [enough, enough, "not-a-uuid", sim_id("host", "ghost")]  # open: unknown kept
        closed = units.filter([enough, "not-a-uuid"], vm, {"vf_on_error": "closed"})
        assert closed.result == [enough]
    scores = units.weight([enough, sim_id("host", "ghost")], vm).result
    assert int_scores(scores) == [(enough, 994), (sim_id("host", "ghost"), 999)]


def test_unknown_vm_fails_with_a_reason(start_world, units):
    run = units.filter(host_ids(start_world, "enough"), sim_id("vm", "nobody"))
    assert run.returncode != 0 and not run.ok
    assert run.stderr.count("\n") == 1
    assert "is not in the engine's answer" in run.stderr
    assert units.filter(host_ids(start_world, "enough"), "garbage").stderr.count("not a UUID") == 1


def test_install_plugins_is_idempotent_and_protects_foreign_files(tmp_path, plugins_dir):
    from tests.integration.helpers import CLI
    target = tmp_path / "p"
    target.mkdir()
    first = subprocess.run([CLI, "install-plugins", "--plugins-dir", str(target)], capture_output=True, text=True)
    second = subprocess.run([CLI, "install-plugins", "--plugins-dir", str(target)], capture_output=True, text=True)
    assert first.returncode == 0 and first.stdout.count("installed") == 2
    assert second.returncode == 0 and second.stdout.count("unchanged") == 2
    (target / "vf_weight.py").write_text("class Theirs:\n    pass\n")
    refused = subprocess.run([CLI, "install-plugins", "--plugins-dir", str(target)], capture_output=True, text=True)
    assert refused.returncode == 3 and "not an ovirt-vf-scheduler module; use --force" in refused.stderr
    assert (target / "vf_weight.py").read_text().startswith("class Theirs")
    forced = subprocess.run([CLI, "install-plugins", "--plugins-dir", str(target), "--force"],
                            capture_output=True, text=True)
    assert forced.returncode == 0 and "updated" in forced.stdout
    missing = subprocess.run([CLI, "install-plugins", "--plugins-dir", str(tmp_path / "nope")],
                             capture_output=True, text=True)
    assert missing.returncode == 3 and "no such directory" in missing.stderr


def test_proxy_loader_sees_exactly_our_units(plugins_dir):
    """What the proxy's loader does: import in the plugin dir, every class with do_* is a unit."""
    code = ("import inspect, json, vf_filter, vf_weight\n"
            "found = {}\n"
            "for mod in (vf_filter, vf_weight):\n"
            "    for name, cls in inspect.getmembers(mod, inspect.isclass):\n"
            "        for kind in ('do_filter', 'do_score', 'do_balance'):\n"
            "            if hasattr(cls, kind):\n"
            "                found[name] = (kind, getattr(cls, kind).__doc__, cls.properties_validation)\n"
            "print(json.dumps(found))\n")
    out = subprocess.run(["python3", "-c", code], cwd=plugins_dir, capture_output=True, text=True,
                         env=dict(os.environ, PATH=os.path.dirname(os.sys.executable) + ":" + os.environ["PATH"]))
    assert out.stderr == ""
    found = json.loads(out.stdout)
    assert sorted(found) == ["VfFilter", "VfWeight"]
    assert found["VfFilter"][0] == "do_filter" and found["VfWeight"][0] == "do_score"
    for kind, doc, props in found.values():
        assert doc and "\n" not in doc and doc == doc.strip()
        assert props.startswith("vf_reserve=") and not props.startswith("{")  # braces form is rejected


def test_token_cache_is_private_and_shared(start_world, engine, units):
    vm = start_world.vm_by_name("new").id
    units.filter(host_ids(start_world, "enough"), vm)
    units.weight(host_ids(start_world, "enough"), vm)
    cache = os.path.join(units.state_dir, "cache")
    tokens = [f for f in os.listdir(cache) if f.startswith("engine-token-")]
    assert len(tokens) == 1
    assert stat.S_IMODE(os.stat(os.path.join(cache, tokens[0])).st_mode) == 0o600
    assert engine.logins == 1 and engine.logouts == 0      # never revoked by close()


def test_config_in_a_second_file_for_closed_policy(start_world, engine, units, tmp_path):
    """A host the engine does not know has unknown capacity: the default config (open) keeps it,
    the second file (closed) must drop it; so the answer tells which file was read."""
    hosts = [start_world.host_by_name("enough").id, sim_id("host", "ghost")]
    vm = start_world.vm_by_name("new").id
    assert units.filter(hosts, vm).result == hosts
    conf = write_conf(str(tmp_path / "closed"), engine.url, "on_error = closed\n")
    run = units.filter(hosts, vm, conf_path=conf)
    assert_clean(run)
    assert run.result == hosts[:1]


def test_readable_password_file_is_warned_in_the_log_not_on_stderr(start_world, units):
    pw = os.path.join(units.state_dir, "engine.pw")
    os.chmod(pw, 0o644)
    run = units.filter(host_ids(start_world, "enough"), start_world.vm_by_name("new").id)
    assert_clean(run)
    assert "engine.pw holding the [engine] password is readable by group/others (mode 644)" in units.log_text()


def test_log_is_rotated_at_start_when_big(start_world, units):
    os.makedirs(os.path.dirname(units.log_path), exist_ok=True)
    with open(units.log_path, "w") as log:
        log.write("x" * (5 * 1024 * 1024 + 10))
    run = units.filter(host_ids(start_world, "enough"), start_world.vm_by_name("new").id)
    assert_clean(run)
    assert os.path.getsize(units.log_path + ".1") > 5 * 1024 * 1024
    assert "1 of 1 hosts can run new" in units.log_text() and len(units.log_text()) < 10000
