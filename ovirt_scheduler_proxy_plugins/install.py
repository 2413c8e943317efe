"""`ovirt-vf-scheduler install-plugins`: puts the plugin modules into the proxy's plugin directory
(the proxy only looks there)."""
import argparse
import errno
import filecmp
import os
import shutil
import sys
import tempfile
from typing import List, Tuple

from . import config
from .plugin_files import is_ours, shipped_files
from .tools import common, hints
from .tools.accounts import mode_and_owner, user_name

DEFAULT_PLUGINS_DIR = config.DEFAULT_PLUGINS_DIR       # install-plugins' and check's default


class InstallError(Exception):
    pass


def _cannot_write(plugins_dir: str, err: OSError = None) -> InstallError:
    """Names the directory and the permission missing (never a temporary file name or a bare errno)."""
    who = user_name(os.geteuid())
    if err is not None and err.errno == errno.EROFS:
        why = "it is on a read-only file system"
    elif err is None or err.errno in (errno.EACCES, errno.EPERM):
        why = "user %s has no write permission on the directory (%s)" % (who, mode_and_owner(plugins_dir))
    else:
        why = err.strerror or str(err)
    return InstallError("cannot write into %s: %s; run as root, or pass --plugins-dir" % (plugins_dir, why))


def install(plugins_dir: str, force: bool = False) -> List[Tuple[str, str]]:
    """Copy the modules; idempotent. Returns (path, 'installed'|'updated'|'unchanged').

    A same-named file that is not ours is left alone unless `force`: it may be another
    project's unit, and overwriting it would silently remove it from the engine.
    """
    if not os.path.isdir(plugins_dir):
        raise InstallError("%s: no such directory (the RPM, and ovirt-scheduler-proxy before oVirt 4.5, "
                           "create it; pass --plugins-dir for another)" % plugins_dir)
    if not os.access(plugins_dir, os.W_OK | os.X_OK):
        raise _cannot_write(plugins_dir)
    plan = []
    for source in shipped_files():
        target = os.path.join(plugins_dir, os.path.basename(source))
        if os.path.exists(target) and not is_ours(target) and not force:
            raise InstallError("%s exists and is not an ovirt-vf-scheduler module; "
                               "use --force to overwrite it" % target)
        plan.append((source, target))
    actions = []
    for source, target in plan:
        if os.path.exists(target) and filecmp.cmp(source, target, shallow=False):
            actions.append((target, "unchanged"))
            continue
        state = "updated" if os.path.exists(target) else "installed"
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=plugins_dir)
            os.close(fd)
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as err:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            raise _cannot_write(plugins_dir, err) from None
        actions.append((target, state))
    return actions


def main(args: argparse.Namespace) -> int:
    try:
        actions = install(args.plugins_dir, force=args.force)
    except InstallError as err:
        print("ovirt-vf-scheduler install-plugins: %s" % err, file=sys.stderr)
        return common.EXIT_FAILED
    except OSError as err:          # e.g. an existing module it may not read
        print("ovirt-vf-scheduler install-plugins: %s: %s" % (getattr(err, "filename", None) or args.plugins_dir,
                                                             err.strerror or err), file=sys.stderr)
        return common.EXIT_FAILED
    for path, state in actions:
        print("%-9s %s" % (state, path))
    if any(state != "unchanged" for _, state in actions):
        print("%s, so the engine discovers the units" % hints.RESTART)
    return 0


def register(sub) -> None:
    parser = common.add_plain_command(sub, "install-plugins", main,
                                      "copy vf_filter.py and vf_weight.py into the proxy's plugin dir")
    parser.add_argument("--plugins-dir", default=DEFAULT_PLUGINS_DIR,
                        help="default: %(default)s")
    parser.add_argument("--force", action="store_true",
                        help="overwrite same-named files that are not ovirt-vf-scheduler modules")
