"""`port-profiles export --network NAME`: an oVirt network's vNIC profiles become UCS-M port profiles.

Reads the network (VLAN id), its vNIC profiles and their QoS through ovirtsdk4, and each [ucsm]
domain (VLANs, port profiles, org-root QoS policies, the reserved VLAN block) in one session per
domain; plans with port_profile_export_plan (pure); then, unless --dry-run, writes each domain in
a second session (one configConfMo per VLAN, QoS policy and port profile, in that order), reads
back what UCS-M resolved, and sets the VF property of the vNIC profiles that have none. A domain
that fails is reported and the others still go; sessions are always logged out.
"""
import argparse
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..config import Settings
from ..engine import error_line
from ..render import domain_label
from ..ucsm_facts import ucsm_settings
from . import common, lookup, output
from .port_profile_export_plan import (DomainPlan, ExportedProfile, ExportOptions, ExportPlan, MoWrite, NetworkQos,
                                       UcsDomainFacts, UcsQosPolicy, export_plan)

SUMMARY = "create or update UCS-M port profiles (VLAN, QoS policy) from an oVirt network's vNIC profiles"
DESCRIPTION = ("For each vNIC profile of --network (or those named by --vnic-profile), create or update the port "
               "profile fabric/lan/profiles/vnic-NAME in every [ucsm] domain (or those named by --domain): NAME is "
               "the vNIC profile's VF property value, or its name made safe for UCS-M (31 characters of "
               "A-Z a-z 0-9 _ -). The profile carries the domain's VLAN with the network's id (--create-vlan makes "
               "fabric/lan/net-ovirt-ID where there is none) and, when the vNIC profile has a QoS with outbound "
               "limits, the QoS policy org-root/ep-qos-NAME (rate = outbound average x 1000 kbps, burst = outbound "
               "burst in bytes, at most 65535); what UCS cannot carry is reported as not exported. Objects "
               "without the ovirt-vf-scheduler mark in their description are never changed. Then the VF property "
               "of vNIC profiles that have none is set to NAME (not with --no-bind). A second run sends no write. "
               "The UCS-M account needs the network (or admin) role.")
EXIT_LINES = ("  0  every port profile is exported as planned, or nothing was to do (with --dry-run: the plan "
              "was printed)",
              "  1  something was refused or failed (the reasons are printed); the rest was done")
FAILED_LINE = ("  3  no answer: bad config, engine or every UCS domain unreachable or refusing, unknown network, "
               "vNIC profile or domain")


def register(actions) -> None:
    parser = common.add_command(actions, "export", main, SUMMARY, DESCRIPTION, EXIT_LINES, FAILED_LINE,
                                label="port-profiles export")
    parser.add_argument("--network", required=True, metavar="NAME", help="the oVirt network to export")
    parser.add_argument("--vnic-profile", action="append", default=[], metavar="NAME",
                        help="export only this vNIC profile of the network (repeatable; default: all)")
    parser.add_argument("--domain", action="append", default=[], metavar="URL",
                        help="only this [ucsm] url (repeatable; default: every domain)")
    parser.add_argument("--create-vlan", action="store_true",
                        help="create the VLAN (fabric/lan/net-ovirt-ID) in domains that have none with the id")
    parser.add_argument("--no-bind", action="store_true", help="leave the vNIC profiles' VF property unset")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, send no write anywhere")


# -- reading

def read_network(engine: lookup.Engine, wanted: str, names: Sequence[str]):
    """(network, its VLAN id or None, the vNIC profiles to export, id -> their SDK custom properties)."""
    networks = engine.call("listing networks", lambda: engine.system.networks_service().list())
    network = lookup.pick("network", wanted, networks, engine.settings.engine.url)
    service = engine.system.networks_service().network_service(network.id).vnic_profiles_service()
    found = engine.call("listing the vNIC profiles of network %s" % network.name, service.list)
    if names:
        known = {p.name: p for p in found}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise common.ToolError("network %s has no vNIC profile %s (it has: %s)" % (
                network.name, ", ".join(unknown), output.listed(sorted(known))))
        found = [known[name] for name in dict.fromkeys(names)]
    prop = engine.settings.vf_property
    profiles, qoss = [], {}
    for p in found:
        value = next((c.value or "" for c in p.custom_properties or () if c.name == prop), None)
        profiles.append(ExportedProfile(p.id, p.name, value, _qos(engine, p, qoss)))
    return network, network.vlan.id if network.vlan is not None else None, profiles, \
        {p.id: list(p.custom_properties or ()) for p in found}


def _qos(engine: lookup.Engine, profile, read: Dict[str, NetworkQos]) -> Optional[NetworkQos]:
    """The vNIC profile's network QoS, each QoS read once (`read`: by id) however many profiles share it."""
    if profile.qos is None:
        return None
    if profile.qos.id not in read:
        q = engine.call("reading the QoS of vNIC profile %s" % profile.name,
                        lambda: engine.conn.follow_link(profile.qos))
        read[profile.qos.id] = NetworkQos(q.name or q.id, q.outbound_average, q.outbound_peak, q.outbound_burst,
                                          q.inbound_average, q.inbound_peak, q.inbound_burst)
    return read[profile.qos.id]


def read_domain(client) -> UcsDomainFacts:
    """What the planner needs from one domain, in one session (4 queries)."""
    from ucsm_source.profiles import port_profiles
    vlans = {mo.get("name"): int(mo.get("id")) for mo in client.resolve_class("fabricVlan")
             if mo.dn == "fabric/lan/net-" + mo.get("name") and mo.get("id").isdigit()}
    profiles = port_profiles(client.resolve_class("vnicProfile", hierarchical=True))
    qos = client.resolve_class("epqosDefinition", hierarchical=True)
    egress = {mo.dn.rpartition("/")[0]: mo for mo in qos if mo.class_id == "epqosEgress"}
    policies = {}
    for mo in qos:
        if mo.class_id == "epqosDefinition" and mo.dn == "org-root/ep-qos-" + mo.get("name"):
            out = egress.get(mo.dn)
            policies[mo.get("name")] = UcsQosPolicy(mo.get("name"), mo.get("descr"), *(
                (out.get("rate"), out.get("burst"), out.get("prio"), out.get("hostControl")) if out else ()))
    reserved = None
    for mo in client.resolve_dn("fabric/lan/fab-reserved-vlans"):
        if mo.get("startId").isdigit() and mo.get("endId").isdigit():
            reserved = (int(mo.get("startId")), int(mo.get("endId")))
    return UcsDomainFacts(client.url, vlans, profiles, policies, reserved)


# -- writing

def element(mo: MoWrite) -> ET.Element:
    """The XML of one object tree, dn last as ucsmsdk writes it."""
    node = ET.Element(mo.class_id, dict(mo.attrs, dn=mo.dn))
    node.extend(element(child) for child in mo.children)
    return node


@dataclass
class DomainResult:
    url: str
    failure: str = ""                                          # the whole domain (connection, VLAN creation)
    errors: Dict[str, List[str]] = field(default_factory=dict)  # vNIC profile -> refused writes
    unresolved: Dict[str, List[str]] = field(default_factory=dict)
    sent: int = 0


def _refusal(url: str, what: str, dn: str, err) -> str:
    return "UCS-M %s: %s (%s) refused: error %s: %s" % (domain_label(url), what, dn, err.code or "?",
                                                          " ".join((err.descr or str(err)).split()))


def apply_domain(client, plan: DomainPlan, result: DomainResult) -> None:
    """Send the domain's writes in order; a refused VLAN stops the domain, a refused write its profile."""
    import ucsm_source
    if plan.vlan_write:
        result.sent += 1
        try:
            client.configure(element(plan.vlan_write.mo))
        except ucsm_source.UcsmError as err:
            result.failure = _refusal(client.url, plan.vlan_write.what, plan.vlan_write.mo.dn, err)
            return
    written = []
    for outcome in plan.outcomes:
        for write in outcome.writes:
            result.sent += 1
            try:
                client.configure(element(write.mo))
            except ucsm_source.UcsmError as err:
                result.errors.setdefault(outcome.vnic_profile, []).append(
                    _refusal(client.url, write.what, write.mo.dn, err))
                break
        if outcome.writes and outcome.vnic_profile not in result.errors:
            written.append(outcome)
    if written:
        _read_back(client, written, result)


def _read_back(client, written, result: DomainResult) -> None:
    """What UCS-M resolved from the names just written: the QoS policy and every VLAN."""
    objects = client.resolve_dns(["fabric/lan/profiles/vnic-" + o.port_profile for o in written], hierarchical=True)
    by_dn = {mo.dn: mo for mo in objects}
    for outcome in written:
        dn = "fabric/lan/profiles/vnic-" + outcome.port_profile
        found, problems = by_dn.get(dn), []
        if found is None:
            problems.append("%s is missing after the write" % dn)
        else:
            policy = found.get("qosPolicyName")
            if policy and found.get("operQosPolicyName") != "org-root/ep-qos-" + policy:
                problems.append("QoS policy %s did not resolve (operQosPolicyName %r)"
                                % (policy, found.get("operQosPolicyName")))
            for mo in objects:
                if mo.class_id == "vnicEtherIf" and mo.dn.startswith(dn + "/") and \
                        (not mo.get("operVnetName") or "unresolved" in mo.get("configQualifier")):
                    problems.append("VLAN %s did not resolve (%s)" % (mo.get("name"), mo.get("configQualifier")))
        if problems:
            result.unresolved[outcome.vnic_profile] = problems


def _domain_results(settings: Settings, plan: ExportPlan, deadline: float) -> Dict[str, DomainResult]:
    from ucsm_source import UcsmError
    from ucsm_source.client import UcsmClient
    results = {}
    for domain in plan.domains:
        result = results[domain.url] = DomainResult(domain.url)
        if not domain.writes:
            continue
        try:
            with UcsmClient(domain.url, ucsm_settings(settings, (domain.url,)), deadline) as client:
                apply_domain(client, domain, result)
        except UcsmError as err:
            result.failure = result.failure or str(err)
    return results


def _bind(engine: lookup.Engine, settings: Settings, plan: ExportPlan, results: Dict[str, DomainResult],
          properties: Dict[str, list]) -> Dict[str, str]:
    """vNIC profile -> "" (bound) or why not: a profile that failed anywhere is not bound."""
    from ovirtsdk4 import types
    states = {}
    for binding in plan.bindings:
        failed = [domain_label(url) for url, r in results.items() if r.failure or binding.vnic_profile in r.errors]
        if failed:
            states[binding.vnic_profile] = "the export failed in %s" % ", ".join(failed)
            continue
        kept = [types.CustomProperty(name=c.name, value=c.value) for c in properties[binding.vnic_profile_id]
                if c.name != settings.vf_property]
        update = types.VnicProfile(custom_properties=kept + [types.CustomProperty(name=settings.vf_property,
                                                                                  value=binding.value)])
        service = engine.system.vnic_profiles_service().profile_service(binding.vnic_profile_id)
        try:
            service.update(update)
            states[binding.vnic_profile] = ""
        except engine.sdk.Error as err:
            states[binding.vnic_profile] = "the engine refused: %s" % error_line(err)
    return states


# -- the command

def _domains_wanted(settings: Settings, wanted: Sequence[str]) -> Tuple[str, ...]:
    urls = settings.ucsm.urls
    if not wanted:
        return urls
    chosen = []
    for item in wanted:
        match = [url for url in urls if url.rstrip("/") == item.rstrip("/")]
        if not match:
            raise common.ToolError("--domain %s is not one of the [ucsm] urls (%s)" % (item, ", ".join(urls)))
        chosen += [url for url in match if url not in chosen]
    return tuple(chosen)


def _read_domains(settings: Settings, urls: Sequence[str], deadline: float):
    """(facts of the domains read, url -> why the others could not be read)."""
    from ucsm_source import UcsmError
    from ucsm_source.client import UcsmClient
    facts, failures = [], {}
    for url in urls:
        try:
            with UcsmClient(url, ucsm_settings(settings, (url,)), deadline) as client:
                facts.append(read_domain(client))
        except UcsmError as err:
            failures[url] = str(err)
    return facts, failures


def main(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    if settings.ucsm is None:
        raise common.ToolError("%s has no [ucsm] section: port profiles live in UCS Manager (url, username, "
                               "password)" % settings.path)
    urls = _domains_wanted(settings, args.domain)
    deadline = time.monotonic() + args.timeout
    options = ExportOptions(create_vlan=args.create_vlan, bind=not args.no_bind,
                            max_ports=settings.ucsm.export_max_ports, priority=settings.ucsm.export_qos_priority,
                            vf_property=settings.vf_property, vf_property_regex=settings.vf_property_regex)
    with output.Progress("reading the network and the UCS domains") as progress, lookup.Engine(settings) as engine:
        network, vlan_id, profiles, properties = read_network(engine, args.network, args.vnic_profile)
        facts, read_failures = _read_domains(settings, urls, deadline)
        if not facts:
            raise common.ToolError("; ".join(read_failures.values()))
        plan = export_plan(network.name, vlan_id, profiles, facts, options)
        results, bound = {}, {}
        if not args.dry_run and plan.writes:
            progress.update("writing %d changes" % plan.writes)
            results = _domain_results(settings, plan, deadline)
            bound = _bind(engine, settings, plan, results, properties)
    report = build_report(plan, urls, read_failures, results, bound, args.dry_run, settings.vf_property)
    if args.json:
        output.print_json(report)
    else:
        print(render_text(report, output.colour_enabled()))
    return common.EXIT_OK if report["ok"] else common.EXIT_NO


_DONE = {"create": "created", "update": "updated"}


def build_report(plan: ExportPlan, urls: Sequence[str], read_failures: Dict[str, str],
                 results: Dict[str, DomainResult], bound: Dict[str, str], dry_run: bool, prop: str) -> Dict[str, object]:
    """Everything `port-profiles export` prints, with stable keys."""
    domains = []
    plans = {d.url: d for d in plan.domains}
    for url in urls:
        domain = plans.get(url)
        result = results.get(url, DomainResult(url))
        entry = {"url": url, "domain": domain_label(url), "failed": read_failures.get(url, "") or result.failure,
                 "refused": domain.refusal if domain else "", "vlan": domain.vlan_name if domain else None,
                 "vlan_created": bool(domain and domain.vlan_write and not dry_run and not result.failure),
                 "writes_sent": result.sent, "profiles": []}
        for o in domain.outcomes if domain else ():
            errors = result.errors.get(o.vnic_profile, [])
            state = o.state
            if state in _DONE:
                state = "would " + state if dry_run else ("failed" if errors or result.failure else _DONE[state])
            entry["profiles"].append({
                "vnic_profile": o.vnic_profile, "port_profile": o.port_profile, "state": state, "reason": o.reason,
                "not_exported": list(o.not_exported), "errors": errors,
                "unresolved": result.unresolved.get(o.vnic_profile, []),
                "writes": [{"what": w.what, "dn": w.mo.dn, "reason": w.reason} for w in o.writes]})
        domains.append(entry)
    bindings = [{"vnic_profile": b.vnic_profile, "value": b.value,
                 "state": "would set" if dry_run else ("set" if bound.get(b.vnic_profile) == "" else "not set"),
                 "reason": bound.get(b.vnic_profile, "")} for b in plan.bindings]
    bindings += [{"vnic_profile": name, "value": plan.names[name], "state": "not set", "reason": why}
                 for name, why in sorted(plan.unbindable.items())]
    trouble = plan.refusal or any(d["failed"] or d["refused"] for d in domains) or any(
        p["state"] in ("refused", "failed") or p["unresolved"] for d in domains for p in d["profiles"]) or any(
        b["state"] == "not set" for b in bindings)
    return {"network": plan.network, "vlan_id": plan.vlan_id, "refused": plan.refusal, "dry_run": dry_run,
            "vf_property": prop, "port_profiles": dict(plan.names), "domains": domains, "bindings": bindings,
            "ok": not trouble}


_STYLE = {"created": "green", "updated": "green", "unchanged": None, "refused": "red", "failed": "red"}


def render_text(report: Dict[str, object], colour: bool) -> str:
    vlan = "untagged" if report["vlan_id"] is None else "VLAN %s" % report["vlan_id"]
    lines = [output.paint("network %s (%s)" % (report["network"], vlan), "bold", colour)]
    if report["refused"]:
        lines.append(output.paint("refused: " + report["refused"], "red", colour))
        return "\n".join(lines)
    for domain in report["domains"]:
        head = "UCS domain %s" % domain["domain"]
        if domain["failed"] or domain["refused"]:
            lines.append(output.paint("%s: %s" % (head, domain["failed"] or domain["refused"]), "red", colour))
            if not domain["profiles"]:
                continue
        else:
            lines.append(output.paint("%s (VLAN %s%s):" % (head, domain["vlan"], ", created" if domain["vlan_created"]
                                                           else ""), "bold", colour))
        for p in domain["profiles"]:
            lines.append("  %s -> port profile %s: %s" % (
                p["vnic_profile"], p["port_profile"], output.paint(p["state"], _STYLE.get(p["state"]), colour)))
            details = [p["reason"]] if p["reason"] else []
            details += [w["what"] + ": " + w["reason"] for w in p["writes"]] if p["state"].startswith("would") else []
            details += ["not exported: " + note for note in p["not_exported"]]
            details += p["errors"] + ["unresolved: " + note for note in p["unresolved"]]
            lines += ["      " + text for text in details]
    for b in report["bindings"]:
        text = "vNIC profile %s: %s %s=%s" % (b["vnic_profile"], b["state"], report["vf_property"], b["value"])
        lines.append(output.paint(text + (" (%s)" % b["reason"] if b["reason"] else ""),
                                  "yellow" if b["state"] == "not set" else None, colour))
    if report["dry_run"]:
        lines.append(output.paint("dry run: nothing was sent", "yellow", colour))
    elif report["ok"]:
        lines.append(output.paint("done", "green", colour))
    return "\n".join(lines)
