"""Other plugins in the plugin directory, run the way ovirt-scheduler-proxy runs them.

So that `serve` can replace the proxy entirely (docs/proxy-contract.md sections 2-3): at start, one
loader subprocess per `*.py` (all within one 30 s budget) finds every class with do_filter,
do_score or do_balance (unit name = class name, description = the method's docstring,
properties_validation = the class attribute); per request, a fresh `python3 -c "import MOD;
MOD.CLASS().METHOD(...)"` in the plugin dir, arguments inlined with repr(), one stdout literal,
any stderr output or a non-zero exit = failed, killed after the 30 s budget. Unlike the proxy,
the whole process group is killed (a plugin's children die too) and every failure comes back
with a one-line reason, which serve reports to the engine in plugin_errors.
"""
import ast
import logging
import os
import selectors
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Set, Tuple

from ..config import PROXY_BUDGET

LOG = logging.getLogger("ovirt_vf_scheduler.serve")
BUDGET = PROXY_BUDGET           # the proxy's budget, for loading and for each call
KINDS = {"filters": "do_filter", "scores": "do_score", "balance": "do_balance"}
_MAX_OUTPUT = 4 * 1024 * 1024   # a literal larger than this is no unit's answer
_POLL = 0.05                    # seconds between two looks whether the plugin's process has ended
_RUNNING: Set[int] = set()      # process groups of the runs and loaders going on (killed at exit)
_RUNNING_LOCK = threading.Lock()

# What the proxy's loader does: import the module in the plugin dir, register every class
# (imported ones included) that has one of the methods. The last stdout line is our answer,
# so a module printing at import time cannot garble it.
_LOADER = """
import inspect
module = __import__(%r)
found = {}
for name, cls in inspect.getmembers(module, inspect.isclass):
    for kind, method in %r.items():
        if hasattr(cls, method):
            found.setdefault(kind, {})[name] = (getattr(cls, method).__doc__ or "",
                                                str(getattr(cls, "properties_validation", "") or ""))
print()
print(repr(found))
"""


@dataclass(frozen=True)
class ForeignUnit:
    name: str                   # class name: what the engine sends back
    kind: str                   # filters / scores / balance
    module: str
    description: str
    properties_validation: str


@dataclass(frozen=True)
class ForeignResult:
    result: object = None       # the parsed literal, or None when the run failed
    error: Optional[str] = None


PYTHON = "python3"              # as the proxy: the first python3 on PATH


def _run(code: str, cwd: str, budget: float) -> Tuple[int, bytes, bytes, str]:
    """(exit code, stdout, stderr, why it was killed or "") of `python3 -c code` in `cwd`: killed
    with its process group past `budget` or past _MAX_OUTPUT bytes of output (read as it comes,
    so a chatty plugin costs at most that much memory). The run ends when the plugin's process
    exits (a child it left behind may hold its pipes open): then whatever is left of its process
    group is killed too, so no run leaves a process behind."""
    proc = subprocess.Popen([PYTHON, "-c", code], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + max(0.1, budget)
    got = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    killed = ""
    with _RUNNING_LOCK:
        _RUNNING.add(proc.pid)
    try:
        with selectors.DefaultSelector() as selector:
            for pipe in got:
                selector.register(pipe, selectors.EVENT_READ)
            while selector.get_map() and not killed:
                exited = _exited(proc.pid)
                for key, _ in selector.select(0 if exited else min(_POLL, max(0.0, deadline - time.monotonic()))):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    got[key.fileobj] += chunk
                if sum(len(data) for data in got.values()) > _MAX_OUTPUT:
                    killed = "more than %d MB of output" % (_MAX_OUTPUT // 2 ** 20)
                elif exited and not selector.select(0):
                    break                           # all it wrote is read; a child may hold the pipes
                elif time.monotonic() >= deadline:
                    killed = "no answer within %g s" % round(budget, 1)
        while not killed and not _exited(proc.pid):     # output closed, yet still running
            if time.monotonic() >= deadline:
                killed = "no answer within %g s" % round(budget, 1)
            time.sleep(_POLL)
    finally:
        # The plugin is a zombie (not reaped yet, so its group id cannot be reused) or still
        # running: its whole process group goes, whatever happened.
        with _RUNNING_LOCK:
            _kill_group(proc.pid)
            _RUNNING.discard(proc.pid)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return proc.returncode, bytes(got[proc.stdout]), bytes(got[proc.stderr]), killed


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def kill_all() -> None:
    """Kill every plugin run and loader still going (serve is exiting: nobody waits for them)."""
    with _RUNNING_LOCK:
        for pid in _RUNNING:
            _kill_group(pid)


def _exited(pid: int) -> bool:
    """The process has ended, left unreaped (a zombie keeps its process group id reserved)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def module_names(plugins_dir: str, ours: List[str]) -> List[str]:
    """The candidate modules: every top-level *.py but ours (served in-process)."""
    try:
        names = sorted(os.listdir(plugins_dir))
    except OSError as err:
        LOG.warning("plugin directory %s cannot be listed (%s): only VfFilter and VfWeight are offered",
                    plugins_dir, err.strerror or err)
        return []
    return [name[:-3] for name in names
            if name.endswith(".py") and name[:-3].isidentifier() and name[:-3] not in ours
            and os.path.isfile(os.path.join(plugins_dir, name))]


def discover(plugins_dir: str, ours: List[str], reserved: List[str], budget: float = BUDGET,
             progress: Optional[Callable[[Dict[Tuple[str, str], ForeignUnit]], None]] = None
             ) -> Dict[Tuple[str, str], ForeignUnit]:
    """Units of the other modules, keyed by (kind, name); loaders run in parallel, `budget` in all
    (a module still importing then is killed and logged). `progress` gets the units known so far
    each time a module is done, so a module hanging at import does not hold back the others.

    `ours`: module names not to load; `reserved`: unit names served in-process (a foreign class
    of that name is skipped with a warning, where the proxy would let the last loaded win)."""
    modules = module_names(plugins_dir, ours)
    deadline = time.monotonic() + budget
    loaded: Dict[str, Dict[Tuple[str, str], ForeignUnit]] = {}

    def known() -> Dict[Tuple[str, str], ForeignUnit]:
        units: Dict[Tuple[str, str], ForeignUnit] = {}
        for module in modules:                 # in name order, whichever finished first
            units.update(loaded.get(module, {}))
        return units

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="plugin-loader") as pool:
        loads = {pool.submit(_load, plugins_dir, module, deadline, reserved): module for module in modules}
        for load in as_completed(loads):
            loaded[loads[load]] = load.result()
            if progress is not None:
                progress(known())
    return known()


def _load(plugins_dir: str, module: str, deadline: float, reserved: List[str]) -> Dict[Tuple[str, str], ForeignUnit]:
    """One module's units, as the proxy's loader finds them; why not, logged."""
    try:
        code, out, err, killed = _run(_LOADER % (module, KINDS), plugins_dir, deadline - time.monotonic())
    except OSError as error:
        LOG.warning("plugin module %s: not loaded: cannot start python3: %s", module, error.strerror or error)
        return {}
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        found = ast.literal_eval(lines[-1]) if code == 0 and lines else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        found = None
    if not isinstance(found, dict):
        LOG.warning("plugin module %s: not loaded: %s", module,
                    "its import was killed: %s" % killed if killed else _first_line(err) or "exit code %s" % code)
        return {}
    try:
        listed = [(kind, str(name), str(description), str(regex)) for kind, entries in found.items()
                  if kind in KINDS for name, (description, regex) in entries.items()]
    except (AttributeError, TypeError, ValueError):     # the module printed over the loader's answer
        LOG.warning("plugin module %s: not loaded: its loader's answer is garbled", module)
        return {}
    units = {}
    for kind, name, description, regex in listed:
        if name in reserved:
            LOG.warning("plugin module %s: its %s unit %s is skipped: serve runs its own %s", module, kind, name, name)
            continue
        units[(kind, name)] = ForeignUnit(name, kind, module, description, regex)
        LOG.info("plugin module %s: %s unit %s", module, kind, name)
    return units


def _first_line(raw: bytes) -> str:
    """The last non-blank line of a plugin's output (where Python puts the error of a
    traceback), cut to 200 characters."""
    lines = [line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def run(plugins_dir: str, unit: ForeignUnit, args: tuple, budget: float = BUDGET) -> ForeignResult:
    """One call of a foreign unit, exactly as the proxy makes it."""
    method = KINDS[unit.kind]
    code = "import %s; %s.%s().%s(%s)" % (unit.module, unit.module, unit.name, method,
                                           ", ".join(repr(arg) for arg in args))
    try:
        code_, out, err, killed = _run(code, plugins_dir, budget)
    except OSError as error:
        return ForeignResult(error="cannot start python3: %s" % (error.strerror or error))
    if killed:
        return ForeignResult(error="%s (killed)" % killed)
    if code_ != 0:
        return ForeignResult(error="exit code %d: %s" % (code_, _first_line(err) or "no message"))
    if err:
        return ForeignResult(error="wrote to stderr: %s" % (_first_line(err) or "(blank lines)"))
    try:
        return ForeignResult(result=ast.literal_eval(out.decode("utf-8", "replace")))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return ForeignResult(error="stdout is not one Python literal: %s" % (_first_line(out[:200]) or "(blank)"))
