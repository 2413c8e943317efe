"""What a request costs a real engine, in backend queries (docs/engine-events.md, "Cost").

The real engine answers a VM list with about 3N + 3 backend queries, run one after another in
the request's thread: the search and two bulk reads, per VM its display certificate subject
(+ the CA certificate when it runs), and per VM one more when `follow=nics` (the link follower
calls itself once per VM). The fake counts the same way and, when `query_delay` is set, sleeps
that long per query before answering, so a benchmark sees the engine's time as well as its
bytes. Worked example: 1,200 running VMs with follow=nics = 3 + 1,200 x (2 + 1) = 3,603.
"""
import threading
from dataclasses import dataclass
from typing import Dict, Iterable

from ..inventory import VM_STATUSES_WITHOUT_HOST, SimVm

VM_LIST_BULK = 2          # GetVmsInit, GetGraphicsDevicesMultiple
VM_SINGLE = 1             # GetVmByVmId for /vms/<id>


def vm_queries(vms: Iterable[SimVm], follow: Dict[str, dict]) -> int:
    """Per VM: the display certificate subject, the CA certificate when it runs, its NICs when followed."""
    per_nics = 1 if "nics" in follow else 0
    return sum(1 + (vm.status not in VM_STATUSES_WITHOUT_HOST) + per_nics for vm in vms)


@dataclass
class CostModel:
    """Backend queries counted per request; `query_delay` seconds charged for each (0: free)."""
    query_delay: float = 0.0

    def __post_init__(self):
        self._lock = threading.Lock()
        self._total = 0
        self._requests = 0

    def charge(self, queries: int) -> float:
        """Count one request's queries; the seconds the request should take for them."""
        with self._lock:
            self._total += queries
            self._requests += 1
        return queries * self.query_delay

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests
