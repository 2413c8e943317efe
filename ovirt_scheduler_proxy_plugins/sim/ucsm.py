"""A fake Cisco UCS Manager XML API server (POST /nuova) for tests and demos.

It speaks the subset in docs/ucsm-xml-api.md: session methods with cookies and a per-user
session limit, the configResolve* queries and configScope with inFilter (eq, ne, wcard, and,
or, not; checked as UCS-M takes filters, see _in_filter), both error forms, and faults (hang,
HTTP errors, broken XML, entity bombs, expired cookies). Besides servers and their service
profiles it serves VM-FEX port profiles (fabric/lan/profiles/vnic-NAME) with their VLANs and
profile clients (port-profiles.md §1). Objects carry every attribute ucsmsdk 0.9.27 knows for their class, so documents
are as large as real ones. Sample values are invented; only the names are real.
"""
import logging
import re
import ssl
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, FrozenSet, Iterable, Iterator, List, Mapping, Optional, Tuple

import defusedxml
import defusedxml.ElementTree as DET

LOG = logging.getLogger("ovirt_vf_scheduler.sim.ucsm")

# Invented identities of the extra objects every fake carries (see _extras).
TEMPLATE_DN = "org-root/ls-tmpl-kvm"
SPARE_PROFILE_DN = "org-root/ls-spare"
SPARE_PROFILE_UUID = "5e1f0000-0000-4000-8000-00000000a001"
SPARE_SERVER_DN = "sys/chassis-99/blade-8"
SPARE_SERVER_UUID = "5e1f0000-0000-4000-8000-00000000b001"
SPARE_SERVER_SERIAL = "FCH9999SPAR"
EXTRA_POLICY_DNS = ("org-root/dynamic-con-spare54", "org-root/dynamic-con-spare-off")
# The per-user session limit: ucsmsdk's metadata names the failure ERR-max-userid-sessions-reached,
# but the numeric errorCode a real aaaLogin answers with is in no public source found (ucsmsdk,
# its issues, public captures). "572" is INVENTED: assert it only as the fake's own number.
INVENTED_SESSION_LIMIT_CODE = "572"


@dataclass
class UcsmServer:
    """One blade or rack server and the service profile associated with it."""
    dn: str                                   # "sys/chassis-1/blade-1" or "sys/rack-unit-3"
    uuid: str                                 # what the host's SMBIOS reports
    serial: str
    sp_name: str
    org: str = "org-root"
    policy_name: Optional[str] = None         # vnicDynamicConPolicy name; None = none
    dynamic_eth: str = "10"                   # "off" allowed
    sp_local_dynamic_eth: Optional[str] = None  # creates <sp>/dynamic-con
    dynamic_in_use: int = 0                   # deployed dynamic vnicEther
    associated: bool = True                   # False: assigned, but the association failed
    derived_uuid: bool = False                # lsServer.uuid="derived" (hardware UUID in use)
    dynamic_inst_type: str = "dynamic"        # or "dynamic-vf"

    @property
    def sp_dn(self) -> str:
        return "%s/ls-%s" % (self.org, self.sp_name)


def sample_servers(count: int = 4) -> List[UcsmServer]:
    """A varied inventory for tests and demos; server i is host "kvm-host<i+1>".

    Blades (even i, org-root/org-ovirt) and rack units (odd i, org-root) take turns through
    four setups by i % 4: 0 named policy kvm10 (10); 1 profile-local dynamic-con "4";
    2 kvm10 with uuid "derived" and 2 dynamic-vf vNICs deployed; 3 named policy kvm-off ("off").
    """
    servers = []
    for index in range(count):
        kind = index % 4
        half = index // 2
        dn = ("sys/chassis-%d/blade-%d" % (half // 8 + 1, half % 8 + 1) if index % 2 == 0
              else "sys/rack-unit-%d" % (half + 1))
        servers.append(UcsmServer(
            dn=dn, uuid="4b279c8a-5f19-11e2-0000-%012x" % (index + 1),
            serial="FCH%08d" % (index + 1), sp_name="kvm-host%d" % (index + 1),
            org="org-root/org-ovirt" if index % 2 == 0 else "org-root",
            policy_name={0: "kvm10", 2: "kvm10", 3: "kvm-off"}.get(kind),
            dynamic_eth="off" if kind == 3 else "10",
            sp_local_dynamic_eth="4" if kind == 1 else None,
            dynamic_in_use={0: 1, 2: 2}.get(kind, 0), derived_uuid=kind == 2,
            dynamic_inst_type="dynamic-vf" if kind == 2 else "dynamic"))
    return servers


@dataclass
class UcsmPortProfile:
    """A VM-FEX port profile of the domain, with its VLANs and profile clients."""
    name: str                                 # [-.:_a-zA-Z0-9]{1,31}
    vlans: Tuple[Tuple[str, int], ...] = (("vlan100", 100),)   # (VLAN name, id); the first is native
    max_ports: int = 64
    high_perf: bool = True                    # hostNwIOPerf = high-perf-reqd
    qos_policy: str = ""
    clients: Tuple[str, ...] = ("kvm",)       # vmVnicProfCl names (dc, org and switch ".*")
    descr: str = ""

    @property
    def dn(self) -> str:
        return "fabric/lan/profiles/vnic-" + self.name


def sample_port_profiles() -> List[UcsmPortProfile]:
    """The fake's default port profiles: pp-vmfex and pp-vlan100 (the simulated worlds' vNIC
    profiles name them), pp-db with two VLANs and a QoS policy, and pp:legacy, a name UCS-M
    allows and the documented vmfex regex rejects."""
    return [UcsmPortProfile("pp-vmfex"),
            UcsmPortProfile("pp-vlan100", descr="VLAN 100, high performance"),
            UcsmPortProfile("pp-db", vlans=(("db-vlan200", 200), ("backup-vlan210", 210)), max_ports=32,
                            qos_policy="gold", descr="databases"),
            UcsmPortProfile("pp:legacy", vlans=(("vlan300", 300),), high_perf=False, clients=())]


@dataclass
class Faults:
    """Misbehaviour, applied to the methods in `methods` (None = every method)."""
    delay: float = 0.0                        # hang this long before answering
    drip: float = 0.0                         # pause between 64 KiB pieces of the answer
    http_status: Optional[int] = None         # answer with this HTTP status and an HTML page
    malformed_xml: bool = False               # answer with truncated XML
    entity_bomb: bool = False                 # answer with a DOCTYPE and nested entities
    reject_cookies: bool = False              # every query: drop the session, answer 552
    max_sessions: int = 32                    # per user
    methods: Optional[FrozenSet[str]] = None
    expire_pending: bool = False              # set by expire_cookies(), used up by the fake

    def applies(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def expire_cookies(self) -> None:
        """Every session is gone by the next request other than aaaLogin (a query gets 552,
        aaaLogout 555), as after a UCS-M session timeout that strikes mid-run."""
        self.expire_pending = True


# --- object attributes (every property ucsmsdk knows; values plausible) -------------------

_FSM = {"fsmDescr": "", "fsmFlags": "", "fsmPrev": "nop", "fsmProgr": "100",
        "fsmRmtInvErrCode": "none", "fsmRmtInvErrDescr": "", "fsmRmtInvRslt": "",
        "fsmStageDescr": "", "fsmStamp": "never", "fsmStatus": "nop", "fsmTry": "0"}
_POLICY_NAMES = ("agentPolicyName", "biosProfileName", "bootPolicyName", "graphicsCardPolicyName",
                 "hostFwPolicyName", "kvmMgmtPolicyName", "localDiskPolicyName", "maintPolicyName",
                 "mgmtAccessPolicyName", "mgmtFwPolicyName", "persistentMemoryPolicyName",
                 "powerPolicyName", "powerSyncPolicyName", "scrubPolicyName", "solPolicyName",
                 "spdmCertificatePolicyName", "statsPolicyName", "vconProfileName",
                 "vmediaPolicyName")
_OPER_NAMES = ("operBiosProfileName", "operBootPolicyName", "operExtIPPoolName",
               "operGraphicsCardPolicyName", "operHostFwPolicyName", "operIdentPoolName",
               "operKvmMgmtPolicyName", "operLocalDiskPolicyName", "operMaintPolicyName",
               "operMgmtAccessPolicyName", "operMgmtFwPolicyName", "operPersistentMemoryPolicyName",
               "operPowerPolicyName", "operPowerSyncPolicyName", "operScrubPolicyName",
               "operSolPolicyName", "operSpdmCertificatePolicyName", "operSrcTemplName",
               "operStatsPolicyName", "operVconProfileName", "operVmediaPolicyName")

_LS_SERVER = dict(
    {name: "" for name in _POLICY_NAMES + _OPER_NAMES}, **_FSM,
    assignState="assigned", assocState="associated", childAction="deleteNonPresent",
    configQualifier="", configState="applied", descr="", dynamicConPolicyName="",
    extIPPoolName="ext-mgmt", extIPState="none", fltAggr="0", identPoolName="", intId="",
    name="", operBootPolicyName="org-root/boot-policy-default",
    operDynamicConPolicyName="", operExtIPPoolName="org-root/ip-pool-ext-mgmt",
    operPowerPolicyName="org-root/power-policy-default", operState="ok",
    operStatsPolicyName="org-root/thr-policy-default", owner="management", pnDn="",
    policyLevel="0", policyOwner="local", powerPolicyName="default", propAcl="0",
    resolveRemote="yes", sacl="", srcTemplName="", statsPolicyName="default", status="",
    svnicConfig="no", type="instance", usrLbl="", uuid="derived", uuidSuffix="0000-000000000000")

_SERVER_COMMON = dict(
    _FSM, adminPower="policy", adminState="in-service", assetTag="", assignedToDn="",
    association="none", availability="unavailable", availableMemory="262144",
    checkPoint="discovered", childAction="deleteNonPresent", connPath="A,B", connStatus="A,B",
    descr="", discovery="complete", discoveryStatus="", fltAggr="0", intId="",
    kmipFault="no", kmipFaultDescription="", lc="discovered", lcTs="1970-01-01T00:00:00.000",
    localId="", lowVoltageMemory="regular-voltage", managingInst="A", memorySpeed="2400",
    mfgTime="2016-03-01T00:00:00.000", model="", name="", numOf40GAdaptorsWithOldFw="0",
    numOf40GAdaptorsWithUnknownFw="0", numOfAdaptors="1", numOfCores="24",
    numOfCoresEnabled="24", numOfCpus="2", numOfEthHostIfs="4", numOfFcHostIfs="0",
    numOfThreads="48", operPower="on", operPwrTransSrc="software", operQualifier="",
    operQualifierReason="N/A", operState="ok", operability="operable", originalUuid="",
    partNumber="73-16337-06", policyLevel="0", policyOwner="local", presence="equipped",
    revision="0", sacl="", serial="", serverId="", status="", storageOperQualifier="unknown",
    thermal="ok", totalMemory="262144", usrLbl="", uuid="", vendor="Cisco Systems Inc",
    vid="V06")
_COMPUTE_BLADE = dict(_SERVER_COMMON, chassisId="", dualSlotPeerPcieNodeDn="",
                      pcieNodeCapable="no", pcieNodeConnected="no",
                      pcieNodeDiscoverStatus="complete", peerPcieNodeDn="", scaledMode="single",
                      slotId="", model="UCSB-B200-M4")
_COMPUTE_RACK_UNIT = dict(_SERVER_COMMON, enclosureId="0", fanSpeedConfigStatus="",
                          fanSpeedPolicyFault="no", id="", physicalSecurity="chassis-close",
                          slotId="0", versionHolder="no", vethStatus="", model="UCSC-C220-M4S")

_DYNAMIC_CON = dict(adaptorProfileName="Linux", childAction="deleteNonPresent", descr="",
                    dynamicEth="10", intId="", mtu="1500", name="", namingPrefix="",
                    policyLevel="0", policyOwner="local", protection="protected", sacl="",
                    status="")

_VNIC_ETHER = dict(
    adaptorProfileName="Linux", addr="derived", adminCdnName="", adminHostPort="ANY",
    adminVcon="any", bootDev="disabled", cdnPropInSync="yes", cdnSource="vnic-name",
    childAction="deleteNonPresent", configQualifier="", configState="applied", dynamicId="0",
    equipmentDn="", etherChannelPinning="disabled", fltAggr="0", identPoolName="",
    instType="manual", mtu="1500", name="", nwCtrlPolicyName="", nwTemplName="",
    operAdaptorProfileName="org-root/eth-profile-Linux", operCdnName="", operHostPort="1",
    operIdentPoolName="org-root/mac-pool-default", operNwCtrlPolicyName="org-root/nwctrl-default",
    operNwTemplName="", operOrder="1", operPinToGroupName="", operQosPolicyName="",
    operSpeed="line-rate", operStatsPolicyName="org-root/thr-policy-default", operVcon="1",
    order="1", owner="logical", pfDn="", pinToGroupName="", propAcl="0", purpose="general",
    qInQ="disabled", qosPolicyName="", redundancyPairType="none", redundancyPeer="", sacl="",
    sriovHpnPreference="disabled", statsPolicyName="default", status="", switchId="A",
    type="ether", virtualizationPreference="NONE")

_VNIC_PROFILE = dict(
    cdp="disabled", childAction="deleteNonPresent", configQualifier="normal", cos="any", descr="",
    forgeMac="allow", hostNwIOPerf="none", intId="", lldp="", macRegisterMode="only-native-vlan",
    maxPorts="64", name="", nwCtrlPolicyName="", operNwCtrlPolicyName="org-root/nwctrl-default",
    operQosPolicyName="", orgDn="org-root", pinToGroupName="", policyLevel="0", policyOwner="local",
    portProfileUuid="0", primaryVlanId="1", qosPolicyDn="", qosPolicyId="none", qosPolicyName="",
    sacl="", status="", swABorderAggrPort="0", swABorderPort="0", swABorderSlot="0",
    swBBorderAggrPort="0", swBBorderPort="0", swBBorderSlot="0", type="regular",
    uplinkFailAction="link-down")
_VNIC_ETHER_IF = dict(
    addr="derived", childAction="deleteNonPresent", configQualifier="", defaultNet="no", fltAggr="0",
    isQinQVlan="no", name="", operPrimaryVnetDn="", operPrimaryVnetName="", operState="indeterminate",
    operVnetDn="", operVnetName="", owner="logical", propAcl="0", pubNwId="0", sacl="", sharing="none",
    status="", switchId="A", type="ether", vnet="1")
_VM_VNIC_PROF_CL = dict(childAction="deleteNonPresent", dcName=".*", descr="", intId="", name="",
                        orgPath=".*", policyLevel="0", policyOwner="local", sacl="", status="",
                        swName=".*")

_TEMPLATES = {"lsServer": _LS_SERVER, "computeBlade": _COMPUTE_BLADE,
              "computeRackUnit": _COMPUTE_RACK_UNIT, "vnicDynamicConPolicy": _DYNAMIC_CON,
              "vnicDynamicCon": _DYNAMIC_CON, "vnicEther": _VNIC_ETHER, "vnicProfile": _VNIC_PROFILE,
              "vnicEtherIf": _VNIC_ETHER_IF, "vmVnicProfCl": _VM_VNIC_PROF_CL}
_PROPERTIES = {class_id: set(template) | {"dn", "rn"} for class_id, template in _TEMPLATES.items()}

_Mo = Tuple[str, Dict[str, str]]               # (class id, attributes with dn)


def _mo(class_id: str, dn: str, **values: str) -> _Mo:
    """An object from its class template. intId is stable per dn: shared policies compare equal."""
    attrs = dict(_TEMPLATES[class_id], dn=dn)
    if "intId" in attrs:
        attrs["intId"] = str(zlib.crc32(dn.encode()) % 10000000)
    unknown = set(values) - _PROPERTIES[class_id]
    if unknown:
        raise ValueError("%s has no properties %s" % (class_id, sorted(unknown)))
    attrs.update(values)
    return class_id, attrs


def _server_objects(server: UcsmServer) -> Iterator[_Mo]:
    sp_dn = server.sp_dn
    yield _hardware(server)
    policy_dn = "%s/dynamic-con-%s" % (server.org, server.policy_name) if server.policy_name else ""
    yield _mo("lsServer", sp_dn, name=server.sp_name, pnDn=server.dn,
              assocState="associated" if server.associated else "failed",
              operState="ok" if server.associated else "config-failure",
              uuid="derived" if server.derived_uuid else server.uuid,
              uuidSuffix="0000-000000000000" if server.derived_uuid else server.uuid[19:].upper(),
              dynamicConPolicyName=server.policy_name or "", operDynamicConPolicyName=policy_dn)
    if policy_dn:
        yield _mo("vnicDynamicConPolicy", policy_dn, name=server.policy_name,
                  dynamicEth=server.dynamic_eth)
    if server.sp_local_dynamic_eth is not None:
        yield _mo("vnicDynamicCon", sp_dn + "/dynamic-con", dynamicEth=server.sp_local_dynamic_eth)
    yield from _ethers(server)


def _hardware(server: UcsmServer) -> _Mo:
    """computeBlade or computeRackUnit, by the dn's form."""
    blade = re.fullmatch(r"sys/chassis-(\d+)/blade-(\d+)", server.dn)
    rack = re.fullmatch(r"sys/rack-unit-(\d+)", server.dn)
    original = server.uuid if server.derived_uuid else str(uuidlib.uuid5(uuidlib.NAMESPACE_URL,
                                                                         server.dn))
    common = dict(uuid=server.uuid, originalUuid=original, serial=server.serial,
                  assignedToDn=server.sp_dn, availability="unavailable",
                  association="associated" if server.associated else "failed")
    if blade:
        return _mo("computeBlade", server.dn, chassisId=blade.group(1), slotId=blade.group(2),
                   serverId="%s/%s" % blade.groups(), **common)
    if rack:
        return _mo("computeRackUnit", server.dn, id=rack.group(1), serverId=rack.group(1), **common)
    raise ValueError("server dn must be sys/chassis-N/blade-M or sys/rack-unit-N: %s" % server.dn)


def _ethers(server: UcsmServer) -> Iterator[_Mo]:
    """Two static vNICs, then the deployed dynamic ones."""
    adaptor = server.dn + "/adaptor-1"
    for index, switch in ((1, "A"), (2, "B")):
        yield _mo("vnicEther", "%s/ether-eth%d" % (server.sp_dn, index - 1),
                  name="eth%d" % (index - 1), switchId=switch, order=str(index),
                  equipmentDn="%s/host-eth-%d" % (adaptor, index))
    for number in range(1, server.dynamic_in_use + 1):
        name = "dynamic-prot-%03d" % number
        yield _mo("vnicEther", "%s/ether-%s" % (server.sp_dn, name), name=name,
                  instType=server.dynamic_inst_type, dynamicId=str(number), owner="conn_policy",
                  switchId="A-B", order="unspecified", operOrder="unspecified",
                  equipmentDn="%s/host-eth-%d" % (adaptor, number + 2),
                  virtualizationPreference="SRIOV-VMFEX")


def _extras() -> Iterator[_Mo]:
    """Objects the mapping must skip: a template, a spare profile, a free blade, unused policies."""
    yield _mo("lsServer", TEMPLATE_DN, name="tmpl-kvm", type="updating-template",
              assignState="unassigned", assocState="unassociated", operState="unassociated",
              dynamicConPolicyName="spare54", operDynamicConPolicyName=EXTRA_POLICY_DNS[0])
    yield _mo("lsServer", SPARE_PROFILE_DN, name="spare", assignState="unassigned",
              assocState="unassociated", operState="unassociated", uuid=SPARE_PROFILE_UUID,
              uuidSuffix=SPARE_PROFILE_UUID[19:].upper())
    yield _mo("computeBlade", SPARE_SERVER_DN, chassisId="99", slotId="8", serverId="99/8",
              uuid=SPARE_SERVER_UUID, originalUuid=SPARE_SERVER_UUID, serial=SPARE_SERVER_SERIAL,
              availability="available", operState="unassociated")
    yield _mo("vnicDynamicConPolicy", EXTRA_POLICY_DNS[0], name="spare54", dynamicEth="54",
              protection="protected-pref-a")
    yield _mo("vnicDynamicConPolicy", EXTRA_POLICY_DNS[1], name="spare-off", dynamicEth="off",
              protection="none")


def _port_profile_objects(profile: UcsmPortProfile) -> Iterator[_Mo]:
    """The vnicProfile, then its VLANs (vnicEtherIf) and profile clients (vmVnicProfCl)."""
    native = profile.vlans[0] if profile.vlans else ("", 1)
    yield _mo("vnicProfile", profile.dn, name=profile.name, descr=profile.descr, maxPorts=str(profile.max_ports),
              hostNwIOPerf="high-perf-reqd" if profile.high_perf else "none", qosPolicyName=profile.qos_policy,
              operQosPolicyName="org-root/ep-qos-%s" % profile.qos_policy if profile.qos_policy else "",
              primaryVlanId=str(native[1]))
    for index, (vlan, vlan_id) in enumerate(profile.vlans):
        yield _mo("vnicEtherIf", "%s/if-%s" % (profile.dn, vlan), name=vlan, defaultNet="yes" if index == 0 else "no",
                  vnet=str(vlan_id), operVnetName=vlan, operVnetDn="fabric/lan/net-%s" % vlan)
    for client in profile.clients:
        yield _mo("vmVnicProfCl", "%s/cl-%s" % (profile.dn, client), name=client)


def build_objects(servers: Iterable[UcsmServer], port_profiles: Iterable[UcsmPortProfile] = ()) -> List[_Mo]:
    """Every object of the fake domain; servers may share a policy, nothing else."""
    objects: Dict[str, _Mo] = {}
    every = [mo for server in servers for mo in _server_objects(server)] + list(_extras())
    every += [mo for profile in port_profiles for mo in _port_profile_objects(profile)]
    for class_id, attrs in every:
        existing = objects.setdefault(attrs["dn"], (class_id, attrs))
        if existing != (class_id, attrs):
            raise ValueError("two different objects at %s" % attrs["dn"])
    return list(objects.values())


# --- filters and documents ---------------------------------------------------------------

class _BadRequest(Exception):
    """Answered with the root <error> form (ERR-xml-parse-error / 594)."""


_PROPERTY_FILTERS = ("eq", "ne", "wcard")
_COMPOSITES = ("and", "or", "not")
# ucsmsdk (handle_filter_max_component_limit) regroups an and/or of more than 10 filters into
# nested groups of at most 10 because UCS-M limits composites; the fake refuses bigger ones.
MAX_FILTER_COMPONENTS = 10


def _in_filter(request: ET.Element, class_id: Optional[str]) -> Optional[ET.Element]:
    """The request's filter, checked whole before any object is matched, against what UCS-M takes
    (ucsmsdk builds exactly this): ONE filter element in <inFilter> (siblings go inside <and>),
    every property filter on the queried class (`class_id`; None = any class), composites of at
    most MAX_FILTER_COMPONENTS. Anything else is the malformed-request error (the fake's choice of
    form: UCS-M's exact answer to these requests is unverified)."""
    container = request.find("inFilter")
    if container is None or not len(container):
        return None
    if len(container) > 1:
        raise _BadRequest("XML PARSING ERROR: inFilter holds %d filters, expected one "
                          "(combine them with and/or)" % len(container))
    _check_filter(container[0], class_id)
    return container[0]


def _check_filter(flt: ET.Element, class_id: Optional[str]) -> None:
    if flt.tag in _COMPOSITES:
        if len(flt) > MAX_FILTER_COMPONENTS:
            raise _BadRequest("XML PARSING ERROR: %s has %d filters, at most %d allowed"
                              % (flt.tag, len(flt), MAX_FILTER_COMPONENTS))
        for child in flt:
            _check_filter(child, class_id)
        return
    if flt.tag not in _PROPERTY_FILTERS:
        raise _BadRequest("XML PARSING ERROR: unsupported filter %s" % flt.tag)
    filter_class, prop = flt.get("class", ""), flt.get("property", "")
    if class_id is not None and filter_class != class_id:
        raise _BadRequest("XML PARSING ERROR: filter on class %s in a query of class %s"
                          % (filter_class, class_id))
    if prop not in _PROPERTIES.get(filter_class, ()):
        raise _BadRequest("XML PARSING ERROR: no property %s in class %s" % (prop, filter_class))
    if flt.tag == "wcard":
        try:
            re.compile(flt.get("value", ""))
        except re.error as err:
            raise _BadRequest("XML PARSING ERROR: bad wcard %r: %s" % (flt.get("value", ""), err)) from None


def _matches(flt: Optional[ET.Element], attrs: Mapping[str, str]) -> bool:
    """Evaluate a filter _in_filter has checked."""
    if flt is None:
        return True
    if flt.tag == "and":
        return all(_matches(child, attrs) for child in flt)
    if flt.tag == "or":
        return any(_matches(child, attrs) for child in flt)
    if flt.tag == "not":
        return not all(_matches(child, attrs) for child in flt)
    actual, value = attrs.get(flt.get("property", ""), ""), flt.get("value", "")
    if flt.tag == "eq":
        return actual == value
    if flt.tag == "ne":
        return actual != value
    return re.search(value, actual) is not None


def _flag(request: ET.Element, name: str) -> bool:
    return request.get(name, "false").lower() in ("true", "yes")


def _answer(request: ET.Element, **attrs: str) -> ET.Element:
    return ET.Element(request.tag, dict(attrs, cookie=request.get("cookie", ""), response="yes"))


def _method_error(request: ET.Element, code: str, descr: str) -> ET.Element:
    return _answer(request, errorCode=code, invocationResult="unidentified-fail", errorDescr=descr)


def _parse_error(descr: str) -> ET.Element:
    return ET.Element("error", cookie="", response="yes", errorCode="ERR-xml-parse-error",
                      invocationResult="594", errorDescr=descr)


def _entity_bomb(method: str) -> bytes:
    entities = ['<!ENTITY e0 "lollollollol">'] + [
        '<!ENTITY e%d "%s">' % (level, ("&e%d;" % (level - 1)) * 10) for level in range(1, 10)]
    return ('<?xml version="1.0"?><!DOCTYPE %s [%s]><%s cookie="" response="yes" '
            'errorDescr="&e9;"/>' % (method, "".join(entities), method)).encode()


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "text/xml"
    headers: Dict[str, str] = field(default_factory=dict)
    pause: float = 0.0                        # between 64 KiB pieces of the body


def _html(status: int) -> _Reply:
    phrase = HTTPStatus(status).phrase
    page = "<html><head><title>%d %s</title></head><body><h1>%s</h1></body></html>" % (
        status, phrase, phrase)
    return _Reply(status, page.encode(), "text/html")


# --- the fake ----------------------------------------------------------------------------

_SESSION_FREE = ("aaaLogin", "aaaRefresh", "aaaLogout")
_PIECE = 64 * 1024


class FakeUcsm:
    """One fake UCS domain over HTTP(S) on 127.0.0.1; start() it, use .url, stop() it."""

    def __init__(self, servers: Iterable[UcsmServer], users: Optional[Mapping[str, str]] = None,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 redirect_to: Optional[str] = None,
                 port_profiles: Optional[Iterable[UcsmPortProfile]] = None):
        """port_profiles None: sample_port_profiles()."""
        self.objects = build_objects(servers, sample_port_profiles() if port_profiles is None else port_profiles)
        self.users = dict(users if users is not None else {"ovirt-ro": "secret"})
        self.faults = Faults()
        self.requests: List[Tuple[str, ...]] = []
        self.logins = 0
        self.logouts = 0
        self.url = ""
        self._tls = (tls_cert, tls_key) if tls_cert else None
        self._redirect_to = redirect_to     # answer every POST with a 301 to this base URL
        self._by_dn = {attrs["dn"]: (class_id, attrs) for class_id, attrs in self.objects}
        self._sessions: Dict[str, str] = {}  # cookie -> user
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._methods: Dict[str, Callable[[ET.Element], ET.Element]] = {
            "aaaLogin": self._login, "aaaRefresh": self._refresh, "aaaLogout": self._logout,
            "aaaKeepAlive": lambda request: _answer(request),
            "configResolveClass": self._resolve_class,
            "configResolveClasses": self._resolve_classes,
            "configResolveDn": self._resolve_dn, "configResolveDns": self._resolve_dns,
            "configResolveChildren": self._resolve_children, "configScope": self._scope}

    # lifecycle

    def start(self) -> "FakeUcsm":
        server = _HttpServer(("127.0.0.1", 0), _Handler)
        server.fake = self
        scheme = "http"
        if self._tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self._tls)
            # handshake in the handler thread, so a stalled client cannot block accept()
            server.socket = context.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
            scheme = "https"
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-ucsm", daemon=True)
        self._thread.start()
        self.url = "%s://127.0.0.1:%d" % (scheme, server.server_address[1])
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self) -> "FakeUcsm":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # observation and faults

    @property
    def active_sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expire_if_due(self, method: str) -> None:
        with self._lock:
            if self.faults.expire_pending and method != "aaaLogin":
                self.faults.expire_pending = False
                self._sessions.clear()

    # request handling

    def handle(self, body: bytes) -> _Reply:
        try:
            request = DET.fromstring(body)
        except (ET.ParseError, defusedxml.DefusedXmlException) as err:
            return self._xml(_parse_error("XML PARSING ERROR: %s" % err))
        self._record(request)
        if self._redirect_to:
            return _Reply(301, b"", "text/html", {"Location": self._redirect_to + "/nuova"})
        if not self.faults.applies(request.tag):
            return self._dispatch(request)
        reply = self._fault(request.tag) or self._dispatch(request)
        reply.pause = self.faults.drip
        return reply

    def _dispatch(self, request: ET.Element) -> _Reply:
        self._expire_if_due(request.tag)
        method = self._methods.get(request.tag)
        if method is None:
            return self._xml(_parse_error("XML PARSING ERROR: unknown method %s" % request.tag))
        try:
            rejected = None if request.tag in _SESSION_FREE else self._check_cookie(request)
            return self._xml(rejected if rejected is not None else method(request))
        except _BadRequest as err:
            return self._xml(_parse_error(str(err)))

    def _record(self, request: ET.Element) -> None:
        class_ids = [request.get("classId") or request.get("inClass") or ""]
        class_ids += [item.get("value", "") for item in request.iter("classId")]
        with self._lock:
            self.requests.append((request.tag,) + tuple(name for name in class_ids if name))

    def pause(self, seconds: float) -> None:
        """Sleep, but wake up when the fake stops."""
        self._stopping.wait(seconds)

    def _fault(self, method: str) -> Optional[_Reply]:
        faults = self.faults
        if faults.delay:
            self.pause(faults.delay)
        if faults.http_status:
            return _html(faults.http_status)
        if faults.malformed_xml:
            truncated = '<%s cookie="" response="yes"><outConfigs><lsServer dn="org-' % method
            return _Reply(200, truncated.encode())
        if faults.entity_bomb:
            return _Reply(200, _entity_bomb(method))
        return None

    def _xml(self, element: ET.Element) -> _Reply:
        return _Reply(200, ET.tostring(element))

    # session methods

    def _check_cookie(self, request: ET.Element) -> Optional[ET.Element]:
        """552 for an unknown, expired or deliberately rejected cookie."""
        cookie = request.get("cookie", "")
        with self._lock:
            if self.faults.reject_cookies:
                self._sessions.pop(cookie, None)
            if cookie in self._sessions:
                return None
        return _method_error(request, "552", "Authorization required")

    def _login(self, request: ET.Element) -> ET.Element:
        user = request.get("inName", "")
        if not self._password_ok(request):
            return _method_error(request, "551", "Authentication failed")
        with self._lock:
            if list(self._sessions.values()).count(user) >= self.faults.max_sessions:
                return _method_error(request, INVENTED_SESSION_LIMIT_CODE,
                                     "User reached maximum session limit "
                                     "(ERR-max-userid-sessions-reached)")
            cookie = self._new_session(user)
            self.logins += 1
        return self._session_answer(request, cookie, user)

    def _refresh(self, request: ET.Element) -> ET.Element:
        user = request.get("inName", "")
        if not self._password_ok(request):
            return _method_error(request, "551", "Authentication failed")
        with self._lock:
            if self._sessions.pop(request.get("inCookie", ""), None) is None:
                return _method_error(request, "552", "Authorization required")
            cookie = self._new_session(user)
        return self._session_answer(request, cookie, user)

    def _password_ok(self, request: ET.Element) -> bool:
        expected = self.users.get(request.get("inName", ""))
        return expected is not None and expected == request.get("inPassword")

    def _new_session(self, user: str) -> str:
        cookie = "%d/%s" % (time.time(), uuidlib.uuid4())
        self._sessions[cookie] = user
        return cookie

    def _session_answer(self, request: ET.Element, cookie: str, user: str) -> ET.Element:
        answer = _answer(request, outCookie=cookie, outRefreshPeriod="600", outPriv="read-only",
                         outDomains="", outChannel="noencssl", outEvtChannel="noencssl",
                         outSessionId="web_%d_A" % (zlib.crc32(cookie.encode()) % 100000),
                         outVersion="4.2(3b)", outName=user, outPasswdExpiryDuration="0",
                         outPasswdExpiryStatus="not-applicable")
        return answer

    def _logout(self, request: ET.Element) -> ET.Element:
        with self._lock:
            if self._sessions.pop(request.get("inCookie", ""), None) is None:
                return _method_error(request, "555", "Session not found")
            self.logouts += 1
        return _answer(request, outStatus="success")

    # queries

    def _objects_of(self, class_id: str) -> List[_Mo]:
        if class_id not in _TEMPLATES:
            raise _BadRequest("XML PARSING ERROR: no class named %s" % class_id)
        return [mo for mo in self.objects if mo[0] == class_id]

    def _children(self, dn: str) -> List[_Mo]:
        return [mo for mo in self.objects if mo[1]["dn"].rpartition("/")[0] == dn]

    def _configs(self, request: ET.Element, found: Iterable[_Mo], tag: str = "outConfigs",
                 **echo: str) -> ET.Element:
        """The answer element: echoed attributes plus the objects, nested when hierarchical."""
        answer = _answer(request, **echo)
        container = ET.SubElement(answer, tag)
        hierarchical = _flag(request, "inHierarchical")
        container.extend(self._element(mo, hierarchical, top=True) for mo in found)
        return answer

    def _element(self, mo: _Mo, hierarchical: bool, top: bool) -> ET.Element:
        """Top-level objects carry dn; nested children carry only rn, as in the guide."""
        class_id, attrs = mo
        shown = dict(attrs)
        if not top:
            shown["rn"] = shown.pop("dn").rpartition("/")[2]
        element = ET.Element(class_id, shown)
        if hierarchical:
            element.extend(self._element(child, True, top=False)
                           for child in self._children(attrs["dn"]))
        return element

    def _resolve_class(self, request: ET.Element) -> ET.Element:
        class_id = request.get("classId", "")
        objects, flt = self._objects_of(class_id), _in_filter(request, class_id)
        found = [mo for mo in objects if _matches(flt, mo[1])]
        return self._configs(request, found, classId=class_id)

    def _resolve_classes(self, request: ET.Element) -> ET.Element:
        class_ids = [item.get("value", "") for item in request.iter("classId")]
        return self._configs(request, [mo for class_id in class_ids
                                       for mo in self._objects_of(class_id)])

    def _resolve_dn(self, request: ET.Element) -> ET.Element:
        dn = request.get("dn", "")
        found = [self._by_dn[dn]] if dn in self._by_dn else []
        return self._configs(request, found, "outConfig", dn=dn)

    def _resolve_dns(self, request: ET.Element) -> ET.Element:
        dns = [item.get("value", "") for item in request.iter("dn")]
        answer = self._configs(request, [self._by_dn[dn] for dn in dns if dn in self._by_dn])
        unresolved = ET.SubElement(answer, "outUnresolved")
        unresolved.extend(ET.Element("dn", value=dn) for dn in dns if dn not in self._by_dn)
        return answer

    def _resolve_children(self, request: ET.Element) -> ET.Element:
        class_id = request.get("classId") or None
        if class_id:
            self._objects_of(class_id)          # unknown class -> error
        flt = _in_filter(request, class_id)
        found = [mo for mo in self._children(request.get("inDn", ""))
                 if (not class_id or mo[0] == class_id) and _matches(flt, mo[1])]
        return self._configs(request, found, **({"classId": class_id} if class_id else {}))

    def _scope(self, request: ET.Element) -> ET.Element:
        dn, class_id = request.get("dn", ""), request.get("inClass", "")
        objects, flt = self._objects_of(class_id), _in_filter(request, class_id)
        recursive = _flag(request, "inRecursive")

        def below(mo_dn: str) -> bool:
            return mo_dn.startswith(dn + "/") if recursive else mo_dn.rpartition("/")[0] == dn

        found = [mo for mo in objects if below(mo[1]["dn"]) and _matches(flt, mo[1])]
        return self._configs(request, found, dn=dn)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False      # stop() must not wait for a handler hanging on purpose
    fake: FakeUcsm

    def handle_error(self, request, client_address) -> None:
        """Clients that gave up (timeouts, TLS refusals) are expected; keep stderr clean."""
        LOG.debug("fake UCS-M: connection from %s ended badly", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = self.server.fake.handle(body) if self.path == "/nuova" else _html(404)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for start in range(0, len(reply.body), _PIECE):
            if start and reply.pause:
                self.server.fake.pause(reply.pause)
            self.wfile.write(reply.body[start:start + _PIECE])

    def log_message(self, format, *args) -> None:  # noqa: A002 (signature of the base class)
        LOG.debug("fake UCS-M: " + format, *args)
