"""What VfFilter and VfWeight decide: ONE function per unit, whoever asks.

Two thin shells call `answer`: a plugin process started by ovirt-scheduler-proxy (proxy_io: one
stdout literal, fresh reads) and the long-lived `serve` (an XML-RPC struct, warm reads). Only
where the engine data comes from (`reads`, see snapshot.take) differs between them; the
decision, the claims, the failure policy and the log line are these.
"""
import logging
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from . import config, decide, render, snapshot
from .capacity import CapacityError
from .config import Settings
from .engine import EngineError
from .model import DataSourceError, Score, Snapshot
from .store import Ledger, StoreError

LOG = logging.getLogger("ovirt_vf_scheduler")

FILTER = "VfFilter"
WEIGHT = "VfWeight"


@dataclass(frozen=True)
class UnitAnswer:
    """A unit's answer. `result` None = no answer: the caller leaves the unit out (fail-open);
    `error` is the one-line reason whenever the unit failed, whatever its policy made of it."""
    unit: str
    result: Optional[list]
    error: Optional[str] = None
    cause: str = ""             # what failed: engine, ucsm, config, deadline, ledger, bug

    @property
    def outcome(self) -> str:
        """ok, fail_open (no answer) or fail_closed (an answer despite a failure)."""
        if self.error is None:
            return "ok"
        return "fail_open" if self.result is None else "fail_closed"


def _context(unit: str, snap: Snapshot, started: float) -> str:
    return "%s vm=%s (%s) demand=%d status=%s source=%s requests=%d elapsed=%.3fs" % (
        unit, snap.vm.name, snap.vm.vm_id, snap.vm.demand.vfs, snap.vm.status,
        snap.source_summary or "-", len(snap.requests), time.monotonic() - started)


def _claim(settings: Settings, snap: Snapshot, scores: List[Score]) -> str:
    """Record where the VM's VFs will most likely be taken; words for the decision log."""
    best = decide.best_host(scores)
    if not settings.claims or snap.vm.demand.vfs <= 0 or best is None or best == snap.vm.host_id:
        return ""                  # nothing new will be taken (or nowhere to take it)
    fitting = [s.host_id for s in scores if s.value < decide.SCORE_UNKNOWN]
    Ledger(settings.cache_dir, settings.claim_ttl).record(snap.vm.vm_id, snap.vm.demand.vfs, fitting,
                                                          snap.vm.host_id)
    return " | claim: %d VFs on %s" % (snap.vm.demand.vfs, render.host_label(best, snap.hosts))


def _filter(settings: Settings, reads, host_ids: List[str], vm_id: str, deadline: float,
            started: float) -> list:
    """The ids of the hosts with enough free VFs for the VM, in the engine's order."""
    if not host_ids:
        LOG.info("VfFilter vm=%s: no candidate hosts, nothing to filter", vm_id)
        return []
    snap = snapshot.take(settings, vm_id, host_ids, deadline, reads=reads)
    verdicts = decide.filter_hosts(snap.vm.demand, host_ids, snap.hosts, settings.keep_unknown)
    kept = [v.host_id for v in verdicts if v.keep]
    # The engine skips the weights when one host is left, exactly the "last VF" case,
    # so the filter claims too; the weight refines the claim when it runs.
    claim = _claim(settings, snap, decide.score_hosts(settings.weight_mode, snap.vm.demand, kept, snap.hosts))
    LOG.info("%s: %s%s", _context(FILTER, snap, started), render.filter_line(snap, verdicts), claim)
    return kept


def _weight(settings: Settings, reads, host_ids: List[str], vm_id: str, deadline: float,
            started: float) -> list:
    """(host id, int score in 0..1000) for EVERY host, lower = better."""
    if not host_ids:
        return []
    snap = snapshot.take(settings, vm_id, host_ids, deadline,
                         capacity_without_demand=settings.weight_mode == "reserve", reads=reads)
    scores = decide.score_hosts(settings.weight_mode, snap.vm.demand, host_ids, snap.hosts)
    claim = _claim(settings, snap, scores)
    LOG.info("%s mode=%s: %s%s", _context(WEIGHT, snap, started), settings.weight_mode,
             render.weight_line(snap, scores), claim)
    return [(s.host_id, int(s.value)) for s in scores]


def _filter_failure(settings: Optional[Settings], reason: str, cause: str) -> UnitAnswer:
    if settings is not None and settings.on_error == "closed":
        LOG.error("VfFilter: on_error = closed, so no host is kept: %s", reason)
        return UnitAnswer(FILTER, [], reason + " (on_error = closed: no host kept)", cause)
    return UnitAnswer(FILTER, None, reason + " (on_error = open: the filter is ignored, every host kept)", cause)


def _weight_failure(settings: Optional[Settings], reason: str, cause: str) -> UnitAnswer:
    # A weight cannot fail closed: without our answer the hosts are simply not ranked by VFs.
    return UnitAnswer(WEIGHT, None, reason + " (the weight is ignored: hosts are not ranked by VFs)", cause)


@dataclass(frozen=True)
class Unit:
    name: str
    kind: str                       # the proxy's method: do_filter / do_score
    doc: str                        # what the engine shows (the proxy reads the method's docstring)
    decide: Callable[..., list]
    on_failure: Callable[[Optional[Settings], str, str], UnitAnswer]


UNITS: Dict[str, Unit] = {
    FILTER: Unit(FILTER, "do_filter", "Drop hosts without enough free VM-FEX VFs for the VM's vmfex vNICs",
                 _filter, _filter_failure),
    WEIGHT: Unit(WEIGHT, "do_score",
                 "Prefer hosts by free VM-FEX VFs (spread, pack or reserve; lower score is better)",
                 _weight, _weight_failure),
}


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def failure(unit: str, settings: Optional[Settings], reason: str, cause: str) -> UnitAnswer:
    """The unit's answer when it cannot decide (`settings` None: the configuration is broken,
    so there is no failure policy to follow and the unit fails open)."""
    return UNITS[unit].on_failure(settings, reason, cause)


def config_failure(unit: str, err: config.ConfigError) -> UnitAnswer:
    return failure(unit, None, "configuration error: %s" % err, "config")


def deadline_failure(unit: str, settings: Settings) -> UnitAnswer:
    return failure(unit, settings, "deadline of %.0f s exceeded" % settings.deadline, "deadline")


def cause_of(err: BaseException) -> str:
    """Which source a failure comes from, for metrics and status (never for the decision)."""
    for kind, name in ((EngineError, "engine"), (CapacityError, "ucsm"), (config.ConfigError, "config"),
                       (StoreError, "ledger"), (DataSourceError, "source")):
        if isinstance(err, kind):
            return name
    return "bug"


def answer(unit: str, settings: Settings, reads, host_ids: List[str], vm_id: str, deadline: float,
           started: float) -> UnitAnswer:
    """Decide for `unit`; every error becomes the unit's failure answer with a one-line reason."""
    try:
        return UnitAnswer(unit, UNITS[unit].decide(settings, reads, [str(h) for h in host_ids or ()],
                                                   str(vm_id), deadline, started))
    except Exception as err:   # noqa: BLE001 - the top of a decision: every error ends here
        reason = one_line(err)
        LOG.error("%s failed after %.2f s: %s", unit, time.monotonic() - started, reason)
        cause = cause_of(err)
        if cause == "bug":
            LOG.error("unexpected error, please report it", exc_info=True)
        return failure(unit, settings, reason, cause)
