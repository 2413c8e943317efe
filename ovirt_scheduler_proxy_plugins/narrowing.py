"""Which of the hosts that fit the filter keeps, so that pending claims stay right whatever the engine picks.

A pending claim counts against every host it may go to (claims.pending_by_host), so no choice
the engine makes among the kept hosts can over-book one. On the hosts the VM did not go to, that
count is a phantom until the engine shows the VM: those VFs are really free. A phantom is
harmless on a host that keeps room for any VM after it (`margin` VFs: the largest demand around);
on a host left short it could refuse a later VM that would truly fit. Hence, for a VM that
needs VFs, among the hosts that fit:
 - when fewer than two of them stay roomy (free after placement >= margin), VFs are scarce: ONE
   host is kept (the engine then skips the weights), so the claim is certain and leaves no
   phantom: preferably a host with no uncertain claim on it (its count is exact), then the best
   by our weight mode;
 - otherwise, while no uncertain claim is pending on the candidates, every host that fits is
   kept: outside a burst nobody comes to trip over a phantom before it resolves;
 - in a burst (an uncertain claim is pending), only the hosts that stay roomy are kept, at most
   `cap` of them (the best by our weight mode): the engine keeps a real choice, phantoms land
   only where they cannot hurt, and they spread over the hosts instead of piling on every one;
 - hosts kept for other reasons (the VM's current host, unknown capacity under on_error = open)
   stay as fits() said.
A host that fits but is not kept gets a HELD_BACK reason, so the log and `explain` say when and why
the engine's choice was narrowed. When the filter would keep no host at all but some host might
fit once uncertain claims resolve, the filter waits for them (units) rather than refuse:
`worth_waiting` says when.
"""
from typing import Dict, Iterable, List, Optional

from .model import HostVfs, Reason, Score, Verdict


def margin_for(demand: int, others: Iterable[int]) -> int:
    """The room a host must keep for a phantom on it to be harmless: the largest demand around."""
    return max([demand] + [d for d in others if d > 0])


def narrow(demand: int, verdicts: List[Verdict], hosts: Dict[str, HostVfs], scores: Iterable[Score],
           margin: int, cap: int) -> List[Verdict]:
    """`verdicts` with the fitting hosts that are not kept turned into HELD_BACK_* (see the module
    docstring); `scores` rank the hosts by our weight mode (lower = better)."""
    fitting = list(dict.fromkeys(v.host_id for v in verdicts if v.keep and v.reason is Reason.FITS))
    if demand <= 0 or len(fitting) <= 1:
        return verdicts
    rank = {s.host_id: (s.value, index) for index, s in enumerate(scores)}
    by_rank = sorted(fitting, key=lambda h: rank.get(h, (1000, len(rank))))
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


def claim_hosts(verdicts: List[Verdict]) -> List[str]:
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
