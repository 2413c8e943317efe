"""serve is a sibling of the plugin processes, not stacked on them: nothing under serve/
imports install-plugins' module or the plugin modules the proxy loads."""
import ast
import os

import ovirt_scheduler_proxy_plugins

PACKAGE = os.path.dirname(ovirt_scheduler_proxy_plugins.__file__)
FORBIDDEN = {"install", "vf_filter", "vf_weight"}


def _imported_names(tree: ast.AST):
    """Every module name an import statement names, the names `from X import a, b` brings included
    (`from .. import install` imports the module install)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from alias.name.split(".")
        elif isinstance(node, ast.ImportFrom):
            yield from (node.module or "").split(".")
            for alias in node.names:
                yield alias.name


def test_serve_imports_neither_install_nor_the_plugin_modules():
    found = []
    for folder, _, files in os.walk(os.path.join(PACKAGE, "serve")):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as handle:
                    tree = ast.parse(handle.read(), path)
                found += ["%s: %s" % (os.path.relpath(path, PACKAGE), module)
                          for module in _imported_names(tree) if module in FORBIDDEN]
    assert found == []
