"""`ovirt-vf-scheduler sim [--ucsm] [--port N] [--dir DIR]`: the demo's simulated engine (and UCS
Manager) kept running, so that check, explain, capacity, policy, status (and serve) can be tried
without an engine.

The engine has the demo's cluster, the engine's built-in scheduling policies and VfFilter/VfWeight
as an engine records them after discovering them; a ready config and a plugin directory are
written into the state directory. It runs until Ctrl-C or SIGTERM, then stops the servers and
removes the state directory unless --dir named it.
"""
import os
import pwd
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import List, Optional

from . import config, install
from .sim import sample
from .sim.engine import FakeEngine
from .sim.workspace import write_config
from .tools.common import EXIT_FAILED


def _world():
    inv = sample.sample_cluster()
    inv.add_builtin_policies()
    inv.add_vf_units(config.PROPERTIES_VALIDATION)
    return inv


def _free_port() -> int:
    """A port nothing listens on now, for serve: never the engine's default 18781, which a real serve
    or proxy on this machine may hold."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _command() -> str:
    """This console script, as a path that works from any directory (a fresh clone has it in .venv/bin,
    not on PATH)."""
    beside = os.path.join(os.path.dirname(sys.executable), "ovirt-vf-scheduler")
    return beside if os.path.isfile(beside) else (shutil.which("ovirt-vf-scheduler") or "ovirt-vf-scheduler")


def _instructions(conf: str, plugins_dir: str, listen: int, engine_url: str, ucsm_urls: List[str], inv) -> str:
    user = pwd.getpwuid(os.geteuid()).pw_name
    cli = _command()
    lines = ["Simulated engine at %s: cluster 'ucs', %d hosts, %d VMs (user admin@internal)"
             % (engine_url, len(inv.hosts), len(inv.vms))]
    for name, url, blades in zip("AB", ucsm_urls, sample.DOMAINS):
        lines.append("Simulated UCS Manager at %s (UCS domain %s: %s; capacity_source = min)"
                     % (url, name, ", ".join(sorted(blades))))
    lines += ["Config %s, plugin directory %s ([serve] plugins_dir), serve's port 127.0.0.1:%d ([serve] listen)"
              % (conf, plugins_dir, listen),
              "In another shell (serve first: check calls it; `kill %1` stops it):",
              "export %s=%s" % (config.CONF_ENV, conf),
              "  %s serve &" % cli,
              # the units run with this interpreter (where the package is), as the units' user: this one
              "  %s check --python %s --user %s" % (cli, sys.executable, user),
              "  %s explain --vm web1" % cli,
              "  %s capacity --evacuate blade4" % cli,
              "  %s policy --cluster ucs --dry-run" % cli,
              "  %s status" % cli]
    if ucsm_urls:
        lines.append("  %s port-profiles export --network blue --dry-run" % cli)
    lines.append("Ctrl-C (or SIGTERM) stops the simulator.")
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
    ucsms = sample.sample_ucs_fakes(inv) if with_ucsm else []
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
            conf = sample.sim_config(state, engine.url, inv.users["admin@internal"], [u.url for u in ucsms],
                                   ucsms[0].users["ovirt-ro"])
        else:
            conf = write_config(state, engine.url, inv.users["admin@internal"])
        plugins_dir = os.path.join(state, "plugins")
        os.makedirs(plugins_dir, exist_ok=True)
        install.install(plugins_dir)
        listen = _free_port()
        with open(conf, "a", encoding="utf-8") as handle:
            handle.write("\n[serve]\nlisten = 127.0.0.1:%d\nplugins_dir = %s\n" % (listen, plugins_dir))
        print(_instructions(conf, plugins_dir, listen, engine.url, [u.url for u in ucsms], inv), flush=True)
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
