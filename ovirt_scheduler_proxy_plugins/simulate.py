"""`ovirt-vf-scheduler sim [--ucsm] [--port N] [--dir DIR]`: the demo's simulated engine (and UCS
Manager) kept running, so that check, explain, capacity, policy, status (and serve) can be tried
without an engine.

The engine has the demo's cluster, the engine's built-in scheduling policies and VfFilter/VfWeight
as an engine records them after discovering them; a ready config and a plugin directory are
written into the state directory. It runs until Ctrl-C or SIGTERM, then stops the servers and
removes the state directory unless --dir named it.
"""
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import List, Optional

from . import config, demo, install
from .sim.engine import FakeEngine
from .sim.workspace import write_config
from .tools.common import EXIT_FAILED


def _world():
    inv = demo.sample_cluster()
    inv.add_builtin_policies()
    inv.add_vf_units(config.PROPERTIES_VALIDATION)
    return inv


def _instructions(conf: str, plugins_dir: str, engine_url: str, ucsm_urls: List[str], inv) -> str:
    user = os.environ.get("USER") or "root"
    lines = ["Simulated engine at %s: cluster 'ucs', %d hosts, %d VMs (user admin@internal)"
             % (engine_url, len(inv.hosts), len(inv.vms))]
    for name, url, blades in zip("AB", ucsm_urls, demo.DOMAINS):
        lines.append("Simulated UCS Manager at %s (UCS domain %s: %s; capacity_source = min)"
                     % (url, name, ", ".join(sorted(blades))))
    lines += ["Config %s, plugin directory %s" % (conf, plugins_dir),
              "In another shell:",
              "export %s=%s" % (config.CONF_ENV, conf),
              "  ovirt-vf-scheduler check --plugins-dir %s --user %s" % (plugins_dir, user),
              "  ovirt-vf-scheduler explain --vm web1",
              "  ovirt-vf-scheduler capacity --evacuate blade4",
              "  ovirt-vf-scheduler policy --cluster ucs --dry-run",
              "  ovirt-vf-scheduler status",
              "  ovirt-vf-scheduler serve --plugins-dir %s" % plugins_dir,
              "Ctrl-C (or SIGTERM) stops the simulator."]
    return "\n".join(lines)


def main(with_ucsm: bool = False, port: int = 0, state_dir: Optional[str] = None) -> int:
    stop: List[int] = []       # the handler only notes the signal (an Event's lock could deadlock)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: stop.append(signum))
    keep = state_dir is not None
    state = os.path.abspath(state_dir) if keep else tempfile.mkdtemp(prefix="vf-sim-")
    os.makedirs(os.path.join(state, "cache"), exist_ok=True)     # where status finds the units' counts
    inv = _world()
    engine = FakeEngine(inv, port=port)
    ucsms = demo.sample_ucs_fakes(inv) if with_ucsm else []
    try:
        try:
            engine.start()
        except OSError as err:
            print("ovirt-vf-scheduler sim: cannot listen on 127.0.0.1:%d: %s" % (port, err.strerror or err),
                  file=sys.stderr)
            return EXIT_FAILED
        if ucsms:
            for ucsm in ucsms:
                ucsm.start()
            conf = demo.sim_config(state, engine.url, inv.users["admin@internal"], [u.url for u in ucsms],
                                   ucsms[0].users["ovirt-ro"])
        else:
            conf = write_config(state, engine.url, inv.users["admin@internal"])
        plugins_dir = os.path.join(state, "plugins")
        os.makedirs(plugins_dir, exist_ok=True)
        install.install(plugins_dir)
        print(_instructions(conf, plugins_dir, engine.url, [u.url for u in ucsms], inv), flush=True)
        while not stop:
            time.sleep(0.2)
    finally:
        engine.stop()             # a no-op when it never started
        for ucsm in ucsms:
            ucsm.stop()
        if not keep:
            shutil.rmtree(state, ignore_errors=True)
    print("simulator stopped" + ("; state kept in %s" % state if keep else ""), file=sys.stderr, flush=True)
    return 0
