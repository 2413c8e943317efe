"""`ovirt-vf-scheduler capacity`: the real console script against the fake engine over HTTP (the
planner: tests/unit/test_tools_capacity.py)."""
import json
import subprocess

import pytest

from tests.integration.helpers import CLI, stderr_lines, write_conf


def run_capacity(conf, *args):
    return subprocess.run([CLI, "capacity", "--config", conf] + list(args), capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def conf(world, engine, tmp_path):
    """Cluster ucs: a (8 VFs, 3+2+2 used), b (8, 4 used), c (4, none), idle in maintenance; cluster lab: x."""
    for name, vfs in (("a", 8), ("b", 8), ("c", 4)):
        world.add_host(name, cluster="ucs", vf_devices=vfs)
    world.add_host("idle", cluster="ucs", vf_devices=8, status="maintenance")
    world.add_host("x", cluster="lab", vf_devices=2)
    for name, nics in (("a1", 3), ("a2", 2), ("a3", 2)):
        world.add_vm(name, host="a", vmfex_nics=nics)
    world.add_vm("a-plain", host="a", plain_nics=2)
    world.add_vm("b1", host="b", vmfex_nics=4)
    world.add_vm("stopped", cluster="ucs", vmfex_nics=8)              # down: holds nothing
    return write_conf(str(tmp_path / "state"), engine.url)


def test_table_per_up_host_with_cluster_totals(conf):
    run = run_capacity(conf, "--cluster", "ucs")
    assert run.returncode == 0 and stderr_lines(run) == []
    rows = {line.split()[0]: line.split() for line in run.stdout.splitlines()[2:] if line}
    assert sorted(rows) == ["TOTAL", "a", "b", "c"]                    # not idle (maintenance), not x (lab)
    assert rows["a"][:7] == ["a", "8", "engine", "0s", "7", "0", "0"] and rows["a"][7:9] == ["1", "3"]
    assert rows["TOTAL"][:6] == ["TOTAL", "20", "11", "0", "0", "9"]   # 8+8+4 VFs, 7+4 used, 1+4+4 free
    assert "cluster ucs: 3 Up hosts, capacity from engine" in run.stdout


def test_every_cluster_without_cluster_option_and_json_keys(conf):
    run = run_capacity(conf, "--json")
    report = json.loads(run.stdout)
    assert [c["cluster"] for c in report["clusters"]] == ["ucs", "lab"] and "evacuate" not in report
    lab = report["clusters"][1]
    assert lab["totals"] == {"capacity": 2, "used": 0, "used_by_vms": 0, "pending": 0, "reserve": 0, "free": 2,
                             "hosts": 1, "unknown_hosts": 0}
    assert set(lab["hosts"][0]) == {"host_id", "host", "capacity", "capacity_source", "capacity_age_s",
                                    "capacity_detail", "used", "used_by_vms", "pending", "reserve", "free",
                                    "shortfall", "shortfall_why"}


def test_evacuation_that_fits_is_a_first_fit_decreasing_plan(conf):
    """b has 4 free, c 4: a1 (3) -> b, a2 (2) -> c, a3 (2) -> c."""
    run = run_capacity(conf, "--evacuate", "a", "--json")
    assert run.returncode == 0, run.stderr
    plan = json.loads(run.stdout)["evacuate"]
    assert [(m["vm"], m["to"]) for m in plan["moves"]] == [("a1", "b"), ("a2", "c"), ("a3", "c")]
    assert (plan["feasible"], plan["needs"], plan["free_elsewhere"]) == (True, 7, 8)
    assert plan["free_after"] == {"b": 1, "c": 0}


def test_evacuation_lists_the_vms_that_would_not_fit(world, conf):
    """vf_reserve=2 on the cluster: b keeps 2 free, c 2: a1 (3) fits nowhere, a2 -> b, a3 -> c."""
    world.add_cluster("ucs").scheduling_properties = {"vf_reserve": "2"}
    run = run_capacity(conf, "--evacuate", "a")
    assert run.returncode == 1, run.stderr
    assert "reserve 2 per host" in run.stdout
    assert "1 of 3 VMs would not fit anywhere: a1 (3)" in run.stdout
    assert [line.split()[-1] for line in run.stdout.splitlines() if line.startswith("a2 ")] == ["b"]


def test_a_host_short_of_its_reserve_shows_0_free_and_the_totals_agree(world, conf):
    """vf_reserve=2: a has 8 - 7 - 2 = -1, shown as 0 free and 1 short; b 8 - 4 - 2 = 2, c 4 - 0 - 2 = 2."""
    world.add_cluster("ucs").scheduling_properties = {"vf_reserve": "2"}
    run = run_capacity(conf, "--cluster", "ucs")
    rows = {line.split()[0]: line for line in run.stdout.splitlines()[2:] if line}
    assert rows["a"].split()[7] == "0" and rows["a"].endswith("8 enic VF devices; 1 short of the reserve")
    assert rows["TOTAL"].split()[6] == "4"                               # 0 + 2 + 2, not -1 + 2 + 2
    report = json.loads(run_capacity(conf, "--cluster", "ucs", "--json").stdout)["clusters"][0]
    assert [(h["host"], h["free"], h["shortfall"]) for h in report["hosts"]] == [("a", 0, 1), ("b", 2, 0),
                                                                                 ("c", 2, 0)]
    assert report["totals"]["free"] == 4
    plan = json.loads(run_capacity(conf, "--evacuate", "b", "--json").stdout)["evacuate"]
    assert plan["free_elsewhere"] == 2 and min(plan["free_after"].values()) >= 0


def test_unknown_or_foreign_host_is_one_line_exit_3(conf):
    for args, text in ((["--evacuate", "nosuch"], "no host 'nosuch'"),
                       (["--cluster", "lab", "--evacuate", "a"], "host a is not in cluster lab")):
        run = run_capacity(conf, *args)
        assert (run.returncode, run.stdout) == (3, "")
        assert len(stderr_lines(run)) == 1 and text in run.stderr
