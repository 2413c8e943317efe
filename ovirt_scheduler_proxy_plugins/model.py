"""Plain values that travel from the data sources to the decision and on to the log.

Nothing here does I/O or imports the SDK, so the decision code can be tested with
values built by hand.
"""
import enum
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, NamedTuple, Optional, Tuple


class DataSourceError(Exception):
    """The engine or UCS-M could not give a usable answer; the text names the cause in one line."""


class CacheCold(Exception):
    """A cache the reader may not fill now is cold or stale (serve counting the hosts alongside
    the VM's read, before the VM is known to need VFs at all, reads nothing but caches)."""


class Capacity(NamedTuple):
    """How many VFs a host offers, according to one source (one per host and decision: a NamedTuple).

    `vfs` is None when the source could not tell (host unknown to it, not mapped,
    query failed): "could not tell" must never look like "0 VFs".
    """
    vfs: Optional[int]
    source: str
    age: float = 0.0          # seconds since the source was read (0 = fresh)
    detail: str = ""          # e.g. "8 enic VF devices", "dynamicEth=10 (kvm10)", "not mapped"


@dataclass(frozen=True)
class Demand:
    """What a VM asks of a host: VFs, and the UCS port profiles its VM-FEX vNICs name."""
    vfs: int
    port_profiles: FrozenSet[str] = frozenset()


@dataclass(frozen=True)
class DomainPortProfiles:
    """The port profiles defined in the UCS domain of one host, for the port-profile rule.

    `names` None means "could not tell" (the host is in no domain UCS-M answered for, or its
    domain could not be read): never "nothing is defined there".
    """
    domain: Optional[str]                  # URL of the host's UCS domain, None if unknown
    names: Optional[FrozenSet[str]]
    detail: str = ""                       # why unknown, e.g. "not in any UCS domain"


class HostVfs(NamedTuple):
    """Everything the decision needs about one candidate host. HostVfs, Verdict and Score are
    NamedTuples, not frozen dataclasses: a decision makes one of each per candidate host (1,000
    hosts: thousands per call), and a tuple is built in less than half the time."""
    host_id: str
    name: str
    capacity: Capacity
    used: int = 0             # VFs held by other VMs running on the host
    users: int = 0            # how many other VMs hold those VFs
    pending: int = 0          # VFs claimed by recent placements the engine does not show yet (worst case)
    uncertain: int = 0        # of `pending`, VFs of claims that may have gone to another host
    reserve: int = 0          # VFs the admin keeps back
    is_current: bool = False  # the VM runs here now (migration source): it already holds its VFs
    port_profiles: Optional[DomainPortProfiles] = None   # None: the port-profile rule does not apply

    @property
    def free(self) -> Optional[int]:
        """Free VFs, or None when the capacity is unknown."""
        if self.capacity.vfs is None:
            return None
        return self.capacity.vfs - self.used - self.pending - self.reserve


class Reason(enum.Enum):
    """Why a host was kept or dropped; rendered to words only at the edge."""
    FITS = "fits"
    NO_DEMAND = "no_demand"             # the VM needs no VF: every host passes
    CURRENT_HOST = "current_host"       # the VM already holds its VFs here
    INSUFFICIENT = "insufficient"       # fewer free VFs than the VM needs
    NO_VFS = "no_vfs"                   # the host offers no VF at all
    UNKNOWN = "unknown"                 # capacity could not be determined
    NOT_FOUND = "not_found"             # the engine does not know this host id
    PORT_PROFILE_MISSING = "port_profile_missing"     # the host's UCS domain lacks a port profile
    PORT_PROFILES_UNKNOWN = "port_profiles_unknown"   # the host's UCS domain (or its answer) is unknown
    HELD_BACK_SCARCE = "held_back_scarce"   # fits, but VFs are scarce: one host kept, its claim certain
    HELD_BACK_CAP = "held_back_cap"         # fits, but a claim may span only claim_hosts hosts


# Fits, but not kept, so that pending claims stay right whatever host the engine picks (narrowing.py).
HELD_BACK = frozenset({Reason.HELD_BACK_SCARCE, Reason.HELD_BACK_CAP})
UNKNOWN_REASONS = frozenset({Reason.UNKNOWN, Reason.NOT_FOUND, Reason.PORT_PROFILES_UNKNOWN})


class Verdict(NamedTuple):
    host_id: str
    keep: bool
    reason: Reason
    demand: int                           # VFs
    free: Optional[int]
    # The port profiles the reason is about: those the host's UCS domain does not define
    # (PORT_PROFILE_MISSING), or those that could not be checked (PORT_PROFILES_UNKNOWN).
    port_profiles: FrozenSet[str] = frozenset()


class Score(NamedTuple):
    host_id: str
    value: int                # 0..1000, lower is better (the engine ranks ascending)
    free_after: Optional[int]


@dataclass(frozen=True)
class Vm:
    """The VM being scheduled, as the engine shows it."""
    vm_id: str
    name: str
    demand: Demand            # plugged vNICs whose profile carries the VF property, and their values
    host_id: Optional[str]    # current run-on host (the source during a migration)
    status: str


@dataclass
class Snapshot:
    """One consistent read of the data a decision needs."""
    vm: Vm
    hosts: Dict[str, HostVfs] = field(default_factory=dict)   # by host id, only hosts the engine knows
    source_summary: str = ""                                  # e.g. "engine (cache age 42s)"
    requests: Tuple[str, ...] = ()                            # what was asked, for the decision log
    largest_demand: int = 0                                   # of the VMs holding or claiming VFs


@dataclass(frozen=True)
class NetworkQos:
    """An oVirt network QoS (Mbps and MB, 10^6 units); None or 0 = not limited."""
    name: str
    outbound_average: Optional[int] = None
    outbound_peak: Optional[int] = None
    outbound_burst: Optional[int] = None
    inbound_average: Optional[int] = None
    inbound_peak: Optional[int] = None
    inbound_burst: Optional[int] = None
