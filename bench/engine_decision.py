"""One filter and one weight decision as the proxy runs them, at 50/200/1000 hosts x 20 VMs.

Prints wall time per process (median), API requests per decision cold (capacity cache empty)
and warm, and the ratio to a bare `python3 -c "import ovirtsdk4"` measured in the same run.
"""
import sys

from ovirt_scheduler_proxy_plugins.sim.inventory import build_scale_inventory

from .common import baseline, bed, median, request_counts, table, timed

SIZES = (50, 200, 1000)
VMS_PER_HOST = 20


def measure(n_hosts: int, repeat: int) -> dict:
    inv = build_scale_inventory(n_hosts, VMS_PER_HOST)
    vm = inv.add_vm("bench-new", cluster="Default", vmfex_nics=2, plain_nics=1)
    hosts = list(inv.hosts)
    with bed(inv) as b:
        b.run("VfFilter", hosts, vm.id)                 # token + capacity cache warm
        b.forget_capacity()
        b.engine.reset_requests()
        cold = timed(lambda: b.run("VfFilter", hosts, vm.id), 1)[0]
        cold_reqs = request_counts(b.engine)
        b.engine.reset_requests()
        warm_filter = timed(lambda: b.run("VfFilter", hosts, vm.id), repeat)
        warm_reqs = request_counts(b.engine)
        warm_weight = timed(lambda: b.run("VfWeight", hosts, vm.id), repeat)
        plain = inv.add_vm("bench-plain", cluster="Default", plain_nics=2)
        b.engine.reset_requests()
        plain_filter = timed(lambda: b.run("VfFilter", hosts, plain.id), repeat)
        plain_reqs = request_counts(b.engine)
    return {"hosts": n_hosts, "cold": cold, "cold_reqs": cold_reqs["api"],
            "filter": median(warm_filter), "weight": median(warm_weight),
            "warm_reqs": warm_reqs["api"] / repeat, "sso": warm_reqs["sso"],
            "plain": median(plain_filter), "plain_reqs": plain_reqs["api"] / repeat}


def main(argv=None) -> int:
    repeat = int((argv or sys.argv[1:] or ["5"])[0])
    base = median(baseline(repeat * 2))
    print("baseline: python3 -c 'import ovirtsdk4' median %.3f s (%d runs)" % (base, repeat * 2))
    rows = [["hosts", "VMs", "filter cold s", "reqs cold", "filter warm s", "x base", "weight warm s",
             "x base", "reqs warm", "SSO warm", "no-VF VM s", "reqs no-VF"]]
    for size in SIZES:
        r = measure(size, repeat)
        rows.append([r["hosts"], r["hosts"] * VMS_PER_HOST, "%.3f" % r["cold"], r["cold_reqs"],
                     "%.3f" % r["filter"], "%.2f" % (r["filter"] / base), "%.3f" % r["weight"],
                     "%.2f" % (r["weight"] / base), "%.1f" % r["warm_reqs"], r["sso"],
                     "%.3f" % r["plain"], "%.1f" % r["plain_reqs"]])
        print(table(rows), flush=True) if size == SIZES[-1] else None
    return 0
