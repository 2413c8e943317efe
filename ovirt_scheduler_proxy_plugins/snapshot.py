"""One read of everything a decision needs: the VM's demand, and per host capacity and usage.

I/O lives in `engine` and `capacity`; the counting rules in `accounting`. This module only
sequences them so that a VM that needs no VF costs as little as possible.
"""
import time
from typing import Dict, FrozenSet, List, Optional, Tuple

from . import capacity
from .accounting import VmRecord, usage, vf_networks, vm_demand
from .claims import pending_by_host
from .config import Settings
from .engine import EngineError, EngineSession, find_vm, is_uuid
from .model import Demand, HostVfs, Snapshot, Vm
from .store import Ledger, TokenCache
from .ucsm_facts import UcsmFacts


def open_session(settings: Settings, deadline: float) -> EngineSession:
    """An engine session sharing the units' token cache (plugins and operator tools alike)."""
    engine = settings.engine
    return EngineSession(engine, TokenCache(settings.cache_dir, engine.url, engine.username), deadline)


def host_states(settings: Settings, session: EngineSession, host_ids: List[str], vms: List[VmRecord],
                vf_profile_ids: FrozenSet[str], deadline: float, scheduled_vm_id: str = "",
                current_host: Optional[str] = None,
                port_profiles: FrozenSet[str] = frozenset()) -> Tuple[Dict[str, HostVfs], str]:
    """Capacity, usage by the VMs other than `scheduled_vm_id`, pending claims and (for the VM's
    `port_profiles`, when the rule applies) its UCS domain's port profiles, per host the engine
    knows among `host_ids`; plus a one-line summary of the capacity sources."""
    engine_hosts = capacity.engine_hosts(settings, host_ids, session.hosts)
    check_port_profiles = settings.checks_port_profiles and bool(port_profiles)
    ucsm = UcsmFacts(settings, engine_hosts, deadline, check_port_profiles) if settings.ucsm else None
    caps = capacity.capacities(settings, engine_hosts, ucsm)
    domains = ucsm.port_profiles() if check_port_profiles else {}
    used = usage(vms, vf_profile_ids, scheduled_vm_id, engine_hosts)
    pending: Dict[str, Tuple[int, int]] = {}
    if settings.claims:
        seen = {vm.vm_id: (vm.host_id, vm.status) for vm in vms}
        claims = Ledger(settings.cache_dir, settings.claim_ttl).pending(seen)
        pending = pending_by_host(claims, scheduled_vm_id)
    hosts = {host_id: HostVfs(host_id=host_id, name=entry["name"], capacity=caps[host_id],
                              used=used[host_id][0], users=used[host_id][1],
                              pending=pending.get(host_id, (0, 0))[0], reserve=settings.reserve,
                              is_current=(host_id == current_host), port_profiles=domains.get(host_id))
             for host_id, entry in engine_hosts.items()}
    return hosts, capacity.describe(caps) or ""


def take(settings: Settings, vm_id: str, host_ids: List[str], deadline: float,
         capacity_without_demand: bool = False) -> Snapshot:
    """Read the engine (and UCS-M) for one decision.

    `capacity_without_demand`: the weight in `reserve` mode ranks hosts for VMs that need no
    VF too, so it needs capacity even then; everything else stops once demand is 0.
    """
    if not is_uuid(vm_id):
        raise EngineError("the VM id %r from the proxy is not a UUID" % vm_id)
    started = time.monotonic()
    session = open_session(settings, deadline)
    try:
        profiles = session.vf_profiles(settings.vf_property)
        vf_profile_ids = frozenset(profiles)
        vms = session.vms(vm_id, vf_networks(profiles)) if profiles else []
        vm_record = find_vm(vms, vm_id)
        if profiles and vm_record is None:
            # An invalid search also answers "200, empty list": never read that as "no demand".
            raise EngineError("the VM %s is not in the engine's answer (unknown VM, or the search "
                              "was rejected)" % vm_id)
        vm = Vm(vm_id=vm_id, name=vm_record.name if vm_record else vm_id,
                demand=vm_demand(vm_record.nics, profiles) if vm_record else Demand(0),
                host_id=vm_record.host_id if vm_record else None,
                status=vm_record.status if vm_record else "?")
        snap = Snapshot(vm=vm)
        wanted = [h for h in dict.fromkeys(host_ids) if is_uuid(h)]
        if (vm.demand.vfs > 0 or capacity_without_demand) and wanted:
            snap.hosts, snap.source_summary = host_states(settings, session, wanted, vms, vf_profile_ids,
                                                          deadline, vm_id, vm.host_id, vm.demand.port_profiles)
        snap.requests = tuple(session.requests)
        snap.elapsed = time.monotonic() - started
        return snap
    finally:
        session.close()
