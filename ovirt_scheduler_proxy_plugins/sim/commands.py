"""`ovirt-vf-scheduler demo` and `ovirt-vf-scheduler sim`: the commands that run the simulator.
Registered without importing it (the simulated engine loads the SDK's types): each command imports
its module when it runs."""
import argparse

from ..tools import common


def _demo(args: argparse.Namespace) -> int:
    from .. import demo
    return demo.main(verbose=args.verbose)


def _sim(args: argparse.Namespace) -> int:
    from .. import simulate
    return simulate.main(with_ucsm=args.ucsm, port=args.port, state_dir=args.dir)


def _port(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 65535:
        raise argparse.ArgumentTypeError("expected a TCP port 0..65535, got %r" % raw)
    return int(raw)


def register(sub) -> None:
    demo = common.add_plain_command(sub, "demo", _demo, "run both units on a simulated engine and UCS cluster")
    demo.add_argument("--verbose", action="store_true", help="also print the units' decision log")
    sim = common.add_plain_command(
        sub, "sim", _sim, "keep a simulated engine (and UCS-M) running, with a ready config, to try the other "
                          "commands",
        description="Start the demo's simulated engine (and UCS Manager) on 127.0.0.1, write a config and a "
                    "plugin directory, print the export line, and run until Ctrl-C or SIGTERM.")
    sim.add_argument("--ucsm", action="store_true", help="also simulate two UCS domains (capacity_source = min)")
    sim.add_argument("--port", type=_port, default=0, help="the engine's port (default: any free port)")
    sim.add_argument("--dir", metavar="DIR", help="keep the config and state here (default: a temporary "
                                                 "directory, removed on exit)")
