"""Pure decision rules: does a VM fit on a host, and how good is the host.

One `fits` serves the filter, the weight and every explaining command, so they cannot drift
apart. It weighs two things: free VFs, and (where the rule applies) whether the host's UCS
domain defines every port profile the VM's VM-FEX vNICs name. Scores follow the proxy's
convention: integers, LOWER IS BETTER (the engine sorts weights ascending and gives the best
rank to the smallest), on a fixed scale computed from the host alone, never normalised across
the current candidates.

Worked example: capacity 16, used 4, pending 2, reserve 0: free = 16 - 4 - 2 - 0 = 10. A VM
needing 2 VFs fits (10 >= 2) and leaves 8: spread scores 998 - 8 = 990, pack and reserve 8.
A host where it does not fit scores 1000, one that cannot be told 999.
"""
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional

from .model import UNKNOWN_REASONS, Demand, HostVfs, Reason, Score, Verdict

SCORE_NO_FIT = 1000        # the host cannot take the VM: rank it last
SCORE_UNKNOWN = 999        # could not tell: after every host known to fit
_SCORE_FIT_MAX = 998       # fitting hosts score 0..998


def missing_port_profiles(demand: Demand, host: HostVfs) -> Optional[FrozenSet[str]]:
    """The VM's port profiles the host's UCS domain does not define: empty when the rule does
    not apply or all are defined, None when the domain's port profiles are unknown."""
    defined = host.port_profiles
    if defined is None or not demand.port_profiles:
        return frozenset()
    if defined.names is None:
        return None
    return demand.port_profiles - defined.names


def fits(demand: Demand, host: Optional[HostVfs], keep_unknown: bool) -> Verdict:
    """Verdict for one host. `host` is None when the engine does not know the host id.

    `keep_unknown` is the failure policy for hosts whose capacity or port profiles could not
    be determined (on_error = open keeps them, closed drops them): unknown is never treated
    as zero or as missing. A definite "no" (a missing port profile, too few VFs) wins over
    an unknown; the VM's current host is always kept.
    """
    vfs = demand.vfs
    if vfs <= 0:
        return Verdict(host.host_id if host else "", True, Reason.NO_DEMAND, vfs,
                       host.free if host else None)
    if host is None:
        return Verdict("", keep_unknown, Reason.NOT_FOUND, vfs, None)
    free = host.free
    if host.is_current:
        return Verdict(host.host_id, True, Reason.CURRENT_HOST, vfs, free)
    missing = missing_port_profiles(demand, host)
    if missing:
        return Verdict(host.host_id, False, Reason.PORT_PROFILE_MISSING, vfs, free, missing)
    if free is None:
        return Verdict(host.host_id, keep_unknown, Reason.UNKNOWN, vfs, None)
    if free < vfs:
        reason = Reason.NO_VFS if host.capacity.vfs == 0 else Reason.INSUFFICIENT
        return Verdict(host.host_id, False, reason, vfs, free)
    if missing is None:
        return Verdict(host.host_id, keep_unknown, Reason.PORT_PROFILES_UNKNOWN, vfs, free, demand.port_profiles)
    return Verdict(host.host_id, True, Reason.FITS, vfs, free)


def filter_hosts(demand: Demand, host_ids: Iterable[str], hosts: Dict[str, HostVfs],
                 keep_unknown: bool) -> List[Verdict]:
    """One verdict per requested host id, in the proxy's order (duplicates kept as sent)."""
    verdicts = []
    for host_id in host_ids:
        verdict = fits(demand, hosts.get(host_id), keep_unknown)
        if verdict.host_id != host_id:
            verdict = Verdict(host_id, verdict.keep, verdict.reason, verdict.demand, verdict.free,
                              verdict.port_profiles)
        verdicts.append(verdict)
    return verdicts


def _clamp(value: int) -> int:
    return max(0, min(value, _SCORE_FIT_MAX))


def _spread(free_after: int) -> int:
    """More free VFs left after placement = lower (better)."""
    return _SCORE_FIT_MAX - _clamp(free_after)


def _pack(free_after: int) -> int:
    """Fewest free VFs left that still fit = lower (best fit, keeps big holes elsewhere)."""
    return _clamp(free_after)


@dataclass(frozen=True)
class WeightMode:
    rank_free_after: Callable[[int], int]
    neutral_without_demand: bool     # a VM needing no VF scores the same on every host


WEIGHT_MODES: Dict[str, WeightMode] = {
    "spread": WeightMode(_spread, neutral_without_demand=True),
    "pack": WeightMode(_pack, neutral_without_demand=True),
    # reserve: VMs without VFs go where the fewest VFs are free, VMs with VFs best-fit,
    # so the VF-rich hosts stay available for the VMs that need them.
    "reserve": WeightMode(_pack, neutral_without_demand=False),
}


def score_host(mode: str, demand: Demand, host_id: str, host: Optional[HostVfs]) -> Score:
    """Score the host `host_id` (`host` None: the engine does not know it) on the fixed 0..1000
    scale (lower = better), as an int."""
    weight_mode = WEIGHT_MODES[mode]
    if demand.vfs <= 0 and weight_mode.neutral_without_demand:
        return Score(host_id, 0, host.free if host else None)
    return score_verdict(mode, demand.vfs, host_id, fits(demand, host, keep_unknown=True))


def score_verdict(mode: str, vfs: int, host_id: str, verdict: Verdict) -> Score:
    """The score of a host from its verdict for a VM needing `vfs` VFs (the filter ranks the
    hosts that fit with it, without judging them twice)."""
    free_after = None if verdict.free is None else verdict.free - max(vfs, 0)
    if not verdict.keep:
        return Score(host_id, SCORE_NO_FIT, free_after)
    if free_after is None or verdict.reason in UNKNOWN_REASONS:   # after every host known to fit
        return Score(host_id, SCORE_UNKNOWN, None)
    return Score(host_id, int(WEIGHT_MODES[mode].rank_free_after(free_after)), free_after)


def score_hosts(mode: str, demand: Demand, host_ids: Iterable[str],
                hosts: Dict[str, HostVfs]) -> List[Score]:
    """A score for EVERY host id passed in: a host left out would get weight 0 and rank best."""
    return [score_host(mode, demand, host_id, hosts.get(host_id)) for host_id in host_ids]
