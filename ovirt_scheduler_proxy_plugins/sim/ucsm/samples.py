"""What the fake UCS domain holds, as plain values: servers with their service profiles, and
VM-FEX port profiles with their VLANs. Sample values are invented; only the names are real."""
from dataclasses import dataclass
from typing import List, Optional, Tuple

# Invented identities of the extra objects every fake carries (see objects._extras).
TEMPLATE_DN = "org-root/ls-tmpl-kvm"
SPARE_PROFILE_DN = "org-root/ls-spare"
SPARE_PROFILE_UUID = "5e1f0000-0000-4000-8000-00000000a001"
SPARE_SERVER_DN = "sys/chassis-99/blade-8"
SPARE_SERVER_UUID = "5e1f0000-0000-4000-8000-00000000b001"
SPARE_SERVER_SERIAL = "FCH9999SPAR"
EXTRA_POLICY_DNS = ("org-root/dynamic-con-spare54", "org-root/dynamic-con-spare-off")


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
class UcsmVlan:
    """A named VLAN of the domain (fabricVlan fabric/lan/net-NAME, on both fabric interconnects)."""
    name: str                                 # [-.:_a-zA-Z0-9]{1,32}
    id: int


@dataclass
class UcsmQosPolicy:
    """A QoS policy of org-root (epqosDefinition ep-qos-NAME with its epqosEgress): kbps and bytes."""
    name: str                                 # [-.:_a-zA-Z0-9]{1,16}
    rate: str = "line-rate"
    burst: str = "10240"
    prio: str = "best-effort"
    host_control: str = "none"
    descr: str = ""


def vlans_of(port_profiles: List[UcsmPortProfile]) -> List[UcsmVlan]:
    """The VLANs the port profiles name, each once: a domain defines what its profiles carry."""
    found = {}
    for profile in port_profiles:
        for name, vlan_id in profile.vlans:
            found.setdefault(name, UcsmVlan(name, vlan_id))
    return list(found.values())


def qos_policies_of(port_profiles: List[UcsmPortProfile]) -> List[UcsmQosPolicy]:
    """The QoS policies the port profiles name, each once (hand-made: gold class, no mark)."""
    names = sorted({profile.qos_policy for profile in port_profiles if profile.qos_policy})
    return [UcsmQosPolicy(name, rate="1000000", prio="gold", descr="made in UCS Manager") for name in names]
