"""`ovirt-vf-scheduler policy`: the planner on plain values, then the real console script against the
fake engine, whose writes are validated as the engine validates them."""
import copy
import json
import subprocess

import pytest

from tests.integration.helpers import CLI, stderr_lines, write_conf
from ovirt_scheduler_proxy_plugins.tools import policy_plan
from ovirt_scheduler_proxy_plugins.tools.policy_plan import ClusterState, PolicyState, Unit
from ovirt_scheduler_proxy_plugins.config import PROPERTIES_VALIDATION

VF_FILTER, VF_WEIGHT = Unit("vff", "VfFilter", "filter"), Unit("vfw", "VfWeight", "weight")
UNITS = {u.id: u for u in (VF_FILTER, VF_WEIGHT, Unit("mem", "Memory", "filter"), Unit("ha", "HA", "weight"),
                           Unit("even", "OptimalForEvenDistribution", "load_balancing"))}
BASE = PolicyState("base-id", "evenly", locked=True, filters={"mem": 0}, weights={"ha": 2}, balance="even",
                   properties={"HighUtilization": "80"})
CLUSTER = ClusterState("c-id", "c1", "base-id")


def plan(target=None, factor=None, cluster=CLUSTER, props=None):
    return policy_plan.plan(cluster, BASE, target, "evenly_vf", UNITS, VF_FILTER, VF_WEIGHT, factor, props or {})


def test_new_policy_copies_the_base_in_an_order_the_engine_accepts():
    actions = [(c.action, c.unit, c.value) for c in plan()]
    assert actions == [("create_policy", None, None), ("set_balance", "OptimalForEvenDistribution", None),
                       ("add_filter", "Memory", 0), ("add_filter", "VfFilter", 0), ("add_weight", "HA", 2),
                       ("add_weight", "VfWeight", 1), ("set_policy_properties", None, {"HighUtilization": "80"}),
                       ("assign_policy", None, "evenly_vf")]


def test_the_planned_state_plans_nothing_and_admin_additions_stay():
    done = PolicyState("t-id", "evenly_vf", filters={"mem": 0, "vff": 0, "extra": 1},
                       weights={"ha": 5, "vfw": 3}, balance="even", properties={"HighUtilization": "90"})
    assert plan(done, cluster=ClusterState("c-id", "c1", "t-id")) == []      # factor 3 and HA 5 kept


def test_a_new_factor_replaces_the_weight_and_locked_targets_are_refused():
    current = PolicyState("t-id", "evenly_vf", filters={"mem": 0, "vff": 0}, weights={"ha": 2, "vfw": 1},
                          balance="even", properties={"HighUtilization": "80"})
    cluster = ClusterState("c-id", "c1", "t-id", {"vf_reserve": "1"})
    changes = plan(current, factor=4, cluster=cluster, props={"vf_reserve": "1", "vf_on_error": "closed"})
    assert [(c.action, c.value) for c in changes] == [("remove_weight", 1), ("add_weight", 4),
                                                      ("set_cluster_properties", {"vf_on_error": "closed"})]
    with pytest.raises(policy_plan.PlanError, match="locked"):
        plan(BASE)


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
