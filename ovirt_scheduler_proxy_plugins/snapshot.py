"""One read of everything a decision needs: the VM's demand, and per host capacity and usage.

I/O lives in `engine` and `capacity`; the counting rules in `accounting`. This module only
sequences them so that a VM that needs no VF costs as little as possible. Where the engine data
comes from is the caller's `reads`: fresh for every decision in a plugin process (`OneShotReads`),
or a warm view shared by many decisions in `serve` (serve.warm); the sequence is the same.
"""
import time
from typing import Dict, FrozenSet, List, Mapping, Optional, Tuple

from . import capacity
from .accounting import HostRecord, VfProfile, VmRecord, holdings, usage_from, vf_networks, vm_demand
from .claims import NOTHING_PENDING, Pending, largest, pending_by_host
from .config import Settings
from .engine import EngineError, EngineSession, find_vm
from .learned import Learned
from .ledger import Ledger
from .model import Demand, HostVfs, Snapshot, Vm
from .reads import Reads
from .store import TokenCache
from .text import is_uuid
from .ucsm_facts import UcsmFacts


def open_session(settings: Settings, deadline: Optional[float]) -> EngineSession:
    """An engine session sharing the units' token cache (plugins, serve and operator tools alike)."""
    engine = settings.engine
    tokens = TokenCache(settings.cache_dir, engine.url, engine.username, engine.password)
    return EngineSession(engine, tokens, deadline)


class OneShotReads(Reads):
    """Every read fresh, in the fewest requests (the scheduled VM and the usage in one search):
    what a plugin process or an operator command does. The session is opened at the first read
    (so that its failure is the decision's failure, like any other) unless one is given; close()
    closes the one it opened."""

    def __init__(self, settings: Settings, deadline: Optional[float], session: Optional[EngineSession] = None):
        self._settings, self._deadline = settings, deadline
        self._session, self._owned = session, session is None
        self._profiles: Optional[Dict[str, VfProfile]] = None
        self.memo: dict = {}        # cache files parsed once, even when the filter waits and reads again

    @property
    def session(self) -> EngineSession:
        if self._session is None:
            self._session = open_session(self._settings, self._deadline)
        return self._session

    def close(self) -> None:
        if self._owned and self._session is not None:
            self._session.close()

    def forget(self) -> None:
        """Usage and host data are read afresh anyway; the VF profiles are kept (they do not
        change while a filter waits for pending placements to show)."""

    def vf_profiles(self, vf_property: str) -> Dict[str, VfProfile]:
        if self._profiles is None:
            self._profiles = self.session.vf_profiles(vf_property)
        return self._profiles

    def vms_for(self, vm_id: str, networks: FrozenSet[str]) -> Tuple[List[VmRecord], float]:
        """The scheduled VM plus the running VMs on `networks`, and when they were asked for
        (claims are released only by evidence read after they were made)."""
        asked_at = time.monotonic()
        return self.session.vms(vm_id, networks), asked_at

    def hosts(self) -> List[HostRecord]:
        return self.session.hosts()

    def drain_requests(self) -> List[str]:
        return self._session.drain_requests() if self._session is not None else []

    @staticmethod
    def holdings(vms: List[VmRecord], vf_profile_ids: FrozenSet[str]) -> Dict[str, Dict[str, int]]:
        return holdings(vms, vf_profile_ids)

    @staticmethod
    def seen(vms: List[VmRecord]) -> Mapping[str, Tuple[Optional[str], str]]:
        return seen_in(vms)


def seen_in(vms: List[VmRecord]) -> Dict[str, Tuple[Optional[str], str]]:
    """What the engine shows of each VM: id -> (run-on host, status), for releasing claims."""
    return {vm.vm_id: (vm.host_id, vm.status) for vm in vms}


def host_states(settings: Settings, reads: Reads, host_ids: List[str], vms: List[VmRecord],
                vf_profile_ids: FrozenSet[str], deadline: float, scheduled_vm_id: str = "",
                current_host: Optional[str] = None,
                port_profiles: FrozenSet[str] = frozenset(),
                seen_at: Optional[float] = None, ledger: Optional[Ledger] = None) -> Tuple[Dict[str, HostVfs], str, int]:
    """Capacity, usage by the VMs other than `scheduled_vm_id`, pending claims and (for the VM's
    `port_profiles`, when the rule applies) its UCS domain's port profiles, per host the engine
    knows among `host_ids`; plus a one-line summary of the capacity sources and the largest
    demand of the VMs holding or claiming VFs (the margin of narrowing.py).
    `reads` (OneShotReads or serve's WarmReads) answers hosts() when the capacity cache is cold
    and counts `vms` (its own, possibly cached, way); `seen_at` is when `vms` was asked for.
    The pending claims are read last, after every engine and UCS-M read: a decision passes the
    `ledger` of its Ledger.section(), whose lock is taken there and held until it records its claim."""
    learned = Learned(settings.cache_dir)
    try:            # read every source, then write what the reads learned, once (failed reads too)
        engine_hosts = capacity.engine_hosts(settings, host_ids, reads.hosts, learned, reads.memo)
        check_port_profiles = settings.checks_port_profiles and bool(port_profiles)
        ucsm = UcsmFacts(settings, engine_hosts, deadline, check_port_profiles, learned, reads.memo) \
            if settings.ucsm else None
        caps = capacity.capacities(settings, engine_hosts, ucsm)
        domains = ucsm.port_profiles() if check_port_profiles else {}
    finally:
        learned.write()
    held = reads.holdings(vms, vf_profile_ids)
    used = usage_from(held, scheduled_vm_id, engine_hosts)
    pending: Dict[str, Pending] = {}
    largest_demand = max((vfs for on_host in held.values() for vfs in on_host.values()), default=0)
    if settings.claims:
        ledger = ledger or Ledger(settings.cache_dir, settings.claim_ttl)
        claims = ledger.pending(reads.seen(vms), time.monotonic() if seen_at is None else seen_at)
        pending = pending_by_host(claims, scheduled_vm_id)
        largest_demand = max(largest_demand, largest(claims))
    hosts = {}
    for host_id, entry in engine_hosts.items():
        claimed = pending.get(host_id, NOTHING_PENDING)
        hosts[host_id] = HostVfs(host_id=host_id, name=entry["name"], capacity=caps[host_id],
                                 used=used[host_id][0], users=used[host_id][1], pending=claimed.vfs,
                                 uncertain=claimed.uncertain, reserve=settings.reserve,
                                 is_current=(host_id == current_host), port_profiles=domains.get(host_id))
    return hosts, capacity.describe(caps) or "", largest_demand


def take(settings: Settings, vm_id: str, host_ids: List[str], deadline: float,
         capacity_without_demand: bool = False, reads: Optional[Reads] = None,
         ledger: Optional[Ledger] = None) -> Snapshot:
    """Read the engine (and UCS-M) for one decision, through `reads` (default: a fresh session
    opened and closed here), and the pending claims through `ledger` (see host_states).

    `capacity_without_demand`: the weight in `reserve` mode ranks hosts for VMs that need no
    VF too, so it needs capacity even then; everything else stops once demand is 0.
    """
    if not is_uuid(vm_id):
        raise EngineError("the VM id %r from the proxy is not a UUID" % vm_id)
    if reads is None:
        reads = OneShotReads(settings, deadline)
        try:
            return take(settings, vm_id, host_ids, deadline, capacity_without_demand, reads, ledger)
        finally:
            reads.close()
    try:
        snap = _read(settings, reads, vm_id, host_ids, deadline, capacity_without_demand, ledger)
    finally:
        asked = tuple(reads.drain_requests())     # also after a failure: never into the next decision
    snap.requests = asked
    return snap


def _read(settings: Settings, reads: Reads, vm_id: str, host_ids: List[str], deadline: float,
          capacity_without_demand: bool, ledger: Optional[Ledger]) -> Snapshot:
    profiles = reads.vf_profiles(settings.vf_property)
    vf_profile_ids = frozenset(profiles)
    vms, seen_at = reads.vms_for(vm_id, vf_networks(profiles)) if profiles else ([], time.monotonic())
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
        snap.hosts, snap.source_summary, snap.largest_demand = host_states(
            settings, reads, wanted, vms, vf_profile_ids, deadline, vm_id, vm.host_id, vm.demand.port_profiles,
            seen_at, ledger)
    return snap
