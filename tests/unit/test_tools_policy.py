"""`ovirt-vf-scheduler policy`: the planner on plain values."""
import pytest

from ovirt_scheduler_proxy_plugins.tools import policy_plan
from ovirt_scheduler_proxy_plugins.tools.policy_plan import ClusterState, PolicyState, Unit


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
