"""Plain values exchanged with the UCS-M source; no I/O, so mapping is testable by hand."""
from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple


@dataclass(frozen=True)
class UcsmSettings:
    """How to reach the UCS domains. The password never shows up in repr or logs."""
    urls: Tuple[str, ...]              # one per UCS domain; the client POSTs to URL + "/nuova"
    username: str
    password: str = field(repr=False)
    ca_file: Optional[str] = None
    insecure: bool = False             # lab systems only: disables TLS verification
    timeout: float = 5.0               # per connect/read, further capped by the deadline
    host_map: Mapping[str, str] = field(default_factory=dict)  # host name or id -> profile dn
    max_response_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class HostIdentity:
    """What the engine knows about a host that UCS-M can recognise."""
    host_id: str
    name: str
    hw_uuid: Optional[str]
    serial: Optional[str]


@dataclass(frozen=True)
class UcsmCapacity:
    """One host's answer. `dynamic_eth` None means unknown, which must never read as 0."""
    host_id: str
    dynamic_eth: Optional[int]
    domain: Optional[str]              # URL of the domain that knows the host
    service_profile: Optional[str]     # lsServer dn
    policy: Optional[str]              # dn of the policy in effect, or "<sp>/dynamic-con"
    matched_by: Optional[str]          # "host_map" | "uuid" | "uuid-swapped" | "serial"
    in_use: Optional[int]              # deployed dynamic vNICs (informational), None if not fetched
    reason: str


@dataclass(frozen=True)
class ManagedObject:
    """One UCS-M object as the XML API returns it: class id plus its XML attributes."""
    class_id: str
    attrs: Mapping[str, str]

    @property
    def dn(self) -> str:
        return self.attrs.get("dn", "")

    def get(self, name: str) -> str:
        """An attribute, "" when absent (UCS-M itself uses "" for unset)."""
        return self.attrs.get(name, "")


@dataclass(frozen=True)
class PortProfile:
    """A VM-FEX port profile (vnicProfile, fabric/lan/profiles/vnic-NAME) as one domain defines it.

    maxPorts is reported, never scheduled by: where UCS-M counts it is unverified.
    """
    name: str
    descr: str = ""
    vlans: Tuple[str, ...] = ()        # vnicEtherIf names (VLAN names), in UCS-M's order
    native_vlan: Optional[str] = None  # the one with defaultNet=yes
    qos_policy: str = ""
    network_control_policy: str = ""
    max_ports: Optional[int] = None
    high_performance: bool = False     # hostNwIOPerf = high-perf-reqd
    clients: Tuple[str, ...] = ()      # vmVnicProfCl names


@dataclass(frozen=True)
class UcsmReading:
    """Every configured domain read once: what the readable ones said, and why the others failed."""
    capacities: Mapping[str, UcsmCapacity]                   # host id -> answer (first domain wins)
    port_profiles: Mapping[str, Mapping[str, PortProfile]]   # domain URL -> name -> profile (read ones)
    failures: Mapping[str, Exception]                        # domain URL -> the UcsmError it raised
    privileges: Mapping[str, str] = field(default_factory=dict)   # domain URL -> the login's outPriv
