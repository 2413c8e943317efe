"""VF arithmetic over plain values: demand, usage and engine-side capacity.

The engine module turns SDK objects into these plain records, so the counting rules here
are testable without a server (see docs/vmfex-hosts.md section 6 for where they come from).

Worked example: a VM with three vNICs, two on vNIC profiles whose `vmfex` property names a port
profile, one plain: demand 2 VFs. Running ("up", "migrating", ...) on host h, it holds 2 VFs
there; on host h with 8 enic VF devices, h's engine capacity is 8 and 6 are free to others.
"""
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Mapping, NamedTuple, Optional, Sequence, Tuple

from .model import Demand

# REST VmStatus values whose VM holds its VFs on vm.host. Unknown and not_responding are
# counted to be safe: the VM may well still run there.
HOLDING_STATUSES = frozenset({
    "up", "powering_up", "powering_down", "paused", "migrating", "wait_for_launch",
    "reboot_in_progress", "saving_state", "restoring_state", "unknown", "not_responding",
})


class VfProfile(NamedTuple):
    """A vNIC profile carrying the VF property: its network, and the property's value (the UCS
    port profile its vNICs are associated with)."""
    network: str
    port_profile: str


@dataclass(frozen=True)
class VnicRecord:
    plugged: bool
    profile_id: Optional[str]


@dataclass(frozen=True)
class VmRecord:
    vm_id: str
    name: str
    status: str
    host_id: Optional[str]
    nics: Tuple[VnicRecord, ...]


@dataclass(frozen=True)
class HostRecord:
    host_id: str
    name: str
    vf_device_drivers: Tuple[str, ...]       # driver of every host device that has a physical_function
    nic_vfs_configured: Tuple[int, ...]      # number_of_virtual_functions of each PF NIC that reports it
    hw_uuid: Optional[str] = None
    serial: Optional[str] = None


def demand(nics: Iterable[VnicRecord], vf_profile_ids: FrozenSet[str]) -> int:
    """VFs a VM takes: its plugged vNICs whose profile carries the VF property."""
    return sum(1 for nic in nics if nic.plugged and nic.profile_id in vf_profile_ids)


def vf_networks(vf_profiles: Mapping[str, VfProfile]) -> FrozenSet[str]:
    """The networks of the VF vNIC profiles: the VMs using VFs are on these."""
    return frozenset(profile.network for profile in vf_profiles.values())


def vm_demand(nics: Iterable[VnicRecord], vf_profiles: Mapping[str, VfProfile]) -> Demand:
    """The VFs a VM takes and the port profiles its plugged VF vNICs name (empty values name none)."""
    nics = tuple(nics)
    names = frozenset(vf_profiles[nic.profile_id].port_profile for nic in nics
                      if nic.plugged and nic.profile_id in vf_profiles)
    return Demand(demand(nics, frozenset(vf_profiles)), frozenset(name for name in names if name))


class Holdings(dict):
    """host id -> {vm id: VFs} for the VMs that hold VFs on a host, with what every decision
    asks of it computed once, when it is built (serve counts a view once for many decisions):
    `totals` host id -> (VFs, VMs), and `largest`, the most VFs one VM holds."""

    def __init__(self, held: Dict[str, Dict[str, int]]):
        super().__init__(held)
        self.totals = {host_id: (sum(on_host.values()), len(on_host)) for host_id, on_host in held.items()}
        self.largest = max((vfs for on_host in held.values() for vfs in on_host.values()), default=0)


def holdings(vms: Iterable[VmRecord], vf_profile_ids: FrozenSet[str]) -> Holdings:
    """host id -> {vm id: VFs} for the VMs that hold VFs on a host (a resource-holding status)."""
    held: Dict[str, Dict[str, int]] = {}
    for vm in vms:
        if vm.host_id is None or vm.status not in HOLDING_STATUSES:
            continue
        vfs = demand(vm.nics, vf_profile_ids)
        if vfs:
            held.setdefault(vm.host_id, {})[vm.vm_id] = vfs
    return Holdings(held)


def usage_from(held: Holdings, scheduled_vm_id: str, host_ids: Iterable[str]) -> Dict[str, Tuple[int, int]]:
    """(VFs used, VMs using them) per host, over the OTHER VMs that hold VFs there.

    The scheduled VM is left out everywhere: on its current host its VFs are its own.
    """
    totals = {}
    for host_id in host_ids:
        vfs, users = held.totals.get(host_id, (0, 0))
        own = held[host_id].get(scheduled_vm_id) if users else None
        totals[host_id] = (vfs, users) if own is None else (vfs - own, users - 1)
    return totals


def usage(vms: Iterable[VmRecord], vf_profile_ids: FrozenSet[str], scheduled_vm_id: str,
          host_ids: Iterable[str]) -> Dict[str, Tuple[int, int]]:
    """usage_from(holdings(...)): the same rule in one step."""
    return usage_from(holdings(vms, vf_profile_ids), scheduled_vm_id, host_ids)


def engine_capacity(host: HostRecord, vf_driver: str) -> Tuple[int, str]:
    """(VFs, how they were counted) from the engine's host data.

    VF host devices bound to `vf_driver` are the primary count; a host that reports none
    falls back to the VF configuration of its PF NICs (vdsm hides enic VFs as NICs).
    """
    devices = sum(1 for driver in host.vf_device_drivers if driver == vf_driver)
    if devices:
        return devices, "%d %s VF devices" % (devices, vf_driver)
    configured = sum(host.nic_vfs_configured)
    if configured:
        return configured, "%d VFs configured on PF NICs" % configured
    return 0, "no %s VF devices, no VF configuration on NICs" % vf_driver


def min_capacity(values: Sequence[Tuple[Optional[int], str]]) -> Tuple[Optional[int], str]:
    """The smaller known capacity; a source that could not tell is skipped, not read as 0."""
    known = [(vfs, source) for vfs, source in values if vfs is not None]
    if not known:
        return None, "no source knows this host"
    return min(known, key=lambda item: item[0])
