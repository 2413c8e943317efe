"""`ovirt-vf-scheduler policy`: the real console script against the fake engine, whose writes are
validated as the engine validates them (the planner: tests/unit/test_tools_policy.py)."""
import copy
import json
import subprocess

import pytest

from ovirt_scheduler_proxy_plugins.config import PROPERTIES_VALIDATION

from tests.integration.helpers import CLI, stderr_lines, write_conf


def run_policy(conf, *args):
    return subprocess.run([CLI, "policy", "--config", conf] + list(args), capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def conf(world, engine, tmp_path):
    """Cluster ucs on the built-in evenly_distributed policy; the engine discovered both units."""
    world.add_host("h1", cluster="ucs", vf_devices=4)
    world.add_builtin_policies()
    world.add_vf_units(PROPERTIES_VALIDATION)
    world.add_cluster("ucs").scheduling_policy_id = world.policy_by_name("evenly_distributed").id
    return write_conf(str(tmp_path / "state"), engine.url)


def writes(engine):
    return [(r.method, r.path) for r in engine.requests if r.method in ("POST", "PUT", "DELETE")
            and "/sso/" not in r.path and "sso-logout" not in r.path]


def test_dry_run_prints_the_plan_and_writes_nothing(world, engine, conf):
    before = copy.deepcopy((world.policies, world.clusters))
    run = run_policy(conf, "--cluster", "ucs", "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "cluster ucs, policy evenly_distributed_vf (base evenly_distributed): 16 changes planned" in run.stdout
    assert "add filter VfFilter to evenly_distributed_vf (ovirt-vf-scheduler)" in run.stdout
    assert "dry run: nothing was changed" in run.stdout
    assert writes(engine) == [] and (world.policies, world.clusters) == before


def test_creates_assigns_and_a_second_run_changes_nothing(world, engine, conf):
    run = run_policy(conf, "--cluster", "ucs", "--weight-factor", "2", "--property", "vf_reserve=1")
    assert run.returncode == 0, run.stderr
    created = world.policy_by_name("evenly_distributed_vf")
    base = world.policy_by_name("evenly_distributed")
    vff, vfw = world.unit_by_name("VfFilter", "filter").id, world.unit_by_name("VfWeight", "weight").id
    assert created.filters == dict(base.filters, **{vff: 0})
    assert created.weights == dict(base.weights, **{vfw: 2})
    assert (created.balance, created.properties, created.locked) == (base.balance, base.properties, False)
    cluster = world.add_cluster("ucs")
    assert cluster.scheduling_policy_id == created.id and cluster.scheduling_properties["vf_reserve"] == "1"
    engine.reset_requests()
    again = run_policy(conf, "--cluster", "ucs", "--json")
    report = json.loads(again.stdout)
    assert (again.returncode, report["changes"], report["applied"]) == (0, [], False)
    assert report["policy"] == "evenly_distributed_vf" and writes(engine) == []


def test_units_not_discovered_or_disabled_are_named_with_the_fix(world, conf):
    world.unit_by_name("VfWeight", "weight").enabled = False
    run = run_policy(conf, "--cluster", "ucs", "--dry-run")
    assert run.returncode == 0 and "warning: VfWeight is disabled in the engine" in run.stdout
    del world.policy_units[world.unit_by_name("VfFilter", "filter").id]
    missing = run_policy(conf, "--cluster", "ucs")
    assert missing.returncode == 3 and len(stderr_lines(missing)) == 1
    assert "has not discovered the external filter VfFilter" in missing.stderr
    assert "ExternalSchedulerEnabled=true" in missing.stderr


def test_bad_input_is_refused_before_any_write(engine, conf):
    usage = run_policy(conf, "--cluster", "ucs", "--property", "vf_bogus=1")
    assert usage.returncode == 2 and "KEY one of vf_reserve" in usage.stderr
    locked = run_policy(conf, "--cluster", "ucs", "--name", "none")
    assert locked.returncode == 3 and "none is a locked built-in policy" in locked.stderr
    unknown = run_policy(conf, "--cluster", "nosuch")
    assert unknown.returncode == 3 and "no cluster 'nosuch'" in unknown.stderr and "known: ucs" in unknown.stderr
    assert writes(engine) == []
