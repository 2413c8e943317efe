"""`check`: is everything in place for the units to work? One line per item, OK/WARN/FAIL with a fix.

Lines are printed as they are found (a hung engine shows where it hangs), each engine step is
bounded by --timeout, and the exit code is the worst status. Items that depend on a failed
one (the engine checks after a failed login) are left out rather than failed again.
"""
import argparse
import sys
from typing import Callable, Iterator, List, Optional

from .. import config
from ..config import Settings
from . import check_access, check_engine, check_local, check_serve, check_ucsm, common, lookup, output, status_report
from .findings import FAIL, OK, WARN, Finding, exit_code, worst

SUMMARY = "check config, engine login, TLS, rights, engine options, plugin files and capacity sources"
DESCRIPTION = ("Validate the config, log in to the engine (and each UCS-M), verify TLS, the account's rights, "
               "CustomDeviceProperties and ExternalSchedulerEnabled (where readable), the units the engine "
               "discovered, the plugin files in the proxy's directory, that discover answers with both units "
               "where the engine calls it (serve or the stock proxy), and a capacity source for every host. "
               "One line per check: OK, WARN or FAIL with a fix.")
EXIT_LINES = ("  0  every check is OK",
              "  1  the worst finding is a WARN (works, but degraded or unverifiable)")
FAILED_LINE = "  3  at least one check FAILed (the units cannot work as configured)"
STEP_TIMEOUT = 20.0
_STYLE = {OK: "green", WARN: "yellow", FAIL: "red"}
_NAME_WIDTH = 24


def register(sub) -> None:
    parser = common.add_command(sub, "check", main, SUMMARY, DESCRIPTION, EXIT_LINES, FAILED_LINE, STEP_TIMEOUT,
                                "give up on one step (a login, a query) after this long", watchdog_factor=6)
    parser.add_argument("--plugins-dir", metavar="DIR",
                        help="the plugin directory serve (or the stock proxy) runs the units from (default: "
                             "[serve] plugins_dir, else %s)" % config.DEFAULT_PLUGINS_DIR)
    parser.add_argument("--python", default="python3", metavar="PATH",
                        help="the interpreter the proxy runs the units with (default: %(default)s)")
    parser.add_argument("--user", default=config.SERVICE_USER, metavar="NAME",
                        help="the user the units run as; run as root, check reads and writes their files as "
                             "this user (default: %(default)s)")


def local_findings(args: argparse.Namespace, settings: Optional[Settings], plugins_dir: str) -> Iterator[Finding]:
    if settings is not None:
        engine = settings.engine
        yield check_local.tls("engine", [engine.url], engine.ca_file, engine.insecure,
                              check_local.engine_ca_hint(engine.url))
        if settings.ucsm is not None:
            ucsm = settings.ucsm
            yield check_local.tls("ucsm", ucsm.urls, ucsm.ca_file, ucsm.insecure, check_local.UCSM_CA_HINT)
        yield from check_access.findings(settings, args.user)
        yield from status_report.check_findings(settings)
    yield from check_local.plugin_files(plugins_dir)
    found = check_local.proxy_python(args.python, plugins_dir, args.timeout, args.user)
    if found is not None:
        yield found


def engine_findings(settings: Settings, timeout: float, progress: Callable[[str], None]) -> Iterator[Finding]:
    progress("logging in to the engine")
    engine, found = check_engine.login(settings, timeout)
    yield found
    if engine is None:
        return
    try:
        progress("reading vNIC profiles, VMs and hosts as the units do")
        reads, found = check_engine.rights(engine, settings, timeout)
        yield found
        if reads is None:
            return
        yield check_engine.vf_property(settings, reads)
        yield check_engine.usage_events(settings, timeout)
        progress("reading clusters, engine options and scheduling policies")
        clusters = lookup.clusters(engine)
        yield check_engine.device_properties(engine, settings, reads, lookup.cluster_versions(clusters))
        yield from check_engine.scheduler(engine, clusters)
        yield check_engine.engine_capacity_finding(settings, reads.hosts)
        if settings.ucsm is not None:
            progress("logging in to UCS-M and mapping the hosts")
            yield from check_ucsm.ucsm_findings(settings, reads.hosts, reads.profiles, timeout)
    except common.ToolError as err:
        yield Finding("engine", FAIL, str(err), check_engine.ENGINE_HINT)
    finally:
        engine.close()


def format_line(found: Finding, colour: bool) -> str:
    status = output.paint(found.status.ljust(4), _STYLE[found.status], colour)
    line = "%s  %s  %s" % (status, found.check.ljust(_NAME_WIDTH), found.message)
    if found.hint and found.status != OK:
        line += "\n%s  fix: %s" % (" " * (6 + _NAME_WIDTH), found.hint)
    return line


def summary(findings: List[Finding]) -> str:
    counts = ", ".join("%d %s" % (sum(1 for f in findings if f.status == s), s) for s in (FAIL, WARN, OK))
    return "check: %s (worst: %s)" % (counts, worst(findings))


class _Printer:
    """Prints each finding as it comes (or keeps them for --json); a status line on a terminal."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.colour = output.colour_enabled()
        self.status_line = sys.stderr.isatty()
        self.findings: List[Finding] = []

    def progress(self, message: str) -> None:
        if self.status_line:
            sys.stderr.write("\r\x1b[Kchecking: %s..." % message)
            sys.stderr.flush()

    def add(self, found: Finding) -> None:
        self.findings.append(found)
        if self.status_line:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
        if not self.as_json:
            print(format_line(found, self.colour), flush=True)


def main(args: argparse.Namespace) -> int:
    printer = _Printer(args.json)
    settings, found = check_local.config_file(args.config)
    for item in found:
        printer.add(item)
    working = common.share_cache_dir(settings) if settings is not None else None
    serve = config.serve_settings(args.config)          # even when another section is wrong
    for item in local_findings(args, settings, args.plugins_dir or serve.plugins_dir):   # the configured dirs
        printer.add(item)
    printer.progress("calling discover where the engine will")
    printer.add(check_serve.finding(serve, args.timeout))
    if working is not None:
        for item in engine_findings(working, args.timeout, printer.progress):
            printer.add(item)
    findings = printer.findings
    if args.json:
        output.print_json({"checks": [f.as_dict() for f in findings], "worst": worst(findings),
                           "exit_code": exit_code(findings)})
    else:
        print(output.paint(summary(findings), "bold", printer.colour))
    return exit_code(findings)
