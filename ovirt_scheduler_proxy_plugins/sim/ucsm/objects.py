"""The fake domain's managed objects: one template per class with every property ucsmsdk 0.9.27
knows (values plausible), so documents are as large as real ones, and the objects built from
the sample values (samples.py)."""
import re
import uuid as uuidlib
import zlib
from typing import Dict, Iterable, Iterator, List, Tuple

from .samples import (EXTRA_POLICY_DNS, SPARE_PROFILE_DN, SPARE_PROFILE_UUID, SPARE_SERVER_DN,
                      SPARE_SERVER_SERIAL, SPARE_SERVER_UUID, TEMPLATE_DN, UcsmPortProfile, UcsmQosPolicy,
                      UcsmServer, UcsmVlan)

RESERVED_VLANS_DN = "fabric/lan/fab-reserved-vlans"

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

_FABRIC_VLAN = dict(
    {"global": "0"}, assocPrimaryVlanState="ok", assocPrimaryVlanSwitchId="NONE", childAction="deleteNonPresent",
    cloud="ethlan", compressionType="included", configIssues="", configOverlap="ok", defaultNet="no", epDn="",
    fltAggr="0", id="1", ifRole="network", ifType="virtual", local="0", locale="external", mcastPolicyName="",
    name="", operMcastPolicyName="org-root/mc-policy-default", operState="ok", overlapStateForA="active",
    overlapStateForB="active", peerDn="", policyOwner="local", portInternalState="none", pubNwDn="",
    pubNwId="0", pubNwName="", sacl="", sharing="none", status="", switchId="dual", transport="ether",
    type="lan")
_FSM_NO_FLAGS = {name: value for name, value in _FSM.items() if name != "fsmFlags"}
_FABRIC_RESERVED_VLAN = dict(_FSM_NO_FLAGS, childAction="deleteNonPresent", endId="4042", operState="applied",
                             sacl="", startId="3915", status="")
_EPQOS_DEFINITION = dict(_FSM_NO_FLAGS, childAction="deleteNonPresent", descr="", intId="", name="",
                         policyLevel="0", policyOwner="local", sacl="", status="")
_EPQOS_EGRESS = dict(burst="10240", childAction="deleteNonPresent", hostControl="none", name="",
                     operPrio="best-effort", prio="best-effort", rate="line-rate", sacl="", status="")

TEMPLATES = {"lsServer": _LS_SERVER, "computeBlade": _COMPUTE_BLADE,
              "computeRackUnit": _COMPUTE_RACK_UNIT, "vnicDynamicConPolicy": _DYNAMIC_CON,
              "vnicDynamicCon": _DYNAMIC_CON, "vnicEther": _VNIC_ETHER, "vnicProfile": _VNIC_PROFILE,
              "vnicEtherIf": _VNIC_ETHER_IF, "vmVnicProfCl": _VM_VNIC_PROF_CL, "fabricVlan": _FABRIC_VLAN,
              "fabricReservedVlan": _FABRIC_RESERVED_VLAN, "epqosDefinition": _EPQOS_DEFINITION,
              "epqosEgress": _EPQOS_EGRESS}
PROPERTIES = {class_id: set(template) | {"dn", "rn"} for class_id, template in TEMPLATES.items()}

Mo = Tuple[str, Dict[str, str]]               # (class id, attributes with dn)


def make_mo(class_id: str, dn: str, **values: str) -> Mo:
    """An object from its class template. intId is stable per dn: shared policies compare equal."""
    attrs = dict(TEMPLATES[class_id], dn=dn)
    if "intId" in attrs:
        attrs["intId"] = str(zlib.crc32(dn.encode()) % 10000000)
    unknown = set(values) - PROPERTIES[class_id]
    if unknown:
        raise ValueError("%s has no properties %s" % (class_id, sorted(unknown)))
    attrs.update(values)
    return class_id, attrs


def _server_objects(server: UcsmServer) -> Iterator[Mo]:
    sp_dn = server.sp_dn
    yield _hardware(server)
    policy_dn = "%s/dynamic-con-%s" % (server.org, server.policy_name) if server.policy_name else ""
    yield make_mo("lsServer", sp_dn, name=server.sp_name, pnDn=server.dn,
              assocState="associated" if server.associated else "failed",
              operState="ok" if server.associated else "config-failure",
              uuid="derived" if server.derived_uuid else server.uuid,
              uuidSuffix="0000-000000000000" if server.derived_uuid else server.uuid[19:].upper(),
              dynamicConPolicyName=server.policy_name or "", operDynamicConPolicyName=policy_dn)
    if policy_dn:
        yield make_mo("vnicDynamicConPolicy", policy_dn, name=server.policy_name,
                  dynamicEth=server.dynamic_eth)
    if server.sp_local_dynamic_eth is not None:
        yield make_mo("vnicDynamicCon", sp_dn + "/dynamic-con", dynamicEth=server.sp_local_dynamic_eth)
    yield from _ethers(server)


def _hardware(server: UcsmServer) -> Mo:
    """computeBlade or computeRackUnit, by the dn's form."""
    blade = re.fullmatch(r"sys/chassis-(\d+)/blade-(\d+)", server.dn)
    rack = re.fullmatch(r"sys/rack-unit-(\d+)", server.dn)
    original = server.uuid if server.derived_uuid else str(uuidlib.uuid5(uuidlib.NAMESPACE_URL,
                                                                         server.dn))
    common = dict(uuid=server.uuid, originalUuid=original, serial=server.serial,
                  assignedToDn=server.sp_dn, availability="unavailable",
                  association="associated" if server.associated else "failed")
    if blade:
        return make_mo("computeBlade", server.dn, chassisId=blade.group(1), slotId=blade.group(2),
                   serverId="%s/%s" % blade.groups(), **common)
    if rack:
        return make_mo("computeRackUnit", server.dn, id=rack.group(1), serverId=rack.group(1), **common)
    raise ValueError("server dn must be sys/chassis-N/blade-M or sys/rack-unit-N: %s" % server.dn)


def _ethers(server: UcsmServer) -> Iterator[Mo]:
    """Two static vNICs, then the deployed dynamic ones."""
    adaptor = server.dn + "/adaptor-1"
    for index, switch in ((1, "A"), (2, "B")):
        yield make_mo("vnicEther", "%s/ether-eth%d" % (server.sp_dn, index - 1),
                  name="eth%d" % (index - 1), switchId=switch, order=str(index),
                  equipmentDn="%s/host-eth-%d" % (adaptor, index))
    for number in range(1, server.dynamic_in_use + 1):
        name = "dynamic-prot-%03d" % number
        yield make_mo("vnicEther", "%s/ether-%s" % (server.sp_dn, name), name=name,
                  instType=server.dynamic_inst_type, dynamicId=str(number), owner="conn_policy",
                  switchId="A-B", order="unspecified", operOrder="unspecified",
                  equipmentDn="%s/host-eth-%d" % (adaptor, number + 2),
                  virtualizationPreference="SRIOV-VMFEX")


def _extras() -> Iterator[Mo]:
    """Objects the mapping must skip: a template, a spare profile, a free blade, unused policies."""
    yield make_mo("lsServer", TEMPLATE_DN, name="tmpl-kvm", type="updating-template",
              assignState="unassigned", assocState="unassociated", operState="unassociated",
              dynamicConPolicyName="spare54", operDynamicConPolicyName=EXTRA_POLICY_DNS[0])
    yield make_mo("lsServer", SPARE_PROFILE_DN, name="spare", assignState="unassigned",
              assocState="unassociated", operState="unassociated", uuid=SPARE_PROFILE_UUID,
              uuidSuffix=SPARE_PROFILE_UUID[19:].upper())
    yield make_mo("computeBlade", SPARE_SERVER_DN, chassisId="99", slotId="8", serverId="99/8",
              uuid=SPARE_SERVER_UUID, originalUuid=SPARE_SERVER_UUID, serial=SPARE_SERVER_SERIAL,
              availability="available", operState="unassociated")
    yield make_mo("vnicDynamicConPolicy", EXTRA_POLICY_DNS[0], name="spare54", dynamicEth="54",
              protection="protected-pref-a")
    yield make_mo("vnicDynamicConPolicy", EXTRA_POLICY_DNS[1], name="spare-off", dynamicEth="off",
              protection="none")


def _port_profile_objects(profile: UcsmPortProfile) -> Iterator[Mo]:
    """The vnicProfile, then its VLANs (vnicEtherIf) and profile clients (vmVnicProfCl)."""
    native = profile.vlans[0] if profile.vlans else ("", 1)
    yield make_mo("vnicProfile", profile.dn, name=profile.name, descr=profile.descr, maxPorts=str(profile.max_ports),
              hostNwIOPerf="high-perf-reqd" if profile.high_perf else "none", qosPolicyName=profile.qos_policy,
              operQosPolicyName="org-root/ep-qos-%s" % profile.qos_policy if profile.qos_policy else "",
              primaryVlanId=str(native[1]))
    for index, (vlan, vlan_id) in enumerate(profile.vlans):
        yield make_mo("vnicEtherIf", "%s/if-%s" % (profile.dn, vlan), name=vlan, defaultNet="yes" if index == 0 else "no",
                  vnet=str(vlan_id), operVnetName=vlan, operVnetDn="fabric/lan/net-%s" % vlan)
    for client in profile.clients:
        yield make_mo("vmVnicProfCl", "%s/cl-%s" % (profile.dn, client), name=client)


def _lan_objects(vlans: Iterable[UcsmVlan], qos_policies: Iterable[UcsmQosPolicy]) -> Iterator[Mo]:
    """The reserved VLAN block (UCS-M's default), the VLANs, the org-root QoS policies."""
    yield make_mo("fabricReservedVlan", RESERVED_VLANS_DN)
    for vlan in vlans:
        yield make_mo("fabricVlan", "fabric/lan/net-" + vlan.name, name=vlan.name, id=str(vlan.id))
    for policy in qos_policies:
        dn = "org-root/ep-qos-" + policy.name
        yield make_mo("epqosDefinition", dn, name=policy.name, descr=policy.descr)
        yield make_mo("epqosEgress", dn + "/egress", rate=policy.rate, burst=policy.burst, prio=policy.prio,
                  operPrio=policy.prio, hostControl=policy.host_control)


def build_objects(servers: Iterable[UcsmServer], port_profiles: Iterable[UcsmPortProfile] = (),
                  vlans: Iterable[UcsmVlan] = (), qos_policies: Iterable[UcsmQosPolicy] = ()) -> List[Mo]:
    """Every object of the fake domain; servers may share a policy, nothing else."""
    objects: Dict[str, Mo] = {}
    every = [mo for server in servers for mo in _server_objects(server)] + list(_extras())
    every += [mo for profile in port_profiles for mo in _port_profile_objects(profile)]
    every += list(_lan_objects(vlans, qos_policies))
    for class_id, attrs in every:
        existing = objects.setdefault(attrs["dn"], (class_id, attrs))
        if existing != (class_id, attrs):
            raise ValueError("two different objects at %s" % attrs["dn"])
    return list(objects.values())

