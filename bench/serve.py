"""`serve` against plugin processes: the latency the engine sees, at 50/200/1000 hosts x 20 VMs.

For each size, in one run: the same 30 VMs (2 VM-FEX vNICs each, scheduled one after the other
over every host) decided
  - as ovirt-scheduler-proxy runs the units (sim/proxy.py: a python3 process per unit);
  - through `ovirt-vf-scheduler serve` with the default usage_max_age (runFilters then
    runCostFunctions per VM, over one keep-alive connection, as the engine calls it);
  - through serve with usage_max_age = 0 (a fresh usage read for every VM).
Prints p50/p95 per call, the ratios, and engine API requests per VM (filter + weight). With
`--calls N` it then makes N more calls at the largest size and prints serve's RSS every N/10
calls (memory must stay flat).

    python -m bench serve [--sizes 50,200,1000] [--vms 30] [--calls 10000]
"""
import argparse
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

from ovirt_scheduler_proxy_plugins.sim.inventory import build_scale_inventory
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit

from .common import bed, median, percentile, request_counts, table

SIZES = (50, 200, 1000)
VMS_PER_HOST = 20


def _rss_mb(pid: int) -> float:
    with open("/proc/%d/status" % pid, encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def _served(b, vms: List[str], hosts: List[str], max_age: Optional[float]) -> Dict[str, object]:
    """Filter then weight per VM through a fresh serve process; latencies and requests per VM."""
    conf = b.conf
    if max_age is not None:
        text = open(b.conf).read()
        if "[scheduler]\n" not in text:
            raise RuntimeError("no [scheduler] section in %s to set usage_max_age in" % b.conf)
        text = text.replace("[scheduler]\n", "[scheduler]\nusage_max_age = %g\n" % max_age)
        conf = b.conf + ".age%g" % max_age
        with open(conf, "w") as handle:
            handle.write(text)
        os.chmod(conf, 0o600)
    server = ServeProcess(conf, b.plugins_dir)
    try:
        call_unit(server, "VfFilter", hosts, vms[0])             # warm-up: SDK import, login, capacity
        call_unit(server, "VfWeight", hosts, vms[0])
        filters, weights = [], []
        b.engine.reset_requests()
        for vm in vms:
            started = time.perf_counter()
            reply = call_unit(server, "VfFilter", hosts, vm)
            filters.append(time.perf_counter() - started)
            if reply["result_code"] != 0:
                raise RuntimeError("serve failed: %s" % reply)
            started = time.perf_counter()
            reply = call_unit(server, "VfWeight", reply["result"], vm)
            weights.append(time.perf_counter() - started)
            if reply["result_code"] != 0:
                raise RuntimeError("serve failed: %s" % reply)
        api = request_counts(b.engine)["api"] / len(vms)
    finally:
        server.stop()
    return {"filter": filters, "weight": weights, "api": api}


def _process(b, vms: List[str], hosts: List[str]) -> Dict[str, object]:
    b.run("VfFilter", hosts, vms[0])
    filters, weights = [], []
    b.engine.reset_requests()
    for vm in vms:
        run = b.run("VfFilter", hosts, vm)
        filters.append(run.elapsed)
        weights.append(b.run("VfWeight", run.result, vm).elapsed)
    return {"filter": filters, "weight": weights, "api": request_counts(b.engine)["api"] / len(vms)}


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


def measure(n_hosts: int, n_vms: int) -> Dict[str, Dict[str, object]]:
    inv = build_scale_inventory(n_hosts, VMS_PER_HOST)
    vms = [inv.add_vm("bench-new-%d" % i, cluster="Default", vmfex_nics=2, plain_nics=1).id for i in range(n_vms)]
    hosts = list(inv.hosts)
    with bed(inv) as b:
        out = {"process": _process(b, vms, hosts)}
        b.forget_claims()
        out["serve"] = _served(b, vms, hosts, None)
        b.forget_claims()
        out["serve, usage_max_age 0"] = _served(b, vms, hosts, 0)
    return out


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="hosts per run (default 50,200,1000)")
    parser.add_argument("--vms", type=int, default=30, help="VMs scheduled per mode and size (default 30)")
    parser.add_argument("--calls", type=int, default=10000,
                        help="calls of the memory run at the largest size (0: skip; default 10000)")
    return parser.parse_args(list(argv))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    rows = [["hosts", "VMs", "mode", "filter p50 ms", "p95", "weight p50 ms", "p95", "API/VM", "filter x"]]
    for size in sizes:
        found = measure(size, args.vms)
        base = median(found["process"]["filter"])
        for mode, r in found.items():
            rows.append([size, size * VMS_PER_HOST, mode,
                         "%.1f" % (1000 * median(r["filter"])), "%.1f" % (1000 * percentile(r["filter"], 95)),
                         "%.1f" % (1000 * median(r["weight"])), "%.1f" % (1000 * percentile(r["weight"], 95)),
                         "%.1f" % r["api"], "%.2f" % (median(r["filter"]) / base)])
        print(table(rows), flush=True)
    print("process = each unit a python3 process as ovirt-scheduler-proxy runs it; serve = the engine's "
          "XML-RPC calls\nto a warm serve process; 'filter x' = filter p50 / process filter p50 at that size; "
          "API/VM = engine\nrequests per VM for filter + weight; %d VMs per mode and size" % args.vms)
    if args.calls:
        print("memory of serve at %d hosts over %d calls:" % (sizes[-1], args.calls), flush=True)
        memory(sizes[-1], args.calls, args.vms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
