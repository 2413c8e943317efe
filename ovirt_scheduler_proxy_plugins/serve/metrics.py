"""What `serve` exports on GET /metrics (Prometheus text format, prometheus_client).

One registry per server (not the library's global one), so a test can run several servers
in one process. Names follow the Prometheus conventions (unit suffixes, _total counters).
"""
from typing import Callable, Iterable, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .. import status, units

CONTENT_TYPE = CONTENT_TYPE_LATEST
SOURCES = ("engine", "ucsm", "config", "deadline", "ledger")   # the usual causes of a failed decision (units.cause_of)
REFUSALS = ("caller", "busy", "encoding", "slow")


class Metrics:
    def __init__(self, view_age: Callable[[], Optional[float]], pending_claims: Callable[[], int],
                 status_unwritten: Callable[[], int], usage: Callable[[], dict], methods: Iterable[str] = ()):
        """pending_claims: the number of claims, as `status` and its --claims-warn count them; usage:
        the usage view's state (live_usage.LiveUsage.describe); methods: the engine's calls, whose fault
        series exist at 0 from the start, as the other error series (dashboards and alerts need them
        before the first error)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_UsageCollector(usage))
        prefix = "ovirt_vf_scheduler_"
        self.decisions = Counter(prefix + "decisions", "Unit decisions by outcome: ok, fail_open, fail_closed",
                                 ["unit", "outcome"], registry=self.registry)
        self.calls = Histogram(prefix + "call_seconds", "Time to answer an engine call, by method",
                               ["method"], registry=self.registry,
                               buckets=(.002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10, 30))
        self.call_errors = Counter(prefix + "call_faults", "Engine calls answered with an XML-RPC fault",
                                   ["method"], registry=self.registry)
        self.source_errors = Counter(prefix + "source_errors", "Decisions failed by their data source",
                                     ["source"], registry=self.registry)
        self.plugin_errors = Counter(prefix + "plugin_errors", "Units named in plugin_errors to the engine "
                                     "(ours, other plugins, names no plugin answers to)",
                                     ["unit"], registry=self.registry)
        self.refused = Counter(prefix + "refused", "Connections or calls refused: caller (403, not allowed), busy "
                               "(503), encoding (415), slow (request not read within the read deadline)",
                               ["reason"], registry=self.registry)
        self.held_back = Counter(prefix + "held_back_decisions", "VfFilter decisions that held back hosts which fit, "
                                 "so that pending claims stay exact ([scheduler] narrowing = auto)",
                                 registry=self.registry)
        for unit in units.UNITS:
            self.plugin_errors.labels(unit)
            for outcome in status.OUTCOMES:
                self.decisions.labels(unit, outcome)
        for method in methods:
            self.call_errors.labels(method)
        for source in SOURCES:
            self.source_errors.labels(source)
        for reason in REFUSALS:
            self.refused.labels(reason)
        Gauge(prefix + "usage_view_age_seconds", "Age of the shared usage view (-1: none yet)",
              registry=self.registry).set_function(lambda: _or(view_age(), -1.0))
        Gauge(prefix + "pending_claims", "Claims of VMs the engine does not show placed yet",
              registry=self.registry).set_function(lambda: float(pending_claims()))
        Gauge(prefix + "status_unwritten", "Unit status files with answers not yet written (stays up: a stuck disk)",
              registry=self.registry).set_function(lambda: float(status_unwritten()))

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _UsageCollector:
    """The event-driven usage view (live_usage.LiveUsage.describe()): its mode and what it read."""
    PREFIX = "ovirt_vf_scheduler_usage_"

    def __init__(self, usage: Callable[[], dict]):
        self._usage = usage

    def describe(self):
        return []

    def collect(self):
        found = self._usage()
        counts = found["counts"]
        mode = GaugeMetricFamily(self.PREFIX + "view_mode", "How usage is read: events (the view follows the "
                                 "engine's events), starting (no full read yet), off (read whole per "
                                 "usage_max_age; why in the log and `status`)", labels=["mode"])
        for name in ("events", "starting", "off"):
            mode.add_metric([name], 1.0 if found["mode"] == name else 0.0)
        yield mode
        yield GaugeMetricFamily(self.PREFIX + "event_index", "Newest engine event index the view applied",
                                value=float(found["event_index"]))
        for name, what in (("event_polls", "Event polls of the usage view"),
                           ("events", "Events read by the usage view"),
                           ("vm_reads", "VMs read again because an event named them")):
            yield CounterMetricFamily(self.PREFIX + name, what, value=float(counts.get(name, 0)))
        full = CounterMetricFamily(self.PREFIX + "full_reads", "Full reads of usage, by why (start, "
                                   "usage_resync, gap, ...)", labels=["reason"])
        for key, value in sorted(counts.items()):
            if key.startswith("full_reads."):
                full.add_metric([key[len("full_reads."):]], float(value))
        yield full


def _or(value: Optional[float], default: float) -> float:
    return default if value is None else value
