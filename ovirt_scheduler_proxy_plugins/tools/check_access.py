"""`check` as the units' user: can user ovirt (or --user NAME) read the config, the password and CA
files, and write cache_dir and log_file?

Root can read everything, so a check run as root proves nothing about the units, which run as
the proxy's user. Run as root, the probe therefore runs in a forked child that drops to that
user's uid and groups; the child only calls os functions (it may not be able to import anything
more: the interpreter's own files need not be readable by that user). Every problem comes with
the exact command that fixes it.
"""
import os
import pwd
import select
import signal
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .. import config
from .accounts import group_name, mode_and_owner
from .accounts import user_name as name_of
from .findings import FAIL, OK, WARN, Finding

READ, WRITE = "read", "write"
_PROBE_SECONDS = 10.0


@dataclass(frozen=True)
class Need:
    path: str
    what: str           # "the config file", "[engine] password_file", "[scheduler] cache_dir", ...
    mode: str           # READ a file, WRITE a directory (cache_dir) or a file (log_file)
    is_dir: bool = False


@dataclass(frozen=True)
class Problem:
    need: Need
    blocker: str        # the path that stops the user
    reason: str         # "search" (cannot enter), "read", "write", "create" (missing, parent not writable)


def needs(settings: config.Settings) -> List[Need]:
    """What the units open, read or create as their user."""
    found = [Need(settings.path, "the config file", READ)]
    for section, server in (("engine", settings.engine), ("ucsm", settings.ucsm)):
        if server is None:
            continue
        if server.password_file:
            found.append(Need(server.password_file, "[%s] password_file" % section, READ))
        if server.ca_file:
            found.append(Need(server.ca_file, "[%s] ca_file" % section, READ))
    found.append(Need(settings.cache_dir, "[scheduler] cache_dir", WRITE, is_dir=True))
    found.append(Need(settings.log_file, "[scheduler] log_file", WRITE))
    return found


def _search_blocker(path: str) -> Optional[str]:
    """The first directory above `path` the current user cannot enter."""
    parts = os.path.abspath(path).split(os.sep)[1:-1]
    current = os.sep
    for part in parts:
        current = os.path.join(current, part)
        if os.path.isdir(current) and not os.access(current, os.X_OK):
            return current
        if not os.path.exists(current):
            return None
    return None


def _problem(need: Need) -> Optional[Tuple[str, str]]:
    """(blocker, reason) for the current user, or None. Only os calls and open(): see the docstring."""
    blocked = _search_blocker(need.path)
    if blocked:
        return blocked, "search"
    if need.mode == READ:
        try:
            with open(need.path, "rb") as handle:
                handle.read(1)
            return None
        except FileNotFoundError:
            return None               # the config line names a missing file already
        except OSError:
            return need.path, "read"
    if os.path.exists(need.path):
        flags = os.W_OK | (os.X_OK if need.is_dir else 0)
        return None if os.access(need.path, flags) else (need.path, "write")
    existing = os.path.dirname(os.path.abspath(need.path))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    return None if os.access(existing, os.W_OK | os.X_OK) else (existing, "create")


def _probe_here(wanted: Sequence[Need]) -> List[Problem]:
    found = []
    for need in wanted:
        problem = _problem(need)
        if problem:
            found.append(Problem(need, *problem))
    return found


def _probe_as(user: pwd.struct_passwd, wanted: Sequence[Need]) -> List[Problem]:
    """_probe_here in a child running as `user`: results come back over a pipe as index, blocker, reason."""
    groups = os.getgrouplist(user.pw_name, user.pw_gid)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reader)
            os.setgroups(groups)
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            lines = []
            for index, need in enumerate(wanted):
                problem = _problem(need)
                if problem:
                    lines.append("%d\0%s\0%s" % (index, problem[0], problem[1]))
            os.write(writer, ("\n".join(lines) + "\n.").encode("utf-8", "surrogateescape"))
        finally:
            os._exit(0)
    os.close(writer)
    data = b""
    try:
        while not data.endswith(b"."):
            ready, _, _ = select.select([reader], [], [], _PROBE_SECONDS)
            chunk = os.read(reader, 65536) if ready else b""
            if not chunk:
                break
            data += chunk
    finally:
        os.close(reader)
        if not data.endswith(b"."):       # hung (a dead NFS mount?) or gone: never wait for it
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os.waitpid(pid, 0)
    if not data.endswith(b"."):
        raise OSError("the probe as user %s gave no answer" % user.pw_name)
    found = []
    for line in filter(None, data.decode("utf-8", "surrogateescape")[:-1].splitlines()):
        index, blocker, reason = line.split("\0")
        found.append(Problem(wanted[int(index)], blocker, reason))
    return found


def fix(problem: Problem, user: str, group: str) -> str:
    """The command that gives `user` (primary group `group`) exactly the access the units need, as
    the README sets it up."""
    need, path = problem.need, problem.blocker
    if problem.reason == "search":
        return "chgrp %s %s && chmod g+x %s" % (group, path, path)
    if problem.reason == "create":
        target = need.path if need.is_dir else os.path.dirname(need.path)
        mode = "700" if need.is_dir else "750"
        return "install -d -o %s -g %s -m %s %s" % (user, group, mode, target)
    if need.mode == WRITE:
        return "chown %s:%s %s" % (user, group, path)
    if need.what == "the config file":
        return "chown root:%s %s && chmod 640 %s" % (group, path, path)
    if need.what.endswith("password_file"):
        return "chown %s %s && chmod 600 %s" % (user, path, path)
    return "chmod 644 %s" % path          # a CA certificate is public


def _words(problem: Problem, user: str) -> str:
    need = problem.need
    if problem.reason == "search":
        return "%s %s: user %s cannot enter %s (%s)" % (need.what, need.path, user, problem.blocker,
                                                         mode_and_owner(problem.blocker))
    if problem.reason == "create":
        return "%s %s does not exist and user %s cannot create it in %s (%s)" % (
            need.what, need.path, user, problem.blocker, mode_and_owner(problem.blocker))
    verb = "read" if need.mode == READ else "write"
    return "%s %s: user %s cannot %s it (%s)" % (need.what, need.path, user, verb, mode_and_owner(need.path))


def _check_name(need: Need) -> str:
    return "state dirs" if need.mode == WRITE else "files as user"


def findings(settings: config.Settings, user_name: str) -> List[Finding]:
    """One FAIL per file the user cannot use (cache_dir: a WARN, the units work without their caches),
    or one OK line per kind; run as another non-root user, the check says it could not switch."""
    try:
        user = pwd.getpwnam(user_name)
    except KeyError:
        return [Finding("files as user", FAIL, "user %s does not exist, and the units run as that user"
                        % user_name, "the engine's package creates %s; or pass --user with the user the "
                        "proxy runs as" % config.SERVICE_USER)]
    group = group_name(user.pw_gid)
    wanted = needs(settings)
    note = ""
    if os.geteuid() == user.pw_uid:
        problems = _probe_here(wanted)
    elif os.geteuid() == 0:
        try:
            problems = _probe_as(user, wanted)
        except OSError as err:
            return [Finding("files as user", WARN, "could not check as user %s: %s" % (user_name, err),
                            "run ovirt-vf-scheduler check as user %s" % user_name)]
    else:
        problems = _probe_here(wanted)
        note = " (checked as %s: run check as root to check as %s)" % (name_of(os.geteuid()), user_name)
    out = []
    for kind in ("files as user", "state dirs"):
        mine = [p for p in problems if _check_name(p.need) == kind]
        for problem in mine:
            level = WARN if problem.need.what == "[scheduler] cache_dir" or note else FAIL
            out.append(Finding(kind, level, _words(problem, user_name) + note, fix(problem, user_name, group)))
        if not mine:
            listed = [n for n in wanted if _check_name(n) == kind]
            verb = "read" if kind == "files as user" else "write"
            out.append(Finding(kind, WARN if note else OK, "user %s can %s %s%s" % (
                user_name, verb, ", ".join("%s %s" % (n.what.replace("the ", ""), n.path) for n in listed), note),
                "run ovirt-vf-scheduler check as root" if note else ""))
    return out
