"""Pending claims: VFs promised to VMs the units placed that the engine does not show placed yet.

The whole rule, as pure functions (the file and its lock are ledger.py; which hosts the filter
keeps is narrowing.py). A claim {vm, demand, hosts it may go to, migration source, time}
counts against EVERY host it may go to, because the engine, not us, picks among the kept
hosts. It is released by a view asked for after it was made that shows the VM on a host
other than its source, and expires after the TTL (a migration still running holds it).
docs/claims.md explains why each part is so.

Worked example: a 2-VF VM kept on hosts a and b (migrating from s) is the claim
{demand 2, hosts (s, a, b), source s}: its targets are a and b (on s it holds its VFs
already), so the next decision sees pending 2 (uncertain 2) on a and on b. When a view shows
the VM on a, the claim is released and usage counts the 2 VFs on a alone.
"""
from dataclasses import dataclass
from functools import cached_property
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

MAX_CLAIMS = 2000        # bounded file: the oldest go first
MIGRATION_GRACE = 15.0   # seconds for a scheduled migration to show as "migrating"
_FUTURE_SLACK = 5.0      # seconds a claim may seem to come from the future (clock granularity)
# One scheduling: the engine calls the weights right after the filters; both calls are bounded
# by the proxy's 30 s. A claim older than this was made by an earlier scheduling of the VM.
ROUND_SECONDS = 60.0

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


def new_claim(vm_id: str, demand: int, hosts: Iterable[str], source: Optional[str], now: float,
              boot: str) -> Optional[Claim]:
    """The claim of a VM that may take `demand` VFs on any of `hosts`; None when there is nothing
    to claim (no demand, or no host where it would take new VFs)."""
    claim = Claim(vm_id, demand, tuple(dict.fromkeys(hosts)), source, now, boot)
    return claim if demand > 0 and claim.targets else None


class Pending(NamedTuple):
    """What the pending claims of other VMs may take on one host, in the worst case (one per host
    and decision: a NamedTuple, built faster than a frozen dataclass)."""
    vfs: int = 0              # every claim that may land here does
    claims: int = 0
    uncertain: int = 0        # of `vfs`, from claims that may land on another host instead


NOTHING_PENDING = Pending()


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


def margin_for(demand: int, others: Iterable[int]) -> int:
    """The room a host must keep for a phantom claim on it to be harmless: the largest demand
    around (the VM's own, the VMs holding VFs, the pending claims). E.g. a 1-VF VM while a
    3-VF claim is pending: margin 3."""
    return max([demand] + [d for d in others if d > 0])


# -- release and expiry: what a view of the engine may drop

def is_live(claim: Claim, now: float, boot: str, ttl: float) -> bool:
    """Within its TTL on this boot's monotonic clock (a reboot expires every claim)."""
    return claim.boot == boot and -_FUTURE_SLACK <= now - claim.at <= ttl


def is_released(claim: Claim, seen: Seen, now: float, seen_at: float) -> bool:
    """The engine shows the VM placed (usage counts it now), or a migration that did not happen.
    Only a view asked for after the claim was made can tell: an older one (serve reuses a usage
    view for a few seconds) may show the VM where it ran before it was stopped and restarted.
    "Down" alone never releases: while the create call runs a starting VM is shown down."""
    if seen_at <= claim.at:
        return False
    host, status = seen.get(claim.vm_id, (None, ""))
    if host is not None and host != claim.source:
        return True
    return (claim.source is not None and host == claim.source and status != "migrating"
            and now - claim.at > MIGRATION_GRACE)


def is_migrating(claim: Claim, seen: Seen) -> bool:
    """The claimed migration is still running: the engine shows the VM migrating from its source
    (a long migration holds its destination VF, invisibly to the REST API, past the TTL)."""
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


def replace(claims: Iterable[Claim], claim: Claim, now: float, ttl: float) -> List[Claim]:
    """The ledger after `claim` is recorded: it replaces the VM's older claim."""
    others = [c for c in claims if c.vm_id != claim.vm_id]
    return prune_unseen(others, now, claim.boot, ttl) + [claim]


# -- the weight's claim

def weight_claim(claims: Sequence[Claim], vm_id: str, demand: int, weighed: Sequence[str], may_go: Sequence[str],
                 source: Optional[str], now: float, boot: str, ttl: float) -> Optional[Claim]:
    """The VM's claim once VfWeight has seen `weighed` (what every filter kept: the engine picks
    among them) of which the VM fits on `may_go`.

    The claim of this scheduling's filter (live, at most ROUND_SECONDS old) keeps only its
    hosts among `weighed`. If that leaves a host the VM may go to unclaimed (another filter kept
    a host ours did not, or ours failed open), or no such claim exists (no VfFilter in the
    policy, or the claim is an earlier scheduling's), the VM is claimed afresh on `may_go`.
    E.g. filter on [a], weight on [a, c] where both fit: claimed afresh on [a, c].
    None: nothing to claim."""
    mine = next((c for c in claims if c.vm_id == vm_id and is_live(c, now, boot, ttl)
                 and now - c.at <= ROUND_SECONDS), None)
    if mine is not None:
        wanted = set(weighed)
        narrowed = tuple(h for h in mine.hosts if h in wanted)
        if any(h != mine.source for h in narrowed) and set(may_go) <= set(narrowed) | {source}:
            return mine if narrowed == mine.hosts else Claim(vm_id, mine.demand, narrowed, mine.source,
                                                             mine.at, mine.boot)
    return new_claim(vm_id, demand, may_go, source, now, boot)
