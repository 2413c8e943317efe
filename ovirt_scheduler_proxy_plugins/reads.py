"""What a decision reads from the engine, as one declared interface with two implementations:
snapshot.OneShotReads (a plugin process or an operator command: every read fresh, in the fewest
requests) and serve.warm.WarmReads (serve: the event-driven usage view, caches kept warm)."""
from typing import Dict, FrozenSet, List, Protocol, Tuple

from .accounting import HostRecord, VfProfile, VmRecord
from .claims import Seen


class Reads(Protocol):
    """One decision's engine reads; `memo` holds cache files parsed once per decision (or per
    serve process), even when the filter waits and reads again."""
    memo: dict

    def vf_profiles(self, vf_property: str) -> Dict[str, VfProfile]:
        """The vNIC profiles whose custom property `vf_property` names a port profile."""

    def vms_for(self, vm_id: str, networks: FrozenSet[str]) -> Tuple[List[VmRecord], float]:
        """The scheduled VM first, then the running VMs on `networks`, and when they were asked
        for (claims are released only by evidence read after they were made)."""

    def hosts(self) -> List[HostRecord]:
        """Every host of the engine with its VF-capable NICs (when the capacity cache is cold)."""

    def holdings(self, vms: List[VmRecord], vf_profile_ids: FrozenSet[str]) -> Dict[str, Dict[str, int]]:
        """Per host, VFs held per VM."""

    def seen(self, vms: List[VmRecord]) -> Seen:
        """Where the engine shows each VM, for releasing claims."""

    def forget(self) -> None:
        """The next reads are afresh (a filter waiting for pending placements to show)."""

    def drain_requests(self) -> List[str]:
        """The engine requests made since the last drain (for the decision log)."""

    def close(self) -> None:
        """Release what the reads opened."""
