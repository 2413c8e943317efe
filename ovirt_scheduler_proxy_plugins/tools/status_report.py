"""`status`: what the units did lately, as a monitoring check (Nagios/Icinga/Zabbix exit codes).

It reads what the units recorded in cache_dir (status.py) and the pending-claims ledger, and
talks to no server, so it is cheap enough to run every minute. The first line is the summary
a monitoring system shows (with perfdata after '|'), then one line per unit, data source and
the claims. A filter that failed open or closed within --window is CRITICAL (VMs may have
landed on full hosts, or could not start); a failed weight (hosts not ranked by VFs) and a data
source that `min` mode papers over are WARN.
"""
import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

from .. import config, status
from ..ledger import Ledger
from . import common, output
from .accounts import user_name
from .findings import FAIL
from .findings import OK as CHECK_OK
from .findings import WARN as CHECK_WARN
from .findings import Finding

SUMMARY = ("recent decisions and failures of the units, as a monitoring check (exit 0 OK, 1 WARNING, "
           "2 CRITICAL, 3 UNKNOWN)")
DESCRIPTION = ("Read what VfFilter and VfWeight recorded in cache_dir (decisions, fail-opens, fail-closes, last "
               "failure and its reason), the data sources' state (UCS-M down while capacity_source = min decides "
               "with the engine's numbers) and the pending claims. No server is contacted. Run it as root or as "
               "the units' user (cache_dir is theirs), e.g. from NRPE: sudo -u ovirt ovirt-vf-scheduler status.")
EXIT_LINES = ("  0  OK",
              "  1  WARNING: a weight failed, a unit recovered from a failure within --window, a data source is "
              "down but papered over, claims pile up, no data yet",
              "  2  CRITICAL: a filter failed open or closed within --window and has not decided since, too many "
              "claims, a bad config")
FAILED_LINE = ("  3  UNKNOWN: a bad command line, or this user cannot read the config file or cache_dir "
               "(run it as root or as the units' user)")
EXIT_UNKNOWN = 3
OK, WARN, CRITICAL = "OK", "WARN", "CRITICAL"
HEADLINE = {OK: "OK", WARN: "WARNING", CRITICAL: "CRITICAL"}      # the words Nagios shows for 0, 1 and 2
RANK = {OK: 0, WARN: 1, CRITICAL: 2}
UNITS = ("VfFilter", "VfWeight")
WEIGHTS = frozenset({"VfWeight"})       # a failed weight only leaves the hosts unranked by VFs
_STYLE = {OK: "green", WARN: "yellow", CRITICAL: "red"}


@dataclass(frozen=True)
class Line:
    name: str           # a unit, a data source, "claims" or "config"
    status: str         # OK | WARN | CRITICAL
    message: str


def register(sub) -> None:
    parser = common.add_command(sub, "status", main, SUMMARY, DESCRIPTION, EXIT_LINES, FAILED_LINE, timeout=30,
                                timeout_help="give up after this long", usage_line="")

    def usage_error(message: str) -> None:
        """A typo in the NRPE command is UNKNOWN, not CRITICAL (argparse would exit 2)."""
        parser.print_usage(sys.stderr)
        print("VF-SCHEDULER UNKNOWN - bad command line: %s" % message, flush=True)
        sys.exit(EXIT_UNKNOWN)
    parser.error = usage_error
    parser.set_defaults(usage_error=usage_error)        # for what the top-level parser finds (cli.main)
    parser.add_argument("--window", type=common.positive_seconds, default=3600.0, metavar="SECONDS",
                        help="failures this recent count as current (default: %(default)g)")
    parser.add_argument("--claims-warn", type=int, default=100, metavar="N",
                        help="WARN from this many pending claims (default: %(default)d)")
    parser.add_argument("--claims-critical", type=int, default=1000, metavar="N",
                        help="CRITICAL from this many pending claims (default: %(default)d)")


def ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return "%d s ago" % seconds
    if seconds < 7200:
        return "%d min ago" % (seconds / 60)
    if seconds < 172800:
        return "%.1f h ago" % (seconds / 3600)
    return "%d days ago" % (seconds / 86400)


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def recovered(record: Optional[dict]) -> bool:
    """The unit's latest answer is a decision, after a failure: whatever caused that is gone."""
    decided, failed = (record or {}).get("last_decision"), (record or {}).get("last_failure")
    return decided is not None and failed is not None and decided > failed


def unit_line(name: str, record: Optional[dict], now: float, window: float) -> Line:
    if record is None:
        return Line(name, WARN, "no decision recorded yet: the engine has not asked this unit (is it in a "
                                "cluster's scheduling policy?), or the units cannot write cache_dir")
    counts = "%s, %d fail-open, %d fail-closed since %s" % (
        output.count(record.get("decisions") or 0, "decision"), record.get("fail_open") or 0,
        record.get("fail_closed") or 0, _when(record.get("since") or now))
    failed, decided = record.get("last_failure"), record.get("last_decision")
    if failed is not None and now - failed <= window:
        closed = record.get("last_failure_kind") == status.FAIL_CLOSED
        level = CRITICAL if closed or name not in WEIGHTS else WARN
        what = ("failed closed (kept no host)" if closed else
                "failed (hosts not ranked by VFs)" if name in WEIGHTS else "failed open (every host passed)")
        failure = "%s %s: %s" % (what, ago(now - failed), record.get("last_failure_reason") or "?")
        if recovered(record):
            return Line(name, WARN, "recovered: deciding again (last decision %s) after it %s; %s"
                        % (ago(now - decided), failure, counts))
        return Line(name, level, "%s; %s" % (failure, counts))
    if decided is None:
        return Line(name, WARN, "no decision yet; last failure %s: %s; %s" % (
            ago(now - failed) if failed else "never", record.get("last_failure_reason") or "?", counts))
    return Line(name, OK, "last decision %s; %s" % (ago(now - decided), counts))


def source_line(name: str, record: dict, now: float, capacity_source: str) -> Line:
    failed, answered = record.get("last_failure"), record.get("last_ok")
    if failed is not None and (answered is None or failed > answered):
        effect = {"min": "capacity_source = min decides with the engine's numbers alone",
                  "ucsm": "capacity_source = ucsm: the units fail as on_error says"}.get(capacity_source, "")
        good = "last good read %s" % ago(now - answered) if answered is not None else "no good read yet"
        return Line(name, WARN, "failing (%s, last failure %s): %s%s" % (
            good, ago(now - failed), record.get("last_failure_reason") or "?", "; " + effect if effect else ""))
    if failed is not None:
        return Line(name, OK, "answering (last read %s; last failure %s: %s)" % (
            ago(now - answered), ago(now - failed), record.get("last_failure_reason") or "?"))
    return Line(name, OK, "answering (last read %s)" % ago(now - (answered or now)))


def claims_line(count: int, vfs: int, oldest: float, warn: int, critical: int) -> Line:
    level = CRITICAL if count >= critical else WARN if count >= warn else OK
    text = "%d pending claim%s holding %d VFs" % (count, "" if count == 1 else "s", vfs) if count else \
        "no pending claims"
    if count:
        text += " (oldest %s)" % ago(oldest).replace(" ago", "")
    if level != OK:
        text += ": VMs the units placed that the engine does not show placed yet (WARN from %d, CRITICAL from %d)" % (
            warn, critical)
    return Line("claims", level, text)


def worst(lines: List[Line]) -> str:
    return max((line.status for line in lines), key=RANK.__getitem__, default=OK)


def report(settings: Optional[config.Settings], cache_dir: str, window: float, claims_warn: int = 100,
           claims_critical: int = 1000, now: Optional[float] = None) -> Dict[str, object]:
    """Every line with its status, from the files in cache_dir (OSError if it cannot be listed)."""
    now = time.time() if now is None else now
    found = status.read_all(cache_dir)
    names = list(UNITS) + sorted(set(found["units"]) - set(UNITS))
    lines = [unit_line(name, found["units"].get(name), now, window) for name in names]
    source = settings.capacity_source if settings else ""
    lines += [source_line(name, record, now, source) for name, record in sorted(found["sources"].items())]
    claims = {"count": 0, "vfs": 0, "oldest_s": 0.0}
    if settings is not None and settings.claims:
        pending = Ledger(cache_dir, settings.claim_ttl).live()
        if pending:
            claims = {"count": len(pending), "vfs": sum(c.demand for c in pending),
                      "oldest_s": round(time.monotonic() - min(c.at for c in pending), 1)}
        lines.append(claims_line(claims["count"], claims["vfs"], claims["oldest_s"], claims_warn, claims_critical))
    return {"lines": lines, "units": found["units"], "sources": found["sources"], "claims": claims,
            "cache_dir": cache_dir, "window_s": window}


def perfdata(data: Dict[str, object]) -> str:
    values = []
    for name, record in sorted(data["units"].items()):
        values += ["'%s_%s'=%dc" % (name, key, record.get(key) or 0) for key in ("decisions", "fail_open", "fail_closed")]
    values += ["'%s_failures'=%dc" % (name, record.get("failures") or 0) for name, record in sorted(data["sources"].items())]
    values.append("'claims'=%d" % data["claims"]["count"])
    return " ".join(values)


def render_text(data: Dict[str, object], colour: bool) -> str:
    lines: List[Line] = data["lines"]
    level = worst(lines)
    bad = [line for line in lines if line.status == level and level != OK]
    headline = "; ".join("%s %s" % (line.name, line.message.split(":")[0]) for line in bad) or \
        "the units decide normally"
    out = ["VF-SCHEDULER %s - %s | %s" % (HEADLINE[level], headline, perfdata(data))]
    width = max(len(line.name) for line in lines)
    out += ["%s  %s  %s" % (output.paint(line.status.ljust(8), _STYLE[line.status], colour), line.name.ljust(width),
                            line.message) for line in lines]
    return "\n".join(out)


def check_findings(settings: config.Settings) -> List[Finding]:
    """The same lines for `check`: a filter that failed within the last hour FAILs; no data yet is fine
    there (a new install has decided nothing)."""
    try:
        data = report(settings, settings.cache_dir, 3600.0)
    except OSError as err:
        return [Finding("unit status", CHECK_WARN, "cannot read cache_dir %s: %s" % (settings.cache_dir, err),
                        "run check as root or as the units' user")]
    levels = {OK: CHECK_OK, WARN: CHECK_WARN, CRITICAL: FAIL}
    hints = {"claims": "VMs placed by the units that the engine does not show placed: see `explain`; claims "
                       "expire after [scheduler] claim_ttl",
             "ucsm": "see the ucsm login line; the units' log_file %s has each failure" % settings.log_file}
    out = []
    for line in data["lines"]:
        if line.name in UNITS and line.name not in data["units"]:
            out.append(Finding("status " + line.name, CHECK_OK, "no decision recorded yet"))
            continue
        if recovered(data["units"].get(line.name)):     # check asks "does it work now?": it does
            out.append(Finding("status " + line.name, CHECK_OK, line.message))
            continue
        out.append(Finding("status " + line.name, levels[line.status], line.message, hints.get(
            line.name, "fix the cause above (log_file %s has every decision); the failure counts as recent for "
            "an hour: ovirt-vf-scheduler status --window shows less" % settings.log_file)))
    return out


def _unknown(message: str, as_json: bool) -> int:
    """UNKNOWN: status cannot tell. On stdout, where a monitoring system reads the plugin's line."""
    if as_json:
        output.print_json({"status": "UNKNOWN", "exit_code": EXIT_UNKNOWN, "error": message})
    else:
        print("VF-SCHEDULER UNKNOWN - %s" % message)
    return EXIT_UNKNOWN


def _run_as_hint() -> str:
    return "run it as root or as the units' user (sudo -u %s ovirt-vf-scheduler status)" % config.SERVICE_USER


def _unreadable(path: str) -> Optional[PermissionError]:
    """This user may not read `path` (the units, as another user, may well)."""
    try:
        open(path, "rb").close()
    except PermissionError as err:
        return err
    except OSError:
        pass
    return None


def main(args: argparse.Namespace) -> int:
    if args.claims_warn > args.claims_critical:
        return _unknown("bad command line: --claims-warn %d is above --claims-critical %d"
                        % (args.claims_warn, args.claims_critical), args.json)
    user = user_name(os.geteuid())
    conf = args.config or config.conf_path()
    denied = _unreadable(conf)
    if denied is not None:
        return _unknown("cannot read the config file %s as user %s: %s; %s"
                        % (conf, user, denied.strerror, _run_as_hint()), args.json)
    lines = []
    try:
        settings: Optional[config.Settings] = common.read_settings(args)
        cache_dir = settings.cache_dir
    except config.ConfigError as err:
        settings, cache_dir = None, config.state_dir(args.config) or config.Settings.cache_dir
        lines.append(Line("config", CRITICAL, "%s (the units fail the same way)" % err))
    try:
        data = report(settings, cache_dir, args.window, args.claims_warn, args.claims_critical)
    except OSError as err:
        return _unknown("cannot read cache_dir %s as user %s: %s; %s"
                        % (cache_dir, user, err.strerror or err, _run_as_hint()), args.json)
    data["lines"] = lines + data["lines"]
    level = worst(data["lines"])
    if args.json:
        output.print_json(dict(data, lines=[asdict(line) for line in data["lines"]], status=level,
                               exit_code=RANK[level]))
    else:
        print(render_text(data, output.colour_enabled()))
    return RANK[level]
