"""VF capacity and usage of a set of hosts, plus the VF-using VMs on them, in one engine read.

snapshot.take answers for ONE scheduled VM (its demand, the others' usage); the capacity
report needs every VM at once. This module reads the VM list itself and takes the per-host
numbers from snapshot.host_states, so they match what the units see, pending claims included.
"""
from dataclasses import dataclass
from typing import Dict, List

from ..accounting import HOLDING_STATUSES, demand, vf_networks
from ..config import Settings
from ..model import HostVfs
from ..snapshot import OneShotReads, host_states, open_session

NO_VM = "00000000-0000-0000-0000-000000000000"   # "no scheduled VM": nobody's VFs are left out


@dataclass(frozen=True)
class VfVm:
    vm_id: str
    name: str
    host_id: str
    status: str
    demand: int


@dataclass
class HostsVfs:
    hosts: Dict[str, HostVfs]          # by host id, only hosts the engine knows
    vms: List[VfVm]                    # VMs holding VFs on those hosts
    source_summary: str


def read(settings: Settings, host_ids: List[str], deadline: float) -> HostsVfs:
    """Capacity, usage and VF-holding VMs of `host_ids` (at most three engine requests)."""
    session = open_session(settings, deadline)
    try:
        profiles = session.vf_profiles(settings.vf_property)
        vms = session.vms(NO_VM, vf_networks(profiles)) if profiles else []
        vf_profile_ids = frozenset(profiles)
        hosts, summary, _ = host_states(settings, OneShotReads(settings, deadline, session), host_ids, vms, vf_profile_ids,
                                        deadline) if host_ids else ({}, "", 0)
    finally:
        session.close()
    holders = [VfVm(vm.vm_id, vm.name, vm.host_id, vm.status, demand(vm.nics, vf_profile_ids)) for vm in vms
               if vm.host_id in hosts and vm.status in HOLDING_STATUSES]
    return HostsVfs(hosts, [vm for vm in holders if vm.demand > 0], summary)
