"""A world served by the fake engine, with the units installed as the proxy would have them and a
config pointing at both, torn down together: what the benchmarks and the burst simulation
(burst_world.py) run the units against."""
import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator, List

from .. import config, install
from ..ledger import Ledger
from . import proxy
from .engine import FakeEngine
from .inventory import Inventory
from .workspace import write_config


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
