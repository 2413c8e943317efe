"""Burst simulation: back-to-back VM-FEX starts and host evacuations, with and without the
pending-claims ledger, while the engine shows each placed VM on its host only after a lag.

The world, the engine model and the driver are in ovirt_scheduler_proxy_plugins/sim/burst_world.py;
this prints the figures.

    python -m bench burst [--scenarios start1,...] [--lags 0.5,2,5] [--ledger on,off] [--narrowing auto,off]
                          [--runner process,serve] [--engine rank|best|second]
                          [--busy-factor 2] [--vf-factor 1] [--n N] [--interval S]
"""
import argparse
import sys
from typing import List, Optional, Sequence

from ovirt_scheduler_proxy_plugins.sim.burst_world import SCENARIOS, EngineModel, run_scenario, sized

from .common import table

LAGS = (0.5, 2.0, 5.0)


def _floats(text: str) -> List[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _words(text: str) -> List[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench burst", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated, of: %s (default: all)" % ", ".join(SCENARIOS))
    parser.add_argument("--lags", default=",".join("%g" % x for x in LAGS),
                        help="seconds before the engine shows a placed VM (default: 0.5,2,5)")
    parser.add_argument("--ledger", default="on,off", help="on, off or on,off (default)")
    parser.add_argument("--narrowing", default="auto", help="[scheduler] narrowing: auto (default), off or auto,off")
    parser.add_argument("--runner", default="process,serve", help="process, serve or both (default)")
    parser.add_argument("--engine", choices=("rank", "best", "second"), default="rank",
                        help="rank: the engine's RankSelector over the busy weight and VfWeight (default); "
                             "best/second: VfWeight's best or second-ranked host")
    parser.add_argument("--busy-factor", type=int, default=2, help="factor of the internal busy weight (default 2)")
    parser.add_argument("--vf-factor", default="1",
                        help="VfWeight's policy factor(s), e.g. 1,5; the stock proxy turns it into 1, so "
                             "factors other than 1 run through serve only (default 1)")
    parser.add_argument("--n", type=int, default=None,
                        help="VMs per burst (default: per scenario, free VFs / demand + a few)")
    parser.add_argument("--interval", type=float, default=0.0,
                        help="seconds between two schedulings (default 0: back to back)")
    parser.add_argument("--conf", default="", help="more [scheduler] lines, e.g. 'usage_max_age = 5'")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every decision")
    args = parser.parse_args(list(argv))
    unknown = set(_words(args.scenarios)) - set(SCENARIOS)
    if unknown:
        parser.error("unknown scenario(s): %s" % ", ".join(sorted(unknown)))
    if set(_words(args.runner)) - {"process", "serve"}:
        parser.error("--runner takes process, serve or both")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    ledgers = [x == "on" for x in _words(args.ledger)]
    print("burst: one scheduling at a time (per-cluster lock), interval %gs" % args.interval)
    for name in _words(args.scenarios):
        s = sized(SCENARIOS[name], args.n)
        print("  %-9s %s; %d %s needing %d VFs in all" % (
            name, s.about, len(s.demands), "migrations" if s.evacuate else "starts", sum(s.demands)))
    rows = [["scenario", "lag s", "runner", "engine picks by", "ledger", "narrowing", "VMs", "placed", "refused",
             "wrong refusals", "over-bookings", "pick != VfWeight", "narrowed", "p50 s", "max s"]]
    failures = []
    conf = args.conf.replace("\\n", "\n") + ("\n" if args.conf else "")
    for name in _words(args.scenarios):
        scenario = sized(SCENARIOS[name], args.n)
        for lag in _floats(args.lags):
            for runner in _words(args.runner):
                factors = [int(f) for f in _words(args.vf_factor)]
                for factor in factors if runner == "serve" else [1]:
                    model = EngineModel(args.engine, args.busy_factor, factor)
                    for ledger, narrowing in [(on, mode) for on in ledgers for mode in _words(args.narrowing)]:
                        r = run_scenario(scenario, lag, ledger, args.interval, model, runner,
                                         extra_conf=conf + "narrowing = %s\n" % narrowing)
                        rows.append([name, "%g" % lag, runner, model.label(), "on" if ledger else "off", narrowing,
                                     len(r.decisions), r.placed, r.refused, r.wrong_refusals, r.overbookings,
                                     "%.0f%%" % (100 * r.share("pick_differs")),
                                     "%.0f%%" % (100 * r.share("narrowed")), "%.3f" % r.p50,
                                     "%.2f" % r.slowest])
                        print("  ".join(str(c) for c in rows[-1]), flush=True)
                        if args.verbose:
                            for d in r.decisions:
                                print("    %s demand=%d kept=%d -> %s free=%s%s%s%s %.2fs" % (
                                    d.vm, d.demand, d.kept, d.host or "REFUSED", d.free_before,
                                    " OVER-BOOKED" if d.overbooked else "", " WRONG" if d.wrong_refusal else "",
                                    " narrowed" if d.narrowed else "", d.seconds), flush=True)
                        if r.mismatch:
                            failures.append("%s lag=%g %s: %s" % (name, lag, runner, r.mismatch))
                        # With the ledger no host is over-booked, whatever the narrowing; wrong refusals
                        # are what narrowing exists to avoid, so they count against `auto` only.
                        wrong = r.wrong_refusals if narrowing == "auto" else 0
                        if ledger and (r.overbookings or wrong):
                            failures.append("%s lag=%g %s %s ledger=on narrowing=%s: %d over-bookings, %d wrong "
                                            "refusals" % (name, lag, runner, model.label(), narrowing,
                                                          r.overbookings, r.wrong_refusals))
    print(table(rows))
    print("placed = sent to a host (over-bookings included); wrong refusal = no host kept while a candidate\n"
          "still had enough truly free VFs; pick != VfWeight = the engine took another host than VfWeight's\n"
          "best; narrowed = the filter kept fewer hosts than truly had room; p50/max s = one scheduling\n"
          "(filter + weights), waits for pending placements included", flush=True)
    for line in failures:
        print("burst: " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
