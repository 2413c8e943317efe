"""The plugin modules this package ships into the proxy's plugin directory: which they are,
the marker that tells ours from another project's file of the same name, and where this
installed version keeps them. Used by install-plugins, check and serve."""
import importlib
import os
from typing import List

MARKER = "(ovirt-vf-scheduler plugin module)"   # in each shipped module's docstring
MODULES = ("vf_filter", "vf_weight")            # the shipped modules, by import name


def shipped_files() -> List[str]:
    """Paths of the plugin modules of THIS installed version."""
    return [os.path.abspath(importlib.import_module(name).__file__) for name in MODULES]


def is_ours(path: str) -> bool:
    """The file carries our MARKER near its top (False when it cannot be read)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return MARKER in handle.read(4096)
    except OSError:
        return False


def ours_in(plugins_dir: str) -> List[str]:
    """The shipped modules' names whose file in `plugins_dir` is ours."""
    return [name for name in MODULES if is_ours(os.path.join(plugins_dir, name + ".py"))]
