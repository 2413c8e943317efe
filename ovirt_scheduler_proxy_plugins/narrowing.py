"""Which of the hosts that fit VfFilter keeps, so that pending claims stay right whatever the engine picks.

A claim counts against every host kept for it (claims.py); on the hosts the VM does not go to
that count is a phantom until the engine shows the VM. A phantom is harmless on a host that
keeps `margin` VFs free after the VM (the largest demand around). So, for a VM that needs VFs,
among the hosts that fit (`[scheduler] narrowing = auto`):
 - fewer than two stay roomy (free after placement >= margin): VFs are scarce, ONE host is kept
   (preferably one with no uncertain claim on it), so the claim is certain;
 - no uncertain claim pending on them: every host that fits is kept;
 - in a burst (an uncertain claim is pending): only roomy hosts, at most `claim_hosts`.
Hosts that fit but are not kept get a HELD_BACK reason (log, `explain`, /metrics).
`narrowing = off` keeps every host that fits; the filter's bounded wait then covers bursts.

Worked example: hosts a and b with 6 VFs each, nothing used. A 3-VF VM fits both and no claim
is pending: both kept, its claim (uncertain) counts 3 on each, so each shows 3 free. A 1-VF VM
next: margin = max(1, 3) = 3, and 3 - 1 = 2 < 3 on both: scarce, one host kept (a, first by
the weight mode), b HELD_BACK_SCARCE. Without the pending 3 in the margin, 2 >= 1 would keep
both and let two phantoms refuse a later 3-VF VM that fits.
docs/claims.md says what narrowing protects against and what it overrides.
"""
from typing import Dict, Iterable, List, Optional

from . import decide
from .claims import margin_for
from .config import Settings
from .model import HELD_BACK, Demand, HostVfs, Reason, Score, Snapshot, Verdict


def narrow(demand: int, verdicts: List[Verdict], hosts: Dict[str, HostVfs], scores: Iterable[Score],
           margin: int, cap: int) -> List[Verdict]:
    """`verdicts` with the fitting hosts that are not kept turned into HELD_BACK_* (see the module
    docstring); `scores` rank the hosts by our weight mode (lower = better)."""
    fitting = list(dict.fromkeys(v.host_id for v in verdicts if v.keep and v.reason is Reason.FITS))
    if demand <= 0 or len(fitting) <= 1:
        return verdicts
    rank = {s.host_id: (s.value, index) for index, s in enumerate(scores)}
    by_rank = sorted(fitting, key=lambda h: rank.get(h, (decide.SCORE_NO_FIT, len(rank))))
    roomy = [h for h in by_rank if hosts[h].free - demand >= margin]
    if len(roomy) >= 2 and not any(host.uncertain for host in hosts.values()):
        return verdicts
    if len(roomy) >= 2:
        kept = set(roomy[:cap])
    else:
        exact = [h for h in by_rank if hosts[h].uncertain == 0]
        kept = set((exact or by_rank)[:1])
    held = []
    for v in verdicts:
        if v.reason is Reason.FITS and v.host_id not in kept:
            why = Reason.HELD_BACK_CAP if v.host_id in roomy and len(roomy) >= 2 else Reason.HELD_BACK_SCARCE
            v = Verdict(v.host_id, False, why, v.demand, v.free, v.port_profiles)
        held.append(v)
    return held


def hosts_to_claim(verdicts: List[Verdict]) -> List[str]:
    """Where the VM may take new VFs: every kept host, whatever kept it (a host kept with unknown
    port profiles or capacity under on_error = open may be the engine's pick too); the ledger
    leaves out the VM's current host, which holds its VFs already."""
    return list(dict.fromkeys(v.host_id for v in verdicts if v.keep))


def worth_waiting(demand: int, verdicts: List[Verdict], hosts: Dict[str, HostVfs]) -> Optional[List[str]]:
    """The hosts on which uncertain claims, once resolved, could make room for the VM, when the
    filter would keep no host at all; None when waiting cannot help (a host is kept, or no host
    could fit even if every uncertain claim went elsewhere)."""
    if demand <= 0 or any(v.keep for v in verdicts):
        return None
    hopeful = [v.host_id for v in verdicts if v.reason is Reason.INSUFFICIENT
               and hosts[v.host_id].free + hosts[v.host_id].uncertain >= demand]
    return hopeful or None


def filter_decision(demand: Demand, host_ids: Iterable[str], hosts: Dict[str, HostVfs], keep_unknown: bool,
                    weight_mode: str, margin: int, cap: int, narrowed: bool = True) -> List[Verdict]:
    """What VfFilter answers, per host: decide.fits(), then (unless `narrowed` is off) narrow()."""
    verdicts = decide.filter_hosts(demand, host_ids, hosts, keep_unknown)
    if not narrowed:
        return verdicts
    scores = [decide.score_verdict(weight_mode, demand.vfs, v.host_id, v) for v in verdicts if v.reason is Reason.FITS]
    return narrow(demand.vfs, verdicts, hosts, scores, margin, cap)


def filter_verdicts(settings: Settings, snap: Snapshot, host_ids: List[str]) -> List[Verdict]:
    """VfFilter's verdict per host for this snapshot, the margin fed by the demands holding or
    claiming VFs around (the units and `explain` both call this)."""
    margin = margin_for(snap.vm.demand.vfs, [snap.largest_demand])
    return filter_decision(snap.vm.demand, host_ids, snap.hosts, settings.keep_unknown, settings.weight_mode,
                           margin, settings.claim_hosts, settings.narrowing == "auto")


def held_back(verdicts: Iterable[Verdict]) -> int:
    """How many hosts that fit were not kept (for the metrics)."""
    return sum(1 for v in verdicts if v.reason in HELD_BACK)
