"""`serve` against plugin processes on an engine that charges for its reads, at 50/200/1000 hosts x 20 VMs.

The fake engine counts the backend queries a real engine runs for each request (sim/engine/
cost.py: a VM list with follow=nics is 3N + 3) and sleeps `--query-ms` per query (default 1).
For each size, in one run, the same VMs (2 VM-FEX vNICs each, scheduled one after the other,
one every `--every` seconds: 30 VMs over a minute by default) decided
  - as ovirt-scheduler-proxy runs the units (sim/proxy.py: a python3 process per unit);
  - through `ovirt-vf-scheduler serve` reading usage from the engine's events (the default);
  - through serve with [scheduler] usage_resync = 15 (full reads during the run: their parse runs
    in a child process, so decisions must not slow down);
  - through serve without events (usage_events = no: a full read every usage_max_age, today's
    mode before the events);
  - through serve with events, for VMs without VF vNICs: the floor (the call and the VM's read).
Prints p50/p95 per call, the engine's backend queries per VM (filter + weight, background work
included: every query the engine ran from the first decision to one interval past the last,
divided by the VMs) and per minute, and API requests per VM. From 200 hosts on the modes that read
usage whole decide `--slow-vms` VMs only (each read costs ~3,600 queries at 200 hosts, ~18,000 at 1,000). With
`--calls N` it then makes N more calls at the largest size and prints serve's RSS every N/10
calls (memory must stay flat).

    python -m bench serve [--sizes 50,200,1000] [--vms 30] [--every 2] [--query-ms 1] [--calls 10000]
"""
import argparse
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

from ovirt_scheduler_proxy_plugins.sim import proxy
from ovirt_scheduler_proxy_plugins.sim.bed import bed
from ovirt_scheduler_proxy_plugins.sim.inventory import build_scale_inventory
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit

from .common import median, percentile, request_counts, table

SIZES = (50, 200, 1000)
VMS_PER_HOST = 20
SLOW_FROM = 200             # hosts from which the whole-read modes decide --slow-vms VMs only
MODES = {"serve, events": "", "serve, events, usage_resync 15": "usage_resync = 15\n",
         "serve, no events": "usage_events = no\n"}
# The same calls for VMs without VF vNICs: what the call and the VM's own read cost with no host
# to count, the floor under every decision above.
FLOOR = "serve, events, VMs without VF (floor)"


def _rss_mb(pid: int) -> float:
    with open("/proc/%d/status" % pid, encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def _with_scheduler_lines(conf: str, lines: str, name: str) -> str:
    """A copy of the config `conf` with more [scheduler] lines."""
    text = open(conf).read()
    if "[scheduler]\n" not in text:
        raise RuntimeError("no [scheduler] section in %s to add %r to" % (conf, lines))
    path = "%s.%s" % (conf, name)
    with open(path, "w") as handle:
        handle.write(text.replace("[scheduler]\n", "[scheduler]\n" + lines))
    os.chmod(path, 0o600)
    return path


def _paced(b, vms: List[str], every: float, decide) -> Dict[str, object]:
    """decide(vm) -> (filter s, weight s, units failed) for each VM, one every `every` seconds;
    what the engine ran."""
    filters, weights, failed = [], [], 0
    b.engine.reset_requests()
    queries = b.engine.cost.total
    started = time.monotonic()
    for index, vm in enumerate(vms):
        time.sleep(max(0.0, started + index * every - time.monotonic()))
        took_filter, took_weight, failures = decide(vm)
        filters.append(took_filter)
        weights.append(took_weight)
        failed += failures
    time.sleep(max(0.0, started + len(vms) * every - time.monotonic()))
    elapsed = time.monotonic() - started
    queries = b.engine.cost.total - queries
    return {"filter": filters, "weight": weights, "api": request_counts(b.engine)["api"] / len(vms),
            "queries": queries / len(vms), "per_minute": queries * 60.0 / elapsed, "failed": failed}


def _served(b, vms: List[str], hosts: List[str], lines: str, name: str, every: float) -> Dict[str, object]:
    """Filter then weight per VM (the weight with the hosts the filter kept) through a fresh serve."""
    server = ServeProcess(_with_scheduler_lines(b.conf, lines, name), b.plugins_dir)
    try:
        server.wait_for_usage_events(timeout=600, required="usage_events = no" not in lines)
        call_unit(server, "VfFilter", hosts, vms[0])             # warm-up: SDK import, login, capacity
        call_unit(server, "VfWeight", hosts, vms[0])

        def decide(vm):
            started = time.perf_counter()
            reply = call_unit(server, "VfFilter", hosts, vm)
            took = time.perf_counter() - started
            failures = bool(reply.get("plugin_errors"))          # failed open: every host kept
            kept = reply["result"] if not failures else hosts
            started = time.perf_counter()
            reply = call_unit(server, "VfWeight", kept, vm)
            return took, time.perf_counter() - started, failures + bool(reply.get("plugin_errors"))
        found = _paced(b, vms[1:], every, decide)
        found["full_reads"] = sum(server.full_reads().values())
        return found
    finally:
        server.stop()


def _process(b, vms: List[str], hosts: List[str], every: float) -> Dict[str, object]:
    proxy.run_unit(b.plugins_dir, "VfFilter", hosts, vms[0], env=b.env)

    def decide(vm):
        run = proxy.run_unit(b.plugins_dir, "VfFilter", hosts, vm, env=b.env)
        weighed = proxy.run_unit(b.plugins_dir, "VfWeight", run.result if run.ok else hosts, vm, env=b.env)
        return run.elapsed, weighed.elapsed, (not run.ok) + (not weighed.ok)
    return _paced(b, vms[1:], every, decide)


def memory(n_hosts: int, calls: int, n_vms: int) -> List[str]:
    """RSS of serve every calls/10 calls (filter then weight, as the engine calls them: the weight
    with the hosts the filter kept, cycling over `n_vms` VMs)."""
    inv = build_scale_inventory(n_hosts, VMS_PER_HOST)
    vms = [inv.add_vm("bench-new-%d" % i, cluster="Default", vmfex_nics=2, plain_nics=1).id for i in range(n_vms)]
    hosts = list(inv.hosts)
    lines = []
    with bed(inv) as b:
        server = ServeProcess(b.conf, b.plugins_dir)
        try:
            step = max(1, calls // 10)
            started = time.monotonic()
            kept = hosts
            for index in range(calls + 1):
                vm = vms[(index // 2) % len(vms)]
                if index % 2 == 0:
                    kept = call_unit(server, "VfFilter", hosts, vm)["result"]
                else:
                    call_unit(server, "VfWeight", kept, vm)
                if index % step == 0:
                    lines.append("  after %5d calls: RSS %6.1f MB (%.0f s)"
                                 % (index, _rss_mb(server.proc.pid), time.monotonic() - started))
                    print(lines[-1], flush=True)
        finally:
            server.stop()
    return lines


def measure(n_hosts: int, args: argparse.Namespace) -> Dict[str, Dict[str, object]]:
    inv = build_scale_inventory(n_hosts, VMS_PER_HOST)
    vms = [inv.add_vm("bench-new-%d" % i, cluster="Default", vmfex_nics=2, plain_nics=1).id
           for i in range(args.vms + 1)]                      # the first one warms up
    plain = [inv.add_vm("bench-plain-%d" % i, cluster="Default", plain_nics=3).id for i in range(args.vms + 1)]
    slow = vms[:args.slow_vms + 1] if n_hosts >= SLOW_FROM else vms
    hosts = list(inv.hosts)
    with bed(inv, engine_timeout=27, deadline=28) as b:
        b.engine.cost.query_delay = args.query_ms / 1000.0
        b.engine.watch_inventory = False                      # nothing changes the world here
        out = {"process": _process(b, slow, hosts, args.every)}
        for mode, lines in MODES.items():
            b.forget_claims()
            out[mode] = _served(b, slow if "no events" in mode else vms, hosts, lines,
                                mode.replace(" ", "").replace(",", "-"), args.every)
        out[FLOOR] = _served(b, plain, hosts, "", "floor", args.every)
    return out


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="hosts per run (default 50,200,1000)")
    parser.add_argument("--vms", type=int, default=30, help="VMs scheduled per mode and size (default 30)")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between two VMs (default 2)")
    parser.add_argument("--query-ms", type=float, default=1.0, help="engine time per backend query (default 1)")
    parser.add_argument("--slow-vms", type=int, default=4,
                        help="VMs the whole-read modes decide at %d hosts and more (default 4)" % SLOW_FROM)
    parser.add_argument("--calls", type=int, default=10000,
                        help="calls of the memory run at the largest size (0: skip; default 10000)")
    return parser.parse_args(list(argv))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    rows = [["hosts", "VMs", "mode", "decided", "units failed", "filter p50 ms", "p95", "weight p50 ms", "p95", "queries/VM",
             "queries/min", "API/VM", "full reads", "filter x"]]
    for size in sizes:
        found = measure(size, args)
        base = median(found["process"]["filter"])
        for mode, r in found.items():
            rows.append([size, size * VMS_PER_HOST, mode, len(r["filter"]), r["failed"],
                         "%.1f" % (1000 * median(r["filter"])), "%.1f" % (1000 * percentile(r["filter"], 95)),
                         "%.1f" % (1000 * median(r["weight"])), "%.1f" % (1000 * percentile(r["weight"], 95)),
                         "%.0f" % r["queries"], "%.0f" % r["per_minute"], "%.1f" % r["api"],
                         r.get("full_reads", "-"), "%.3f" % (median(r["filter"]) / base)])
        print(table(rows), flush=True)
    print("engine: %g ms per backend query; one VM every %g s; process = each unit a python3 process as "
          "ovirt-scheduler-proxy runs it;\nserve = the engine's XML-RPC calls to a warm serve process; "
          "queries/VM = the engine's backend queries per VM\n(filter + weight + background); 'full reads' = "
          "serve's full usage reads since its start (the first one at start);\n'filter x' = filter p50 / "
          "process filter p50 at that size; 'units failed' = filter or weight calls that failed (the\n"
          "engine then schedules without them: a filter past its deadline keeps every host)" % (args.query_ms, args.every))
    if args.calls:
        print("memory of serve at %d hosts over %d calls:" % (sizes[-1], args.calls), flush=True)
        memory(sizes[-1], args.calls, args.vms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
