"""The ovirt-scheduler-proxy contract, in one place.

The proxy runs `python3 -c "import vf_filter; vf_filter.VfFilter().do_filter(...)"` and
 - parses stdout with ast.literal_eval: exactly ONE literal, nothing else, ever;
 - discards the result if ANYTHING reaches stderr (a warning, a libxml2 message written
   straight to fd 2) or the exit code is non-zero;
 - kills the process after 30 s.
So for the whole run fd 1 and fd 2 point at our log file (catching stray prints, warnings
and C-level messages), the one result is written to the saved stdout, and a failure writes
one line to the saved stderr. A watchdog thread enforces the deadline even while the SDK
blocks in C (its SSO login has no timeout): it logs, emits the failure answer and exits.
"""
import logging
import os
import sys
import threading
import time
from typing import Callable, Optional

from . import config, snapshot, status, units
from .logs import open_log

LOG = logging.getLogger("ovirt_vf_scheduler")
EXIT_FAILED = 1


class Run:
    """One plugin process: guards stdout/stderr, enforces the deadline, emits exactly once."""

    def __init__(self, unit: str):
        self.unit = unit
        self.started = time.monotonic()
        self._emit_lock = threading.Lock()
        self._emitted = False
        self.cache_dir: Optional[str] = None          # where status counts the outcome
        sys.stdout.flush()
        sys.stderr.flush()
        self._stdout = os.dup(1)
        self._stderr = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)          # until the log is open, stray output goes nowhere
        os.dup2(devnull, 2)
        os.close(devnull)
        self.on_timeout: Callable[[], units.UnitAnswer] = lambda: units.failure(unit, None, "deadline exceeded", "deadline")

    def route_output_to(self, log_fd: int) -> None:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)

    def start_watchdog(self, deadline: float) -> None:
        self._budget = deadline - self.started
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        timer.daemon = True
        timer.start()

    def _expire(self) -> None:
        LOG.error("%s: deadline of %.0f s exceeded (engine or UCS-M too slow, or hung)", self.unit, self._budget)
        self.finish(self.on_timeout())

    def finish(self, outcome: "units.UnitAnswer") -> None:
        """Write the one answer and leave at once (no interpreter shutdown noise, no waiting
        for threads blocked in C). No result: one stderr line and exit 1, so the proxy
        ignores the unit; a result (a fail-closed [] included) is the one stdout literal."""
        with self._emit_lock:
            if self._emitted:
                return
            self._emitted = True
            status.record(self.cache_dir or config.state_dir(), self.unit, outcome.outcome, outcome.error or "")
            if outcome.result is None:
                line = "ovirt-vf-scheduler %s: %s\n" % (self.unit, (outcome.error or "no answer").replace("\n", " "))
                os.write(self._stderr, line.encode("utf-8", "replace"))
                code = EXIT_FAILED
            else:
                os.write(self._stdout, (repr(outcome.result) + "\n").encode("utf-8"))
                code = 0
            logging.shutdown()
            os._exit(code)


def run_plugin(unit: str, host_ids, vm_id: str, args: dict) -> None:
    """Run one unit as the proxy expects from a plugin process. Never returns."""
    run = Run(unit)
    try:
        settings = config.with_cluster_properties(config.load(), args or {})
    except config.ConfigError as err:
        run.finish(units.config_failure(unit, err))
        return
    deadline = run.started + settings.deadline
    run.cache_dir = settings.cache_dir
    try:
        run.route_output_to(open_log(settings.log_file))
    except OSError as err:
        run.finish(units.failure(unit, None, "configuration error: %s: [scheduler] log_file: cannot open %s: %s"
                                 % (settings.path, settings.log_file, err.strerror or err), "config"))
        return
    for warning in settings.warnings:
        LOG.warning("%s", warning)
    run.on_timeout = lambda: units.deadline_failure(unit, settings)
    run.start_watchdog(deadline)
    reads = snapshot.OneShotReads(settings, deadline)
    try:
        outcome = units.answer(unit, settings, reads, host_ids, vm_id, units.ClaimGate(deadline), run.started)
    finally:
        reads.close()
    run.finish(outcome)
