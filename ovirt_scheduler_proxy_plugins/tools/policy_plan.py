"""What `policy` must change, computed from plain values (no engine): the base policy's units plus
VfFilter and VfWeight in the target policy, the target assigned to the cluster.

Only what is missing is planned, so running the same command again plans nothing. Units an
administrator added to the target later are left alone; only VfWeight's factor is enforced
(the REST API cannot update a weight in place, so it is removed and added again).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional


class PlanError(Exception):
    """The wanted state cannot be reached (e.g. the target is a locked built-in policy)."""


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    kind: str                  # "filter" | "weight" | "load_balancing" (REST PolicyUnitType)
    enabled: bool = True


@dataclass(frozen=True)
class PolicyState:
    """A scheduling policy as the engine lists it; id None = it does not exist yet."""
    id: Optional[str]
    name: str
    locked: bool = False
    filters: Dict[str, int] = field(default_factory=dict)      # unit id -> position
    weights: Dict[str, int] = field(default_factory=dict)      # unit id -> factor
    balance: Optional[str] = None                              # unit id
    properties: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterState:
    id: str
    name: str
    policy_id: Optional[str]
    properties: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One write. `action`: create_policy, add_filter, remove_weight, add_weight, set_balance,
    set_policy_properties, assign_policy, set_cluster_properties."""
    action: str
    target: str                                 # policy or cluster name
    unit_id: Optional[str] = None
    unit: Optional[str] = None                  # unit name, for people
    value: object = None                        # position, factor or properties
    source: str = ""                            # why: "from evenly_distributed", "ovirt-vf-scheduler"


def _unit_changes(base: PolicyState, current: PolicyState, names: Dict[str, str], vf_filter: Unit,
                  vf_weight: Unit, factor: Optional[int]) -> List[Change]:
    origin = "from %s" % base.name
    changes = []
    if base.balance and current.balance is None:
        changes.append(Change("set_balance", current.name, base.balance, names.get(base.balance), None, origin))
    wanted_filters = dict(base.filters)
    wanted_filters.setdefault(vf_filter.id, 0)
    for unit_id, position in wanted_filters.items():
        if unit_id not in current.filters:
            changes.append(Change("add_filter", current.name, unit_id, names.get(unit_id), position,
                                  "ovirt-vf-scheduler" if unit_id == vf_filter.id else origin))
    for unit_id, base_factor in base.weights.items():
        if unit_id not in current.weights and unit_id != vf_weight.id:
            changes.append(Change("add_weight", current.name, unit_id, names.get(unit_id), base_factor, origin))
    if factor is None:
        factor = current.weights.get(vf_weight.id, 1)
    if current.weights.get(vf_weight.id) != factor:
        if vf_weight.id in current.weights:
            changes.append(Change("remove_weight", current.name, vf_weight.id, vf_weight.name,
                                  current.weights[vf_weight.id], "factor %d wanted" % factor))
        changes.append(Change("add_weight", current.name, vf_weight.id, vf_weight.name, factor,
                              "ovirt-vf-scheduler"))
    wanted_props = dict(base.properties, **current.properties)
    if wanted_props != current.properties:
        changes.append(Change("set_policy_properties", current.name, value=wanted_props, source=origin))
    return changes


def plan(cluster: ClusterState, base: PolicyState, target: Optional[PolicyState], target_name: str,
         units: Dict[str, Unit], vf_filter: Unit, vf_weight: Unit, factor: Optional[int],
         cluster_properties: Dict[str, str]) -> List[Change]:
    """The writes, in an order the engine accepts: a new policy first; units before the policy
    properties they validate; the policy complete before the cluster uses it. `factor` None
    keeps VfWeight's current factor (1 when it is added)."""
    if target is not None and target.locked:
        raise PlanError("scheduling policy %s is a locked built-in policy: pass --name for a copy" % target.name)
    changes = []
    if target is None:
        changes.append(Change("create_policy", target_name, source="copy of %s" % base.name))
        target = PolicyState(None, target_name)
    names = {unit_id: unit.name for unit_id, unit in units.items()}
    changes += _unit_changes(base, target, names, vf_filter, vf_weight, factor)
    if cluster.policy_id is None or cluster.policy_id != target.id:
        changes.append(Change("assign_policy", cluster.name, value=target.name))
    different = {k: v for k, v in cluster_properties.items() if cluster.properties.get(k) != v}
    if different:
        changes.append(Change("set_cluster_properties", cluster.name, value=different))
    return changes


def describe(change: Change) -> str:
    """One line per change, for the plan the command prints."""
    what = {
        "create_policy": lambda c: "create scheduling policy %s (%s)" % (c.target, c.source),
        "set_balance": lambda c: "set load balancer %s on %s (%s)" % (c.unit, c.target, c.source),
        "add_filter": lambda c: "add filter %s to %s (%s)" % (c.unit, c.target, c.source),
        "remove_weight": lambda c: "remove weight %s (factor %s) from %s (%s)" % (c.unit, c.value, c.target,
                                                                                  c.source),
        "add_weight": lambda c: "add weight %s, factor %s, to %s (%s)" % (c.unit, c.value, c.target, c.source),
        "set_policy_properties": lambda c: "set properties of %s: %s (%s)" % (c.target, _pairs(c.value), c.source),
        "assign_policy": lambda c: "use scheduling policy %s in cluster %s" % (c.value, c.target),
        "set_cluster_properties": lambda c: "set scheduling properties of cluster %s: %s" % (c.target,
                                                                                           _pairs(c.value)),
    }
    return what[change.action](change)


def _pairs(values: Dict[str, str]) -> str:
    return ", ".join("%s=%s" % item for item in sorted(values.items()))
