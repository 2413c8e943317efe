"""`serve` under attack: what a good call costs meanwhile, and serve's memory.

    python -m bench attacks [--slow 140] [--seconds 20] [--bombs 24]

- slow connections: SLOW connections send a header byte each every 2 s for SECONDS, reopened as
  soon as serve closes them, from another local user (nobody, listed in allowed_users: the
  connection limits are what is measured, not the refusal of strangers) when run as root, else
  from this user; meanwhile a good runFilters call every 0.5 s, each on a new connection (as the
  engine after a pause): its latency (p50, max) and how many failed;
- decompression bombs: BOMBS parallel POSTs of a gzip body inflating to 30 MB, in rounds for
  at least 5 s; serve's RSS before, at its peak (sampled every 20 ms) and after, and the good
  calls meanwhile.
First the good calls alone for 5 s, for comparison.
World: 50 hosts x 20 VMs as in the other serve figures, serve warm before the attack.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import threading
import time
import xmlrpc.client
from typing import Callable, List

from ovirt_scheduler_proxy_plugins.sim import attackers
from ovirt_scheduler_proxy_plugins.sim.bed import bed
from ovirt_scheduler_proxy_plugins.sim.inventory import build_scale_inventory
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit

from .common import median
from .serve import _rss_mb

HOSTS = 50


class GoodCalls(threading.Thread):
    """A runFilters call every `every` seconds on a new connection, until stopped: latencies, failures."""

    def __init__(self, server: ServeProcess, hosts: List[str], vm: str, every: float = 0.5):
        super().__init__(daemon=True)
        self._call = lambda: xmlrpc.client.ServerProxy(server.url).runFilters(["VfFilter"], hosts, vm, {})
        self._every = every
        self._stopping = threading.Event()
        self.latencies: List[float] = []
        self.failures: List[str] = []

    def run(self) -> None:
        while not self._stopping.wait(self._every):
            started = time.perf_counter()
            try:
                self._call()
                self.latencies.append(time.perf_counter() - started)
            except (OSError, xmlrpc.client.Error) as err:
                self.failures.append(" ".join(str(err).split())[:80])

    def stop(self) -> str:
        self._stopping.set()
        self.join()
        ms = sorted(1000 * s for s in self.latencies)
        return "good calls: %d answered, p50 %.1f ms, max %.1f ms; %d failed%s" % (
            len(ms), median(ms) if ms else 0, ms[-1] if ms else 0, len(self.failures),
            " (%s)" % self.failures[0] if self.failures else "")


def slow_connections(server: ServeProcess, good: Callable[[], GoodCalls], count: int, seconds: float) -> None:
    attacker = "nobody" if os.geteuid() == 0 and os.access(attackers.SYSTEM_PYTHON, os.X_OK) else None
    args = [server.port, count, seconds, 2.0, 1]
    if attacker:
        child = attackers.as_user(attacker, attackers.TRICKLE, args, stdin=None)
    else:
        child = subprocess.Popen([sys.executable, "-c", attackers.TRICKLE] + [str(a) for a in args],
                                 stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
    calls = good()
    calls.start()
    summary = json.loads(child.communicate()[0])
    print("%d slow connections for %g s from %s: %s" % (count, seconds, attacker or "this user", calls.stop()))
    ended = summary["ended"]
    print("  slow connections closed by serve: %d (longest lived %.1f s after its first byte), %d refused 503, "
          "%d open at the end; serve RSS %.1f MB" % (len(ended), max(ended or [0]), summary["refused"],
                                                     summary["open"], _rss_mb(server.proc.pid)))


def bombs(server: ServeProcess, good: Callable[[], GoodCalls], count: int) -> None:
    head = b"<?xml version='1.0'?><methodCall><methodName>discover</methodName><params>"
    bomb = gzip.compress(head + b" " * (30 << 20) + b"</params></methodCall>")
    before, peak, statuses = _rss_mb(server.proc.pid), [0.0], {}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.02):
            peak[0] = max(peak[0], _rss_mb(server.proc.pid))

    def post() -> None:
        status = server.post(bomb, headers={"Content-Encoding": "gzip"})[0]
        statuses[status] = statuses.get(status, 0) + 1
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    calls = good()
    calls.start()
    started = time.perf_counter()
    rounds = 0
    while rounds < 3 or time.perf_counter() - started < 5.0:
        rounds += 1
        threads = [threading.Thread(target=post) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    took = time.perf_counter() - started
    time.sleep(1.0)
    sampling.set()
    sampler.join()
    print("%d x %d gzip bombs (%d KB inflating to 30 MB) in %.1f s, answered %s: %s" % (
        count, rounds, len(bomb) // 1024, took, statuses, calls.stop()))
    print("  serve RSS: %.1f MB before, %.1f MB peak, %.1f MB after" % (before, peak[0], _rss_mb(server.proc.pid)))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench attacks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", type=int, default=140)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--bombs", type=int, default=24)
    args = parser.parse_args()
    inventory = build_scale_inventory(HOSTS, 20)
    with bed(inventory, "[serve]\nallowed_users = root nobody %d\n" % os.getuid()) as b:
        hosts = list(inventory.hosts)
        vm = inventory.add_vm("bench-good", cluster="Default", vmfex_nics=2).id
        server = ServeProcess(b.conf, b.plugins_dir)
        try:
            call_unit(server, "VfFilter", hosts, vm)            # warm: login, capacity, the usage view
            good: Callable[[], GoodCalls] = lambda: GoodCalls(server, hosts, vm)   # noqa: E731
            quiet = good()
            quiet.start()
            time.sleep(5.0)
            print("no attack, 5 s: %s; serve RSS %.1f MB" % (quiet.stop(), _rss_mb(server.proc.pid)))
            slow_connections(server, good, args.slow, args.seconds)
            bombs(server, good, args.bombs)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
