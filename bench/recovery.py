"""How soon serve decides again after the engine comes back, from a hang and from an outage.

The engine hangs (every request sleeps past [engine] timeout) or goes away (connections
refused) until serve's backoff has grown to `--step` seconds or more, then comes back; the
figure is the time from its return to the first call answered without a unit failure,
`--trials` times each, with serve's probe (the default) and, for comparison, what waiting for
the backoff's step alone gives (the step in force when the engine came back).

    python -m bench recovery [--trials 5] [--step 2]
"""
import argparse
import re
import sys
import time
from typing import List, Optional, Sequence

from ovirt_scheduler_proxy_plugins.sim.bed import bed
from ovirt_scheduler_proxy_plugins.sim.inventory import Inventory
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit

from .common import median, table

_STEP = re.compile(r"not retried for (\d+\.\d) s more")


def _fails(server: ServeProcess, hosts: List[str], vm: str) -> str:
    return str(call_unit(server, "VfFilter", hosts, vm).get("plugin_errors") or "")


def trial(b, server: ServeProcess, hosts: List[str], vm: str, kind: str, step: float) -> tuple:
    """(seconds to the first good call after the return, the backoff step in force then)."""
    if kind == "hang":
        b.engine.faults.api_delay = 60
    else:
        b.engine.stop()
    in_force = 0.0
    give_up = time.monotonic() + 120
    while in_force < step:
        found = _STEP.search(_fails(server, hosts, vm))
        in_force = float(found.group(1)) if found else 0.0
        if time.monotonic() > give_up:
            raise RuntimeError("the backoff never reached %g s" % step)
        time.sleep(0.05)
    if kind == "hang":
        b.engine.faults.api_delay = 0
    else:
        b.engine.start()
    back = time.monotonic()
    while _fails(server, hosts, vm):
        time.sleep(0.01)
    return time.monotonic() - back, in_force


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench recovery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--step", type=float, default=2.0, help="backoff step to reach before the return")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    inv = Inventory()
    hosts = [inv.add_host("h%d" % i, vf_devices=8).id for i in range(4)]
    vm = inv.add_vm("new", vmfex_nics=1).id
    rows = [["outage", "trials", "back to deciding p50 s", "max s", "backoff step then p50 s"]]
    with bed(inv, "claims = no\nusage_max_age = 0\n", engine_timeout=2, deadline=3) as b:
        server = ServeProcess(b.conf, b.plugins_dir)
        try:
            server.wait_for_usage_events()
            for kind in ("hang", "refused"):
                found = [trial(b, server, hosts, vm, kind, args.step) for _ in range(args.trials)]
                took = [f[0] for f in found]
                rows.append([kind, args.trials, "%.2f" % median(took), "%.2f" % max(took),
                             "%.1f" % median([f[1] for f in found])])
                time.sleep(3)                       # hung requests of the fake run out
        finally:
            b.engine.faults.api_delay = 0
            server.stop()
    print(table(rows))
    print("back to deciding = from the engine's return to the first VfFilter call answered without a unit "
          "failure (serve's probe asks every 0.25 s); without the probe a call would wait out the step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
