"""The burst simulation's world, engine model and driver (bench/burst.py prints the figures, the
burst test checks them): back-to-back VM-FEX starts and host evacuations, with and without the
pending-claims ledger, while the engine shows each placed VM on its host only after a lag.

The driver plays the engine (docs/proxy-contract.md sections 4-5): one scheduling at a time, as under
the engine's per-cluster lock, back to back (plus an optional submission interval). For each VM:
  1. candidates = the Up hosts of the cluster (minus the source host for a migration);
  2. VfFilter on them, run as plugin processes (as ovirt-scheduler-proxy runs them) or through
     `ovirt-vf-scheduler serve` (as the engine calls it); the engine keeps the hosts in both lists
     (a failed filter fails open: every candidate stays); no host left = a refusal;
  3. weights only if more than one host is left, combined as the engine's RankSelector does
     (per unit: rank = (n-1) - hosts with a strictly lower weight; sum of factor x rank; the
     highest wins, the first of the kept hosts on ties). The units: an internal "busy" weight
     that ignores VFs (VMs on the host, as EvenDistribution does; factor --busy-factor) and
     VfWeight (the stock proxy hands all external weights over as ONE factor-1 pseudo-unit, so
     its factor only matters through serve: --vf-factor). `--engine best|second` instead takes
     VfWeight's best or second-ranked host (the older, simpler model);
  4. the engine shows the VM on its host only after the lag (vdsm's create call returns late,
     docs/vmfex-hosts.md section 7): `--lags` seconds of wall time, or, for tests, a placement that
     becomes visible only when the driver is told (ManualPlacement).

TRUE occupancy (what libvirt allocates) is tracked here, independently of the units:
  - a start or a migration takes its VFs on the chosen host at decision time (vdsm creates the
    VM right after scheduling, well before the engine shows it there);
  - a migration releases its VFs on the source when it lands, at decision time + lag;
  - a VM placed on a host whose true free VFs are below its demand is an OVER-BOOKING: libvirt
    refuses it, so it takes nothing; a start stays down, a migration falls back to `up` on its
    source after the lag (the engine's rerun on other hosts is not modelled);
  - a refusal is WRONG when some candidate host still had >= demand true free VFs.
After the last decision the driver waits for the lag and checks that the engine's view of every
host equals the true occupancy (a self-check of the simulator, not of the units).
"""
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from . import proxy
from .inventory import Inventory
from .served import ServeProcess, unit_run


@dataclass(frozen=True)
class Scenario:
    """A world of hosts (name, VF capacity, VFs already used) and a burst.

    Start scenarios: `demands` = one new VM per entry, created down, with that many VM-FEX vNICs.
    Evacuation: `evacuate` names a host whose VMs (demands `demands`) all migrate away.
    `busy` = VMs without VFs per host (what the internal busy weight sees), by host order.
    """
    name: str
    hosts: Tuple[Tuple[str, int, int], ...]
    demands: Tuple[int, ...]
    evacuate: Optional[str] = None
    about: str = ""
    busy: Tuple[int, ...] = ()


# Worlds tight enough that back-to-back decisions which cannot see each other over-book. The
# busy counts run against free VFs (the roomiest hosts are the busiest), so the internal weight
# disagrees with VfWeight as often as it can.
SCENARIOS: Dict[str, Scenario] = {}
for _s in (
    Scenario("start1", (("h1", 8, 5), ("h2", 8, 6), ("h3", 8, 4), ("h4", 8, 5)), (1,) * (12 + 3),
             about="4 hosts x 8 VFs, 12 free (3/2/4/3); VMs of 1 VF", busy=(3, 1, 4, 2)),
    Scenario("start2", (("h1", 8, 4), ("h2", 8, 5), ("h3", 8, 3), ("h4", 8, 6)), (2,) * (6 + 2),
             about="4 hosts x 8 VFs, 14 free (4/3/5/2) = room for 6 VMs of 2 VFs", busy=(3, 2, 4, 1)),
    Scenario("evacuate", (("src", 8, 0), ("h1", 8, 6), ("h2", 8, 5), ("h3", 8, 6)), (2, 1, 2, 1, 1, 1),
             evacuate="src", about="src's VMs leave for 3 hosts x 8 VFs with 7 free (2/3/2)", busy=(0, 1, 3, 2)),
    Scenario("start32", tuple(("h%d" % (i + 1), 8, used) for i, used in enumerate((3, 5, 4, 6, 2, 5, 4, 3))),
             (1, 1, 2) * 10 + (1, 2), about="8 hosts x 8 VFs, 32 free; 32 VMs of 1 or 2 VFs",
             busy=(5, 3, 4, 2, 6, 3, 4, 5)),
    Scenario("evac10", (("src", 16, 0),) + tuple(("h%d" % (i + 1), 8, used)
                                                for i, used in enumerate((6, 5, 6, 7, 5, 6, 6))),
             (2, 1, 1, 2, 1, 2, 1, 1, 2, 1), evacuate="src",
             about="src's 10 VMs (14 VFs) leave for 7 hosts x 8 VFs with 15 free", busy=(0, 2, 3, 2, 1, 3, 2, 2)),
):
    SCENARIOS[_s.name] = _s


def sized(scenario: Scenario, n: Optional[int]) -> Scenario:
    """The scenario with `n` VMs (demands repeated cyclically); None = as defined."""
    if not n:
        return scenario
    demands = tuple(scenario.demands[i % len(scenario.demands)] for i in range(n))
    return Scenario(scenario.name, scenario.hosts, demands, scenario.evacuate, scenario.about, scenario.busy)


@dataclass(frozen=True)
class EngineModel:
    """How the simulated engine picks among the kept hosts (see the module docstring, step 3)."""
    pick: str = "rank"             # rank | best | second
    busy_factor: int = 2           # the internal busy weight's factor (0: no internal weight)
    vf_factor: int = 1             # VfWeight's factor (the stock proxy makes it 1 whatever the policy says)

    def label(self) -> str:
        if self.pick != "rank":
            return "VfWeight's %s" % self.pick
        return "busy x%d + VfWeight x%d" % (self.busy_factor, self.vf_factor)


def rank_select(kept: List[str], units: Sequence[Tuple[int, Dict[str, int]]]) -> str:
    """The engine's RankSelectorPolicyUnit: per unit, rank = (n-1) - hosts with a strictly lower
    weight (lower weight = better); the highest sum of factor x rank wins, the first on ties."""
    total = {h: 0 for h in kept}
    for factor, weights in units:
        for h in kept:
            better = sum(1 for g in kept if weights.get(g, 0) < weights.get(h, 0))
            total[h] += factor * (len(kept) - 1 - better)
    return max(kept, key=lambda h: (total[h], -kept.index(h)))


@dataclass
class Decision:
    vm: str
    demand: int
    kept: int
    host: Optional[str]              # chosen host name, None = refused
    free_before: Dict[str, int]      # true free VFs per candidate at decision time
    overbooked: bool = False
    wrong_refusal: bool = False
    pick_differs: bool = False       # the engine did not take VfWeight's best-ranked host
    narrowed: bool = False           # the filter kept fewer hosts than truly had room
    seconds: float = 0.0


@dataclass
class BurstResult:
    scenario: str
    lag: float
    ledger: bool
    runner: str = "process"
    decisions: List[Decision] = field(default_factory=list)
    mismatch: str = ""               # self-check: engine view != true occupancy after settling

    @property
    def placed(self) -> int:
        return sum(d.host is not None for d in self.decisions)

    @property
    def refused(self) -> int:
        return sum(d.host is None for d in self.decisions)

    @property
    def wrong_refusals(self) -> int:
        return sum(d.wrong_refusal for d in self.decisions)

    @property
    def overbookings(self) -> int:
        return sum(d.overbooked for d in self.decisions)

    def share(self, what: str) -> float:
        return sum(getattr(d, what) for d in self.decisions) / len(self.decisions) if self.decisions else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(d.seconds for d in self.decisions) if self.decisions else 0.0

    @property
    def slowest(self) -> float:
        return max((d.seconds for d in self.decisions), default=0.0)


class Truth:
    """What libvirt has allocated per host, with migration sources released at a given time."""

    def __init__(self, hosts: Sequence[Tuple[str, int, int]], busy: Dict[str, int]):
        self.capacity = {name: cap for name, cap, _ in hosts}
        self.used = {name: used for name, _, used in hosts}
        self.vms = dict(busy)                          # VMs per host, for the busy weight
        self._releases: List[Tuple[float, str, int]] = []
        self._lock = threading.Lock()

    def _settle(self, now: float) -> None:
        due = [r for r in self._releases if r[0] <= now]
        self._releases = [r for r in self._releases if r[0] > now]
        for _, host, vfs in due:
            self.used[host] -= vfs
            self.vms[host] -= 1

    def free(self, now: float) -> Dict[str, int]:
        with self._lock:
            self._settle(now)
            return {h: self.capacity[h] - self.used[h] for h in self.capacity}

    def busy(self) -> Dict[str, int]:
        with self._lock:
            return dict(self.vms)

    def take(self, host: str, vfs: int) -> None:
        with self._lock:
            self.used[host] += vfs
            self.vms[host] += 1

    def release_at(self, when: float, host: str, vfs: int) -> None:
        with self._lock:
            self._releases.append((when, host, vfs))


class TimedPlacement:
    """The engine shows a placed VM `lag` seconds after the decision (wall time)."""

    def __init__(self, engine, lag: float):
        self.engine, self.lag = engine, lag

    def show(self, vm_id: str, host_id: Optional[str], status: str) -> None:
        self.engine.place_vm(vm_id, host_id, status, after=self.lag)

    def decided(self) -> None:
        """Called after each decision (nothing to do: the timers run)."""

    def settle(self) -> None:
        time.sleep(self.lag + 0.3)


class ManualPlacement:
    """The engine shows a placed VM only when told: after `hold` more decisions, or at settle().
    For tests, so that what the units see does not depend on how fast the machine is."""

    def __init__(self, engine, hold: int):
        self.engine, self.hold = engine, hold
        self._queue: List[Tuple[int, str, Optional[str], str]] = []
        self._decisions = 0

    def show(self, vm_id: str, host_id: Optional[str], status: str) -> None:
        self._queue.append((self._decisions, vm_id, host_id, status))

    def decided(self) -> None:
        self._decisions += 1
        due = [q for q in self._queue if self._decisions - q[0] > self.hold]
        self._queue = [q for q in self._queue if self._decisions - q[0] <= self.hold]
        for _, vm_id, host_id, status in due:
            self.engine.place_vm(vm_id, host_id, status, after=0).wait(5)

    def settle(self) -> None:
        for _, vm_id, host_id, status in self._queue:
            self.engine.place_vm(vm_id, host_id, status, after=0).wait(5)
        self._queue = []


def build(scenario: Scenario) -> Tuple[Inventory, List[str], Dict[str, int]]:
    """The inventory, the ids of the VMs of the burst in scheduling order, and VMs per host."""
    inv = Inventory()
    busy = {}
    for index, (name, cap, used) in enumerate(scenario.hosts):
        inv.add_host(name, vf_devices=cap)
        plain = scenario.busy[index] if scenario.busy else 1
        for i in range(plain):
            inv.add_vm("plain-%s-%d" % (name, i), host=name, plain_nics=1)       # no VF: must not count
        for i in range(used // 2):
            inv.add_vm("bg-%s-%d" % (name, i), host=name, vmfex_nics=2, plain_nics=1)
        if used % 2:
            inv.add_vm("bg-%s-odd" % name, host=name, vmfex_nics=1)
        busy[name] = plain + used // 2 + used % 2
    burst = []
    for i, demand in enumerate(scenario.demands):
        if scenario.evacuate:
            vm = inv.add_vm("evac-%d" % i, host=scenario.evacuate, vmfex_nics=demand, plain_nics=1)
            busy[scenario.evacuate] += 1
        else:
            vm = inv.add_vm("new-%d" % i, cluster="Default", vmfex_nics=demand, plain_nics=1)
        burst.append(vm.id)
    return inv, burst, busy


def _truth_hosts(scenario: Scenario) -> List[Tuple[str, int, int]]:
    if not scenario.evacuate:
        return list(scenario.hosts)
    extra = sum(scenario.demands)
    return [(n, c, u + extra if n == scenario.evacuate else u) for n, c, u in scenario.hosts]


def _engine_view(inv: Inventory, engine) -> Dict[str, int]:
    """VFs per host name as the engine shows them (up/migrating VMs on their run-on host)."""
    vf_profiles = {pid for pid, p in inv.profiles.items() if "vmfex" in p.custom_properties}
    view = {h.name: 0 for h in inv.hosts.values()}
    with engine.mutate():
        for vm in inv.vms.values():
            if vm.run_on_host_id:
                view[inv.hosts[vm.run_on_host_id].name] += sum(
                    1 for nic in vm.nics if nic.plugged and nic.profile_id in vf_profiles)
    return view


@contextmanager
def _units(b, runner: str) -> Iterator[Callable[[str, List[str], str], proxy.UnitRun]]:
    """run(unit, hosts, vm) for the chosen runner: plugin processes, or one serve process."""
    if runner == "process":
        yield lambda unit, hosts, vm: proxy.run_unit(b.plugins_dir, unit, hosts, vm, env=b.env)
        return
    server = ServeProcess(b.conf, b.plugins_dir)
    try:
        server.wait_for_usage_events(required="usage_events = no" not in open(b.conf).read())
        yield lambda unit, hosts, vm: unit_run(server, unit, hosts, vm)
    finally:
        server.stop()


def _choose(kept: List[str], weighed: Optional[proxy.UnitRun], truth: Truth, names: Dict[str, str],
            model: EngineModel) -> Tuple[str, bool]:
    """(the engine's pick among the kept hosts, whether it differs from VfWeight's best)."""
    if weighed is None or not weighed.ok:
        return kept[0], False
    vf = {str(h): w for h, w in weighed.result}
    ranked = sorted(kept, key=lambda h: (vf.get(h, 0), kept.index(h)))
    if model.pick == "best":
        return ranked[0], False
    if model.pick == "second":
        return ranked[1], True
    busy = truth.busy()
    units = [(model.vf_factor, vf)]
    if model.busy_factor:
        units.append((model.busy_factor, {h: busy[names[h]] for h in kept}))
    chosen = rank_select(kept, units)
    return chosen, chosen != ranked[0]


def run_scenario(scenario: Scenario, lag: float, ledger: bool, interval: float = 0.0,
                 model: EngineModel = EngineModel(), runner: str = "process",
                 manual_hold: Optional[int] = None,
                 extra_conf: str = "", after_decision: Optional[Callable[[int, "object"], None]] = None
                 ) -> BurstResult:
    """Play the engine for the whole burst; see the module docstring. `manual_hold` set: the
    engine shows a placement only `manual_hold` decisions later (ManualPlacement), whatever
    the lag; `after_decision(index, bed)` runs after each decision (tests look at the ledger)."""
    from .bed import bed        # the fake engine needs ovirtsdk4: imported when a burst runs, not for the model
    inv, burst, busy = build(scenario)
    names = {h.id: h.name for h in inv.hosts.values()}
    truth = Truth(_truth_hosts(scenario), busy)
    source_id = inv.host_by_name(scenario.evacuate).id if scenario.evacuate else None
    result = BurstResult(scenario.name, lag, ledger, runner)
    extra = ("" if ledger else "claims = false\n") + extra_conf
    with bed(inv, extra_conf=extra) as b, _units(b, runner) as run:
        placement = TimedPlacement(b.engine, lag) if manual_hold is None else ManualPlacement(b.engine, manual_hold)
        for index, vm_id in enumerate(burst):
            if index and interval:
                time.sleep(interval)
            demand = scenario.demands[index]
            if source_id:
                with b.engine.mutate():
                    inv.vms[vm_id].status = "migrating"      # still shown on its source
            candidates = [h.id for h in inv.hosts.values() if h.status == "up" and h.id != source_id]
            started = time.monotonic()
            filtered = run("VfFilter", candidates, vm_id)
            if filtered.ok:
                answer = set(str(h) for h in filtered.result)
                kept = [h for h in candidates if h in answer]
            else:
                kept = list(candidates)                      # the engine fails open
            chosen, differs = (kept[0], False) if len(kept) == 1 else (None, False)
            if len(kept) > 1:
                chosen, differs = _choose(kept, run("VfWeight", kept, vm_id), truth, names, model)
            seconds = time.monotonic() - started
            free = truth.free(time.monotonic())
            decision = Decision(inv.vms[vm_id].name, demand, len(kept), names[chosen] if chosen else None,
                                {names[h]: free[names[h]] for h in candidates}, pick_differs=differs,
                                seconds=seconds)
            decision.narrowed = len(kept) < sum(1 for h in candidates if free[names[h]] >= demand)
            if chosen is None:
                decision.wrong_refusal = any(v >= demand for v in decision.free_before.values())
                if source_id:
                    with b.engine.mutate():
                        inv.vms[vm_id].status = "up"         # stays where it is
            elif free[names[chosen]] < demand:
                decision.overbooked = True                   # libvirt refuses: takes nothing
                if source_id:
                    placement.show(vm_id, source_id, "up")
            else:
                truth.take(names[chosen], demand)
                if source_id:
                    truth.release_at(time.monotonic() + lag, names[source_id], demand)
                placement.show(vm_id, chosen, "up")
            result.decisions.append(decision)
            placement.decided()
            if after_decision:
                after_decision(index, b)
        placement.settle()
        view = _engine_view(inv, b.engine)
        true_used = {h: truth.capacity[h] - f for h, f in truth.free(time.monotonic() + 3600).items()}
        if view != true_used:
            result.mismatch = "engine %s != true %s" % (view, true_used)
    return result
