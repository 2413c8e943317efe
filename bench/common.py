"""What every benchmark shares besides its world (sim/bed.py: the fake engine, the units installed as
the proxy would have them, a config): timings, a baseline process measured in the same run, tables."""
import statistics
import subprocess
import time
from typing import Callable, Dict, List

from ovirt_scheduler_proxy_plugins.sim import proxy
from ovirt_scheduler_proxy_plugins.sim.engine import FakeEngine


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
