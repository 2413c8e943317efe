"""What a decision reads from the engine, as one declared interface with two implementations:
snapshot.OneShotReads (a plugin process or an operator command: every read fresh, in the fewest
requests) and serve.warm.WarmReads (serve: the event-driven usage view, caches kept warm)."""
from concurrent.futures import Future
from typing import Callable, Dict, FrozenSet, List, NamedTuple, Optional, Protocol, Tuple, TypeVar

from .accounting import Holdings, HostRecord, VfProfile, VmRecord
from .claims import Seen


T = TypeVar("T")


class UsageAhead(NamedTuple):
    """The usage a decision counts, known before the scheduled VM's own read has answered."""
    held: Holdings          # per host, VFs held per VM
    seen: Seen              # where the engine shows each VM, for releasing claims
    asked_at: float         # time.monotonic() when the engine was asked for it


class ReadAgain(Exception):
    """What the reads answered so far is out of date (serve's view met a vNIC profile it does not
    know, and the VF profiles changed): the decision reads again from the start, once."""


class Reads(Protocol):
    """One decision's engine reads; `memo` holds cache files parsed once per decision (or per
    serve process), even when the filter waits and reads again."""
    memo: dict

    def vf_profiles(self, vf_property: str) -> Dict[str, VfProfile]:
        """The vNIC profiles whose custom property `vf_property` names a port profile."""

    def vms_for(self, vm_id: str, networks: FrozenSet[str]) -> Tuple[List[VmRecord], float]:
        """The scheduled VM first, then the running VMs on `networks`, and when they were asked
        for (claims are released only by evidence read after they were made)."""

    def count_alongside(self, vf_profile_ids: FrozenSet[str], work: Callable[[UsageAhead], T]) -> Optional[Future]:
        """When the usage is known before the scheduled VM is read (serve's views): `work` on it
        in the background, while vms_for() reads the VM; None when usage comes with vms_for()."""

    def hosts(self) -> List[HostRecord]:
        """Every host of the engine with its VF-capable NICs (when the capacity cache is cold)."""

    def holdings(self, vms: List[VmRecord], vf_profile_ids: FrozenSet[str]) -> Holdings:
        """Per host, VFs held per VM."""

    def seen(self, vms: List[VmRecord]) -> Seen:
        """Where the engine shows each VM, for releasing claims."""

    def forget(self) -> None:
        """The next reads are afresh (a filter waiting for pending placements to show)."""

    def drain_requests(self) -> List[str]:
        """The engine requests made since the last drain (for the decision log)."""

    def close(self) -> None:
        """Release what the reads opened."""
