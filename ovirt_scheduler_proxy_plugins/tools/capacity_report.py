"""`capacity [--cluster NAME] [--evacuate HOST]`: VFs per Up host and per cluster, and whether a
host's VF-using VMs would find room on the other hosts before it goes into maintenance."""
import argparse
import time
from typing import Dict, List, Optional

from .. import config
from . import cluster_read, common, evacuate, facts, lookup, output

SUMMARY = "VF capacity, usage and free VFs per host and cluster; --evacuate plans a maintenance"
DESCRIPTION = ("Per Up host: VF capacity (and its source), used, pending, reserve and free, with cluster "
               "totals. With --evacuate HOST: a first-fit decreasing plan placing that host's VF-using VMs "
               "on the other Up hosts of its cluster, listing the VMs that would not fit.")
EXIT_LINES = ("  0  report printed (with --evacuate: every VF-using VM fits on the other hosts)",
              "  1  with --evacuate: some VMs would not fit (listed)")


def register(sub) -> None:
    parser = common.add_command(sub, "capacity", main, SUMMARY, DESCRIPTION, EXIT_LINES)
    parser.add_argument("--cluster", metavar="NAME", help="only this cluster (default: every cluster)")
    parser.add_argument("--evacuate", metavar="HOST", help="plan moving this host's VF-using VMs elsewhere")


def _scope(engine: lookup.Engine, args: argparse.Namespace):
    """(clusters, Up hosts by cluster id, the host to evacuate or None)."""
    leaving = lookup.host(engine, args.evacuate) if args.evacuate else None
    if args.cluster:
        chosen = [lookup.cluster(engine, args.cluster)]
    elif leaving is not None:
        chosen = [lookup.cluster_by_id(engine, leaving.cluster.id)]
    else:
        chosen = lookup.clusters(engine)
    if leaving is not None and leaving.cluster.id != chosen[0].id:
        raise common.ToolError("host %s is not in cluster %s" % (leaving.name, chosen[0].name))
    members = {c.id: lookup.up_hosts(engine, c) for c in chosen}
    if leaving is not None and leaving.id not in {h.id for h in members[chosen[0].id]}:
        members[chosen[0].id].append(leaving)       # not Up, but its VMs may still hold VFs there
    return chosen, members, leaving


def main(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    deadline = time.monotonic() + args.timeout
    with output.Progress("listing clusters and hosts"), lookup.Engine(settings) as engine:
        chosen, members, leaving = _scope(engine, args)
    sections, reads = [], {}
    for the_cluster in chosen:
        cluster_settings = config.with_cluster_properties(settings, lookup.properties(the_cluster))
        with output.Progress("reading VF capacity and usage of cluster %s" % the_cluster.name):
            reads[the_cluster.id] = cluster_read.read(cluster_settings, [h.id for h in members[the_cluster.id]],
                                                      deadline)
        sections.append(cluster_section(the_cluster.name, the_cluster.id, cluster_settings, reads[the_cluster.id]))
    report: Dict[str, object] = {"clusters": sections}
    if leaving is not None:
        report["evacuate"] = evacuation(leaving.id, leaving.name, reads[chosen[0].id])
    if args.json:
        output.print_json(report)
    else:
        print(render_text(report, output.colour_enabled()))
    feasible = report["evacuate"]["feasible"] if leaving is not None else True
    return common.EXIT_OK if feasible else common.EXIT_NO


def _totals(rows: List[Dict[str, object]]) -> Dict[str, object]:
    known = [row for row in rows if row["capacity"] is not None]
    totals = {key: sum(row[key] for row in known) for key in ("capacity", "used", "used_by_vms", "pending",
                                                              "reserve", "free")}
    totals.update(hosts=len(rows), unknown_hosts=len(rows) - len(known))
    return totals


def cluster_section(name: str, cluster_id: str, settings: config.Settings,
                    data: cluster_read.HostsVfs) -> Dict[str, object]:
    rows = []
    for host in sorted(data.hosts.values(), key=lambda h: h.name):
        row: Dict[str, object] = {"host_id": host.host_id, "host": host.name}
        row.update(facts.host_facts(host))
        rows.append(row)
    return {"cluster": name, "cluster_id": cluster_id, "source": data.source_summary,
            "settings": {"capacity_source": settings.capacity_source, "reserve": settings.reserve,
                         "on_error": settings.on_error},
            "hosts": rows, "totals": _totals(rows)}


def evacuation(host_id: str, host_name: str, data: cluster_read.HostsVfs) -> Dict[str, object]:
    """First-fit decreasing over the other hosts, ordered by name; unknown capacity is never counted as room."""
    movers = [evacuate.Mover(vm.vm_id, vm.name, vm.demand) for vm in data.vms if vm.host_id == host_id]
    others = sorted((h for h in data.hosts.values() if h.host_id != host_id), key=lambda h: h.name)
    targets = [evacuate.Target(h.host_id, h.name, max(h.free, 0)) for h in others if h.free is not None]
    plan = evacuate.first_fit_decreasing(movers, targets)
    names = {t.host_id: t.name for t in targets}
    return {
        "host": host_name, "host_id": host_id, "feasible": plan.feasible,
        "needs": sum(m.demand for m in movers),
        "free_elsewhere": sum(t.free for t in targets),
        "moves": [{"vm": p.vm.name, "vm_id": p.vm.vm_id, "demand": p.vm.demand,
                   "to": p.target.name if p.target else None, "to_id": p.target.host_id if p.target else None}
                  for p in plan.placements],
        "unplaced": [{"vm": m.name, "vm_id": m.vm_id, "demand": m.demand} for m in plan.unplaced],
        "free_after": {names[hid]: plan.free_after[hid] for hid in sorted(plan.free_after, key=names.get)},
        "unknown_capacity_hosts": [h.name for h in others if h.free is None],
    }


def _free_cell(value: Optional[int]) -> output.Cell:
    if value is None:
        return "?", "yellow"
    return str(value), "red" if value <= 0 else None


def _section_text(section: Dict[str, object], colour: bool) -> List[str]:
    conf, totals = section["settings"], section["totals"]
    head = "cluster %s: %d Up host%s, capacity from %s, reserve %d per host, on_error %s" % (
        section["cluster"], totals["hosts"], "" if totals["hosts"] == 1 else "s",
        section["source"] or conf["capacity_source"], conf["reserve"], conf["on_error"])
    rows = [[row["host"]] + facts.numbers(row)[:-1] + [_free_cell(row["free"]), str(row["used_by_vms"]),
                                                         "; ".join(filter(None, (row["capacity_detail"],
                                                                                 row["shortfall_why"])))]
            for row in section["hosts"]]
    unknown = " (%d host%s with unknown capacity not counted)" % (
        totals["unknown_hosts"], "" if totals["unknown_hosts"] == 1 else "s") if totals["unknown_hosts"] else ""
    rows.append([("TOTAL", "bold"), str(totals["capacity"]), "", str(totals["used"]), str(totals["pending"]),
                 str(totals["reserve"]), (str(totals["free"]), "bold"), str(totals["used_by_vms"]), unknown])
    body = output.table(["HOST", "VFS", facts.SOURCE_AGE, "USED", "PENDING", "RESERVE", "FREE", "VMS", "DETAIL"],
                        rows, right=(1, 3, 4, 5, 6, 7), colour=colour)
    return [output.paint(head, "bold", colour), body]


def _evacuation_text(plan: Dict[str, object], colour: bool) -> List[str]:
    moves = plan["moves"]
    lines = ["evacuate %s: %d VF-using VM%s hold %d VFs there; the other Up hosts have %d free" % (
        plan["host"], len(moves), "" if len(moves) == 1 else "s", plan["needs"], plan["free_elsewhere"])]
    if plan["unknown_capacity_hosts"]:
        lines.append("not counted as room (capacity unknown): %s" % ", ".join(plan["unknown_capacity_hosts"]))
    if moves:
        lines.append(output.table(["VM", "NEEDS", "TO"], [
            [m["vm"], str(m["demand"]), (m["to"], None) if m["to"] else ("does not fit", "red")] for m in moves],
            right=(1,), colour=colour))
    if plan["feasible"]:
        lines.append(output.paint("every VF-using VM of %s fits on the other hosts (first-fit decreasing)"
                                  % plan["host"], "green", colour))
    else:
        unplaced = ", ".join("%s (%d)" % (m["vm"], m["demand"]) for m in plan["unplaced"])
        lines.append(output.paint("%d of %d VMs would not fit anywhere: %s; free VFs elsewhere or stop them first"
                                  % (len(plan["unplaced"]), len(moves), unplaced), "red", colour))
    return lines


def render_text(report: Dict[str, object], colour: bool) -> str:
    blocks = ["\n".join(_section_text(section, colour)) for section in report["clusters"]]
    if "evacuate" in report:
        blocks.append("\n".join(_evacuation_text(report["evacuate"], colour)))
    return "\n\n".join(blocks)
