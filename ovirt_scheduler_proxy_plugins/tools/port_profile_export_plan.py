"""What `port-profiles export` must write into each UCS domain so that an oVirt network's vNIC
profiles become VM-FEX port profiles, from plain values (no engine, no UCS-M).

One port profile per vNIC profile (oVirt hangs QoS on the vNIC profile, and `vmfex=NAME` binds
one vNIC profile to one port profile). Per domain: the network's VLAN (an existing fabricVlan
with that id, whatever its name, or `fabric/lan/net-ovirt-<id>` when allowed to create it), then
per profile its QoS policy (`org-root/ep-qos-<name cut to 16>`) and the port profile
(`fabric/lan/profiles/vnic-<name>`), both `status="created,modified"` and marked with MARK in
their `descr`. Only what differs from what the domain holds is planned, so a second run plans
nothing; objects without the mark are never touched (refused, naming them). The QoS mapping and
its losses (docs/ucsm-export-notes.md, "QoS"): rate kbps = Mbps x 1000, burst bytes = MB x 10^6
capped at 65535; inbound limits and the outbound peak have no UCS counterpart and are reported.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..model import NetworkQos

MARK = "ovirt-vf-scheduler"
PROFILE_SET_DN = "fabric/lan/profiles"
VLAN_PARENT_DN = "fabric/lan"
QOS_ORG_DN = "org-root"
CLIENT_NAME = "ovirt"               # the one vmVnicProfCl: every data center, org and switch
CREATE_OR_MODIFY = "created,modified"
PORT_PROFILE_NAME_MAX = 31          # UCS-M allows 31; the engine's documented regex 32
QOS_NAME_MAX = 16                   # epqosDefinition and vnicProfile.qosPolicyName
MAX_BURST_BYTES = 65535             # epqosEgress.burst range 0-65535
DEFAULT_BURST_BYTES = 10240         # UCS-M's default burst, for an oVirt QoS without one
PRIORITIES = ("best-effort", "bronze", "silver", "gold", "platinum")   # epqosEgress.prio minus fc
# fabricVlan.id accepts 1-4042 and 4048-4093 (ucsmsdk metadata); UCS-M reserves 4043-4047 and 4094.
_VLAN_RANGES = ((1, 4042), (4048, 4093))
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_UCS_NAME = re.compile(r"[-.:_a-zA-Z0-9]{1,31}")
_DESCR_UNSAFE = re.compile(r"[^ !#$%&()*+,\-./:;?@\[\]_{|}~a-zA-Z0-9]")


# -- inputs

@dataclass(frozen=True)
class ExportedProfile:
    """A vNIC profile of the exported network; `value` is its VF property (None = none)."""
    id: str
    name: str
    value: Optional[str] = None
    qos: Optional[NetworkQos] = None


@dataclass(frozen=True)
class UcsQosPolicy:
    """An epqosDefinition of org-root with its epqosEgress."""
    name: str
    descr: str = ""
    rate: str = "line-rate"
    burst: str = str(DEFAULT_BURST_BYTES)
    prio: str = "best-effort"
    host_control: str = "none"


@dataclass(frozen=True)
class UcsDomainFacts:
    """What one UCS domain holds: VLAN name -> id, port profiles (ucsm_source.PortProfile) by
    name, org-root QoS policies by name."""
    url: str
    vlans: Mapping[str, int] = field(default_factory=dict)
    port_profiles: Mapping[str, object] = field(default_factory=dict)
    qos_policies: Mapping[str, UcsQosPolicy] = field(default_factory=dict)
    reserved: Optional[Tuple[int, int]] = None     # fabricReservedVlan startId, endId (configurable)


@dataclass(frozen=True)
class ExportOptions:
    create_vlan: bool = False
    bind: bool = True
    max_ports: int = 64
    priority: str = "best-effort"
    host_control: str = "none"
    vf_property: str = "vmfex"
    vf_property_regex: str = ".*"


# -- outputs

@dataclass(frozen=True)
class MoWrite:
    """One UCS-M object to send (class id, dn, XML attributes in order), with its children."""
    class_id: str
    dn: str
    attrs: Tuple[Tuple[str, str], ...]
    children: Tuple["MoWrite", ...] = ()

    def get(self, name: str) -> str:
        return dict(self.attrs).get(name, "")


@dataclass(frozen=True)
class Write:
    """One configConfMo: what it is for (`what`), the object tree, and why it is needed."""
    what: str
    mo: MoWrite
    reason: str


@dataclass(frozen=True)
class QosMapping:
    """An oVirt QoS as a UCS egress policy, and what did not fit."""
    rate_kbps: int
    burst_bytes: int
    not_exported: Tuple[str, ...]


@dataclass(frozen=True)
class ProfileOutcome:
    """One vNIC profile in one domain: `state` is create | update | unchanged | refused."""
    vnic_profile: str
    port_profile: str
    state: str
    reason: str = ""
    not_exported: Tuple[str, ...] = ()
    writes: Tuple[Write, ...] = ()


@dataclass(frozen=True)
class DomainPlan:
    url: str
    vlan_name: Optional[str]               # the VLAN the profiles carry (None: refused)
    vlan_write: Optional[Write]            # the VLAN to create first, in its own transaction
    outcomes: Tuple[ProfileOutcome, ...]
    refusal: str = ""                      # the whole domain refused (VLAN missing)

    @property
    def writes(self) -> List[Write]:
        first = [self.vlan_write] if self.vlan_write else []
        return first + [w for o in self.outcomes for w in o.writes]


@dataclass(frozen=True)
class Binding:
    """Set the VF property of a vNIC profile that has none."""
    vnic_profile_id: str
    vnic_profile: str
    value: str


@dataclass(frozen=True)
class ExportPlan:
    network: str
    vlan_id: Optional[int]
    refusal: str                           # the whole export refused (VLAN UCS cannot carry)
    names: Mapping[str, str]               # vNIC profile name -> port profile name
    domains: Tuple[DomainPlan, ...]
    bindings: Tuple[Binding, ...]
    unbindable: Mapping[str, str]          # vNIC profile name -> why its VF property is not set

    @property
    def writes(self) -> int:
        return sum(len(d.writes) for d in self.domains) + len(self.bindings)


# -- pure rules

def vlan_problem(vlan_id: Optional[int]) -> str:
    """Why UCS-M cannot carry this VLAN ("" = it can)."""
    if vlan_id is None:
        return ("the network is untagged (no VLAN id): a port profile names a UCS VLAN, and mapping oVirt's "
                "untagged traffic to the fabric's native VLAN would be a guess; tag the network")
    if vlan_id == 0:
        return "VLAN id 0 is the 802.1p priority tag, not a VLAN UCS-M can define"
    if not any(low <= vlan_id <= high for low, high in _VLAN_RANGES):
        return ("VLAN id %d is reserved in UCS-M (fabricVlan ids are 1-4042 and 4048-4093; 4043-4047 and 4094 "
                "are reserved for the fabric interconnects)" % vlan_id)
    return ""


def port_profile_name(profile: ExportedProfile) -> str:
    """The VF property value if set, else the name made safe for UCS-M, the engine and the vdsm hook."""
    if profile.value:
        return profile.value
    return _UNSAFE.sub("-", profile.name)[:PORT_PROFILE_NAME_MAX]


def qos_policy_name(port_profile: str) -> str:
    return port_profile[:QOS_NAME_MAX]


def descr(text: str) -> str:
    """A descr UCS-M accepts: its character set, at most 256."""
    return _DESCR_UNSAFE.sub("-", text)[:256]


def map_qos(qos: Optional[NetworkQos]) -> Optional[QosMapping]:
    """The egress policy for an oVirt QoS (None: nothing outbound to carry), with what is lost."""
    if qos is None:
        return None
    lost = []
    if qos.inbound_average or qos.inbound_peak or qos.inbound_burst:
        lost.append("inbound limits (average %s Mbps, peak %s Mbps, burst %s MB): a UCS QoS policy shapes only "
                    "what the VM sends" % (qos.inbound_average or 0, qos.inbound_peak or 0, qos.inbound_burst or 0))
    if not qos.outbound_average:
        if qos.outbound_peak or qos.outbound_burst:
            lost.append("outbound peak/burst without an outbound average: UCS needs a rate")
        return QosMapping(0, 0, tuple(lost)) if lost else None
    if qos.outbound_peak:
        lost.append("outbound peak %d Mbps: UCS has no peak rate (libvirt ignores it too)" % qos.outbound_peak)
    if qos.outbound_burst:
        wanted = qos.outbound_burst * 10 ** 6
        burst = min(wanted, MAX_BURST_BYTES)
        if burst < wanted:
            lost.append("outbound burst %d MB = %d bytes: cut to %d bytes, the most UCS carries"
                        % (qos.outbound_burst, wanted, MAX_BURST_BYTES))
    else:
        burst = DEFAULT_BURST_BYTES
    return QosMapping(qos.outbound_average * 1000, burst, tuple(lost))


def _ours(text: str) -> bool:
    return MARK in (text or "")


def _attrs(**values: str) -> Tuple[Tuple[str, str], ...]:
    return tuple(values.items())


def _qos_write(name: str, port_profile: str, mapping: QosMapping, options: ExportOptions, reason: str) -> Write:
    dn = "%s/ep-qos-%s" % (QOS_ORG_DN, name)
    egress = MoWrite("epqosEgress", dn + "/egress", _attrs(
        rate=str(mapping.rate_kbps), burst=str(mapping.burst_bytes), prio=options.priority,
        hostControl=options.host_control))
    mo = MoWrite("epqosDefinition", dn, _attrs(name=name, descr=qos_descr(port_profile), status=CREATE_OR_MODIFY),
                 (egress,))
    return Write("QoS policy %s" % name, mo, reason)


def qos_descr(port_profile: str) -> str:
    return descr("%s: QoS of port profile %s" % (MARK, port_profile))


def profile_descr(network: str, vnic_profile: str) -> str:
    return descr("%s: oVirt network %s, vNIC profile %s" % (MARK, network, vnic_profile))


def profile_write(name: str, wanted: Dict[str, str], vlan: str, stale_vlans: Sequence[str], client: bool,
                   reason: str) -> Write:
    dn = "%s/vnic-%s" % (PROFILE_SET_DN, name)
    children = [MoWrite("vnicEtherIf", "%s/if-%s" % (dn, vlan), _attrs(name=vlan, defaultNet="yes"))]
    children += [MoWrite("vnicEtherIf", "%s/if-%s" % (dn, old), _attrs(name=old, status="deleted"))
                 for old in stale_vlans]
    if client:
        children.append(MoWrite("vmVnicProfCl", "%s/cl-%s" % (dn, CLIENT_NAME), _attrs(
            name=CLIENT_NAME, dcName=".*", orgPath=".*", swName=".*", policyOwner="local")))
    mo = MoWrite("vnicProfile", dn, _attrs(name=name, status=CREATE_OR_MODIFY, policyOwner="local", **wanted),
                 tuple(children))
    return Write("port profile %s" % name, mo, reason)


def _differences(existing, wanted: Dict[str, str], vlan: str) -> List[str]:
    """What differs between an existing port profile (ucsm_source.PortProfile) and the wanted one."""
    found = {"descr": existing.descr, "maxPorts": str(existing.max_ports),
             "hostNwIOPerf": "high-perf-reqd" if existing.high_performance else "none",
             "qosPolicyName": existing.qos_policy}
    diffs = ["%s %r -> %r" % (key, found[key], value) for key, value in wanted.items() if found[key] != value]
    if tuple(existing.vlans) != (vlan,) or existing.native_vlan != vlan:
        diffs.append("VLANs %s -> %s" % (", ".join(existing.vlans) or "none", vlan))
    if CLIENT_NAME not in existing.clients:
        diffs.append("profile client %s missing" % CLIENT_NAME)
    return diffs


def _qos_differences(existing: UcsQosPolicy, mapping: QosMapping, options: ExportOptions) -> List[str]:
    found = (existing.rate, existing.burst, existing.prio, existing.host_control)
    wanted = (str(mapping.rate_kbps), str(mapping.burst_bytes), options.priority, options.host_control)
    names = ("rate", "burst", "prio", "hostControl")
    return ["%s %s -> %s" % (n, a, b) for n, a, b in zip(names, found, wanted) if a != b]


def _profile_outcome(profile: ExportedProfile, name: str, network: str, vlan: str, domain: UcsDomainFacts,
                     options: ExportOptions, qos_owners: Dict[str, str]) -> ProfileOutcome:
    mapping = map_qos(profile.qos)
    lost = mapping.not_exported if mapping else ()
    carried = mapping if mapping and mapping.rate_kbps else None
    existing = domain.port_profiles.get(name)
    if existing is not None and not _ours(existing.descr):
        return ProfileOutcome(profile.name, name, "refused", "port profile %s exists in UCS-M without the %s mark "
                              "in its description: not ours to change (rename one of them, or set %s on the vNIC "
                              "profile to another name)" % (name, MARK, options.vf_property), lost)
    wanted_descr = profile_descr(network, profile.name)
    if existing is not None and existing.descr != wanted_descr and profile.value != name:
        return ProfileOutcome(profile.name, name, "refused", "port profile %s was exported for another vNIC "
                              "profile (%s): set %s=%s on this one to take it over, or rename it"
                              % (name, existing.descr, options.vf_property, name), lost)
    writes = []
    qos_name = ""
    if carried is not None:
        qos_name = qos_policy_name(name)
        owner = qos_owners.setdefault(qos_name, name)
        policy = domain.qos_policies.get(qos_name)
        if owner != name:
            return ProfileOutcome(profile.name, name, "refused", "QoS policy name %s (port profile names cut to %d) "
                                  "is also wanted by port profile %s: give one of them a shorter or different VF "
                                  "property value" % (qos_name, QOS_NAME_MAX, owner), lost)
        if policy is not None and not _ours(policy.descr):
            return ProfileOutcome(profile.name, name, "refused", "QoS policy %s/ep-qos-%s exists without the %s mark: "
                                  "not ours to change" % (QOS_ORG_DN, qos_name, MARK), lost)
        if policy is not None and policy.descr != qos_descr(name):
            return ProfileOutcome(profile.name, name, "refused", "QoS policy %s/ep-qos-%s belongs to another port "
                                  "profile (%s)" % (QOS_ORG_DN, qos_name, policy.descr), lost)
        if policy is None:
            writes.append(_qos_write(qos_name, name, carried, options, "new: outbound %d Mbps -> rate %d kbps, burst "
                                     "%d bytes" % (profile.qos.outbound_average, carried.rate_kbps,
                                                   carried.burst_bytes)))
        else:
            diffs = _qos_differences(policy, carried, options)
            if diffs:
                writes.append(_qos_write(qos_name, name, carried, options, "differs: " + "; ".join(diffs)))
    wanted = {"descr": wanted_descr, "maxPorts": str(options.max_ports),
              "hostNwIOPerf": "none", "qosPolicyName": qos_name}
    if existing is None:
        writes.append(profile_write(name, wanted, vlan, (), True, "new: VLAN %s%s" % (
            vlan, ", QoS policy %s" % qos_name if qos_name else "")))
        return ProfileOutcome(profile.name, name, "create", "", lost, tuple(writes))
    diffs = _differences(existing, wanted, vlan)
    if diffs:
        stale = [old for old in existing.vlans if old != vlan]
        writes.append(profile_write(name, wanted, vlan, stale, CLIENT_NAME not in existing.clients,
                                     "differs: " + "; ".join(diffs)))
    if not writes:
        return ProfileOutcome(profile.name, name, "unchanged", "", lost)
    return ProfileOutcome(profile.name, name, "update", "", lost, tuple(writes))


def _domain_plan(network: str, vlan_id: int, profiles: Sequence[ExportedProfile], names: Mapping[str, str],
                 refused: Mapping[str, str], domain: UcsDomainFacts, options: ExportOptions) -> DomainPlan:
    matching = sorted(name for name, found in domain.vlans.items() if found == vlan_id)
    vlan_write = None
    if domain.reserved and domain.reserved[0] <= vlan_id <= domain.reserved[1]:
        return DomainPlan(domain.url, None, None, (), "VLAN id %d is in this domain's reserved range %d-%d "
                          "(fabric/lan/fab-reserved-vlans): UCS-M cannot carry it" % ((vlan_id,) + domain.reserved))
    if matching:
        vlan = matching[0]
    elif options.create_vlan:
        vlan = "ovirt-%d" % vlan_id
        vlan_write = Write("VLAN %s" % vlan, MoWrite("fabricVlan", "%s/net-%s" % (VLAN_PARENT_DN, vlan), _attrs(
            name=vlan, id=str(vlan_id), sharing="none", defaultNet="no", compressionType="included",
            policyOwner="local", status=CREATE_OR_MODIFY)), "no VLAN with id %d in this domain (--create-vlan)"
            % vlan_id)
    else:
        return DomainPlan(domain.url, None, None, (), "no VLAN with id %d in this domain: create it in UCS Manager "
                          "(LAN > VLANs), or pass --create-vlan to create fabric/lan/net-ovirt-%d"
                          % (vlan_id, vlan_id))
    qos_owners: Dict[str, str] = {}
    outcomes = []
    for profile in profiles:
        name = names[profile.name]
        if profile.name in refused:
            outcomes.append(ProfileOutcome(profile.name, name, "refused", refused[profile.name]))
        else:
            outcomes.append(_profile_outcome(profile, name, network, vlan, domain, options, qos_owners))
    return DomainPlan(domain.url, vlan, vlan_write, tuple(outcomes))


def _name_refusals(profiles: Sequence[ExportedProfile], names: Mapping[str, str]) -> Dict[str, str]:
    """Names UCS-M cannot take, and two vNIC profiles wanting the same port profile."""
    refused: Dict[str, str] = {}
    by_name: Dict[str, List[str]] = {}
    for profile in profiles:
        name = names[profile.name]
        if not _UCS_NAME.fullmatch(name):
            refused[profile.name] = ("port profile name %r (from the VF property) is not a UCS-M name "
                                     "([-.:_a-zA-Z0-9]{1,31})" % name)
        by_name.setdefault(name, []).append(profile.name)
    for name, owners in by_name.items():
        if len(owners) > 1:
            for owner in owners:
                refused[owner] = "vNIC profiles %s would both be port profile %s: rename one, or set the VF " \
                                 "property of one to another name" % (" and ".join(sorted(owners)), name)
    return refused


def export_plan(network: str, vlan_id: Optional[int], profiles: Sequence[ExportedProfile],
                domains: Sequence[UcsDomainFacts], options: ExportOptions) -> ExportPlan:
    """The writes per domain and the VF property bindings, each with its reason."""
    names = {p.name: port_profile_name(p) for p in profiles}
    problem = vlan_problem(vlan_id)
    if problem:
        return ExportPlan(network, vlan_id, problem, names, (), (), {})
    refused = _name_refusals(profiles, names)
    plans = tuple(_domain_plan(network, vlan_id, profiles, names, refused, d, options) for d in domains)
    bindings, unbindable = [], {}
    for profile in profiles:
        if not options.bind or profile.value or profile.name in refused:
            continue
        name = names[profile.name]
        missing = [plan.url for plan in plans if plan.refusal or any(
            o.vnic_profile == profile.name and o.state == "refused" for o in plan.outcomes)]
        if missing:
            unbindable[profile.name] = "not exported to %s, so %s is left unset" % (
                ", ".join(missing), options.vf_property)
        elif re.fullmatch(options.vf_property_regex, name) is None:
            unbindable[profile.name] = ("the engine's %s regex %s refuses %r: set the property by hand to a name "
                                        "it accepts and export again" % (options.vf_property,
                                                                         options.vf_property_regex, name))
        else:
            bindings.append(Binding(profile.id, profile.name, name))
    return ExportPlan(network, vlan_id, "", names, plans, tuple(bindings), unbindable)
