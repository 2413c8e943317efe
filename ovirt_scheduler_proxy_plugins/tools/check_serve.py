"""`check`'s "serve" line: does something answer the engine's `discover` where it will call, with our units?

The engine calls ExternalSchedulerServiceURL (default http://localhost:18781/) once, at its start;
if nothing answers there, or something answers without VfFilter and VfWeight, the external units
stay disabled until the next engine restart. This calls `discover` as the engine does and, when
the port is taken, names the process holding it (from /proc: every process as root, one's own
otherwise).
"""
import http.client
import os
import xmlrpc.client
from typing import Optional, Tuple
from xml.parsers.expat import ExpatError

from .. import config
from ..config import ServeSettings
from ..serve import client, peers
from .findings import FAIL, OK, WARN, Finding

ENGINE_USER = config.SERVICE_USER       # the engine runs as ovirt, like the units
ALLOW_HINT = "add %s to [serve] allowed_users (names or uids), or remove the key (default: %s, root and " \
    "serve's own user)" % (config.SERVICE_USER, config.SERVICE_USER)
ENABLE_HINT = ("on oVirt 4.5: systemctl enable --now ovirt-vf-scheduler (then restart ovirt-engine, which "
               "discovers units only at its start)")


def _listening_inodes(port: int) -> set:
    """Socket inodes listening on `port` (TCP, IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:   # 0A = LISTEN
                        inodes.add(fields[9])
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return inodes


def holder(port: int) -> Optional[Tuple[int, str]]:
    """(pid, command line) of a process listening on `port`, if /proc lets us see it."""
    wanted = {"socket:[%s]" % inode for inode in _listening_inodes(port)}
    if not wanted:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
            if not any(os.readlink("/proc/%s/fd/%s" % (pid, fd)) in wanted for fd in fds):
                continue
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            return int(pid), command
        except OSError:
            continue
    return None


def _is_a_scheduler_proxy(command: str) -> bool:
    """ovirt-vf-scheduler serve or the stock proxy, judged on the whole command line."""
    return "ovirt-vf-scheduler" in command or "oschedproxy" in command


def _shortened(command: str, width: int = 120) -> str:
    return command if len(command) <= width else command[:width - 3] + "..."


def finding(serve: ServeSettings, timeout: float) -> Finding:
    """`serve`: the config's [serve] (config.serve_settings): where the engine calls, and who may."""
    host, port = serve.listen
    url = "http://%s:%d/" % ("[%s]" % host if ":" in host else host, port)
    held = holder(port)
    shown = (held[0], _shortened(held[1])) if held else None
    by = " (port held by pid %d: %s)" % shown if held else ""
    try:
        offered = client.proxy(url, min(timeout, 10.0)).discover()
    except OSError as err:
        return Finding("serve", FAIL, "nothing answers the engine's discover at %s: %s%s"
                       % (url, getattr(err, "strerror", None) or err, by), ENABLE_HINT)
    except xmlrpc.client.ProtocolError as err:
        if err.errcode != 403:
            return _not_the_protocol(url, err, by, port)
        refused = engine_refused(serve)
        return Finding("serve", FAIL if refused else WARN, "%s refuses calls from this user (uid %d)%s; %s"
                       % (url, os.getuid(), by, refused or "the engine's user %s may call" % ENGINE_USER),
                       ALLOW_HINT if refused else "run check as root or as %s" % ENGINE_USER)
    except (xmlrpc.client.Error, http.client.HTTPException, ExpatError, ValueError) as err:
        return _not_the_protocol(url, err, by, port)
    if not isinstance(offered, dict) or not all(isinstance(offered.get(kind) or {}, dict)
                                                for kind in ("filters", "scores", "balance")):
        return Finding("serve", FAIL, "%s answers discover, but not with the proxy's struct of units: %s%s"
                       % (url, " ".join(repr(offered).split())[:120], by),
                       "stop what holds port %d, then %s" % (port, ENABLE_HINT))
    names = {kind: sorted(offered.get(kind) or {}) for kind in ("filters", "scores", "balance")}
    missing = [unit for unit, kind in (("VfFilter", "filters"), ("VfWeight", "scores")) if unit not in names[kind]]
    others = sorted(set(names["filters"] + names["scores"] + names["balance"]) - {"VfFilter", "VfWeight"})
    extra = "; also %s" % ", ".join(others) if others else ""
    if missing:
        return Finding("serve", FAIL, "%s answers discover without %s%s%s" % (url, " and ".join(missing), extra, by),
                       "an ovirt-scheduler-proxy without our plugin modules? ovirt-vf-scheduler install-plugins, or "
                       "systemctl disable --now ovirt-scheduler-proxy and " + ENABLE_HINT)
    where = " (pid %d: %s)" % shown if held else ""
    refused = engine_refused(serve)
    if refused:
        return Finding("serve", FAIL, "%s offers VfFilter and VfWeight%s, but %s" % (url, where, refused), ALLOW_HINT)
    status = OK if held is None or _is_a_scheduler_proxy(held[1]) else WARN
    return Finding("serve", status, "%s offers VfFilter and VfWeight to the engine%s%s; the engine's user %s may "
                   "call" % (url, extra, where, ENGINE_USER),
                   "the port is held by a process that is neither ovirt-vf-scheduler serve nor the stock proxy")


def engine_refused(serve: ServeSettings) -> Optional[str]:
    """Why serve refuses the engine's calls ([serve] allowed_users leaves its user out), or None."""
    users = serve.allowed_users
    if users is None or ENGINE_USER in users:
        return None
    uid = peers.uid_of(ENGINE_USER)
    if uid is not None and uid in peers.Callers.of(users).uids:
        return None
    return ("[serve] allowed_users (%s) leaves out %s, the engine's user: serve answers every engine call with "
            "HTTP 403 and the engine schedules without the external units" % (" ".join(users), ENGINE_USER))


def _not_the_protocol(url: str, err: Exception, by: str, port: int) -> Finding:
    return Finding("serve", FAIL, "%s answers, but not the scheduler proxy's protocol: %s%s"
                   % (url, " ".join(str(err).split())[:120], by),
                   "stop what holds port %d, then %s" % (port, ENABLE_HINT))
