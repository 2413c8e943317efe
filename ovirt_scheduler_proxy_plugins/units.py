"""What VfFilter and VfWeight do, between the proxy contract and the decision rules."""
import logging
import time
from typing import List

from . import decide, render, snapshot
from .config import PROPERTIES_VALIDATION, Settings
from .model import Score, Snapshot
from .proxy_io import Outcome, Run, run_unit
from .store import Ledger

LOG = logging.getLogger("ovirt_vf_scheduler")

__all__ = ["PROPERTIES_VALIDATION", "run_filter", "run_weight"]


def _context(unit: str, snap: Snapshot, run: Run) -> str:
    return "%s vm=%s (%s) demand=%d status=%s source=%s requests=%d elapsed=%.3fs" % (
        unit, snap.vm.name, snap.vm.vm_id, snap.vm.demand.vfs, snap.vm.status,
        snap.source_summary or "-", len(snap.requests), time.monotonic() - run.started)


def _claim(settings: Settings, snap: Snapshot, scores: List[Score]) -> str:
    """Record where the VM's VFs will most likely be taken; words for the decision log."""
    best = decide.best_host(scores)
    if not settings.claims or snap.vm.demand.vfs <= 0 or best is None or best == snap.vm.host_id:
        return ""                  # nothing new will be taken (or nowhere to take it)
    fitting = [s.host_id for s in scores if s.value < decide.SCORE_UNKNOWN]
    Ledger(settings.cache_dir, settings.claim_ttl).record(snap.vm.vm_id, snap.vm.demand.vfs, fitting,
                                                          best, snap.vm.host_id)
    return " | claim: %d VFs on %s" % (snap.vm.demand.vfs, render.host_label(best, snap.hosts))


def _filter_failure(settings: Settings, reason: str) -> Outcome:
    if settings.on_error == "closed":
        LOG.error("VfFilter: on_error = closed, so no host is kept: %s", reason)
        return Outcome(result=[])
    return Outcome(error=reason + " (on_error = open: the proxy ignores this filter)")


def _weight_failure(settings: Settings, reason: str) -> Outcome:
    # A weight cannot fail closed: without our answer the hosts are simply not ranked by VFs.
    return Outcome(error=reason + " (the proxy ignores this weight)")


def run_filter(host_ids: List[str], vm_id: str, args: dict) -> None:
    """Print the ids of the hosts with enough free VFs for the VM (the proxy's filter contract)."""
    host_ids = [str(h) for h in host_ids or ()]

    def decide_filter(settings: Settings, deadline: float, run: Run) -> Outcome:
        if not host_ids:
            LOG.info("VfFilter vm=%s: no candidate hosts, nothing to filter", vm_id)
            return Outcome(result=[])
        snap = snapshot.take(settings, vm_id, host_ids, deadline)
        verdicts = decide.filter_hosts(snap.vm.demand, host_ids, snap.hosts, settings.keep_unknown)
        kept = [v.host_id for v in verdicts if v.keep]
        # The engine skips the weights when one host is left, exactly the "last VF" case,
        # so the filter claims too; the weight refines the claim when it runs.
        claim = _claim(settings, snap, decide.score_hosts(settings.weight_mode, snap.vm.demand, kept, snap.hosts))
        LOG.info("%s: %s%s", _context("VfFilter", snap, run), render.filter_line(snap, verdicts), claim)
        return Outcome(result=kept)

    run_unit("VfFilter", args, decide_filter, _filter_failure)


def run_weight(host_ids: List[str], vm_id: str, args: dict) -> None:
    """Print an int score in 0..1000 for every host, lower = better (the proxy's weight contract)."""
    host_ids = [str(h) for h in host_ids or ()]

    def decide_weight(settings: Settings, deadline: float, run: Run) -> Outcome:
        if not host_ids:
            return Outcome(result=[])
        snap = snapshot.take(settings, vm_id, host_ids, deadline,
                             capacity_without_demand=settings.weight_mode == "reserve")
        scores = decide.score_hosts(settings.weight_mode, snap.vm.demand, host_ids, snap.hosts)
        claim = _claim(settings, snap, scores)
        LOG.info("%s mode=%s: %s%s", _context("VfWeight", snap, run), settings.weight_mode,
                 render.weight_line(snap, scores), claim)
        return Outcome(result=[(s.host_id, int(s.value)) for s in scores])

    run_unit("VfWeight", args, decide_weight, _weight_failure)
