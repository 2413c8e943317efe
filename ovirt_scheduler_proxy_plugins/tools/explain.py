"""`explain --vm NAME|ID`: why VfFilter keeps or drops each host for one VM, and how VfWeight ranks them.

It reads the engine with the units' own code (snapshot.take, the cluster's policy properties
applied by config.with_cluster_properties) and decides with VfFilter's own verdicts
(narrowing.filter_verdicts) and decide.score_hosts, so what it prints is what the units would answer right now.
"""
import argparse
import time
from typing import Dict, List, Optional, Sequence

from .. import config, decide, narrowing, render, snapshot
from ..model import HELD_BACK, UNKNOWN_REASONS, HostVfs, Score, Snapshot, Verdict
from . import common, facts, lookup, output

SUMMARY = "show per host why VfFilter keeps or drops it for a VM, and VfWeight's scores"
DESCRIPTION = ("Run VfFilter and VfWeight for one VM against the live engine data and print, per host, "
               "capacity and its source, used, pending, reserve, free, demand, verdict, score and the reason "
               "(VFs, and with [ucsm] the port profiles of the host's UCS domain).")
UNKNOWN_VALUES = frozenset(reason.value for reason in UNKNOWN_REASONS)
HELD_BACK_VALUES = frozenset(reason.value for reason in HELD_BACK)
EXIT_LINES = ("  0  at least one candidate host can run the VM",
              "  1  no candidate host can run the VM (VfFilter would drop them all)")


def register(sub) -> None:
    parser = common.add_command(sub, "explain", main, SUMMARY, DESCRIPTION, EXIT_LINES)
    parser.add_argument("--vm", required=True, metavar="NAME|ID", help="the VM to explain")
    parser.add_argument("--hosts", nargs="+", metavar="HOST",
                        help="candidate host names or ids (default: the Up hosts of the VM's cluster)")


def _candidates(engine: lookup.Engine, args: argparse.Namespace, cluster) -> list:
    if args.hosts:
        wanted = [name for item in args.hosts for name in item.split(",") if name]
        return lookup.hosts(engine, wanted)
    return lookup.up_hosts(engine, cluster)


def main(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    deadline = time.monotonic() + args.timeout
    with output.Progress("reading the VM and its candidate hosts"), lookup.Engine(settings) as engine:
        vm = lookup.vm(engine, args.vm)
        cluster = lookup.cluster_by_id(engine, vm.cluster.id)
        candidates = _candidates(engine, args, cluster)
    cluster_props = lookup.properties(cluster)
    settings = config.with_cluster_properties(settings, cluster_props)
    host_ids = [h.id for h in candidates]
    with output.Progress("reading VF capacity and usage"):
        snap = snapshot.take(settings, vm.id, host_ids, deadline, capacity_without_demand=True)
    verdicts = narrowing.filter_verdicts(settings, snap, host_ids)
    scores = decide.score_hosts(settings.weight_mode, snap.vm.demand, host_ids, snap.hosts)
    report = build_report(snap, verdicts, scores, {h.id: h.name for h in candidates}, settings,
                          cluster.name, cluster_props)
    if args.json:
        output.print_json(report)
    else:
        print(render_text(report, output.colour_enabled()))
    return common.EXIT_OK if report["kept"] else common.EXIT_NO


def host_row(verdict: Verdict, score: Score, host: Optional[HostVfs], name: str) -> Dict[str, object]:
    """One host's facts with stable keys (JSON) from the same values the units decide on."""
    row: Dict[str, object] = {"host_id": verdict.host_id, "host": host.name if host else name}
    row.update(facts.host_facts(host))
    domain = host.port_profiles if host else None
    row.update({"demand": verdict.demand, "keep": verdict.keep,
                "reason": verdict.reason.value, "why": render.reason_words(verdict, host),
                "score": score.value, "current_host": bool(host and host.is_current),
                "ucs_domain": domain.domain if domain else None,
                "port_profiles": sorted(verdict.port_profiles)})
    return row


def build_report(snap: Snapshot, verdicts: List[Verdict], scores: List[Score], names: Dict[str, str],
                 settings: config.Settings, cluster_name: str, cluster_props: Dict[str, str]) -> Dict[str, object]:
    """Everything explain prints, best host first (kept before dropped, then lowest score)."""
    rows = [host_row(v, s, snap.hosts.get(v.host_id), names.get(v.host_id, v.host_id))
            for v, s in zip(verdicts, scores)]
    rows.sort(key=lambda row: (not row["keep"], row["score"], row["host"]))
    vm = snap.vm
    return {
        "vm": {"id": vm.vm_id, "name": vm.name, "status": vm.status, "demand": vm.demand.vfs,
               "port_profiles": sorted(vm.demand.port_profiles), "host_id": vm.host_id, "cluster": cluster_name},
        "settings": {"on_error": settings.on_error, "weight_mode": settings.weight_mode,
                     "capacity_source": settings.capacity_source, "reserve": settings.reserve,
                     "port_profiles": settings.ucsm.port_profiles if settings.ucsm else "ignore (no [ucsm])",
                     "cluster_properties": dict(sorted(cluster_props.items()))},
        "hosts": rows, "kept": sum(1 for v in verdicts if v.keep), "total": len(verdicts),
        "summary": render.summary(verdicts, vm.name),
    }


def _verdict(row: Dict[str, object]) -> output.Cell:
    if row["reason"] in HELD_BACK_VALUES:
        return "hold", "yellow"
    if not row["keep"]:
        return "DROP", "red"
    return "keep", "yellow" if row["reason"] in UNKNOWN_VALUES else "green"


def table_rows(rows: Sequence[Dict[str, object]]) -> List[List[output.Cell]]:
    return [[row["host"]] + facts.numbers(row) + [str(row["demand"]), _verdict(row), str(row["score"]), row["why"]]
            for row in rows]


def render_text(report: Dict[str, object], colour: bool) -> str:
    vm, conf = report["vm"], report["settings"]
    props = ", ".join("%s=%s" % item for item in conf["cluster_properties"].items()) or "none"
    wanted = ", port profile%s %s" % ("s" if len(vm["port_profiles"]) > 1 else "", ", ".join(vm["port_profiles"])) \
        if vm["port_profiles"] else ""
    lines = [
        "VM %s (%s): %s, needs %d VF%s%s, cluster %s" % (vm["name"], vm["id"], vm["status"], vm["demand"],
                                                         "" if vm["demand"] == 1 else "s", wanted, vm["cluster"]),
        "settings: on_error=%s weight_mode=%s capacity_source=%s reserve=%d port_profiles=%s (cluster properties: %s)"
        % (conf["on_error"], conf["weight_mode"], conf["capacity_source"], conf["reserve"], conf["port_profiles"],
           props),
        "",
    ]
    if report["hosts"]:
        lines.append(output.table(
            ["HOST", "VFS", facts.SOURCE_AGE, "USED", "PENDING", "RESERVE", "FREE", "NEEDS", "FILTER", "SCORE", "WHY"],
            table_rows(report["hosts"]), right=(1, 3, 4, 5, 6, 7, 9), colour=colour))
        lines.append("")
    else:
        lines.append("no candidate hosts (no Up host in cluster %s): pass --hosts" % vm["cluster"])
    lines.append(output.paint(report["summary"], "bold", colour))
    kept = [(row["host"], row["score"]) for row in report["hosts"] if row["keep"]]
    if kept and (vm["demand"] > 0 or conf["weight_mode"] == "reserve"):
        lines.append(render.ranking(kept, "VfWeight ranks %s first among the kept hosts (score %d, lower is better)"))
    return "\n".join(lines)
