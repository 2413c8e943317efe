"""Puts the plugin modules into the proxy's plugin directory (the proxy only looks there)."""
import filecmp
import os
import shutil
import tempfile
from typing import List, Tuple

from .config import DEFAULT_PLUGINS_DIR  # noqa: F401  (re-exported: install-plugins, check)

MARKER = "(ovirt-vf-scheduler plugin module)"   # in each shipped module's docstring


class InstallError(Exception):
    pass


def shipped_files() -> List[str]:
    """Paths of the plugin modules of THIS installed version."""
    import vf_filter
    import vf_weight
    return [os.path.abspath(module.__file__) for module in (vf_filter, vf_weight)]


def _is_ours(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return MARKER in handle.read(4096)
    except OSError:
        return False


def install(plugins_dir: str, force: bool = False) -> List[Tuple[str, str]]:
    """Copy the modules; idempotent. Returns (path, 'installed'|'updated'|'unchanged').

    A same-named file that is not ours is left alone unless `force`: it may be another
    project's unit, and overwriting it would silently remove it from the engine.
    """
    if not os.path.isdir(plugins_dir):
        raise InstallError("%s: no such directory (is ovirt-scheduler-proxy installed? "
                           "use --plugins-dir)" % plugins_dir)
    plan = []
    for source in shipped_files():
        target = os.path.join(plugins_dir, os.path.basename(source))
        if os.path.exists(target) and not _is_ours(target) and not force:
            raise InstallError("%s exists and is not an ovirt-vf-scheduler module; "
                               "use --force to overwrite it" % target)
        plan.append((source, target))
    actions = []
    for source, target in plan:
        if os.path.exists(target) and filecmp.cmp(source, target, shallow=False):
            actions.append((target, "unchanged"))
            continue
        state = "updated" if os.path.exists(target) else "installed"
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=plugins_dir)
        os.close(fd)
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        actions.append((target, state))
    return actions
