"""`port-profiles`: each UCS domain's port profiles against the oVirt vNIC profiles that name them;
`port-profiles sync --network NAME`: a vNIC profile for every port profile none names yet.

The VF property value of a vNIC profile names a UCS port profile, and each UCS domain has its own
(docs/port-profiles.md). Reads the engine through ovirtsdk4 with the units' account and every [ucsm]
domain with ucsm_source (login, one port profile query, logout), plans with port_profile_plan
(pure), and `sync` writes only what is missing; --dry-run stops after the plan.
"""
import argparse
import time
from typing import Dict, List, Mapping, Sequence, Tuple

from ..config import Settings
from ..engine import error_line
from ..render import domain_label
from ..ucsm_facts import ucsm_settings
from . import check_engine, common, lookup, output, port_profile_export, port_profile_plan
from .port_profile_plan import Creation, VnicProfileInfo

SUMMARY = "list each UCS domain's port profiles and where every vNIC profile's vmfex value resolves"
DESCRIPTION = ("Read the port profiles of every [ucsm] domain (name, VLANs, QoS, max ports, high performance) "
               "and the engine's vNIC profiles, and show per vNIC profile carrying the VF property where its "
               "value resolves (every domain / missing in some / nowhere), the port profiles no vNIC profile "
               "uses, and the names the engine's regex for the property ([scheduler] vf_property_regex) refuses. "
               "`port-profiles sync --network NAME` creates the missing vNIC profiles; `port-profiles export --network "
               "NAME` goes the other way (oVirt network -> UCS-M port profiles).")
EXIT_LINES = ("  0  every vNIC profile's value names a port profile in every UCS domain",
              "  1  some value is missing in at least one domain")
SYNC_SUMMARY = "create a vNIC profile on a network for each UCS port profile no vNIC profile names yet"
SYNC_DESCRIPTION = ("For each port profile of the UCS domains (or of --domain only) that no vNIC profile names "
                    "yet, create a vNIC profile of that name on --network with the VF property set to it, "
                    "marked as created by this command in its description. Idempotent: a second run creates "
                    "nothing; existing vNIC profiles are never changed or deleted. Names the engine's regex "
                    "refuses, or already taken on the network, are skipped with the reason. --dry-run prints "
                    "the plan and sends no write.")
SYNC_EXIT_LINES = ("  0  every port profile is named by a vNIC profile (with --dry-run: would be; the plan "
                   "was printed)",
                   "  1  some port profiles were skipped (the reasons are printed)")
SYNC_FAILED_LINE = ("  3  no answer: bad config, engine or UCS-M unreachable or refusing, unknown network or "
                    "domain,\n     or a creation refused (the ones before it stay: running the command again "
                    "creates only what is missing)")


def register(sub) -> None:
    parser = common.add_command(sub, "port-profiles", main, SUMMARY, DESCRIPTION, EXIT_LINES)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    sync = common.add_command(actions, "sync", sync_main, SYNC_SUMMARY, SYNC_DESCRIPTION, SYNC_EXIT_LINES,
                              SYNC_FAILED_LINE, label="port-profiles sync")
    sync.add_argument("--network", required=True, metavar="NAME", help="the oVirt network to add the vNIC profiles to")
    sync.add_argument("--domain", metavar="URL", help="only the port profiles of this [ucsm] url, or its host[:port] "
                                                      "as the outputs name it (default: every domain)")
    sync.add_argument("--dry-run", action="store_true", help="print the plan, send no write")
    port_profile_export.register(actions)


# -- reading

def _ucsm(settings: Settings) -> None:
    if settings.ucsm is None:
        raise common.ToolError("%s has no [ucsm] section: port profiles live in UCS Manager (url, username, "
                               "password)" % settings.path)


def read_vnic_profiles(engine: lookup.Engine, prop: str) -> Tuple[list, List[VnicProfileInfo]]:
    """(the engine's networks, its vNIC profiles with their network and VF property value)."""
    networks = engine.call("listing networks", lambda: engine.system.networks_service().list())
    names = {n.id: n.name for n in networks}
    found = engine.call("listing vNIC profiles", lambda: engine.system.vnic_profiles_service().list())
    infos = []
    for p in found:
        network_id = p.network.id if p.network is not None else ""
        value = next((c.value or "" for c in p.custom_properties or () if c.name == prop), None)
        infos.append(VnicProfileInfo(p.id, p.name or p.id, names.get(network_id, network_id), network_id, value,
                                     p.description or ""))
    return networks, infos


def read_port_profiles(settings: Settings, urls: Tuple[str, ...], deadline: float) -> Dict[str, dict]:
    """Domain URL -> port profile name -> ucsm_source.PortProfile; any domain failing is a ToolError."""
    import ucsm_source
    reading = ucsm_source.read_domains(ucsm_settings(settings, urls), [], deadline)
    if reading.failures:
        raise common.ToolError("%s (is [ucsm] url right and reachable, are username and password valid?)"
                               % "; ".join(str(err) for err in reading.failures.values()))
    return {url: dict(reading.port_profiles[url]) for url in urls}


# -- the report

def build_report(settings: Settings, domains: Mapping[str, Mapping[str, object]],
                 profiles: Sequence[VnicProfileInfo]) -> Dict[str, object]:
    """Everything `port-profiles` prints, with stable keys."""
    regex = settings.vf_property_regex
    carrying = [p for p in profiles if p.value is not None]
    names = {url: set(found) for url, found in domains.items()}
    users: Dict[str, List[str]] = {}
    for p in carrying:
        users.setdefault(p.value, []).append(p.name)
    rows = []
    for p in sorted(carrying, key=lambda p: (p.name, p.network)):
        where = port_profile_plan.resolve(p.value, names)
        rows.append({"id": p.id, "name": p.name, "network": p.network, "value": p.value,
                     "resolves": "everywhere" if where.everywhere else "nowhere" if where.nowhere else "missing",
                     "missing_in": list(where.missing_in), "created_by_sync": p.ours})
    return {
        "vf_property": settings.vf_property, "vf_property_regex": regex,
        "domains": [{"url": url, "domain": domain_label(url), "port_profiles": [
            {"name": pp.name, "descr": pp.descr, "vlans": list(pp.vlans), "native_vlan": pp.native_vlan,
             "qos_policy": pp.qos_policy, "network_control_policy": pp.network_control_policy,
             "max_ports": pp.max_ports, "high_performance": pp.high_performance, "clients": list(pp.clients),
             "used_by": sorted(users.get(pp.name, [])),
             "engine_accepts": port_profile_plan.accepted(pp.name, regex)}
            for pp in sorted(found.values(), key=lambda pp: pp.name)]} for url, found in domains.items()],
        "vnic_profiles": rows,
        "unused": port_profile_plan.unused(names, users),
        "rejected": port_profile_plan.rejected(names, regex),
        "all_resolve": all(row["resolves"] == "everywhere" for row in rows),
    }


def _vlans(pp: Dict[str, object]) -> str:
    return ", ".join(v + ("*" if v == pp["native_vlan"] else "") for v in pp["vlans"]) or "-"


def render_text(report: Dict[str, object], colour: bool) -> str:
    lines = []
    for domain in report["domains"]:
        lines.append(output.paint("UCS domain %s: %s" % (domain["domain"], output.count(len(domain["port_profiles"]), "port profile")),
                                  "bold", colour))
        rows = [[pp["name"] if pp["engine_accepts"] else (pp["name"], "yellow"), _vlans(pp), pp["qos_policy"] or "-",
                 "-" if pp["max_ports"] is None else str(pp["max_ports"]), "yes" if pp["high_performance"] else "no",
                 ", ".join(pp["clients"]) or "-", ", ".join(pp["used_by"]) or ("unused", "dim")]
                for pp in domain["port_profiles"]]
        if rows:
            lines.append(output.table(["PORT PROFILE", "VLANS (*native)", "QOS", "MAX PORTS", "HIGH-PERF", "CLIENTS",
                                       "USED BY"], rows, right=(3,), colour=colour))
        lines.append("")
    prop = report["vf_property"]
    if report["vnic_profiles"]:
        lines.append(output.paint("vNIC profiles carrying %s:" % prop, "bold", colour))
        lines.append(output.table(["VNIC PROFILE", "NETWORK", prop.upper(), "RESOLVES"], [
            [row["name"] + (" (sync)" if row["created_by_sync"] else ""), row["network"], row["value"] or "-",
             _where(row)] for row in report["vnic_profiles"]], colour=colour))
    else:
        lines.append("no vNIC profile carries %s" % prop)
    unused = sorted({name for names in report["unused"].values() for name in names})
    if unused:
        lines.append("not named by any vNIC profile: %s (`port-profiles sync --network NAME` offers them)"
                     % output.listed(unused, most=12))
    if report["rejected"]:
        lines.append(output.paint("refused by the engine's %s regex %s: %s" % (
            prop, report["vf_property_regex"], output.listed(report["rejected"], most=12)), "yellow", colour))
    return "\n".join(lines)


def _where(row: Dict[str, object]) -> output.Cell:
    if row["resolves"] == "everywhere":
        return "every domain", "green"
    missing = ", ".join(domain_label(url) for url in row["missing_in"])
    return ("nowhere" if row["resolves"] == "nowhere" else "missing in " + missing), "red"


def main(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    _ucsm(settings)
    deadline = time.monotonic() + args.timeout
    with output.Progress("reading vNIC profiles and UCS-M port profiles"), lookup.Engine(settings) as engine:
        _, profiles = read_vnic_profiles(engine, settings.vf_property)
        domains = read_port_profiles(settings, settings.ucsm.urls, deadline)
    report = build_report(settings, domains, profiles)
    if args.json:
        output.print_json(report)
    else:
        print(render_text(report, output.colour_enabled()))
    return common.EXIT_OK if report["all_resolve"] else common.EXIT_NO


# -- sync

def _domains_wanted(settings: Settings, wanted: str) -> Tuple[str, ...]:
    if not wanted:
        return settings.ucsm.urls
    # the URL as configured, or the domain as every output names it (host[:port])
    match = [url for url in settings.ucsm.urls if wanted.rstrip("/") in (url.rstrip("/"), domain_label(url))]
    if not match:
        raise common.ToolError("--domain %s is not one of the [ucsm] urls (%s)" % (wanted, ", ".join(settings.ucsm.urls)))
    return tuple(match)


def refusal_fix(text: str, settings: Settings, network: str, name: str, versions: List[str]) -> str:
    """The fix for an engine refusal of a vNIC profile creation, from the fault's words."""
    prop = settings.vf_property
    if "not configured by the system" in text:
        return "the engine does not define %s for vNIC profiles: %s" % (prop, check_engine.define_property(
            settings, versions))
    if "illegal values" in text:
        return ("the engine's regex for %s refuses %r: make [scheduler] vf_property_regex (%s) agree with "
                "`engine-config -g CustomDeviceProperties`" % (prop, name, settings.vf_property_regex))
    if "not authorized" in text or "HTTP response code is 403" in text:
        return ("give %s the NetworkAdmin role on network %s or its data center (Administration > Users > "
                "Permissions)" % (settings.engine.username, network))
    if "already used" in text:
        return "network %s already has a vNIC profile named %s: rename it, or set %s=%s on it" % (
            network, name, prop, name)
    return "the engine's event log (Events tab) names the reason"


def _create(engine: lookup.Engine, settings: Settings, network, creations: List[Creation]) -> None:
    from ovirtsdk4 import types
    service = engine.system.networks_service().network_service(network.id).vnic_profiles_service()
    for number, creation in enumerate(creations, 1):
        labels = [domain_label(url) for url in creation.domains]
        try:
            service.add(types.VnicProfile(
                name=creation.port_profile, description=port_profile_plan.description(creation, labels),
                custom_properties=[types.CustomProperty(name=settings.vf_property, value=creation.port_profile)]))
        except engine.sdk.Error as err:
            text = error_line(err)
            versions = lookup.cluster_versions(lookup.clusters(engine)) if "not configured" in text else []
            raise common.ToolError(
                "creating vNIC profile %s on network %s (%d of %d) was refused: %s; fix: %s; the %d created before "
                "it stay, and running the command again creates only what is missing"
                % (creation.port_profile, network.name, number, len(creations), text,
                   refusal_fix(text, settings, network.name, creation.port_profile, versions), number - 1)) from None


def sync_main(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    _ucsm(settings)
    urls = _domains_wanted(settings, args.domain)
    deadline = time.monotonic() + args.timeout
    with output.Progress("reading networks, vNIC profiles and UCS-M port profiles") as progress, \
            lookup.Engine(settings) as engine:
        networks, profiles = read_vnic_profiles(engine, settings.vf_property)
        network = lookup.pick("network", args.network, networks, settings.engine.url)
        domains = read_port_profiles(settings, urls, deadline)
        creations, skips = port_profile_plan.sync_plan(network.id, network.name,
                                                       {url: set(found) for url, found in domains.items()},
                                                       profiles, settings.vf_property_regex, settings.vf_property)
        if creations and not args.dry_run:
            progress.update("creating %d vNIC profiles" % len(creations))
            _create(engine, settings, network, creations)
    report = {"network": network.name, "network_id": network.id, "domains": list(urls), "dry_run": args.dry_run,
              "applied": bool(creations) and not args.dry_run, "vf_property": settings.vf_property,
              "creations": [{"vnic_profile": c.port_profile, "port_profile": c.port_profile, "domains": list(c.domains)}
                            for c in creations],
              "skipped": [{"port_profile": s.port_profile, "reason": s.reason} for s in skips]}
    if args.json:
        output.print_json(report)
    else:
        print(render_sync(report, output.colour_enabled()))
    return common.EXIT_NO if skips else common.EXIT_OK


def render_sync(report: Dict[str, object], colour: bool) -> str:
    lines = []
    creations = report["creations"]
    if creations:
        verb = "would create" if report["dry_run"] else "created"
        lines.append("network %s: %s %d vNIC profile%s:" % (report["network"], verb, len(creations),
                                                              "" if len(creations) == 1 else "s"))
        lines += ["  %s (%s=%s; in %s)" % (c["vnic_profile"], report["vf_property"], c["port_profile"],
                                          ", ".join(domain_label(url) for url in c["domains"])) for c in creations]
    else:
        lines.append(output.paint("nothing to create: every port profile is named by a vNIC profile", "green", colour))
    lines += [output.paint("skipped %s: %s" % (s["port_profile"], s["reason"]), "yellow", colour)
              for s in report["skipped"]]
    if creations:
        lines.append(output.paint("dry run: nothing was sent", "yellow", colour) if report["dry_run"]
                     else output.paint("done", "green", colour))
    return "\n".join(lines)
