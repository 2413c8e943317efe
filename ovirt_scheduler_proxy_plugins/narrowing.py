"""Which of the hosts that fit the filter keeps, so that pending claims stay right whatever the engine picks.

A pending claim counts against every host it may go to (claims.pending_by_host), so no choice
the engine makes among the kept hosts can over-book one. On the hosts the VM did not go to, that
count is a phantom until the engine shows the VM: those VFs are really free. A phantom is
harmless on a host that keeps room for any VM after it (at least `margin` VFs, the largest demand
around); on a host left short it could refuse a later VM that would truly fit. Hence, for a VM
that needs VFs:
 - every fitting host that stays roomy (free after placement >= margin) is kept, if at least two
   do: the engine keeps a real choice and phantoms land only where they cannot hurt;
 - otherwise VFs are scarce: ONE host is kept (the engine skips the weights then), so the claim is
   certain and leaves no phantom: preferably a host with no uncertain claim on it (its count is
   exact), then the best by our weight mode;
 - at most `cap` hosts (the best by our weight mode) are kept for one claim, so that a claim on a
   large cluster stays small and phantoms spread instead of piling on every host;
 - hosts kept for other reasons (the VM's current host, unknown capacity under on_error = open)
   stay kept as fits() says.
When no host fits but one might once the uncertain claims resolve, the filter waits for them
(units), rather than refuse; `worth_waiting` says when.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from .model import HostVfs, Reason, Score, Verdict

TIGHT = "tight"      # too few roomy hosts: one host kept, so the claim is certain
CAPPED = "capped"    # more roomy hosts than one claim may span


@dataclass(frozen=True)
class KeepSet:
    kept: Tuple[str, ...]          # what the filter answers, in the engine's order
    claim_hosts: Tuple[str, ...]   # where the VM may take new VFs: kept hosts that fit
    held_back: Tuple[str, ...]     # hosts that fit but are not kept, and why (TIGHT/CAPPED, "" if none)
    why: str = ""


def keep_set(demand: int, verdicts: List[Verdict], hosts: Dict[str, HostVfs], scores: Iterable[Score],
             margin: int, cap: int) -> KeepSet:
    """See the module docstring. `scores` rank the hosts by our weight mode (lower = better)."""
    fitting = list(dict.fromkeys(v.host_id for v in verdicts if v.keep and v.reason is Reason.FITS))
    others = [v.host_id for v in verdicts if v.keep and v.reason is not Reason.FITS]
    if demand <= 0 or len(fitting) <= 1:
        return KeepSet(tuple(v.host_id for v in verdicts if v.keep), tuple(fitting), ())
    rank = {s.host_id: (s.value, index) for index, s in enumerate(scores)}
    by_rank = sorted(fitting, key=lambda h: rank.get(h, (1000, len(rank))))
    roomy = [h for h in by_rank if hosts[h].free - demand >= margin]
    if len(roomy) >= 2:
        chosen, why = roomy[:cap], TIGHT if len(roomy) < len(fitting) else ""
        if len(roomy) > cap:
            why = why or CAPPED
    else:
        exact = [h for h in by_rank if hosts[h].uncertain == 0]
        chosen, why = (exact or by_rank)[:1], TIGHT
    keep = set(chosen) | set(others)
    return KeepSet(tuple(v.host_id for v in verdicts if v.keep and v.host_id in keep), tuple(chosen),
                   tuple(h for h in fitting if h not in chosen), why)


def worth_waiting(demand: int, verdicts: List[Verdict], hosts: Dict[str, HostVfs]) -> Optional[List[str]]:
    """The hosts on which waiting for uncertain claims to resolve could make room for the VM,
    when the filter would keep no host at all; None when waiting cannot help (a host is kept,
    or no host could fit even if every uncertain claim went elsewhere)."""
    if demand <= 0 or any(v.keep for v in verdicts):
        return None
    hopeful = [v.host_id for v in verdicts if v.reason is Reason.INSUFFICIENT
               and hosts[v.host_id].free is not None
               and hosts[v.host_id].free + hosts[v.host_id].uncertain >= demand]
    return hopeful or None


def margin_for(demand: int, others: Iterable[int]) -> int:
    """The room a host must keep for a phantom to be harmless: the largest demand around."""
    return max([demand] + [d for d in others if d > 0])
