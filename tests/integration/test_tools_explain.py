"""`ovirt-vf-scheduler explain`: the real console script against the fake engine over HTTP, checked
against the units themselves (run as the proxy runs them); the rendering: tests/unit/test_tools_explain.py."""
import json
import os
import subprocess

import pytest

from tests.integration.helpers import CLI, int_scores, stderr_lines, write_conf


def run_explain(conf, *args):
    return subprocess.run([CLI, "explain", "--config", conf] + list(args), capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def cluster(world):
    """Cluster Default: full (4 of 4 used), one (3 of 4 used: 1 free), roomy (2 of 8 used: 6 free), plus a
    host in maintenance and one in another cluster that are no candidates. web (down) needs 2 VFs."""
    world.add_host("full", vf_devices=4)
    world.add_host("one", vf_devices=4)
    world.add_host("roomy", vf_devices=8)
    world.add_host("maint", vf_devices=8, status="maintenance")
    world.add_host("elsewhere", cluster="other", vf_devices=8)
    world.add_vm("full-a", host="full", vmfex_nics=4)
    world.add_vm("one-a", host="one", vmfex_nics=3)
    world.add_vm("roomy-a", host="roomy", vmfex_nics=2, status="migrating")
    world.add_vm("web", cluster="Default", vmfex_nics=2, plain_nics=1)
    world.add_vm("plain", cluster="Default", plain_nics=2)
    return world


@pytest.fixture
def conf(cluster, engine, tmp_path):
    return write_conf(str(tmp_path / "state"), engine.url)


def test_table_shows_the_up_hosts_of_the_vm_cluster_best_first_with_reasons(conf):
    run = run_explain(conf, "--vm", "web")
    assert run.returncode == 0 and stderr_lines(run) == []
    lines = run.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("HOST"))
    rows = lines[header + 1:header + 4]
    assert [row.split()[0] for row in rows] == ["roomy", "full", "one"]   # kept first, then by score, name
    assert "maint" not in run.stdout and "elsewhere" not in run.stdout
    column = lines[header].index("FILTER")
    assert [row[column:column + 4] for row in rows] == ["keep", "DROP", "DROP"]   # aligned under its header
    assert "needs 2, 1 free: 3 of 4 used by 1 VM" in rows[2]
    assert "1 of 3 hosts can run web (2 too few free VFs)" in run.stdout
    assert "VfWeight ranks roomy first" in run.stdout
    assert "\x1b[" not in run.stdout                                      # a pipe gets no colour


def test_json_agrees_with_the_units_run_as_the_proxy_runs_them(cluster, units):
    """A migrating VM needing 2: its own host keeps it (it holds its VFs there, so they are not
    counted as used), the others by free VFs. Every number below is worked out by hand:
      full   4 VFs, 4 used, 0 free -> drop, 1000;   one 4 VFs, 3 used, 1 free -> drop, 1000;
      roomy  8 VFs, 0 used by others, 8 free -> keep (current host), spread 998 - (8 - 2) = 992."""
    vm = cluster.vm_by_name("roomy-a")
    full, one, roomy = (cluster.host_by_name(name).id for name in ("full", "one", "roomy"))
    hosts = [full, one, roomy]
    run = run_explain(units.conf_path, "--vm", vm.id, "--hosts", *hosts, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    rows = {row["host_id"]: row for row in report["hosts"]}
    numbers = {h: (row["capacity"], row["used"], row["pending"], row["reserve"], row["free"], row["demand"],
                   row["keep"], row["reason"], row["score"]) for h, row in rows.items()}
    assert numbers == {full: (4, 4, 0, 0, 0, 2, False, "insufficient", 1000),
                       one: (4, 3, 0, 0, 1, 2, False, "insufficient", 1000),
                       roomy: (8, 0, 0, 0, 8, 2, True, "current_host", 992)}
    assert all(type(row["score"]) is int for row in rows.values())
    assert units.filter(hosts, vm.id).result == [roomy]
    assert int_scores(units.weight(hosts, vm.id).result) == [(full, 1000), (one, 1000), (roomy, 992)]
    assert (rows[roomy]["current_host"], rows[roomy]["why"]) == (True, "runs here now and holds its 2 VFs")
    assert set(rows[roomy]) >= {"capacity", "capacity_source", "capacity_age_s", "used", "pending", "reserve",
                                "free", "demand", "keep", "score", "why"}
    assert report["vm"]["status"] == "migrating" and report["total"] == 3


def test_cluster_properties_override_the_config_as_for_the_units(cluster, conf):
    """vf_reserve=5 on the cluster: roomy keeps 8 - 2 - 5 = 1 free, too few for 2: nothing fits."""
    cluster.add_cluster("Default").scheduling_properties = {"vf_reserve": "5"}
    run = run_explain(conf, "--vm", "web", "--json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["settings"]["reserve"] == 5 and report["kept"] == 0
    assert {row["host"]: (row["free"], row["shortfall"]) for row in report["hosts"]} == {
        "roomy": (1, 0), "one": (0, 4), "full": (0, 5)}                   # never a negative free
    assert {row["host"]: row["why"] for row in report["hosts"]}["full"] == \
        "needs 2, 0 free: 4 of 4 used by 1 VM, 5 short of the reserve"
    assert report["summary"] == "0 of 3 hosts can run web (3 too few free VFs)"


def test_hosts_by_name_or_id_and_an_unknown_host_named(cluster, conf):
    run = run_explain(conf, "--vm", "plain", "--hosts", "roomy,%s" % cluster.host_by_name("one").id,
                      "elsewhere", "--json")
    report = json.loads(run.stdout)
    assert sorted(row["host"] for row in report["hosts"]) == ["elsewhere", "one", "roomy"]
    assert report["summary"] == "3 of 3 hosts can run plain"
    assert {row["why"] for row in report["hosts"]} == {"needs no VF"}
    bad = run_explain(conf, "--vm", "plain", "--hosts", "roomy", "nosuch")
    assert bad.returncode == 3 and bad.stdout == ""
    assert len(stderr_lines(bad)) == 1 and "no host 'nosuch'" in bad.stderr and "known: " in bad.stderr


def test_unknown_vm_and_engine_down_are_one_line_each(conf, engine):
    run = run_explain(conf, "--vm", "ghost")
    assert (run.returncode, run.stdout) == (3, "")
    assert stderr_lines(run) == ["ovirt-vf-scheduler explain: no VM 'ghost' in the engine at %s" % engine.url]
    engine.stop()
    down = run_explain(conf, "--vm", "web")
    assert down.returncode == 3 and len(stderr_lines(down)) == 1
    assert engine.url in down.stderr and "Traceback" not in down.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, like an operator running the command with sudo")
def test_as_root_the_files_in_cache_dir_stay_the_units_own(conf, tmp_path):
    """Root-owned 0600 token, capacity cache or lock files would lock the units (user ovirt) out."""
    cache = tmp_path / "state" / "cache"
    cache.mkdir(mode=0o700)
    os.chown(str(cache), 4321, 4321)
    assert run_explain(conf, "--vm", "web").returncode == 0
    owners = {path.name: path.lstat().st_uid for path in cache.iterdir()}
    assert "hosts-engine.json" in owners and set(owners.values()) == {4321}, owners


def test_a_changed_password_is_not_hidden_by_a_cached_token(world, engine, cluster, tmp_path, plugins_dir):
    """A cached SSO token stays valid for hours: after the password (file) changes, every command and
    the units log in afresh, so a wrong password shows now, not when the token expires."""
    from ovirt_scheduler_proxy_plugins.sim import proxy
    state = str(tmp_path / "state")
    conf = write_conf(state, engine.url)
    os.makedirs(os.path.join(state, "cache"))                                 # the units' cache_dir
    assert run_explain(conf, "--vm", "web").returncode == 0                   # logs in, caches the token
    logins = engine.logins
    assert run_explain(conf, "--vm", "web").returncode == 0 and engine.logins == logins      # reused
    with open(os.path.join(state, "engine.pw"), "w") as handle:
        handle.write("wrong\n")
    for argv in (["explain", "--vm", "web"], ["capacity"], ["policy", "--cluster", "Default", "--dry-run"]):
        run = subprocess.run([CLI] + argv + ["--config", conf], capture_output=True, text=True, timeout=60)
        assert run.returncode == 3 and "password is incorrect" in run.stderr, (argv, run.stdout, run.stderr)
    unit = proxy.run_unit(plugins_dir, "VfFilter", [world.host_by_name("roomy").id], world.vm_by_name("web").id,
                          env=proxy.proxy_env({"OVIRT_VF_SCHEDULER_CONF": conf}))
    assert unit.returncode == 1 and "password is incorrect" in unit.stderr, unit
