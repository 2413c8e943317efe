"""Runs plugin units exactly as ovirt-scheduler-proxy 0.1.9 does (docs/proxy-contract.md section 3).

A fresh `python3 -c "import MOD; MOD.CLASS().METHOD(hosts, vm, args)"` per unit, arguments
inlined with repr(), cwd = the plugin directory, `python3` taken from PATH, stdin/stdout/
stderr as pipes, killed after the 30 s budget. The answer counts only if the exit code is 0,
stderr is empty and stdout is one Python literal (ast.literal_eval), as in the proxy.
Shared by the tests, the demo and the benchmarks.
"""
import ast
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ..config import PROXY_BUDGET

UNITS = {"VfFilter": ("vf_filter", "do_filter"), "VfWeight": ("vf_weight", "do_score")}


@dataclass
class UnitRun:
    unit: str
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    result: Any = None          # the parsed literal, or None when the proxy would discard the run
    discarded_because: Optional[str] = None
    reported: Optional[str] = None   # serve: the reason the engine sees in plugin_errors

    @property
    def ok(self) -> bool:
        return self.discarded_because is None


def proxy_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The proxy's environment, with this interpreter's directory first on PATH (the proxy
    runs whatever `python3` PATH gives it)."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def run_unit(plugins_dir: str, unit: str, hosts: List[str], vm_id: str,
             args: Optional[Dict[str, str]] = None, env: Optional[Dict[str, str]] = None,
             budget: float = PROXY_BUDGET) -> UnitRun:
    module, method = UNITS[unit]
    code = "import %s; %s.%s().%s(%r, %r, %r)" % (module, module, unit, method,
                                                 list(hosts), vm_id, dict(args or {}))
    started = time.monotonic()
    proc = subprocess.Popen(["python3", "-c", code], cwd=plugins_dir, env=env or proxy_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        proc.kill()                       # SIGKILL, like the proxy
        out, err = proc.communicate()
    run = UnitRun(unit, proc.returncode, out.decode("utf-8", "replace"),
                  err.decode("utf-8", "replace"), time.monotonic() - started)
    if run.returncode != 0:
        run.discarded_because = "exit code %d" % run.returncode
    elif run.stderr:
        run.discarded_because = "stderr not empty"
    else:
        try:
            run.result = ast.literal_eval(run.stdout)
        except (ValueError, SyntaxError) as exc:
            run.discarded_because = "stdout is not one literal: %s" % exc
    return run
