"""The engine as `serve` sees it: one long-lived connection and a usage view shared by calls.

A plugin process reads everything fresh for every decision (two interpreters and a full
read per VM, under the engine's scheduling lock). `serve` keeps what outlives a call here,
in one object with one owner, every piece of it bounded:
 - one SDK connection for decisions (token reused, renewed on 401, SSO bounded) and a second
   one for background refreshes, so a big refresh never holds up a decision;
 - the usage view (the running VMs on the VF networks, with the vNIC profiles they were
   counted with): kept current from the engine's events (live_usage), or, when the account
   cannot read events, read whole and reused for `[scheduler] usage_max_age` seconds; either
   way a decision reads only the scheduled VM (one small request). A call that finds a whole
   read past half its age starts one background refresh (one in flight at most; none while
   nothing is scheduled), and so does host data serve read past half [scheduler]
   capacity_ttl, so that the largest read of all (every host with its devices) stays off the
   decisions;
 - the scheduled VM's read, during which the decision counts its hosts from the view in the
   background (it costs the longer of the two, not their sum), reused by the weight right
   after the filter (the engine calls runCostFunctions for the VM it just filtered): 0
   requests for the weight;
 - after an engine that did not answer at all (refused, timed out), calls fail at once for a
   short, growing backoff instead of each holding the engine's scheduling lock for a timeout,
   while a probe every PROBE_EVERY seconds ends it as soon as the engine answers again.
Claims still go through the on-disk ledger and its lock, so plugin processes and `serve` on
one host never double-book; only a view asked for after a claim was made can release it.
"""
import logging
import threading
import time
from collections import ChainMap, OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Dict, FrozenSet, List, Mapping, Optional, Tuple, TypeVar

from .. import capacity
from ..accounting import Holdings, HostRecord, VfProfile, VmRecord, holdings, vf_networks
from ..config import Settings
from ..engine import EngineError, EngineSession, EngineUnreachable
from ..learned import Learned
from ..reads import ReadAgain, Reads, UsageAhead
from ..snapshot import open_session, seen_in
from .live_usage import LiveUsage, UsageView, view_key

LOG = logging.getLogger("ovirt_vf_scheduler.serve")
REUSE_WINDOW = 5.0          # seconds the weight may reuse the filter's read of the same VM
RECENT_READS = 64           # VM reads remembered for that (one per cluster in flight is plenty)
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 8.0
PROBE_EVERY = 0.25          # seconds between two probes of an engine in backoff
PROBES_IN_FLIGHT = 8        # probes waiting for a hung engine at once (each bounded by its timeout)
PROBE_TIME = 0.5            # seconds a probe asks for (the SDK rounds its timeout up to whole seconds)
ALONGSIDE = 4               # decisions counting their hosts in the background at once
T = TypeVar("T")


class _Backoff:
    """Fail fast for a while after the engine did not answer (doubling, capped, reset on success).

    While it is in force a probe (`probe()`: one small request) goes out every PROBE_EVERY
    seconds, so that the units decide normally again right after the engine is back, not at
    the end of a step that may have grown to BACKOFF_MAX."""

    def __init__(self, probe: Callable[[], None]):
        self._lock = threading.Lock()
        self._delay = 0.0
        self._until = 0.0
        self._reason = ""
        self._probe = probe
        self._probing = False
        self._in_flight = 0

    def check(self) -> None:
        with self._lock:
            wait = self._until - time.monotonic()
            if wait > 0:
                raise EngineUnreachable("%s (not retried for %.1f s more)" % (self._reason, wait))

    def failed(self, err: EngineError) -> None:
        if not isinstance(err, EngineUnreachable):
            return
        with self._lock:
            self._delay = min(max(self._delay * 2, BACKOFF_FIRST), BACKOFF_MAX)
            self._until = time.monotonic() + self._delay
            self._reason = str(err)
            start, self._probing = not self._probing, True
        if start:
            threading.Thread(target=self._probe_while_failing, name="engine-probe", daemon=True).start()

    def succeeded(self) -> None:
        with self._lock:
            self._delay = 0.0
            self._until = 0.0

    def _probe_while_failing(self) -> None:
        try:
            while self.failing:
                with self._lock:
                    start = self._in_flight < PROBES_IN_FLIGHT
                    self._in_flight += start
                if start:
                    threading.Thread(target=self._probe_once, name="engine-probe-call", daemon=True).start()
                time.sleep(PROBE_EVERY)
        finally:
            with self._lock:
                self._probing = False

    def _probe_once(self) -> None:
        """Any answer at all (even an HTTP error) ends the backoff: the engine is there again."""
        try:
            self._probe()
            answered = True
        except EngineUnreachable:
            answered = False
        except EngineError:
            answered = True
        except Exception:   # noqa: BLE001 - a probe never kills its thread loudly; the next one runs
            LOG.debug("engine probe failed", exc_info=True)
            answered = False
        finally:
            with self._lock:
                self._in_flight -= 1
        if answered:
            self.succeeded()

    @property
    def failing(self) -> bool:
        with self._lock:
            return self._until > time.monotonic()


class _Connection:
    """An EngineSession for one engine account, used by one caller at a time."""

    def __init__(self):
        self.io = threading.Lock()
        self._session: Optional[EngineSession] = None
        self._key: Optional[tuple] = None

    def session(self, settings: Settings) -> EngineSession:
        """Call with `io` held; reconnects when the account or TLS settings changed."""
        key = view_key(settings)
        if self._session is None or key != self._key:
            self.close()
            self._session = open_session(settings, None)
            self._key = key
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


class WarmEngine:
    """Owner of everything `serve` keeps between calls about the engine (see the module doc)."""

    def __init__(self):
        self._state = threading.Lock()         # the fields below; never held during a request
        self._view: Optional[UsageView] = None
        self._recent: "OrderedDict[str, Tuple[UsageView, VmRecord, float]]" = OrderedDict()
        self._refreshing = False
        self._hosts_read_at: Optional[float] = None     # when serve last read every host itself
        self._refresh_took = 0.0                         # seconds the last view refresh took
        self._decisions = _Connection()
        self._background = _Connection()
        self._backoff = _Backoff(self._probe)
        self._settings: Optional[Settings] = None     # the last settings a request was made with
        self.memo: dict = {}                   # parsed cache files (store.RecordCache)
        self.live = LiveUsage(self.request, self.in_background)
        self._alongside = ThreadPoolExecutor(ALONGSIDE, thread_name_prefix="hosts-alongside")

    def configure(self, settings: Settings) -> None:
        """A config was loaded (at start and after every change)."""
        self.live.configure(settings)

    def reads(self, settings: Settings, deadline: float, vm_id: str, reuse: bool = False) -> "WarmReads":
        """The reads of one decision about `vm_id`; `reuse`: the weight, which may reuse the
        filter's read of the same VM."""
        return WarmReads(self, settings, deadline, vm_id, reuse)

    def view_age(self) -> Optional[float]:
        live = self.live.current()
        if live is not None:
            return live.age()
        with self._state:
            return self._view.age() if self._view else None

    def close(self, wait: float = 2.0) -> None:
        """Close both connections; one still busy after `wait` seconds (a request waiting for a
        hung engine, bounded by its own timeout) is left to the process's exit."""
        self.live.close()
        self._alongside.shutdown(wait=False)
        for conn in (self._decisions, self._background):
            if conn.io.acquire(timeout=wait):
                try:
                    conn.close()
                finally:
                    conn.io.release()

    # -- used by WarmReads
    def request(self, settings: Settings, deadline: float, asked: List[str], call):
        """Run `call(session)` on the decisions' connection, one request at a time, within the
        deadline; an engine that did not answer puts the backoff in force."""
        self._settings = settings
        self._backoff.check()
        if not self._decisions.io.acquire(timeout=max(0.0, deadline - time.monotonic())):
            # Queued behind a slow request: no evidence against the engine, so no backoff (the
            # request it waited for starts one itself if the engine does not answer).
            raise EngineUnreachable("engine %s: no answer within the deadline (an earlier request is still "
                                    "waiting for one)" % settings.engine.url)
        try:
            self._backoff.check()          # the request we waited behind may just have failed
            session = self._decisions.session(settings)
            try:
                value = call(session)
            finally:
                asked.extend(session.drain_requests())
            session.save_token()
        except EngineError as err:
            self._backoff.failed(err)
            raise
        finally:
            self._decisions.io.release()
        self._backoff.succeeded()
        return value

    def alongside(self, work: Callable[[], T]) -> Future:
        """Run `work` (a decision counting its hosts) in the background, while the decision reads
        its VM: the request goes out at once, and the counting runs while the engine answers."""
        return self._alongside.submit(work)

    def _probe(self) -> None:
        """One small request on a connection of its own (the others may wait for a hung engine)."""
        session = open_session(self._settings, time.monotonic() + PROBE_TIME)
        try:
            session.newest_event()
        finally:
            session.close()

    def in_background(self, settings: Settings, work: Callable):
        """work(run) with run(call) = call(session) on the background connection; an engine that
        did not answer puts the backoff in force."""
        self._settings = settings
        self._backoff.check()                   # no background request while the engine is away
        try:
            with self._background.io:
                session = self._background.session(settings)
                try:
                    return work(lambda call: call(session))
                finally:
                    session.drain_requests()
                    session.save_token()
        except EngineError as err:
            self._backoff.failed(err)
            raise

    def fresh_view(self, settings: Settings) -> Optional[UsageView]:
        with self._state:
            view = self._view
        if view is not None and view.key == view_key(settings) and view.age() <= settings.usage_max_age:
            return view
        return None

    def store_view(self, view: UsageView) -> None:
        with self._state:
            if self._view is None or view.asked_at >= self._view.asked_at:
                self._view = view

    def remember(self, vm_id: str, view: UsageView, vm: VmRecord) -> None:
        with self._state:
            self._recent[vm_id] = (view, vm, time.monotonic())
            self._recent.move_to_end(vm_id)
            while len(self._recent) > RECENT_READS:
                self._recent.popitem(last=False)

    def recent(self, settings: Settings, vm_id: str) -> Optional[Tuple[UsageView, VmRecord]]:
        with self._state:
            found = self._recent.get(vm_id)
        if found is None or found[0].key != view_key(settings) or time.monotonic() - found[2] > REUSE_WINDOW:
            return None
        return found[0], found[1]

    def hosts_read(self) -> None:
        """A decision read every host (a cold capacity cache): the background keeps it warm from now."""
        with self._state:
            self._hosts_read_at = time.monotonic()

    def refresh_ahead(self, settings: Settings) -> None:
        """Start one background refresh when the view is past half its allowed age, or the host
        data serve read past half the capacity TTL (the largest read of all stays off decisions)."""
        events = self.live.current() is not None
        with self._state:
            view = None if events else self._view
            # at most half the time busy refreshing (a big view takes a while to read and parse)
            view_due = (view is not None and settings.usage_max_age > 0
                        and view.age() > max(settings.usage_max_age / 2, 2 * self._refresh_took))
            hosts_due = self._hosts_read_at is not None and \
                time.monotonic() - self._hosts_read_at > settings.capacity_ttl / 2
            if self._refreshing or self._backoff.failing or not (view_due or hosts_due):
                return
            self._refreshing = True
            if hosts_due:
                self._hosts_read_at = time.monotonic()
        threading.Thread(target=self._refresh, args=(settings, view_due, hosts_due), name="usage-refresh",
                         daemon=True).start()

    def _refresh(self, settings: Settings, view: bool, hosts: bool) -> None:
        try:
            with self._background.io:
                session = self._background.session(settings)
                if hosts:
                    learned = Learned(settings.cache_dir)
                    capacity.refresh_engine_hosts(settings, session.hosts, learned, self.memo)
                    learned.write()
                if view:
                    asked_at = time.monotonic()
                    profiles = session.vf_profiles(settings.vf_property)
                    vms = session.vms(None, vf_networks(profiles)) if profiles else []
                    self._refresh_took = time.monotonic() - asked_at
                session.drain_requests()
                session.save_token()
            if view:
                self.store_view(UsageView(view_key(settings), profiles, tuple(vms), asked_at))
        except EngineError as err:
            self._backoff.failed(err)
            LOG.warning("background refresh of the usage view failed: %s", err)
        except Exception:   # noqa: BLE001 - a background thread must never die silently
            LOG.exception("background refresh of the usage view failed")
        finally:
            with self._state:
                self._refreshing = False


class WarmReads(Reads):
    """The `reads` of one decision in serve (see snapshot.take): from the event-driven view
    (live_usage) caught up for this decision, else from the view of a full read while it is
    fresh, or, for the weight (`reuse`), from the filter's read of the same VM."""

    def __init__(self, engine: WarmEngine, settings: Settings, deadline: float, vm_id: str, reuse: bool):
        self._engine = engine
        self._settings = settings
        self._deadline = deadline
        self._vm_id = vm_id
        # the view must show every change made before this: usage_max_age before the call (a view
        # polled since serves it; the background polls every second while decisions come)
        self._since = time.monotonic() - settings.usage_max_age
        self._asked: List[str] = []
        self._reused = engine.recent(settings, vm_id) if reuse else None
        self._view: Optional[UsageView] = None     # a fresh view to count with, if any
        self._live = False                            # _view is the event-driven one
        self._live_off = False                        # the event-driven view cannot count this decision
        self._profiles: Dict[str, VfProfile] = {}
        self._counted: Optional[UsageView] = None      # the view vms_for answered from
        self._fresh_vm = False
        self._fresh_only = False
        self.memo = engine.memo

    def forget(self) -> None:
        """Read afresh from now on: the filter is waiting for pending placements to show."""
        self._reused = None
        self._fresh_only = True
        self._since = time.monotonic()                 # and now every change made until now

    def close(self) -> None:
        """Nothing to release: the session and the view belong to the WarmEngine, not to a decision."""

    def _request(self, call):
        return self._engine.request(self._settings, self._deadline, self._asked, call)

    def vf_profiles(self, vf_property: str) -> Dict[str, VfProfile]:
        if self._reused is not None:
            self._profiles = self._reused[0].profiles
            return self._profiles
        self._view = self._live_view()
        if self._view is None and not self._fresh_only:
            self._view = self._engine.fresh_view(self._settings)
        self._profiles = self._view.profiles if self._view is not None else \
            self._request(lambda s: s.vf_profiles(vf_property))
        return self._profiles

    def _live_view(self) -> Optional[UsageView]:
        """The event-driven view caught up for this decision; None when the decision must read
        usage itself, or when the view knows no VF profile (the VM, which is read only with VF
        profiles to count it by, may use one made since: the profiles are read instead)."""
        if self._live_off:
            return None
        view = self._engine.live.view(self._settings, self._since, self._deadline, self._asked)
        self._live = view is not None and bool(view.profiles)
        return view if self._live else None

    def count_alongside(self, vf_profile_ids: FrozenSet[str], work: Callable[[UsageAhead], T]) -> Optional[Future]:
        """With a view to count from, `work` on its usage in the background while vms_for reads the
        scheduled VM (whose own record is left out of usage anyway, and whose claim this decision
        replaces)."""
        view = self._view
        if self._reused is not None or view is None or not view.profiles:
            return None
        return self._engine.alongside(lambda: work(UsageAhead(view.holdings(vf_profile_ids), view.seen(),
                                                              view.asked_at)))

    def _vm_read(self) -> List[VmRecord]:
        """The scheduled VM; ReadAgain when it uses a vNIC profile the event-driven view has not
        read and the VF profiles changed (the view cannot count this decision)."""
        vm_id = self._vm_id
        found = self._request(lambda s: s.vm(vm_id))
        if self._live and not self._engine.live.known_profiles(found, self._settings, self._deadline, self._asked):
            self._live_off, self._live, self._view = True, False, None
            raise ReadAgain("the VF vNIC profiles changed")
        return found

    def vms_for(self, vm_id: str, networks: FrozenSet[str]) -> Tuple[List[VmRecord], float]:
        """The scheduled VM plus the usage view, and when the view was asked for."""
        settings = self._settings
        if self._reused is not None:
            view, vm = self._reused
        elif self._view is not None:
            view = self._view
            vm = self._find(self._vm_read(), vm_id)
        else:
            asked_at = time.monotonic()
            records = self._request(lambda s: s.vms(vm_id, networks))
            view = UsageView(view_key(settings), self._profiles, tuple(records), asked_at)
            self._engine.store_view(view)
            vm = self._find(records, vm_id)
        if vm is not None:
            self._engine.remember(vm_id, view, vm)
        self._engine.refresh_ahead(settings)
        self._counted, self._fresh_vm = view, vm is not None
        if vm is None:         # gone from the engine: never count with the view's old record of it
            return [record for record in view.vms if record.vm_id != vm_id], view.asked_at
        return [vm] + list(view.vms), view.asked_at       # the fresh record first: find_vm takes it

    @staticmethod
    def _find(records: List[VmRecord], vm_id: str) -> Optional[VmRecord]:
        return next((record for record in records if record.vm_id == vm_id), None)

    def hosts(self) -> List[HostRecord]:
        found = self._request(lambda s: s.hosts())
        self._engine.hosts_read()
        return found

    def holdings(self, vms: List[VmRecord], vf_profile_ids: FrozenSet[str]) -> Holdings:
        """Counted once per view: the scheduled VM (the one record that may differ from the
        view's) is left out of usage by accounting.usage_from anyway. No view when the engine has
        no VF profiles (vms_for is not asked): then nothing holds VFs."""
        if self._counted is None:
            return holdings(vms, vf_profile_ids)
        return self._counted.holdings(vf_profile_ids)

    def seen(self, vms: List[VmRecord]) -> Mapping[str, Tuple[Optional[str], str]]:
        if self._counted is None:
            return seen_in(vms)
        return ChainMap(seen_in(vms[:1]) if self._fresh_vm else {}, self._counted.seen())

    def drain_requests(self) -> List[str]:
        asked, self._asked = self._asked, []
        return asked
