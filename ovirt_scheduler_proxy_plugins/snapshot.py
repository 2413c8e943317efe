"""One read of everything a decision needs: the VM's demand, and per host capacity and usage.

I/O lives in `engine` and `capacity`; the counting rules in `accounting`. This module only
sequences them so that a VM that needs no VF costs as little as possible. Where the engine data
comes from is the caller's `reads`: fresh for every decision in a plugin process (`OneShotReads`),
or a warm view shared by many decisions in `serve` (serve.warm); the sequence is the same, except
that with a view the hosts are counted from the caches while the scheduled VM is being read.
"""
import time
from concurrent import futures
from typing import Callable, Dict, FrozenSet, List, Mapping, NamedTuple, Optional, Tuple

from . import capacity
from .accounting import Holdings, HostRecord, VfProfile, VmRecord, holdings, usage_from, vf_networks, vm_demand
from .claims import NOTHING_PENDING, Pending, Seen, largest, pending_by_host
from .config import Settings
from .engine import EngineError, EngineSession, find_vm
from .learned import Learned
from .ledger import Ledger
from .model import CacheCold, Demand, DomainPortProfiles, HostVfs, Snapshot, Vm
from .reads import ReadAgain, Reads, UsageAhead
from .store import TokenCache
from .text import is_uuid
from .ucsm_facts import UcsmFacts


COUNTING_SLACK = 1.0     # seconds past the deadline a decision waits for its hosts' count (bounded by it)


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

    def count_alongside(self, vf_profile_ids: FrozenSet[str], work: Callable) -> None:
        """Usage comes with the scheduled VM, in one search."""
        return None

    def hosts(self) -> List[HostRecord]:
        return self.session.hosts()

    def drain_requests(self) -> List[str]:
        return self._session.drain_requests() if self._session is not None else []

    @staticmethod
    def holdings(vms: List[VmRecord], vf_profile_ids: FrozenSet[str]) -> Holdings:
        return holdings(vms, vf_profile_ids)

    @staticmethod
    def seen(vms: List[VmRecord]) -> Mapping[str, Tuple[Optional[str], str]]:
        return seen_in(vms)


def seen_in(vms: List[VmRecord]) -> Dict[str, Tuple[Optional[str], str]]:
    """What the engine shows of each VM: id -> (run-on host, status), for releasing claims."""
    return {vm.vm_id: (vm.host_id, vm.status) for vm in vms}


class HostsRead(NamedTuple):
    """The candidate hosts as one read found them, before the scheduled VM's own part is applied
    (its current host, and the port profiles it names): serve reads them while the VM itself is
    being read."""
    hosts: Dict[str, HostVfs]
    summary: str                                  # the capacity sources, for the decision log
    largest_demand: int                           # of the VMs holding or claiming VFs
    domains: Dict[str, DomainPortProfiles]        # per host, when the port-profile rule was asked


def read_hosts(settings: Settings, reads: Reads, host_ids: List[str], held: Holdings, seen: Seen,
               seen_at: float, deadline: float, scheduled_vm_id: str, port_profiles: bool,
               ledger: Optional[Ledger], cached_only: bool = False) -> HostsRead:
    """Capacity, usage by the VMs other than `scheduled_vm_id` (`held`), and pending claims, per
    host the engine knows among `host_ids`; with `port_profiles`, and when the rule applies, the
    port profiles of each host's UCS domain; plus the largest demand of the VMs holding or
    claiming VFs (the margin of narrowing.py).
    `reads` answers hosts() when the capacity cache is cold (`cached_only`: CacheCold instead,
    for a cold UCS-M cache too). The pending claims are read last, after every engine and UCS-M
    read but (alongside, in serve) the scheduled VM's, which could release only its own claim,
    replaced by this decision's anyway; `seen` (where the engine shows each VM, asked for at
    `seen_at`) releases them. A decision passes the `ledger` of its Ledger.section(), whose lock
    is taken here and held until it records its claim."""
    learned = Learned(settings.cache_dir)
    try:            # read every source, then write what the reads learned, once (failed reads too)
        engine_hosts = capacity.engine_hosts(settings, host_ids, _cold if cached_only else reads.hosts, learned,
                                             reads.memo)
        check_port_profiles = settings.checks_port_profiles and port_profiles
        ucsm = UcsmFacts(settings, engine_hosts, deadline, check_port_profiles, learned, reads.memo, cached_only) \
            if settings.ucsm else None
        caps = capacity.capacities(settings, engine_hosts, ucsm)
        domains = ucsm.port_profiles() if check_port_profiles else {}
    finally:
        learned.write()
    used = usage_from(held, scheduled_vm_id, engine_hosts)
    pending: Dict[str, Pending] = {}
    largest_demand = held.largest
    if settings.claims:
        ledger = ledger or Ledger(settings.cache_dir, settings.claim_ttl)
        claims = ledger.pending(seen, seen_at)
        pending = pending_by_host(claims, scheduled_vm_id)
        largest_demand = max(largest_demand, largest(claims))
    hosts = {}
    for host_id, entry in engine_hosts.items():
        claimed = pending.get(host_id, NOTHING_PENDING)
        hosts[host_id] = HostVfs(host_id, entry["name"], caps[host_id], used[host_id][0], used[host_id][1],
                                 claimed.vfs, claimed.uncertain, settings.reserve)
    return HostsRead(hosts, capacity.describe(caps) or "", largest_demand, domains)


def _cold() -> List[HostRecord]:
    raise CacheCold("the engine's host data is not cached")


def _counted_alongside(settings: Settings, reads: Reads, host_ids: List[str], deadline: float, vm_id: str,
                       ledger: Optional[Ledger]) -> Callable[[UsageAhead], Optional[HostsRead]]:
    """The hosts' count to run alongside the VM's read: from the caches only (the VM may need
    no VF at all, and then nothing is worth a read); None when one is cold, and the decision
    counts after the VM's read. UCS domains are read for the port-profile rule even if the VM
    turns out to name no port profile."""
    def count(usage: UsageAhead) -> Optional[HostsRead]:
        try:
            return read_hosts(settings, reads, host_ids, usage.held, usage.seen, usage.asked_at, deadline, vm_id,
                              True, ledger, cached_only=True)
        except CacheCold:
            return None
    return count


def for_vm(found: HostsRead, current_host: Optional[str], port_profiles: FrozenSet[str]) -> Dict[str, HostVfs]:
    """The hosts of `found` as the scheduled VM sees them: its current host marked, and each
    host's UCS domain port profiles when the VM names any (the rule does not apply otherwise)."""
    hosts = found.hosts
    if port_profiles and found.domains:
        hosts = {host_id: host._replace(port_profiles=found.domains.get(host_id)) for host_id, host in hosts.items()}
    if current_host in hosts:
        hosts = dict(hosts)
        hosts[current_host] = hosts[current_host]._replace(is_current=True)
    return hosts


def host_states(settings: Settings, reads: Reads, host_ids: List[str], vms: List[VmRecord],
                vf_profile_ids: FrozenSet[str], deadline: float, scheduled_vm_id: str = "",
                current_host: Optional[str] = None,
                port_profiles: FrozenSet[str] = frozenset(),
                seen_at: Optional[float] = None, ledger: Optional[Ledger] = None) -> Tuple[Dict[str, HostVfs], str, int]:
    """read_hosts() then for_vm(), counting `vms` (asked for at `seen_at`) the `reads`' way:
    (hosts by id, the capacity sources in one line, the largest demand around)."""
    found = read_hosts(settings, reads, host_ids, reads.holdings(vms, vf_profile_ids), reads.seen(vms),
                       time.monotonic() if seen_at is None else seen_at, deadline, scheduled_vm_id,
                       bool(port_profiles), ledger)
    return for_vm(found, current_host, port_profiles), found.summary, found.largest_demand


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
        try:
            snap = _read(settings, reads, vm_id, host_ids, deadline, capacity_without_demand, ledger)
        except ReadAgain:
            snap = _read(settings, reads, vm_id, host_ids, deadline, capacity_without_demand, ledger)
    finally:
        asked = tuple(reads.drain_requests())     # also after a failure: never into the next decision
    snap.requests = asked
    return snap


def _finished(counting: Optional[futures.Future], deadline: float) -> Optional[HostsRead]:
    """The hosts counted alongside the VM's read (waited for even when that read failed: the
    counting may hold the ledger's lock, which the decision's section releases)."""
    if counting is None:
        return None
    try:
        return counting.result(timeout=max(0.0, deadline - time.monotonic()) + COUNTING_SLACK)
    except futures.TimeoutError:
        raise EngineError("the hosts were not counted within the deadline") from None


def _read(settings: Settings, reads: Reads, vm_id: str, host_ids: List[str], deadline: float,
          capacity_without_demand: bool, ledger: Optional[Ledger]) -> Snapshot:
    profiles = reads.vf_profiles(settings.vf_property)
    vf_profile_ids = frozenset(profiles)
    wanted = [h for h in dict.fromkeys(host_ids) if is_uuid(h)]
    # serve knows the usage before the VM's read: the hosts, which do not depend on the VM, are
    # counted in the background meanwhile (a decision costs the longer of the two, not their sum)
    counting = reads.count_alongside(vf_profile_ids, _counted_alongside(settings, reads, wanted, deadline, vm_id,
                                                                        ledger)) if wanted else None
    try:
        vms, seen_at = reads.vms_for(vm_id, vf_networks(profiles)) if profiles else ([], time.monotonic())
    finally:
        ahead = _finished(counting, deadline)
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
    if (vm.demand.vfs > 0 or capacity_without_demand) and wanted:
        if ahead is None:
            snap.hosts, snap.source_summary, snap.largest_demand = host_states(
                settings, reads, wanted, vms, vf_profile_ids, deadline, vm_id, vm.host_id, vm.demand.port_profiles,
                seen_at, ledger)
        else:
            snap.hosts = for_vm(ahead, vm.host_id, vm.demand.port_profiles)
            snap.source_summary, snap.largest_demand = ahead.summary, ahead.largest_demand
    return snap
