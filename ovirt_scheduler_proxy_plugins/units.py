"""What VfFilter and VfWeight decide: ONE function per unit, whoever asks.

Two thin shells call `answer`: a plugin process started by ovirt-scheduler-proxy (proxy_io: one
stdout literal, fresh reads) and the long-lived `serve` (an XML-RPC struct, warm reads). Only
where the engine data comes from (`reads`, see snapshot.take) differs between them; the
decision, the claims, the failure policy and the log line are these.
"""
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional

from . import claims, config, decide, narrowing, render, snapshot
from .capacity import CapacityError
from .claims import Claim
from .config import Settings
from .engine import EngineError
from .ledger import Ledger
from .model import DataSourceError, Snapshot
from .reads import Reads
from .status import FAIL_CLOSED, FAIL_OPEN, OK
from .store import StoreError
from .text import one_line

LOG = logging.getLogger("ovirt_vf_scheduler")

FILTER = "VfFilter"
WEIGHT = "VfWeight"
WAIT_POLL = 0.25        # seconds between two looks while the filter waits for pending placements
WAIT_MARGIN = 1.0       # seconds of the deadline kept for answering after a wait


@dataclass(frozen=True)
class UnitAnswer:
    """A unit's answer. `result` None = no answer: the caller leaves the unit out (fail-open);
    `error` is the one-line reason whenever the unit failed, whatever its policy made of it."""
    unit: str
    result: Optional[list]
    error: Optional[str] = None
    cause: str = ""             # what failed: engine, ucsm, config, deadline, ledger, bug
    held_back: int = 0          # VfFilter: hosts that fit but were not kept (narrowing.py)

    @property
    def outcome(self) -> str:
        """ok, fail_open (no answer) or fail_closed (an answer despite a failure)."""
        if self.error is None:
            return OK
        return FAIL_OPEN if self.result is None else FAIL_CLOSED


def _context(unit: str, snap: Snapshot, started: float) -> str:
    return "%s vm=%s (%s) demand=%d status=%s source=%s requests=%d elapsed=%.3fs" % (
        unit, snap.vm.name, snap.vm.vm_id, snap.vm.demand.vfs, snap.vm.status,
        snap.source_summary or "-", len(snap.requests), time.monotonic() - started)


class DeadlineExceeded(Exception):
    """The decision outlived its deadline: its caller answered without it, so it records nothing."""


class ClaimGate:
    """Decides, once, between a decision recording its claim and its caller giving up on it:
    a claim recorded after the engine got the fail-open answer would hold VFs for a VM that
    was placed without them. A plugin process has no one to give up on it but its deadline."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self._lock = threading.Lock()
        self._abandoned = False
        self._recorded = False

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Around every ledger write of the decision: DeadlineExceeded once it is too late."""
        with self._lock:
            if self._abandoned or time.monotonic() >= self.deadline:
                raise DeadlineExceeded("deadline passed before the claim was recorded: nothing recorded")
            yield
            self._recorded = True

    def abandon(self) -> bool:
        """The caller gives up on the decision (after a write in progress ends). True when the
        decision recorded its claim already: its answer is then due any moment, and is the one to give."""
        with self._lock:
            self._abandoned = True
            return self._recorded


def _record(ledger: Ledger, gate: ClaimGate, claim: Optional[Claim], snap: Snapshot) -> str:
    """Record `claim` (None: nothing to claim); words for the decision log. A claim that cannot be
    recorded fails the decision (StoreError): answering without it would let the next decisions
    book the same VFs."""
    if claim is None:
        return ""
    with gate.recording():
        ledger.put(claim)
    return " | claim: %d VFs on %s" % (claim.demand, render.claim_targets(claim.targets, snap.hosts))


def _filter(settings: Settings, reads: Reads, host_ids: List[str], vm_id: str, gate: ClaimGate,
            started: float) -> UnitAnswer:
    """The ids of the hosts the VM may go to, in the engine's order: enough free VFs counting
    every pending claim wherever it may land, narrowed while VFs are scarce (narrowing.py)."""
    if not host_ids:
        LOG.info("VfFilter vm=%s: no candidate hosts, nothing to filter", vm_id)
        return UnitAnswer(FILTER, [])
    # Nothing is kept, but a host might fit once the engine shows where pending VMs went: wait
    # for that (bounded), rather than refuse a VM that may well fit. Between two looks at least
    # as long as a look took, so that a big engine is never read more than half of the time.
    # Each look reads the pending claims and records the claim in one ledger section; the
    # pauses are outside it.
    deadline = gate.deadline
    ledger = Ledger(settings.cache_dir, settings.claim_ttl)
    give_up = min(deadline - WAIT_MARGIN, started + settings.claim_wait)
    asked, polls, waited_from = (), 0, 0.0
    while True:
        with ledger.section():
            looked = time.monotonic()
            snap = snapshot.take(settings, vm_id, host_ids, deadline, reads=reads, ledger=ledger)
            verdicts = narrowing.filter_verdicts(settings, snap, host_ids)
            asked += snap.requests
            pause = max(WAIT_POLL, time.monotonic() - looked)
            if not (settings.claims and narrowing.worth_waiting(snap.vm.demand.vfs, verdicts, snap.hosts)
                    and time.monotonic() + pause < give_up):
                # The engine skips the weights when one host is left, exactly the "last VF" case,
                # so the filter claims: on every host it keeps (the weight narrows it to what it sees).
                to_claim = claims.new_claim(vm_id, snap.vm.demand.vfs, narrowing.hosts_to_claim(verdicts),
                                            snap.vm.host_id, time.monotonic(), ledger.boot) if settings.claims else None
                claim = _record(ledger, gate, to_claim, snap)
                break
        if not polls:
            waited_from = time.monotonic()
        time.sleep(pause)
        reads.forget()
        polls += 1
    snap.requests = asked                        # the decision log counts every look
    waited = time.monotonic() - waited_from if polls else 0.0
    LOG.info("%s: %s%s%s", _context(FILTER, snap, started), render.filter_line(snap, verdicts),
             render.waited(waited, snap.vm.demand.vfs, verdicts), claim)
    return UnitAnswer(FILTER, [v.host_id for v in verdicts if v.keep], held_back=narrowing.held_back(verdicts))


def _weight(settings: Settings, reads: Reads, host_ids: List[str], vm_id: str, gate: ClaimGate,
            started: float) -> UnitAnswer:
    """(host id, int score in 0..1000) for EVERY host, lower = better."""
    if not host_ids:
        return UnitAnswer(WEIGHT, [])
    ledger = Ledger(settings.cache_dir, settings.claim_ttl)
    with ledger.section():       # the pending claims read and the claim narrowed or recorded: one lock
        snap = snapshot.take(settings, vm_id, host_ids, gate.deadline,
                             capacity_without_demand=settings.weight_mode == "reserve", reads=reads, ledger=ledger)
        scores = decide.score_hosts(settings.weight_mode, snap.vm.demand, host_ids, snap.hosts)
        claim = ""
        if settings.claims and snap.vm.demand.vfs > 0:
            # The engine calls the weights with what every filter kept: the VM goes to one of them.
            may_go = [s.host_id for s in scores if s.value < decide.SCORE_NO_FIT]
            claim = _record(ledger, gate, claims.weight_claim(
                ledger.claims(), vm_id, snap.vm.demand.vfs, host_ids, may_go, snap.vm.host_id,
                time.monotonic(), ledger.boot, ledger.ttl), snap)
    LOG.info("%s mode=%s: %s%s", _context(WEIGHT, snap, started), settings.weight_mode,
             render.weight_line(snap, scores), claim)
    return UnitAnswer(WEIGHT, [(s.host_id, int(s.value)) for s in scores])


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
    decide: Callable[..., UnitAnswer]
    on_failure: Callable[[Optional[Settings], str, str], UnitAnswer]


UNITS: Dict[str, Unit] = {
    FILTER: Unit(FILTER, "do_filter", "Drop hosts without enough free VM-FEX VFs for the VM's vmfex vNICs",
                 _filter, _filter_failure),
    WEIGHT: Unit(WEIGHT, "do_score",
                 "Prefer hosts by free VM-FEX VFs (spread, pack or reserve; lower score is better)",
                 _weight, _weight_failure),
}


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
                       (StoreError, "ledger"), (DataSourceError, "source"), (DeadlineExceeded, "deadline")):
        if isinstance(err, kind):
            return name
    return "bug"


def answer(unit: str, settings: Settings, reads: Reads, host_ids: List[str], vm_id: str, gate: ClaimGate,
           started: float) -> UnitAnswer:
    """Decide for `unit` by `gate.deadline`; every error becomes the unit's failure answer with a
    one-line reason."""
    try:
        return UNITS[unit].decide(settings, reads, [str(h) for h in host_ids or ()], str(vm_id), gate, started)
    except Exception as err:   # noqa: BLE001 - the top of a decision: every error ends here
        reason = one_line(err)
        LOG.error("%s failed after %.2f s: %s", unit, time.monotonic() - started, reason)
        cause = cause_of(err)
        if cause == "bug":
            LOG.error("unexpected error, please report it", exc_info=True)
        return failure(unit, settings, reason, cause)
