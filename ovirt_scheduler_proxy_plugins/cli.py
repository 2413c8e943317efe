"""ovirt-vf-scheduler: the operator's command line."""
import argparse
import os
import sys
from typing import List, Optional

from . import __version__, install, serve
from .sim import commands as sim_commands
from .tools import capacity_report, check, explain, policy, port_profiles, sample_config, status_report

TOP_EPILOG = """exit codes:
  0  success
  1  the answer is no (explain, capacity --evacuate, port-profiles) or a WARN (check)
  2  bad command line
  3  the command failed (the message says why)
status answers as a monitoring check (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: a bad command line
too), serve as a service; each command lists its codes: ovirt-vf-scheduler COMMAND --help"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ovirt-vf-scheduler", epilog=TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="VM-FEX / SR-IOV VF scheduling units for the oVirt engine's external scheduler.")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in (install, sample_config, sim_commands, explain, check, policy, capacity_report, status_report,
                    port_profiles, serve):
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
