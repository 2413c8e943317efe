"""What the units did lately, kept in cache_dir so that `status`, `check` and serve's /metrics can tell.

A unit that fails open leaves no trace the engine shows (the proxy drops it silently), and a
UCS-M outage that `min` mode papers over with the engine's numbers changes no answer at all,
so both are counted here. One small JSON file per unit and per data source, read-modify-write
under its lock and replaced atomically; not fsynced (a count lost in a crash is cheap, a
decision waiting on the disk is not). Recording never fails or delays a decision by more than
the short lock wait: any problem is logged and the count is skipped.

    status-unit-<unit>.json     {"unit", "since", "decisions", "fail_open", "fail_closed",
                                 "last_decision", "last_failure", "last_failure_kind",
                                 "last_failure_reason"}
    status-source-<source>.json {"source", "since", "reads", "failures", "last_ok",
                                 "last_failure", "last_failure_reason"}

Times are wall-clock seconds (time.time()); counts run from "since" (the file's creation).
"""
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from .store import StoreError, locked, read_json, write_json

LOG = logging.getLogger("ovirt_vf_scheduler.status")
# The outcomes as serve's /metrics labels them (units.UnitAnswer.outcome there).
OK, FAIL_OPEN, FAIL_CLOSED = "ok", "fail_open", "fail_closed"
OUTCOMES = (OK, FAIL_OPEN, FAIL_CLOSED)
_COUNTERS = {OK: "decisions", FAIL_OPEN: "fail_open", FAIL_CLOSED: "fail_closed"}
_LOCK_WAIT = 1.0                # seconds; a decision waits at most this long for its count
_REASON_MAX = 500
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _path(cache_dir: str, kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise ValueError("bad status name %r" % name)
    return os.path.join(cache_dir, "status-%s-%s.json" % (kind, name))


def _update(path: str, fresh: Dict[str, object], change) -> None:
    try:
        with locked(path, timeout=_LOCK_WAIT):
            value = read_json(path)
            value = value if isinstance(value, dict) else fresh
            change(value)
            write_json(path, value)
    except (StoreError, OSError) as err:
        LOG.warning("status not recorded in %s: %s", path, err)


@dataclass
class Tally:
    """Answers of one unit not yet written: one for a plugin process; for serve, all those that
    arrived while its recorder was writing (BackgroundRecorder)."""
    counts: Dict[str, int] = field(default_factory=dict)
    last_decision: Optional[float] = None
    last_failure: Optional[Tuple[float, str, str]] = None          # (when, outcome, reason)

    def add(self, outcome: str, reason: str = "", now: Optional[float] = None) -> "Tally":
        """OK (decided from the data), FAIL_OPEN (the unit's answer is an error: the proxy ignores
        it) or FAIL_CLOSED (the filter kept no host because it could not decide); `reason` says why."""
        if outcome not in OUTCOMES:
            raise ValueError("unknown outcome %r" % outcome)
        now = time.time() if now is None else now
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if outcome == OK:
            self.last_decision = now
        else:
            self.last_failure = (now, outcome, " ".join(reason.split())[:_REASON_MAX])
        return self


def write(cache_dir: Optional[str], unit: str, tally: Tally) -> None:
    """Add `tally` to the unit's status file. cache_dir None (no config to tell it): nothing is recorded."""
    if cache_dir is None:
        return
    fresh = {"unit": unit, "since": time.time(), "decisions": 0, "fail_open": 0, "fail_closed": 0,
             "last_decision": None, "last_failure": None, "last_failure_kind": None, "last_failure_reason": None}

    def change(value: Dict[str, object]) -> None:
        for outcome, count in tally.counts.items():
            value[_COUNTERS[outcome]] = int(value.get(_COUNTERS[outcome]) or 0) + count
        if tally.last_decision is not None:
            value["last_decision"] = tally.last_decision
        if tally.last_failure is not None:
            when, kind, reason = tally.last_failure
            value.update(last_failure=when, last_failure_kind=kind, last_failure_reason=reason)
    _update(_path(cache_dir, "unit", unit), fresh, change)


def record(cache_dir: Optional[str], unit: str, outcome: str, reason: str = "", now: Optional[float] = None) -> None:
    """Count one answer of `unit` (see Tally.add)."""
    write(cache_dir, unit, Tally().add(outcome, reason, now))


class BackgroundRecorder:
    """serve's recorder: answers are tallied in memory (one Tally per cache dir and unit, so memory
    is bounded) and written by one thread, off the request path: a slow disk or a held lock never
    delays an answer, and answers arriving while it writes are merged into the next write."""

    def __init__(self):
        self._cond = threading.Condition()
        self._tallies: Dict[Tuple[Optional[str], str], Tally] = {}
        self._writing = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="status-writer", daemon=True)
        self._thread.start()

    def record(self, cache_dir: Optional[str], unit: str, outcome: str, reason: str = "") -> None:
        with self._cond:
            self._tallies.setdefault((cache_dir, unit), Tally()).add(outcome, reason)
            self._cond.notify()

    def unwritten(self) -> int:
        """Status files with answers not yet written (serve's /metrics)."""
        with self._cond:
            return len(self._tallies) + self._writing

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._tallies and not self._closing:
                    self._cond.wait()
                if not self._tallies:
                    return
                tallies, self._tallies = self._tallies, {}
                self._writing = len(tallies)
            for (cache_dir, unit), tally in tallies.items():
                write(cache_dir, unit, tally)
            with self._cond:
                self._writing = 0

    def close(self, wait: float = 2.0) -> None:
        """Write what is left (within `wait`: each write waits at most for its lock)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(wait)


def record_source(cache_dir: str, source: str, error: Optional[str] = None, now: Optional[float] = None) -> None:
    """A data source (e.g. "ucsm") was read: `error` None = it answered, else why it did not."""
    now = time.time() if now is None else now
    fresh = {"source": source, "since": now, "reads": 0, "failures": 0, "last_ok": None, "last_failure": None,
             "last_failure_reason": None}

    def change(value: Dict[str, object]) -> None:
        value["reads"] = int(value.get("reads") or 0) + 1
        if error is None:
            value["last_ok"] = now
        else:
            value["failures"] = int(value.get("failures") or 0) + 1
            value.update(last_failure=now, last_failure_reason=" ".join(error.split())[:_REASON_MAX])
    _update(_path(cache_dir, "source", source), fresh, change)


def read_all(cache_dir: str) -> Dict[str, Dict[str, dict]]:
    """{"units": {unit: record}, "sources": {source: record}} of every status file in cache_dir.
    Raises OSError when cache_dir exists but cannot be listed (the caller runs as the wrong user)."""
    found: Dict[str, Dict[str, dict]] = {"units": {}, "sources": {}}
    try:
        names = sorted(os.listdir(cache_dir))
    except FileNotFoundError:
        return found
    for name in names:
        match = re.match(r"^status-(unit|source)-(.+)\.json$", name)
        if match:
            value = read_json(os.path.join(cache_dir, name))
            if isinstance(value, dict):
                found["units" if match.group(1) == "unit" else "sources"][match.group(2)] = value
    return found
