"""ovirt-vf-scheduler: the operator's command line."""
import argparse
import os
import sys
from typing import List, Optional

from . import __version__, install, serve
from .tools import capacity_report, check, explain, hints, policy, port_profiles, status_report
from .tools.common import EXIT_FAILED

EXIT_CODES = """exit codes:
  0  success
  2  bad command line
  3  the command failed (the message says why)"""
TOP_EPILOG = """exit codes:
  0  success
  1  the answer is no (explain, capacity --evacuate, port-profiles) or a WARN (check)
  2  bad command line
  3  the command failed (the message says why)
status answers as a monitoring check (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: a bad command line
too), serve as a service; each command lists its codes: ovirt-vf-scheduler COMMAND --help"""


def _install_plugins(args: argparse.Namespace) -> int:
    try:
        actions = install.install(args.plugins_dir, force=args.force)
    except install.InstallError as err:
        print("ovirt-vf-scheduler install-plugins: %s" % err, file=sys.stderr)
        return EXIT_FAILED
    except OSError as err:          # e.g. an existing module it may not read
        print("ovirt-vf-scheduler install-plugins: %s: %s" % (getattr(err, "filename", None) or args.plugins_dir,
                                                             err.strerror or err), file=sys.stderr)
        return EXIT_FAILED
    for path, state in actions:
        print("%-9s %s" % (state, path))
    if any(state != "unchanged" for _, state in actions):
        print("%s, so the engine discovers the units" % hints.RESTART)
    return 0


def sample_config() -> str:
    """The documented sample config shipped with the package (the RPM installs it as the config)."""
    from importlib import resources
    return resources.files(__package__).joinpath("data/ovirt-vf-scheduler.conf").read_text(encoding="utf-8")


def _config(args: argparse.Namespace) -> int:
    sys.stdout.write(sample_config())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from . import demo
    return demo.main(verbose=args.verbose)


def _sim(args: argparse.Namespace) -> int:
    from . import simulate
    return simulate.main(with_ucsm=args.ucsm, port=args.port, state_dir=args.dir)


def _port(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 65535:
        raise argparse.ArgumentTypeError("expected a TCP port 0..65535, got %r" % raw)
    return int(raw)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ovirt-vf-scheduler", epilog=TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="VM-FEX / SR-IOV VF scheduling units for the oVirt engine's external scheduler.")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    inst = sub.add_parser("install-plugins", help="copy vf_filter.py and vf_weight.py into the proxy's plugin dir",
                          epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    inst.add_argument("--plugins-dir", default=install.DEFAULT_PLUGINS_DIR,
                      help="default: %(default)s")
    inst.add_argument("--force", action="store_true",
                      help="overwrite same-named files that are not ovirt-vf-scheduler modules")
    inst.set_defaults(func=_install_plugins)
    conf = sub.add_parser("config", help="print the documented sample configuration (--sample)",
                          epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    conf.add_argument("--sample", action="store_true", required=True,
                      help="print the sample config file, every option documented")
    conf.set_defaults(func=_config)
    demo = sub.add_parser("demo", help="run both units on a simulated engine and UCS cluster",
                          epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--verbose", action="store_true", help="also print the units' decision log")
    demo.set_defaults(func=_demo)
    sim = sub.add_parser("sim", help="keep a simulated engine (and UCS-M) running, with a ready config, to try "
                                     "the other commands", epilog=EXIT_CODES,
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="Start the demo's simulated engine (and UCS Manager) on 127.0.0.1, write a "
                                     "config and a plugin directory, print the export line, and run until "
                                     "Ctrl-C or SIGTERM.")
    sim.add_argument("--ucsm", action="store_true", help="also simulate two UCS domains (capacity_source = min)")
    sim.add_argument("--port", type=_port, default=0, help="the engine's port (default: any free port)")
    sim.add_argument("--dir", metavar="DIR", help="keep the config and state here (default: a temporary "
                                                 "directory, removed on exit)")
    sim.set_defaults(func=_sim)
    for command in (explain, check, policy, capacity_report, status_report, port_profiles, serve):
        command.register(sub)
    return parser


EXIT_PIPE_CLOSED = 141    # as a shell reports a command ended by SIGPIPE


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:       # a command may answer a bad command line its own way (status: UNKNOWN)
        getattr(args, "usage_error", parser.error)("unrecognized arguments: %s" % " ".join(extra))
    try:
        return args.func(args)
    except BrokenPipeError:
        # `check | head -1`: the reader left; end quietly (and keep the exit-time flush quiet too).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED


if __name__ == "__main__":
    sys.exit(main())
