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


def _calls_and_imports(module: str):
    path = os.path.join(PACKAGE, module + ".py")
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    methods = {node.func.attr for node in ast.walk(tree)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    return set(_imported_names(tree)), methods


def test_reading_capacity_writes_nothing():
    """One trip per read: capacity and ucsm_facts only read and gather (learned.Learned); the
    caches and the source status are written once, by the snapshot, after every read."""
    for module in ("capacity", "ucsm_facts"):
        imported, called = _calls_and_imports(module)
        assert "status" not in imported, module
        assert not called & {"merge", "record_source", "write", "write_json", "replace_json"}, module


def test_the_claim_rule_does_no_io():
    """claims.py and narrowing.py are the rule alone: no file, lock, clock or engine in them."""
    for module in ("claims", "narrowing", "decide"):
        imported, _ = _calls_and_imports(module)
        assert not imported & {"os", "time", "store", "ledger", "engine", "snapshot", "units", "fcntl"}, module
