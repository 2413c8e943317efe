"""Burst simulation: back-to-back VM-FEX starts and a host evacuation, with and without the
pending-claims ledger, while the engine shows each placed VM on its host only after a lag.

The driver plays the engine (proxy-contract.md sections 4-5): one scheduling at a time, as under
the engine's per-cluster lock, back to back (plus an optional submission interval). For each VM:
  1. candidates = the Up hosts of the cluster (minus the source host for a migration);
  2. VfFilter on them, run exactly as the proxy runs it (a fresh python3 process); the engine
     keeps the hosts in both lists (a discarded filter run fails open: every candidate stays);
     no host left = a refusal;
  3. VfWeight only if more than one host is left; the lowest weight wins, the first of the kept
     hosts on ties. If the weight run is discarded, or one host is left, the first kept host;
  4. `engine.place_vm(vm, host, "up", after=lag)`: the engine shows the VM on its host only
     after the lag (vdsm's create call), as vmfex-hosts.md section 7 describes.

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

    python -m bench burst [--scenarios start1,start2,evacuate] [--lags 0.5,2,5] [--ledger on,off]
                          [--n N] [--interval S] [--engine-pick best|second]
"""
import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ovirt_scheduler_proxy_plugins.sim import proxy
from ovirt_scheduler_proxy_plugins.sim.inventory import Inventory

from .common import bed, table

LAGS = (0.5, 2.0, 5.0)


@dataclass(frozen=True)
class Scenario:
    """A world of hosts (name, VF capacity, VFs already used) and a burst.

    Start scenarios: `demands` = one new VM per entry, created down, with that many VM-FEX vNICs.
    Evacuation: `evacuate` names a host whose VMs (demands `demands`) all migrate away.
    """
    name: str
    hosts: Tuple[Tuple[str, int, int], ...]
    demands: Tuple[int, ...]
    evacuate: Optional[str] = None
    about: str = ""


# Worlds tight enough that back-to-back decisions which cannot see each other over-book.
SCENARIOS: Dict[str, Scenario] = {}
for _s in (
    Scenario("start1", (("h1", 8, 5), ("h2", 8, 6), ("h3", 8, 4), ("h4", 8, 5)), (1,) * (12 + 3),
             about="4 hosts x 8 VFs, 12 free (3/2/4/3); VMs of 1 VF"),
    Scenario("start2", (("h1", 8, 4), ("h2", 8, 5), ("h3", 8, 3), ("h4", 8, 6)), (2,) * (6 + 2),
             about="4 hosts x 8 VFs, 14 free (4/3/5/2) = room for 6 VMs of 2 VFs"),
    Scenario("evacuate", (("src", 8, 0), ("h1", 8, 6), ("h2", 8, 5), ("h3", 8, 6)), (2, 1, 2, 1, 1, 1),
             evacuate="src",
             about="src's VMs leave for 3 hosts x 8 VFs with 7 free (2/3/2)"),
):
    SCENARIOS[_s.name] = _s


def sized(scenario: Scenario, n: Optional[int]) -> Scenario:
    """The scenario with `n` VMs (demands repeated cyclically); None = as defined."""
    if not n:
        return scenario
    demands = tuple(scenario.demands[i % len(scenario.demands)] for i in range(n))
    return Scenario(scenario.name, scenario.hosts, demands, scenario.evacuate, scenario.about)


@dataclass
class Decision:
    vm: str
    demand: int
    kept: int
    host: Optional[str]              # chosen host name, None = refused
    free_before: Dict[str, int]      # true free VFs per candidate at decision time
    overbooked: bool = False
    wrong_refusal: bool = False
    seconds: float = 0.0


@dataclass
class BurstResult:
    scenario: str
    lag: float
    ledger: bool
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

    @property
    def p50(self) -> float:
        return statistics.median(d.seconds for d in self.decisions) if self.decisions else 0.0


class Truth:
    """What libvirt has allocated per host, with migration sources released at a given time."""

    def __init__(self, hosts: Sequence[Tuple[str, int, int]]):
        self.capacity = {name: cap for name, cap, _ in hosts}
        self.used = {name: used for name, _, used in hosts}
        self._releases: List[Tuple[float, str, int]] = []
        self._lock = threading.Lock()

    def _settle(self, now: float) -> None:
        due = [r for r in self._releases if r[0] <= now]
        self._releases = [r for r in self._releases if r[0] > now]
        for _, host, vfs in due:
            self.used[host] -= vfs

    def free(self, now: float) -> Dict[str, int]:
        with self._lock:
            self._settle(now)
            return {h: self.capacity[h] - self.used[h] for h in self.capacity}

    def take(self, host: str, vfs: int) -> None:
        with self._lock:
            self.used[host] += vfs

    def release_at(self, when: float, host: str, vfs: int) -> None:
        with self._lock:
            self._releases.append((when, host, vfs))


def build(scenario: Scenario) -> Tuple[Inventory, List[str]]:
    """The inventory and the ids of the VMs of the burst, in scheduling order."""
    inv = Inventory()
    for name, cap, used in scenario.hosts:
        inv.add_host(name, vf_devices=cap)
        inv.add_vm("plain-%s" % name, host=name, plain_nics=1)       # no VF: must not count
        for i in range(used // 2):
            inv.add_vm("bg-%s-%d" % (name, i), host=name, vmfex_nics=2, plain_nics=1)
        if used % 2:
            inv.add_vm("bg-%s-odd" % name, host=name, vmfex_nics=1)
    burst = []
    for i, demand in enumerate(scenario.demands):
        if scenario.evacuate:
            vm = inv.add_vm("evac-%d" % i, host=scenario.evacuate, vmfex_nics=demand, plain_nics=1)
        else:
            vm = inv.add_vm("new-%d" % i, cluster="Default", vmfex_nics=demand, plain_nics=1)
        burst.append(vm.id)
    return inv, burst


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


def run_scenario(scenario: Scenario, lag: float, ledger: bool, interval: float = 0.0,
                 engine_pick: str = "best", settle: bool = True) -> BurstResult:
    """Play the engine for the whole burst; see the module docstring."""
    inv, burst = build(scenario)
    names = {h.id: h.name for h in inv.hosts.values()}
    truth = Truth(_truth_hosts(scenario))
    source_id = inv.host_by_name(scenario.evacuate).id if scenario.evacuate else None
    result = BurstResult(scenario.name, lag, ledger)
    extra = "" if ledger else "claims = false\n"
    with bed(inv, extra_conf=extra) as b:
        env = b.env
        for index, vm_id in enumerate(burst):
            if index and interval:
                time.sleep(interval)
            demand = scenario.demands[index]
            if source_id:
                with b.engine.mutate():
                    inv.vms[vm_id].status = "migrating"      # still shown on its source
            candidates = [h.id for h in inv.hosts.values() if h.status == "up" and h.id != source_id]
            started = time.monotonic()
            run = proxy.run_unit(b.plugins_dir, "VfFilter", candidates, vm_id, env=env)
            if run.ok:
                answer = set(str(h) for h in run.result)
                kept = [h for h in candidates if h in answer]
            else:
                kept = list(candidates)                      # the engine fails open
            chosen = kept[0] if kept else None
            if len(kept) > 1:
                run = proxy.run_unit(b.plugins_dir, "VfWeight", kept, vm_id, env=env)
                if run.ok:
                    weights = {str(h): w for h, w in run.result}
                    ranked = sorted(kept, key=lambda h: (weights.get(h, 0), kept.index(h)))
                    chosen = ranked[1] if engine_pick == "second" else ranked[0]
            seconds = time.monotonic() - started
            free = truth.free(time.monotonic())
            decision = Decision(inv.vms[vm_id].name, demand, len(kept),
                                names[chosen] if chosen else None,
                                {names[h]: free[names[h]] for h in candidates}, seconds=seconds)
            if chosen is None:
                decision.wrong_refusal = any(v >= demand for v in decision.free_before.values())
                if source_id:
                    with b.engine.mutate():
                        inv.vms[vm_id].status = "up"         # stays where it is
            elif free[names[chosen]] < demand:
                decision.overbooked = True                   # libvirt refuses: takes nothing
                if source_id:
                    b.engine.place_vm(vm_id, source_id, "up", after=lag)
            else:
                truth.take(names[chosen], demand)
                if source_id:
                    truth.release_at(time.monotonic() + lag, names[source_id], demand)
                b.engine.place_vm(vm_id, chosen, "up", after=lag)
            result.decisions.append(decision)
        if settle:
            time.sleep(lag + 0.3)
            view = _engine_view(inv, b.engine)
            true_used = {h: truth.capacity[h] - f for h, f in truth.free(time.monotonic()).items()}
            if view != true_used:
                result.mismatch = "engine %s != true %s" % (view, true_used)
    return result


def _floats(text: str) -> List[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench burst", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated, of: %s (default: all)" % ", ".join(SCENARIOS))
    parser.add_argument("--lags", default=",".join("%g" % x for x in LAGS),
                        help="seconds before the engine shows a placed VM (default: 0.5,2,5)")
    parser.add_argument("--ledger", default="on,off", help="on, off or on,off (default)")
    parser.add_argument("--n", type=int, default=None,
                        help="VMs per burst (default: per scenario, free VFs / demand + a few)")
    parser.add_argument("--interval", type=float, default=0.0,
                        help="seconds between two schedulings (default 0: back to back)")
    parser.add_argument("--engine-pick", choices=("best", "second"), default="best",
                        help="which ranked host the engine takes: 'second' plays other weights "
                             "outvoting VfWeight (the ledger's documented limit)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every decision")
    args = parser.parse_args(list(argv))
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error("unknown scenario(s): %s" % ", ".join(sorted(unknown)))
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    ledgers = [x.strip() == "on" for x in args.ledger.split(",") if x.strip()]
    print("burst: one scheduling at a time (per-cluster lock), interval %gs, engine takes the %s "
          "ranked host" % (args.interval, args.engine_pick))
    for name in args.scenarios.split(","):
        s = sized(SCENARIOS[name], args.n)
        print("  %-9s %s; %d %s needing %d VFs in all" % (
            name, s.about, len(s.demands), "migrations" if s.evacuate else "starts", sum(s.demands)))
    rows = [["scenario", "lag s", "ledger", "VMs", "placed", "refused", "wrong refusals",
             "over-bookings", "started", "decision p50 s"]]
    failures = []
    for name in args.scenarios.split(","):
        scenario = sized(SCENARIOS[name], args.n)
        for lag in _floats(args.lags):
            for ledger in ledgers:
                r = run_scenario(scenario, lag, ledger, args.interval, args.engine_pick)
                rows.append([name, "%g" % lag, "on" if ledger else "off", len(r.decisions), r.placed,
                             r.refused, r.wrong_refusals, r.overbookings, r.placed - r.overbookings,
                             "%.3f" % r.p50])
                if args.verbose:
                    for d in r.decisions:
                        print("    %s lag=%g ledger=%s %s demand=%d kept=%d -> %s free=%s%s%s" % (
                            name, lag, ledger, d.vm, d.demand, d.kept, d.host or "REFUSED",
                            d.free_before, " OVER-BOOKED" if d.overbooked else "",
                            " WRONG" if d.wrong_refusal else ""), flush=True)
                if r.mismatch:
                    failures.append("%s lag=%g ledger=%s: %s" % (name, lag, ledger, r.mismatch))
                if ledger and (r.overbookings or r.wrong_refusals):
                    failures.append("%s lag=%g ledger=on: %d over-bookings, %d wrong refusals"
                                    % (name, lag, r.overbookings, r.wrong_refusals))
    print(table(rows))
    print("placed = sent to a host (over-bookings included); started = placed and given its VFs by libvirt;\n"
          "wrong refusal = no host kept while a candidate still had enough truly free VFs", flush=True)
    for line in failures:
        print("burst: " + line)
    return 1 if failures and args.engine_pick == "best" else 0


if __name__ == "__main__":
    sys.exit(main())
