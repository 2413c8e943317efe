"""Pending claims: VFs promised to VMs the units placed but the engine does not show placed yet.

Why: the engine writes a VM's run-on host only after the host's create call returns, and
nothing marks VM-FEX VFs as used, so back-to-back decisions in a burst would all see the
same free VFs (vmfex-hosts.md section 7). Each decision therefore records a claim
{vm, demand, the hosts it may go to, migration source, time}.

Where the VM goes is the engine's choice, not ours: it sums the ranks of every weight unit
(RankSelector), so it often takes another kept host than VfWeight's best. So a claim is never
"on" one host: it is counted against EVERY host it may go to (`pending_by_host`), and no
assignment of the pending VMs to the hosts kept for them can over-book a host. The price is
paid on the hosts the VM did not go to (their VFs look taken until the claim resolves), which
decide.keep_set limits by narrowing the hosts a claim may go to while VFs are scarce, and which
the filter waits out, for a bounded time, rather than refuse a VM that might fit (units).

Resolution and expiry:
 - released as soon as the engine shows the VM on a host other than its migration source
   (it is then counted as usage), never on "down" alone: while the create call runs, a
   starting VM is shown down with no host. Only a view asked for after the claim was made can
   release it (serve reuses a usage view for a few seconds);
 - a migration claim is also released when, MIGRATION_GRACE seconds on, the VM still runs on
   its source and is not migrating: the migration never started (the engine's balancer
   scores candidates and aborts when the source ranks best) or failed back;
 - otherwise expired after a TTL (a start that failed leaves the VM down for good), except a
   migration claim while the engine still shows the VM migrating from its source: a long
   migration holds its destination VF for as long as it runs, invisibly to the REST API;
 - times are on the system-wide monotonic clock, tagged with the boot id, so a wall-clock jump
   neither keeps a claim forever nor drops it early; a reboot expires every claim.
"""
from dataclasses import dataclass
from functools import cached_property
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

MAX_CLAIMS = 2000        # bounded file: the oldest go first
MIGRATION_GRACE = 15.0   # seconds for a scheduled migration to show as "migrating"
_FUTURE_SLACK = 5.0      # seconds a claim may seem to come from the future (clock granularity)

# What the engine shows of each VM it returned: vm id -> (run-on host id or None, REST status).
Seen = Mapping[str, Tuple[Optional[str], str]]


@dataclass(frozen=True)
class Claim:
    vm_id: str
    demand: int
    hosts: Tuple[str, ...]      # where the engine may place it: the hosts kept for it
    source: Optional[str]       # the VM's run-on host when claimed (migration source), else None
    at: float                   # monotonic seconds
    boot: str

    @cached_property
    def targets(self) -> Tuple[str, ...]:
        """The hosts where it would take new VFs (on its source it holds them already); computed
        once per claim: every decision counts every pending claim on each of its targets."""
        return tuple(h for h in dict.fromkeys(self.hosts) if h != self.source)

    @property
    def certain(self) -> bool:
        return len(self.targets) == 1

    def to_json(self) -> dict:
        return {"demand": self.demand, "hosts": list(self.hosts), "source": self.source, "at": self.at,
                "boot": self.boot}

    @classmethod
    def from_json(cls, vm_id: str, value: Mapping) -> Optional["Claim"]:
        """None for anything malformed: a bad entry is dropped, never trusted."""
        try:
            claim = cls(vm_id=vm_id, demand=int(value["demand"]), hosts=tuple(str(h) for h in value["hosts"]),
                        source=None if value["source"] is None else str(value["source"]),
                        at=float(value["at"]), boot=str(value["boot"]))
        except (KeyError, TypeError, ValueError):
            return None
        return claim if claim.demand > 0 and claim.targets else None


@dataclass(frozen=True)
class Pending:
    """What the pending claims of other VMs may take on one host, in the worst case."""
    vfs: int = 0              # every claim that may land here does
    claims: int = 0
    uncertain: int = 0        # of `vfs`, from claims that may land on another host instead


def is_live(claim: Claim, now: float, boot: str, ttl: float) -> bool:
    return claim.boot == boot and -_FUTURE_SLACK <= now - claim.at <= ttl


def is_released(claim: Claim, seen: Seen, now: float, seen_at: float) -> bool:
    """The engine shows the VM placed (usage counts it now), or a migration that did not happen.
    Only a view asked for after the claim was made can tell: an older one (serve reuses a usage
    view for a few seconds) may show the VM where it ran before it was stopped and restarted."""
    if seen_at <= claim.at:
        return False
    host, status = seen.get(claim.vm_id, (None, ""))
    if host is not None and host != claim.source:
        return True
    return (claim.source is not None and host == claim.source and status != "migrating"
            and now - claim.at > MIGRATION_GRACE)


def is_migrating(claim: Claim, seen: Seen) -> bool:
    """The claimed migration is still running: the engine shows the VM migrating from its source."""
    host, status = seen.get(claim.vm_id, (None, ""))
    return claim.source is not None and host == claim.source and status == "migrating"


def prune(claims: Iterable[Claim], seen: Seen, now: float, boot: str, ttl: float,
          seen_at: float) -> List[Claim]:
    """The claims still pending: live (or a migration still running) and not yet visible as
    usage, newest MAX_CLAIMS kept."""
    kept = [c for c in claims
            if (is_live(c, now, boot, ttl) or (c.boot == boot and is_migrating(c, seen)))
            and not is_released(c, seen, now, seen_at)]
    kept.sort(key=lambda c: c.at)
    return kept[-MAX_CLAIMS:]


def prune_unseen(claims: Iterable[Claim], now: float, boot: str, ttl: float) -> List[Claim]:
    """What can be dropped without a view of the engine (when a claim is written): claims of
    another boot, and expired ones that are no migration. An expired migration claim stays: only
    a view can tell whether the migration still runs (prune, at the next decision)."""
    kept = [c for c in claims if is_live(c, now, boot, ttl) or (c.boot == boot and c.source is not None)]
    kept.sort(key=lambda c: c.at)
    return kept[-MAX_CLAIMS:]


def pending_by_host(claims: Iterable[Claim], scheduled_vm_id: str) -> Dict[str, Pending]:
    """Per host, the claims of every VM but the scheduled one (a rerun of the same VM replaces
    its claim rather than competing with it), each counted on every host it may go to."""
    counts: Dict[str, List[int]] = {}        # host -> [vfs, claims, uncertain]: one Pending per host at the end
    for claim in claims:
        if claim.vm_id == scheduled_vm_id:
            continue
        uncertain = 0 if claim.certain else claim.demand
        for host in claim.targets:
            count = counts.setdefault(host, [0, 0, 0])
            count[0] += claim.demand
            count[1] += 1
            count[2] += uncertain
    return {host: Pending(*count) for host, count in counts.items()}


def largest(claims: Iterable[Claim]) -> int:
    """The largest demand among the claims (0 without any)."""
    return max((claim.demand for claim in claims), default=0)
