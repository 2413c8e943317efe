"""What every benchmark shares: a world served by the fake engine, units installed as the
proxy would have them, and a baseline process measured in the same run."""
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List

from ovirt_scheduler_proxy_plugins import config, install
from ovirt_scheduler_proxy_plugins.sim import proxy
from ovirt_scheduler_proxy_plugins.sim.engine import FakeEngine
from ovirt_scheduler_proxy_plugins.sim.inventory import Inventory
from ovirt_scheduler_proxy_plugins.sim.workspace import write_config
from ovirt_scheduler_proxy_plugins.ledger import Ledger


class Bed:
    """A fake engine, a plugin dir and a config, torn down together."""

    def __init__(self, engine: FakeEngine, state: str, conf: str, plugins_dir: str):
        self.engine, self.state, self.conf, self.plugins_dir = engine, state, conf, plugins_dir
        self.env = proxy.proxy_env({config.CONF_ENV: conf})

    @property
    def cache_dir(self) -> str:
        return os.path.join(self.state, "cache")

    def forget_capacity(self) -> None:
        """Cold capacity cache, warm token (what a decision after the TTL sees)."""
        for name in os.listdir(self.cache_dir) if os.path.isdir(self.cache_dir) else ():
            if not name.startswith("engine-token-"):
                os.unlink(os.path.join(self.cache_dir, name))

    def forget_claims(self) -> None:
        """No pending claims: the next run of a benchmark starts from the same world."""
        path = Ledger(self.cache_dir, 0).path
        if os.path.exists(path):
            os.unlink(path)

    def run(self, unit: str, hosts: List[str], vm_id: str) -> proxy.UnitRun:
        run = proxy.run_unit(self.plugins_dir, unit, hosts, vm_id, env=self.env)
        if not run.ok:
            raise RuntimeError("%s discarded: %s %s" % (unit, run.discarded_because, run.stderr))
        return run


@contextmanager
def bed(inventory: Inventory, extra_conf: str = "", engine_timeout: float = 20, deadline: float = 25) -> Iterator[Bed]:
    """`extra_conf` is appended to the [scheduler] section (and may open further sections)."""
    state = tempfile.mkdtemp(prefix="vf-bench-")
    try:
        with FakeEngine(inventory) as engine:
            plugins_dir = os.path.join(state, "plugins")
            os.mkdir(plugins_dir)
            install.install(plugins_dir)
            conf = write_config(state, engine.url, inventory.users["admin@internal"],
                                "deadline = %g\n" % deadline + extra_conf, engine_timeout=engine_timeout)
            yield Bed(engine, state, conf, plugins_dir)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def timed(fn: Callable[[], object], repeat: int) -> List[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def baseline(repeat: int) -> List[float]:
    """A bare `python3 -c "import ovirtsdk4"`, started like the proxy starts units."""
    env = proxy.proxy_env()
    return timed(lambda: subprocess.run(["python3", "-c", "import ovirtsdk4"], env=env, check=True,
                                        stdin=subprocess.DEVNULL), repeat)


def median(samples: List[float]) -> float:
    return statistics.median(samples)


def percentile(samples: List[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(pct / 100.0 * (len(ordered) - 1))))]


def table(rows: List[List[str]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    out = ["  ".join(str(c).rjust(w) for c, w in zip(row, widths)) for row in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def request_counts(engine: FakeEngine) -> Dict[str, int]:
    reqs = engine.requests
    return {"api": sum(r.method == "GET" and "/api" in r.path for r in reqs),
            "sso": sum(r.method == "POST" for r in reqs)}
