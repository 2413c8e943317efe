"""One filter and one weight decision as the proxy runs them, at 50/200/1000 hosts x 20 VMs,
with capacity from the engine and from UCS-M (two UCS domains, hosts split between them), on an
engine that charges QUERY_MS per backend query (sim/engine/cost.py; 0 = an instant engine).

Prints, per size and source: process wall time p50/p95 over `repeat` runs (warm caches),
one cold run (capacity cache empty, token cached), engine API and UCS-M requests per
decision, and the ratios to a bare `python3 -c "import ovirtsdk4"` measured in the same run
and, for UCS-M, to the engine-only decision.
"""
import os
from contextlib import ExitStack

from ovirt_scheduler_proxy_plugins.sim.bed import bed
from ovirt_scheduler_proxy_plugins.sim.inventory import build_scale_inventory
from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmServer
from ovirt_scheduler_proxy_plugins.sim.workspace import write_secret

from .common import baseline, median, percentile, request_counts, table, timed

SIZES = (50, 200, 1000)
VMS_PER_HOST = 20
COLD_RUNS = 3


def _ucsm_conf(stack: ExitStack, inv, state_dir: str):
    """Two fake UCS domains, each managing half of the hosts; config lines for them."""
    hosts = list(inv.hosts.values())
    halves = (hosts[::2], hosts[1::2])
    domains = []
    for index, half in enumerate(halves):
        servers = [UcsmServer(dn="sys/chassis-%d/blade-%d" % (n // 8 + 1, n % 8 + 1), uuid=h.hw_uuid.lower(),
                              serial=h.serial, sp_name=h.name, policy_name="kvm16", dynamic_eth="16")
                   for n, h in enumerate(half)]
        domains.append(stack.enter_context(FakeUcsm(servers)))
    pw = write_secret(os.path.join(state_dir, "ucsm.pw"), "secret")
    conf = "capacity_source = ucsm\n[ucsm]\nurl = %s\nusername = ovirt-ro\npassword_file = %s\ntimeout = 20\n" % (
        " ".join(d.url for d in domains), pw)
    return conf, domains


def measure(n_hosts: int, source: str, repeat: int, state_dir: str, query_ms: float) -> dict:
    inv = build_scale_inventory(n_hosts, VMS_PER_HOST)
    vm = inv.add_vm("bench-new", cluster="Default", vmfex_nics=2, plain_nics=1)
    hosts = list(inv.hosts)
    with ExitStack() as stack:
        extra, domains = _ucsm_conf(stack, inv, state_dir) if source == "ucsm" else ("", [])
        b = stack.enter_context(bed(inv, extra, engine_timeout=27, deadline=28))
        b.engine.cost.query_delay = query_ms / 1000.0

        def ucsm_requests() -> int:
            return sum(len(d.requests) for d in domains)

        b.run("VfFilter", hosts, vm.id)                 # warm-up: token, fake's render cache
        cold, cold_api, cold_ucsm = [], [], []
        for _ in range(COLD_RUNS):
            b.forget_capacity()
            b.engine.reset_requests()
            before = ucsm_requests()
            cold += timed(lambda: b.run("VfFilter", hosts, vm.id), 1)
            cold_api.append(request_counts(b.engine)["api"])
            cold_ucsm.append(ucsm_requests() - before)
        b.engine.reset_requests()
        before = ucsm_requests()
        queries = b.engine.cost.total
        warm_filter = timed(lambda: b.run("VfFilter", hosts, vm.id), repeat)
        warm = request_counts(b.engine)
        queries = (b.engine.cost.total - queries) / repeat
        warm_ucsm = ucsm_requests() - before
        warm_weight = timed(lambda: b.run("VfWeight", hosts, vm.id), repeat)
    return {"hosts": n_hosts, "source": source, "cold": median(cold), "cold_api": max(cold_api),
            "cold_ucsm": max(cold_ucsm), "domains": len(domains),
            "filter_p50": median(warm_filter), "filter_p95": percentile(warm_filter, 95),
            "weight_p50": median(warm_weight), "weight_p95": percentile(warm_weight, 95),
            "warm_api": warm["api"] / repeat, "warm_sso": warm["sso"], "warm_ucsm": warm_ucsm / repeat,
            "queries": queries}


def main(repeat: int = 0, sizes=SIZES) -> int:
    """`python -m bench engine [repeat] [query_ms] [sizes]` (default 30 runs per figure, 1 ms per
    backend query, 50,200,1000 hosts)."""
    import sys
    import tempfile
    args = sys.argv[1:]
    repeat = repeat or int((args or ["30"])[0])
    query_ms = float(args[1]) if len(args) > 1 else 1.0
    sizes = [int(x) for x in args[2].split(",")] if len(args) > 2 else sizes
    base_samples = baseline(repeat)
    base = median(base_samples)
    print("baseline: python3 -c 'import ovirtsdk4': p50 %.3f s, p95 %.3f s (%d runs)"
          % (base, percentile(base_samples, 95), repeat))
    rows = [["hosts", "VMs", "source", "cold s", "cold API", "cold UCS-M", "filter p50", "p95", "x base",
             "weight p50", "p95", "x base", "warm API", "queries", "warm UCS-M", "warm SSO", "x engine"]]
    engine_p50 = {}
    with tempfile.TemporaryDirectory(prefix="vf-bench-ucsm-") as state_dir:
        for size in sizes:
            for source in ("engine", "ucsm"):
                r = measure(size, source, repeat, state_dir, query_ms)
                if source == "engine":
                    engine_p50[size] = r["filter_p50"]
                rows.append([size, size * VMS_PER_HOST, source, "%.3f" % r["cold"], r["cold_api"],
                             "%d (%d dom.)" % (r["cold_ucsm"], r["domains"]) if r["domains"] else "-",
                             "%.3f" % r["filter_p50"], "%.3f" % r["filter_p95"], "%.2f" % (r["filter_p50"] / base),
                             "%.3f" % r["weight_p50"], "%.3f" % r["weight_p95"], "%.2f" % (r["weight_p50"] / base),
                             "%.1f" % r["warm_api"], "%.0f" % r["queries"],
                             "%.1f" % r["warm_ucsm"] if r["domains"] else "-",
                             r["warm_sso"], "%.2f" % (r["filter_p50"] / engine_p50[size])])
                print(table(rows), flush=True) if (size, source) == (sizes[-1], "ucsm") else None
    print("cold = capacity cache empty (token cached), one filter process; warm = caches warm, "
          "%d runs each; requests and the engine's backend queries are per decision; the engine charges "
          "%g ms per backend query" % (repeat, query_ms))
    return 0
