"""`ovirt-vf-scheduler demo`: both units on a simulated engine and two UCS domains with a sample UCS cluster.

The units run as real processes exactly as ovirt-scheduler-proxy runs them, against the fake
engine over HTTP with the real SDK; the table beside their answers comes from the same
snapshot code, read in this process, so every number can be checked by eye.
"""
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Dict, List

from . import config, decide, install, render, snapshot
from .sim import proxy
from .sim.engine import FakeEngine
from .sim.inventory import Inventory
from .sim.sample import DOMAINS, sample_cluster, sample_ucs_fakes, sim_config
from .sim.ucsm import FakeUcsm


def _table(rows: List[List[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _scenario(title: str, inv: Inventory, vm_name: str, host_names: List[str], settings: config.Settings,
              plugins_dir: str, env: Dict[str, str], verb: str = "starts it on") -> None:
    vm = inv.vm_by_name(vm_name)
    hosts = [inv.host_by_name(name).id for name in host_names]
    filtered = proxy.run_unit(plugins_dir, "VfFilter", hosts, vm.id, env=env)
    weighed = proxy.run_unit(plugins_dir, "VfWeight", hosts, vm.id, env=env)
    # The units skip host data for a VM without VF vNICs; the table reads it anyway, to show it.
    snap = snapshot.take(settings, vm.id, hosts, time.monotonic() + settings.deadline,
                         capacity_without_demand=True)
    wanted = snap.vm.demand.port_profiles
    print("\n== %s: %s (%d VM-FEX vNICs%s) ==" % (title, vm_name, snap.vm.demand.vfs,
                                                 ", port profile " + render.names(wanted) if wanted else ""))
    for run in (filtered, weighed):
        print("   %s: own process as the proxy runs it, %.2f s, exit %d, stderr %s, stdout %s" % (
            run.unit, run.elapsed, run.returncode, "empty" if not run.stderr else repr(run.stderr),
            "one literal" if run.ok else "DISCARDED (%s)" % run.discarded_because))
    kept = set(filtered.result or [])
    scores = dict(weighed.result or [])
    rows = [["host", "VFs", "source", "used", "pending", "free", "filter", "weight", "why"]]
    for host_id in hosts:
        host = snap.hosts[host_id]
        verdict = decide.fits(snap.vm.demand, host, settings.keep_unknown)
        rows.append([host.name, str(host.capacity.vfs), host.capacity.source, str(host.used),
                     str(host.pending), str(render.free_shown(host)),
                     "keep" if host_id in kept else "DROP", str(scores.get(host_id, "-")),
                     render.reason_words(verdict, host)])
    print(_table(rows))
    ranked = [(inv.hosts[h].name, scores.get(h, 0)) for h in hosts if h in kept]
    if len(ranked) == 1:
        print("-> the engine %s %s, the only host kept (the weights do not run for one host)" % (verb, ranked[0][0]))
    elif ranked:
        print("-> " + render.ranking(ranked, "VfWeight ranks %s first (weight %d, lower is better); the engine adds "
                                     "its own weights (CPU, memory) before it picks the host"))
    else:
        print("-> no host can take it: the engine reports that the external filter removed every host")


def _served(inv: Inventory, conf: str, plugins_dir: str, vm_name: str, host_names: List[str]) -> None:
    """The migration again, through `serve` as an oVirt 4.5 engine calls it (XML-RPC, per-unit weights)."""
    from .sim.served import ServeProcess
    hosts = [inv.host_by_name(name).id for name in host_names]
    vm = inv.vm_by_name(vm_name).id
    names = {inv.host_by_name(name).id: name for name in host_names}
    server = ServeProcess(conf, plugins_dir)
    try:
        client = server.client()
        offered = client.discover()
        started = time.monotonic()
        filtered = client.runFilters(["VfFilter"], hosts, vm, {})
        weighed = client.runCostFunctions([["VfWeight", 1]], filtered["result"], vm, {})
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    print("\n== The migration again, through `ovirt-vf-scheduler serve` (the proxy on oVirt 4.5) ==")
    print("   discover -> filters %s, scores %s" % (sorted(offered["filters"]), sorted(offered["scores"])))
    print("   runFilters -> result_code %d, kept %s" % (filtered["result_code"],
                                                       ", ".join(names[h] for h in filtered["result"])))
    print("   runCostFunctions -> result_code %d, per unit: %s" % (weighed["result_code"], ", ".join(
        "[%s, %d, %s]" % (names[h], score, unit) for h, score, unit in weighed["result"])))
    print("   both calls answered in %.3f s, login and capacity read included (a fresh serve); warm calls take\n"
          "   milliseconds, a plugin process a few tenths of a second" % elapsed)


def _export(conf: str, fakes: List[FakeUcsm]) -> None:
    """Level VI: the oVirt network blue (VLAN 100, a 100 Mbps QoS) becomes a port profile in both
    domains, as the operator runs it (the console command, in dry run and then for real)."""
    print("\n== Export oVirt network 'blue' (VLAN 100, vNIC profile blue with QoS 100 Mbps out, 5 MB burst) "
          "to UCS Manager ==")
    for extra in (["--dry-run"], []):
        argv = ["port-profiles", "export", "--network", "blue", "--config", conf] + extra
        print("$ ovirt-vf-scheduler " + " ".join(argv[:4] + extra))
        result = subprocess.run([sys.executable, "-m", "ovirt_scheduler_proxy_plugins.cli"] + argv,
                                capture_output=True, text=True, timeout=120)
        print(textwrap.indent(result.stdout.rstrip(), "   "))
    writes = sum(fake.writes() for fake in fakes)
    result = subprocess.run([sys.executable, "-m", "ovirt_scheduler_proxy_plugins.cli", "port-profiles", "export",
                             "--network", "blue", "--config", conf], capture_output=True, text=True, timeout=120)
    written = {attrs["dn"]: attrs for _, attrs in fakes[0].objects}
    profile, egress = written["fabric/lan/profiles/vnic-blue"], written["org-root/ep-qos-blue/egress"]
    print("   (a second run: exit %d, %d write requests sent. In UCS-M now: fabric/lan/profiles/vnic-blue, VLAN %s,\n"
          "    QoS policy %s: rate %s kbps, burst %s bytes, class %s)" % (
              result.returncode, sum(fake.writes() for fake in fakes) - writes,
              written["fabric/lan/profiles/vnic-blue/if-vlan100"]["name"], profile["operQosPolicyName"],
              egress["rate"], egress["burst"], egress["prio"]))


def main(verbose: bool = False) -> int:
    inv = sample_cluster()
    fake_a, fake_b = sample_ucs_fakes(inv)
    with tempfile.TemporaryDirectory(prefix="vf-demo-") as state, FakeEngine(inv) as engine, \
            fake_a as ucsm_a, fake_b as ucsm_b:
        plugins_dir = os.path.join(state, "plugins")
        os.mkdir(plugins_dir)
        install.install(plugins_dir)
        conf = sim_config(state, engine.url, inv.users["admin@internal"], [ucsm_a.url, ucsm_b.url],
                          ucsm_a.users["ovirt-ro"])
        settings = config.load(conf)
        env = proxy.proxy_env({config.CONF_ENV: conf})
        print("Simulated engine at %s: cluster 'ucs', %d hosts, %d VMs; units installed in %s"
              % (engine.url, len(inv.hosts), len(inv.vms), plugins_dir))
        for name, fake, blades in (("A", ucsm_a, DOMAINS[0]), ("B", ucsm_b, DOMAINS[1])):
            print("Simulated UCS domain %s at %s: %s; port profiles %s" % (
                name, fake.url, ", ".join(sorted(blades)),
                ", ".join(sorted(mo[1]["name"] for mo in fake.objects if mo[0] == "vnicProfile"))))
        print("capacity_source = min (the smaller of engine and UCS-M; 'source' says which one decided);\n"
              "[ucsm] port_profiles = check (a host whose UCS domain lacks the VM's port profile is dropped)")
        candidates = ["blade1", "blade2", "blade3", "blade4", "blade5", "rack1"]
        _scenario("VM start", inv, "web1", candidates, settings, plugins_dir, env)
        print("   (web1 is now starting: until the engine shows it on a host, its 2 VFs stay claimed on\n"
              "    every host it was kept for, whichever the engine picks, and count as 'pending' there)")
        _scenario("Migration (source blade4 excluded)", inv, "blade4-app1",
                  [name for name in candidates if name != "blade4"], settings, plugins_dir, env,
                  verb="migrates it to")
        _scenario("VM start, port profile defined only in UCS domain A", inv, "db1", candidates, settings,
                  plugins_dir, env)
        _scenario("Plain VM start", inv, "batch1", candidates, settings, plugins_dir, env)
        _served(inv, conf, plugins_dir, "blade4-app1", [name for name in candidates if name != "blade4"])
        _export(conf, [ucsm_a, ucsm_b])
        if verbose:
            with open(settings.log_file, encoding="utf-8") as log:
                print("\n== decision log (%s) ==\n%s" % (settings.log_file, log.read()))
    return 0
