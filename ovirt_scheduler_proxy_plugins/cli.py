"""ovirt-vf-scheduler: the operator's command line."""
import argparse
import sys
from typing import List, Optional

from . import install
from .tools import capacity_report, check, explain, policy, port_profiles

EXIT_CODES = """exit codes:
  0  success
  1  the command failed (the message says why)
  2  bad command line"""
TOP_EPILOG = EXIT_CODES + """
explain, check, policy, capacity and port-profiles document their own codes: ovirt-vf-scheduler COMMAND --help"""


def _install_plugins(args: argparse.Namespace) -> int:
    try:
        actions = install.install(args.plugins_dir, force=args.force)
    except (install.InstallError, OSError) as err:
        print("install-plugins: %s" % err, file=sys.stderr)
        return 1
    for path, state in actions:
        print("%-9s %s" % (state, path))
    if any(state != "unchanged" for _, state in actions):
        print("restart ovirt-scheduler-proxy, then ovirt-engine, so the engine discovers the units")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from . import demo
    return demo.main(verbose=args.verbose)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ovirt-vf-scheduler", epilog=TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="VM-FEX / SR-IOV VF scheduling units for ovirt-scheduler-proxy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    inst = sub.add_parser("install-plugins", help="copy vf_filter.py and vf_weight.py into the proxy's plugin dir",
                          epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    inst.add_argument("--plugins-dir", default=install.DEFAULT_PLUGINS_DIR,
                      help="default: %(default)s")
    inst.add_argument("--force", action="store_true",
                      help="overwrite same-named files that are not ovirt-vf-scheduler modules")
    inst.set_defaults(func=_install_plugins)
    demo = sub.add_parser("demo", help="run both units on a simulated engine and UCS cluster",
                          epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--verbose", action="store_true", help="also print the units' decision log")
    demo.set_defaults(func=_demo)
    for command in (explain, check, policy, capacity_report, port_profiles):
        command.register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
