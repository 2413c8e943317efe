"""`python -m bench export [repeat]`: `port-profiles export` against two fake UCS domains, as the
operator runs it (the console script): wall time and requests per run for a network of N vNIC
profiles (each with a QoS), first run, rerun (nothing to do) and dry run."""
import os
import subprocess
import sys
from contextlib import ExitStack

from ovirt_scheduler_proxy_plugins import config
from ovirt_scheduler_proxy_plugins.sim import served
from ovirt_scheduler_proxy_plugins.sim.bed import bed
from ovirt_scheduler_proxy_plugins.sim.inventory import Inventory
from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm
from ovirt_scheduler_proxy_plugins.sim.workspace import write_secret

from .common import median, table, timed

SIZES = (1, 20, 100)


def _world(profiles: int) -> Inventory:
    inv = Inventory()
    qos = inv.add_qos("100M", outbound_average=100, outbound_peak=100, outbound_burst=5)
    inv.add_network("blue", vlan_id=100)
    for index in range(profiles):
        inv.add_profile("blue-%03d" % index, network_name="blue", qos=qos)
    return inv


def _export(conf: str, *extra: str) -> None:
    subprocess.run([served.CLI, "port-profiles", "export", "--network", "blue", "--config", conf] + list(extra),
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)


def measure(profiles: int, repeat: int) -> list:
    rows = []
    with ExitStack() as stack:
        domains = [stack.enter_context(FakeUcsm([], privileges={"ovirt-ro": "admin"})) for _ in range(2)]
        inv = _world(profiles)
        b = stack.enter_context(bed(inv, ""))
        pw = write_secret(os.path.join(b.state, "ucsm.pw"), "secret")
        with open(b.conf, "a", encoding="utf-8") as conf:
            conf.write("[ucsm]\nurl = %s\nusername = ovirt-ro\npassword_file = %s\ntimeout = 20\n"
                       % (" ".join(d.url for d in domains), pw))
        config.load(b.conf)                               # fail here, not inside the timed runs
        for label, extra, runs in (("first run", (), 1), ("rerun", (), repeat), ("dry run", ("--dry-run",), repeat)):
            before_ucsm = [len(d.requests) for d in domains]
            before_writes = [d.writes() for d in domains]
            b.engine.reset_requests()
            seconds = timed(lambda: _export(b.conf, *extra), runs)
            ucsm = sum(len(d.requests) - n for d, n in zip(domains, before_ucsm)) / runs / len(domains)
            writes = sum(d.writes() - n for d, n in zip(domains, before_writes)) / runs / len(domains)
            engine = b.engine.requests
            gets = sum(r.method == "GET" for r in engine) / runs
            puts = sum(r.method == "PUT" for r in engine) / runs
            rows.append([profiles, label, runs, "%.2f" % median(seconds), "%.1f" % ucsm, "%.1f" % writes,
                         "%.1f" % gets, "%.1f" % puts])
    return rows


def main() -> int:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rows = [["vNIC profiles", "run", "runs", "s p50", "UCS-M req/domain", "of which writes", "engine GET",
             "engine PUT"]]
    for size in SIZES:
        rows += measure(size, repeat)
    print(table(rows))
    print("two UCS domains; every vNIC profile has a QoS (a policy and a port profile each); times are the whole "
          "console command (interpreter start, SSO login, both domains)")
    return 0
