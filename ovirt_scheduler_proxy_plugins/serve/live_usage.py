"""serve's usage view, kept current from the engine's events (docs/engine-events.md).

A full read of the running VM-FEX VMs costs a real engine ~3 backend queries per VM; this
pays it once (at start, after a config change, and every [scheduler] usage_resync seconds),
in a child process (serve.usage_read) so that its parse never holds this interpreter. From
then on a decision, and a background poll every POLL_EVERY seconds while anything is being
scheduled, reads only the events since the view's cursor and reads again the VMs they name
(usage_events has the rules): about 1 + 4 per changed VM backend queries instead of 3N + 3.

A full read again (in the background; decisions go on from the events meanwhile) after
usage_resync seconds, an event gap, a burst too large to page, or vNIC profiles the view does
not know. A decision that cannot catch up (the events API answered an error, or more VMs
changed than it may read) is answered from a full read of its own, as without events.
When the account cannot read events at all, the view is off: serve reads as without events
([scheduler] usage_max_age) and says why (log, /metrics, `status`).
"""
import json
import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

from .. import status
from ..accounting import Holdings, VfProfile, VmRecord, holdings
from ..config import Settings
from ..engine import EngineError, EngineUnreachable, TooManyEvents
from ..snapshot import seen_in
from ..usage_events import Cursor, apply_reads, catch_up, holds_vfs, unknown_profiles
from .heap import freeze_long_lived
from .usage_read import READ_TIMEOUT, profiles_from_json, vm_from_json

LOG = logging.getLogger("ovirt_vf_scheduler.serve")
POLL_EVERY = 1.0            # seconds between background polls while anything is scheduled
ACTIVE_FOR = 30.0           # seconds after a decision that the background keeps polling
REREAD_MAX = 100            # VMs one catch-up may read again; more: a full read is due
RETRY_FIRST, RETRY_MAX = 5.0, 60.0   # seconds before a failed full read is tried again (doubling)
STARTING, EVENTS, OFF = "starting", "events", "off"
SOURCE = "engine-events"    # its name in `status` (status.record_source)


def view_key(settings: Settings) -> tuple:
    """What a view was read with: another account, TLS setting or VF property needs another read."""
    engine = settings.engine
    return (engine.url, engine.username, engine.password, engine.ca_file, engine.insecure, engine.timeout,
            settings.cache_dir, settings.vf_property)


@dataclass(frozen=True)
class UsageView:
    """The running VMs on the VF networks as of `asked_at`, counted once for every decision using it."""
    key: tuple                       # view_key() of the settings it was read with
    profiles: Dict[str, VfProfile]   # VF vNIC profile id -> network, port profile
    vms: Tuple[VmRecord, ...]        # running VMs on those networks
    asked_at: float                  # time.monotonic() when the engine was asked
    known: FrozenSet[str] = frozenset()   # every vNIC profile id of the profile read (events only)
    counted: dict = field(default_factory=dict, compare=False)   # holdings / seen, computed once

    def age(self) -> float:
        return time.monotonic() - self.asked_at

    def holdings(self, vf_profile_ids: FrozenSet[str]) -> Holdings:
        key = ("holdings", vf_profile_ids)
        if key not in self.counted:
            self.counted[key] = holdings(self.vms, vf_profile_ids)
        return self.counted[key]

    def seen(self) -> Dict[str, Tuple[Optional[str], str]]:
        if "seen" not in self.counted:
            self.counted["seen"] = seen_in(self.vms)
        return self.counted["seen"]


class LiveUsage:
    """The event-driven view, its cursor, and the background thread that keeps them."""

    def __init__(self, request: Callable, background: Callable):
        self._request = request             # warm.WarmEngine.request: the decisions' connection
        self._background = background       # run(settings, call(session)) on the background connection
        self._state = threading.Lock()      # the fields below
        self._sync = threading.Lock()       # one catch-up or install at a time
        self._view = None
        self._vms: Dict[str, VmRecord] = {}
        self._cursor = Cursor(0)
        self._settings: Optional[Settings] = None
        self.mode, self.reason = STARTING, "no full read yet"
        self._resync_due: Optional[str] = None
        self._read_at = 0.0                 # monotonic time of the last full read's start
        self._active_until = 0.0
        self._wake = threading.Event()
        self._closing = False
        self._thread: Optional[threading.Thread] = None
        self.counts: Counter = Counter()    # event_polls, events, vm_reads, full_reads.<why>; under _state
        self._retry_at = 0.0                # a failed full read is tried again from then on
        self._retry_step = 0.0
        self._poll_failing = False          # the background poll's failure was logged
        self._profiles_stale = False        # a VM read again uses a vNIC profile the view has not read
        self._child: Optional[subprocess.Popen] = None   # the full read running, if any

    # -- life cycle
    def configure(self, settings: Settings) -> None:
        """A config was loaded: read whole again (and start the background thread once)."""
        with self._state:
            changed = self._settings is None or _settings_key(self._settings) != _settings_key(settings) or \
                self._settings.usage_events != settings.usage_events
            self._settings = settings
            if not settings.usage_events:
                self.mode, self.reason, self._view = OFF, "[scheduler] usage_events = no", None
            elif changed:
                self._resync_due = "start" if self._thread is None else "config changed"
            if self._thread is None and settings.usage_events:
                self._thread = threading.Thread(target=self._run, name="usage-events", daemon=True)
                self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """Stop the background work; a full read still running is killed (it may wait minutes
        for a hung engine, and nobody is left to use it)."""
        self._closing = True
        self._wake.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()

    def current(self) -> Optional[UsageView]:
        """The event-driven view, when it is what decisions use."""
        with self._state:
            return self._view if self.mode == EVENTS else None

    def describe(self) -> dict:
        """For /metrics and the status file: the mode, why, where the view stands, what it cost."""
        with self._state:
            return {"mode": self.mode, "reason": self.reason, "event_index": self._cursor.newest,
                    "vms": len(self._vms), "counts": dict(self.counts)}

    # -- decisions
    def view(self, settings: Settings, since: float, deadline: float, asked: List[str]):
        """The view caught up with every event logged before `since` (a poll sent after it),
        or None when the decision must read usage itself (no view yet, events off or failing)."""
        with self._state:
            if self.mode != EVENTS or self._view is None or self._view.key != view_key(settings):
                return None
            self._active_until = time.monotonic() + ACTIVE_FOR
            view = self._view
        if view.asked_at >= since:
            return view
        if not self._sync.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise EngineUnreachable("engine %s: no answer within the deadline (the usage view is still "
                                    "catching up with its events)" % settings.engine.url)
        try:
            with self._state:
                view = self._view
            if view is None or view.asked_at >= since:
                return view
            try:
                return self._catch_up(settings, lambda call: self._request(settings, deadline, asked, call))
            except EngineUnreachable:
                raise
            except EngineError as err:
                self._due("the events could not be read: %s" % err)
                return None
        finally:
            self._sync.release()

    def known_profiles(self, records: List[VmRecord], settings: Settings, deadline: float,
                       asked: List[str]) -> bool:
        """False when `records` use a vNIC profile the view has not read and the VF profiles
        changed since (a full read is then due); True once they are read and the same."""
        with self._state:
            view = self._view
        if view is None or not unknown_profiles(records, view.known):
            return True
        if not self._sync.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise EngineUnreachable("engine %s: no answer within the deadline (the usage view is still "
                                    "catching up with its events)" % settings.engine.url)
        try:
            return self._read_profiles(settings, lambda call: self._request(settings, deadline, asked, call))
        finally:
            self._sync.release()

    def _read_profiles(self, settings: Settings, request: Callable) -> bool:
        """Read the vNIC profiles again (with _sync held): True, every id now known, when the VF
        ones are the same; otherwise False and a full read due."""
        profiles, known = request(lambda s: s.vnic_profiles(settings.vf_property))
        with self._state:
            view = self._view
            self._profiles_stale = False
            if view is not None and profiles == view.profiles:
                self._view = UsageView(view.key, view.profiles, view.vms, view.asked_at, view.known | known,
                                       view.counted)
                return True
        self._due("the VF vNIC profiles changed")
        return False

    # -- the work
    def _catch_up(self, settings: Settings, request: Callable):
        """Poll the events, read the VMs they name again, install the result (with _sync held)."""
        with self._state:
            cursor, view, vms = self._cursor, self._view, self._vms
        asked_at = time.monotonic()
        try:
            events = request(lambda s: s.events_after(cursor.poll_from))
        except TooManyEvents as err:
            self._due(str(err))
            raise EngineError(str(err)) from None
        step = catch_up(cursor, events)
        self._count(event_polls=1, events=len(events))
        if len(step.vm_ids) > REREAD_MAX:
            self._due("%d VMs changed at once" % len(step.vm_ids))
            raise EngineError("%d VMs changed at once (more than %d to read again)" % (len(step.vm_ids), REREAD_MAX))
        reread = request(lambda s: {vm_id: _one(s.vm(vm_id)) for vm_id in step.vm_ids}) if step.vm_ids else {}
        self._count(vm_reads=len(reread))
        if step.gap:
            self._due(step.gap)
        if unknown_profiles([r for r in reread.values() if r is not None], view.known):
            with self._state:
                self._profiles_stale = True          # the background reads them (a new one may be VF)
            self._wake.set()
        if reread:
            new_vms = apply_reads(vms, reread, frozenset(view.profiles))
            new_view = UsageView(view.key, view.profiles, tuple(new_vms.values()), asked_at, view.known)
        else:                                   # nothing changed: the counts made for the view still hold
            new_vms = vms
            new_view = UsageView(view.key, view.profiles, view.vms, asked_at, view.known, view.counted)
        with self._state:
            if self._view is view:
                self._view, self._vms, self._cursor = new_view, new_vms, step.cursor
        return new_view

    def _count(self, **counts: int) -> None:
        with self._state:
            self.counts.update(counts)

    def _due(self, why: str) -> None:
        with self._state:
            if self._resync_due is None:
                self._resync_due = why
                LOG.warning("usage view: a full read is due (%s)", why)
        self._wake.set()

    def _run(self) -> None:
        """Background: the full reads when due, and polls while anything is being scheduled."""
        while not self._closing:
            self._wake.wait(POLL_EVERY)
            self._wake.clear()
            now = time.monotonic()
            with self._state:
                settings = self._settings
                if settings is None or not settings.usage_events or self._closing:
                    continue
                active = now < self._active_until
                # also while events cannot be read: the account's rights may have changed
                if self._resync_due is None and active and now - self._read_at > settings.usage_resync:
                    self._resync_due = "usage_resync"
                due = self._resync_due if now >= self._retry_at else None
            try:
                if due is not None:
                    self._full_read(settings, due)
                elif self._profiles_stale and self.mode == EVENTS:
                    with self._sync:
                        self._background(settings, lambda call: self._read_profiles(settings, call))
                elif active and self.mode == EVENTS and self._idle():
                    with self._sync:
                        self._background(settings, lambda call: self._catch_up(settings, call))
                    if self._poll_failing:
                        LOG.info("usage view: background polls answered again")
                    self._poll_failing = False
            except EngineError as err:
                if not self._poll_failing:
                    LOG.warning("usage view: background poll failed (logged once until one succeeds): %s", err)
                self._poll_failing = True
            except Exception:   # noqa: BLE001 - a background thread must never die silently
                LOG.exception("usage view: background work failed")

    def _read_in_child(self, settings: Settings) -> dict:
        """serve.usage_read's answer; {"error": ...} for a child that failed or outlived its time."""
        try:
            child = subprocess.Popen([sys.executable, "-m", "ovirt_scheduler_proxy_plugins.serve.usage_read",
                                      settings.path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        except OSError as err:
            return {"error": "cannot run the full read: %s" % err}
        self._child = child
        if self._closing:
            child.kill()
        try:
            out, err = child.communicate(timeout=READ_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            return {"error": "the full read took more than %d s" % (READ_TIMEOUT + 30)}
        finally:
            self._child = None
        try:
            found = json.loads(out)
        except ValueError:
            last = (err.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
            return {"error": "the full read exited %s: %s" % (child.returncode, last[:300])}
        return found if isinstance(found, dict) else {"error": "the full read printed no object"}

    def _idle(self) -> bool:
        """No poll for POLL_EVERY seconds (decisions poll for themselves while they come)."""
        with self._state:
            return self._view is not None and self._view.age() >= POLL_EVERY

    def _full_read(self, settings: Settings, why: str) -> None:
        started = time.monotonic()
        found = self._read_in_child(settings)
        if self._closing:
            return
        with self._state:
            self._resync_due = None if self._resync_due == why else self._resync_due
            self._read_at = started
        self._count(**{"full_reads." + _reason_label(why): 1})
        if "error" in found:
            with self._state:
                self._resync_due = self._resync_due or "the last full read failed"
                self._retry_step = min(max(2 * self._retry_step, RETRY_FIRST), RETRY_MAX)
                self._retry_at = time.monotonic() + self._retry_step
            LOG.warning("usage view: full read failed (%s; next try in %g s): %s", why, self._retry_step,
                        found["error"])
            return                                  # the units' own reads say the engine failed
        with self._state:
            self._retry_step, self._retry_at = 0.0, 0.0
        status.record_source(settings.cache_dir, SOURCE, "cannot read events: %s" % found["no_events"]
                             if "no_events" in found else None)
        if "no_events" in found:
            with self._state:
                if self.mode != OFF:
                    LOG.warning("usage view off: the engine account cannot read events (%s); usage is read "
                                "whole as without events ([scheduler] usage_max_age)", found["no_events"])
                self.mode, self.reason, self._view = OFF, "cannot read events: %s" % found["no_events"], None
            return
        profiles: Dict[str, VfProfile] = profiles_from_json(found["profiles"])
        vf_ids = frozenset(profiles)
        vms = {r.vm_id: r for r in map(vm_from_json, found["vms"]) if holds_vfs(r, vf_ids)}
        view = UsageView(view_key(settings), profiles, tuple(vms.values()), started, frozenset(found["known"]))
        with self._sync, self._state:
            if _settings_key(self._settings) != _settings_key(settings):
                return                                  # config changed meanwhile: its own read is due
            self._view, self._vms, self._cursor = view, vms, Cursor(int(found["newest_event"]))
            if self.mode != EVENTS:
                LOG.info("usage view from the engine's events: %d VMs, event index %d (%s, %.1f s)",
                         len(vms), self._cursor.newest, why, time.monotonic() - started)
            self.mode, self.reason = EVENTS, ""
        freeze_long_lived()


def _reason_label(why: str) -> str:
    """A bounded metric label for why a full read ran (the free text goes to the log)."""
    for label in ("start", "config changed", "usage_resync", "gone from the engine's log", "names no VM",
                  "could not be read", "changed at once", "new events", "profile", "failed"):
        if label in why:
            return label.replace(" ", "_").replace("'", "")
    return "other"


def _one(records: List[VmRecord]) -> Optional[VmRecord]:
    return records[0] if records else None


def _settings_key(settings: Optional[Settings]) -> tuple:
    return view_key(settings) if settings is not None else ()


