"""What every operator command shares: exit codes, the common options, the config, one-line
errors, and a hard time limit (the SDK's SSO login has no timeout of its own)."""
import argparse
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import textwrap
import threading
from typing import Callable, List, Optional

from .. import config
from ..model import DataSourceError
from . import output

EXIT_OK = 0
EXIT_NO = 1          # the command worked and the answer is "no" (or, for check, a warning)
EXIT_USAGE = 2       # bad command line (argparse)
EXIT_FAILED = 3      # no answer: bad config, engine/UCS-M unreachable or refusing, unknown name
DEFAULT_TIMEOUT = 60.0

# Commands without --config/--json/--timeout (install-plugins, config, demo, sim): their --help ends so.
PLAIN_EXIT_CODES = """exit codes:
  0  success
  2  bad command line
  3  the command failed (the message says why)"""
FAILED_LINE = "  3  no answer: bad config, engine or UCS-M unreachable or refusing, unknown name"
USAGE_LINE = "  2  bad command line"


_AT_EXIT: List[Callable[[], None]] = []      # run() calls these when the command ends


class ToolError(Exception):
    """One line for the operator that names the bad input or the unreachable service."""


def wrap(text: str) -> str:
    """Descriptions keep their own line breaks (the epilog's table needs the raw formatter)."""
    return textwrap.fill(text, 88)


def epilog(*lines: str) -> str:
    return "exit codes:\n" + "\n".join(lines)


def add_plain_command(sub, name: str, body: Callable[[argparse.Namespace], int], summary: str,
                      **kwargs) -> argparse.ArgumentParser:
    """A subcommand run as it is (no watchdog, no common options), its --help ending with PLAIN_EXIT_CODES."""
    parser = sub.add_parser(name, help=summary, epilog=PLAIN_EXIT_CODES,
                            formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    parser.set_defaults(func=body)
    return parser


def add_command(sub, name: str, body: Callable[[argparse.Namespace], int], summary: str, description: str,
                exit_lines, failed_line: str = FAILED_LINE, timeout: float = DEFAULT_TIMEOUT,
                timeout_help: str = "give up after this long, login included",
                watchdog_factor: float = 1.0, label: str = "",
                usage_line: str = USAGE_LINE) -> argparse.ArgumentParser:
    """A subcommand with --config, --json and --timeout, whose --help ends with its exit codes (its own
    0/1 lines, then 2 and 3; kept as written, hence the raw formatter), run by `run` under a watchdog
    of timeout x watchdog_factor; its messages start with `label` (default: the name). usage_line ""
    leaves the "2 bad command line" line out (status: 2 is CRITICAL there)."""
    codes = epilog(*(tuple(exit_lines) + tuple(line for line in (usage_line, failed_line) if line)))
    parser = sub.add_parser(name, help=summary, description=wrap(description), epilog=codes,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common_arguments(parser, timeout, timeout_help)
    parser.set_defaults(func=lambda args: run(label or name, body, args, args.timeout * watchdog_factor))
    return parser


def positive_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a number of seconds > 0, got %r" % raw)
    return value


def _add_common_arguments(parser: argparse.ArgumentParser, timeout: float, timeout_help: str) -> None:
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $%s or %s)" % (config.CONF_ENV, config.DEFAULT_CONF))
    parser.add_argument("--json", action="store_true", help="print JSON with stable keys (for scripts)")
    parser.add_argument("--timeout", type=positive_seconds, default=timeout, metavar="SECONDS",
                        help=timeout_help + " (default: %(default)g)")


def read_settings(args: argparse.Namespace) -> config.Settings:
    """The same file and validation as the units (config.load; raises ConfigError), its warnings
    printed on stderr as the units log them on every run."""
    settings = config.load(args.config)
    for warning in settings.warnings:
        logging.getLogger("ovirt_vf_scheduler").warning("warning: %s", warning)
    return settings


def load_settings(args: argparse.Namespace) -> config.Settings:
    """read_settings, a bad config as a ToolError, then share_cache_dir."""
    try:
        settings = read_settings(args)
    except config.ConfigError as err:
        raise ToolError("configuration error: %s" % err) from None
    return share_cache_dir(settings)


def share_cache_dir(settings: config.Settings) -> config.Settings:
    """Run as root with no cache_dir yet, a command would create it root-owned and shut the units
    (running as the proxy's user) out; it keeps its state in a temporary directory instead.
    In an existing cache_dir, the store gives what root writes to the directory's owner."""
    if os.geteuid() != 0 or os.path.isdir(settings.cache_dir):
        return settings
    private = tempfile.mkdtemp(prefix="ovirt-vf-scheduler-")
    _AT_EXIT.append(lambda: shutil.rmtree(private, ignore_errors=True))
    return dataclasses.replace(settings, cache_dir=private)


def _finish() -> None:
    while _AT_EXIT:
        _AT_EXIT.pop()()


def _expire(command: str, seconds: float) -> None:
    sys.stdout.flush()
    sys.stderr.write("\novirt-vf-scheduler %s: no answer within %g s (engine or UCS-M hung or slow?): "
                     "run `ovirt-vf-scheduler check`, or raise --timeout\n" % (command, seconds))
    sys.stderr.flush()
    _finish()
    os._exit(EXIT_FAILED)   # a thread blocked in the SDK's C code cannot be interrupted otherwise


def start_watchdog(command: str, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, _expire, args=(command, seconds))
    timer.daemon = True
    timer.start()
    return timer


def run(command: str, body: Callable[[argparse.Namespace], int],
        args: argparse.Namespace, timeout: Optional[float] = None) -> int:
    """Run a command body under the time limit; known failures become one line on stderr."""
    logging.basicConfig(level=logging.WARNING, format="ovirt-vf-scheduler %s: %%(message)s" % command)
    watchdog = start_watchdog(command, timeout if timeout is not None else args.timeout)
    try:
        return body(args)
    except (ToolError, config.ConfigError, DataSourceError) as err:
        message = " ".join(str(err).split())
        if getattr(args, "json", False):         # a script reading stdout gets JSON, also for an error
            output.print_json({"error": message, "exit_code": EXIT_FAILED})
        sys.stdout.flush()
        print("ovirt-vf-scheduler %s: %s" % (command, message), file=sys.stderr)
        return EXIT_FAILED
    finally:
        watchdog.cancel()
        _finish()
