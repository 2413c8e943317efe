"""`policy --cluster NAME`: a scheduling policy with VfFilter and VfWeight, assigned to the cluster.

Built-in policies are locked, so the base policy (default: the cluster's current one) is
copied with its filters, weights, load balancer and properties, and the external units the
engine discovered are added (docs/proxy-contract.md §6, steps 4-5). Reads first, plans with
policy_plan (pure), then writes only what is missing; --dry-run stops after the plan.
"""
import argparse
import re
from dataclasses import dataclass
from typing import Dict, List

from .. import config
from ..engine import error_line
from . import common, hints, lookup, output, policy_plan
from .policy_plan import Change, ClusterState, PolicyState, Unit

SUMMARY = "create or update a scheduling policy with VfFilter and VfWeight and assign it to a cluster"
DESCRIPTION = ("Copy the base scheduling policy (default: the cluster's current one) with its units, add "
               "VfFilter and VfWeight, and assign the copy to the cluster. Idempotent: only what is missing "
               "is changed. --dry-run prints the plan and changes nothing.")
EXIT_LINES = ("  0  the cluster uses a policy with VfFilter and VfWeight (with --dry-run: the plan was printed)",)
FAILED_LINE = ("  3  no answer: bad config, engine unreachable or refusing, unknown name, units not discovered,\n"
               "     or a step refused (the steps before it stay applied; running the command again does only\n"
               "     what is still missing)")
SUFFIX = "_vf"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")


def _property(raw: str):
    """KEY=VALUE for one of the units' cluster properties, validated like the units do."""
    key, sep, value = raw.partition("=")
    if not sep or key not in config.CLUSTER_PROPERTIES:
        raise argparse.ArgumentTypeError("expected KEY=VALUE with KEY one of %s, got %r"
                                         % (", ".join(config.CLUSTER_PROPERTIES), raw))
    try:
        config.CLUSTER_PROPERTIES[key][1](value)
    except ValueError as err:
        raise argparse.ArgumentTypeError("%s: %s, got %r" % (key, err, value)) from None
    return key, value


def _factor(raw: str) -> int:
    if not raw.isdigit():
        raise argparse.ArgumentTypeError("expected a whole number >= 0, got %r" % raw)
    return int(raw)


def _name(raw: str) -> str:
    if not _NAME.match(raw):
        raise argparse.ArgumentTypeError("expected 1-50 letters, digits, '_', '.' or '-', got %r" % raw)
    return raw


def register(sub) -> None:
    parser = common.add_command(sub, "policy", main, SUMMARY, DESCRIPTION, EXIT_LINES, FAILED_LINE)
    parser.add_argument("--cluster", required=True, metavar="NAME", help="the cluster to set up")
    parser.add_argument("--base", metavar="POLICY", help="policy to copy (default: the cluster's current policy)")
    parser.add_argument("--name", type=_name, metavar="POLICY",
                        help="name of the policy to create or update (default: BASE%s)" % SUFFIX)
    parser.add_argument("--weight-factor", type=_factor, metavar="N",
                        help="factor of VfWeight in the policy (default: keep the current one; 1 when added)")
    parser.add_argument("--property", type=_property, action="append", default=[], metavar="KEY=VALUE",
                        help="set a cluster scheduling property (%s); repeatable"
                        % ", ".join(config.CLUSTER_PROPERTIES))
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")


# -- reading the engine into plain values

def _units(engine: lookup.Engine) -> Dict[str, Unit]:
    found = engine.call("listing scheduling policy units",
                        lambda: engine.system.scheduling_policy_units_service().list())
    return {u.id: Unit(u.id, u.name, str(getattr(u.type, "value", u.type)), bool(u.enabled)) for u in found}


def _external(units: Dict[str, Unit], name: str, kind: str) -> Unit:
    for unit in units.values():
        if unit.name == name and unit.kind == kind:
            return unit
    raise common.ToolError(
        "the engine has not discovered the external %s %s: start %s, set ExternalSchedulerEnabled=true, then "
        "restart ovirt-engine (run `ovirt-vf-scheduler check`)" % (kind, name, hints.PROXY_SERVICE))


def _state(engine: lookup.Engine, policy) -> PolicyState:
    service = engine.system.scheduling_policies_service().policy_service(policy.id)
    filters = engine.call("reading the filters of %s" % policy.name, lambda: service.filters_service().list())
    weights = engine.call("reading the weights of %s" % policy.name, lambda: service.weights_service().list())
    balances = engine.call("reading the balancer of %s" % policy.name, lambda: service.balances_service().list())
    return PolicyState(
        policy.id, policy.name, bool(policy.locked),
        filters={f.scheduling_policy_unit.id: f.position or 0 for f in filters},
        weights={w.scheduling_policy_unit.id: 1 if w.factor is None else w.factor for w in weights},
        balance=balances[0].scheduling_policy_unit.id if balances else None,
        properties={p.name: p.value or "" for p in policy.properties or ()})


def _resolve(engine: lookup.Engine, args: argparse.Namespace, cluster, vf_filter: Unit, policies: list):
    """(base state, target state or None, target name)."""
    url = engine.settings.engine.url
    if args.base:
        base = lookup.pick("scheduling policy", args.base, policies, url)
    elif cluster.scheduling_policy is not None:
        base = lookup.pick("scheduling policy", cluster.scheduling_policy.id, policies, url)
    else:
        raise common.ToolError("cluster %s shows no scheduling policy: pass --base" % cluster.name)
    base_state = _state(engine, base)
    if args.name:
        target_name = args.name
    elif vf_filter.id in base_state.filters:
        target_name = base.name                      # the base already is ours: update it in place
    else:
        target_name = base.name + SUFFIX
    target = next((p for p in policies if p.name == target_name), None)
    if target is None:
        return base_state, None, target_name
    return base_state, base_state if target.id == base.id else _state(engine, target), target_name


@dataclass
class Reading:
    changes: List[Change]
    base: str
    target: str
    warnings: List[str]
    cluster_id: str
    policy_ids: Dict[str, str]          # by name; create_policy adds the new one


def read_plan(engine: lookup.Engine, args: argparse.Namespace) -> Reading:
    """Everything the plan needs, read from the engine, and the plan."""
    cluster = lookup.cluster(engine, args.cluster)
    policies = engine.call("listing scheduling policies",
                           lambda: engine.system.scheduling_policies_service().list())
    units = _units(engine)
    vf_filter, vf_weight = _external(units, "VfFilter", "filter"), _external(units, "VfWeight", "weight")
    warnings = ["%s is disabled in the engine (its last discovery failed): start %s, then restart ovirt-engine; "
                "until then the engine skips it silently" % (u.name, hints.PROXY_SERVICE)
                for u in (vf_filter, vf_weight) if not u.enabled]
    base, target, target_name = _resolve(engine, args, cluster, vf_filter, policies)
    cluster_state = ClusterState(cluster.id, cluster.name,
                                 cluster.scheduling_policy.id if cluster.scheduling_policy else None,
                                 lookup.properties(cluster))
    try:
        changes = policy_plan.plan(cluster_state, base, target, target_name, units, vf_filter, vf_weight,
                                   args.weight_factor, dict(args.property))
    except policy_plan.PlanError as err:
        raise common.ToolError(str(err)) from None
    return Reading(changes, base.name, target_name, warnings, cluster.id, {p.name: p.id for p in policies})


# -- writing

def _apply_one(engine: lookup.Engine, change: Change, reading: Reading) -> None:
    from ovirtsdk4 import types
    policies = engine.system.scheduling_policies_service()
    if change.action == "create_policy":
        created = policies.add(types.SchedulingPolicy(
            name=change.target, description="%s with VfFilter and VfWeight (ovirt-vf-scheduler)" % change.source))
        reading.policy_ids[change.target] = created.id
        return
    if change.action in ("assign_policy", "set_cluster_properties"):
        update = types.Cluster(id=reading.cluster_id)
        if change.action == "assign_policy":
            update.scheduling_policy = types.SchedulingPolicy(id=reading.policy_ids[change.value])
        else:
            update.custom_scheduling_policy_properties = _properties(change.value)
        engine.system.clusters_service().cluster_service(reading.cluster_id).update(update)
        return
    service = policies.policy_service(reading.policy_ids[change.target])
    unit = types.SchedulingPolicyUnit(id=change.unit_id)
    if change.action == "add_filter":
        service.filters_service().add(types.Filter(scheduling_policy_unit=unit, position=change.value))
    elif change.action == "add_weight":
        service.weights_service().add(types.Weight(scheduling_policy_unit=unit, factor=change.value))
    elif change.action == "remove_weight":
        service.weights_service().weight_service(change.unit_id).remove()
    elif change.action == "set_balance":
        service.balances_service().add(types.Balance(scheduling_policy_unit=unit))
    elif change.action == "set_policy_properties":
        service.update(types.SchedulingPolicy(properties=_properties(change.value)))


def _properties(values: Dict[str, str]) -> list:
    from ovirtsdk4 import types
    return [types.Property(name=k, value=v) for k, v in sorted(values.items())]


def apply(engine: lookup.Engine, reading: Reading, progress: output.Progress) -> None:
    """Write the changes in order; a refusal names the step and what was already applied."""
    changes = reading.changes
    for number, change in enumerate(changes, 1):
        progress.update("step %d of %d: %s" % (number, len(changes), policy_plan.describe(change)))
        try:
            _apply_one(engine, change, reading)
        except engine.sdk.Error as err:
            raise common.ToolError(
                "step %d of %d (%s) failed: %s; steps 1-%d are applied: fix the cause and run the same command "
                "again (it does only what is missing)" % (number, len(changes), policy_plan.describe(change),
                                                          error_line(err), number - 1)) from None


def main(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    with output.Progress("reading clusters, policies and units") as progress, lookup.Engine(settings) as engine:
        reading = read_plan(engine, args)
        changes = reading.changes
        if changes and not args.dry_run:
            apply(engine, reading, progress)
    report = {"cluster": args.cluster, "base": reading.base, "policy": reading.target, "dry_run": args.dry_run,
              "applied": bool(changes) and not args.dry_run, "warnings": reading.warnings,
              "changes": [{"action": c.action, "target": c.target, "unit": c.unit, "unit_id": c.unit_id,
                           "value": c.value, "description": policy_plan.describe(c)} for c in changes]}
    if args.json:
        output.print_json(report)
    else:
        print(render_text(report, output.colour_enabled()))
    return common.EXIT_OK


def render_text(report: Dict[str, object], colour: bool) -> str:
    lines = [output.paint("warning: " + w, "yellow", colour) for w in report["warnings"]]
    changes: List[Dict[str, object]] = report["changes"]
    if not changes:
        lines.append(output.paint("nothing to change: cluster %s uses %s with VfFilter and VfWeight"
                                  % (report["cluster"], report["policy"]), "green", colour))
        return "\n".join(lines)
    lines.append("cluster %s, policy %s (base %s): %d change%s%s:" % (
        report["cluster"], report["policy"], report["base"], len(changes), "" if len(changes) == 1 else "s",
        " planned" if report["dry_run"] else " made"))
    lines += ["  %2d. %s" % (n, c["description"]) for n, c in enumerate(changes, 1)]
    if report["dry_run"]:
        lines.append(output.paint("dry run: nothing was changed", "yellow", colour))
    else:
        lines.append(output.paint("done", "green", colour))
    return "\n".join(lines)
