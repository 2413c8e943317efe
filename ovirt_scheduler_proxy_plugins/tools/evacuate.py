"""Can the VF-using VMs of a host go elsewhere? A first-fit decreasing plan, pure and server-free.

The biggest VMs are the hard ones to place, so they go first; each goes to the first host
(in the order given) that still has enough free VFs. FFD is not what the engine will do
(VfWeight spreads or packs, other units weigh in too), but when FFD cannot place a VM,
only a better packing could, so the VMs it leaves over are the ones to worry about.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence


@dataclass(frozen=True)
class Mover:
    """A VM that holds VFs on the host being emptied."""
    vm_id: str
    name: str
    demand: int


@dataclass(frozen=True)
class Target:
    """A remaining host and its free VFs now (capacity - used - pending - reserve)."""
    host_id: str
    name: str
    free: int


@dataclass(frozen=True)
class Placement:
    vm: Mover
    target: Optional[Target]          # None: no remaining host has room


@dataclass
class Plan:
    placements: List[Placement] = field(default_factory=list)
    free_after: Dict[str, int] = field(default_factory=dict)     # by target host id

    @property
    def unplaced(self) -> List[Mover]:
        return [p.vm for p in self.placements if p.target is None]

    @property
    def feasible(self) -> bool:
        return not self.unplaced


def first_fit_decreasing(movers: Sequence[Mover], targets: Sequence[Target]) -> Plan:
    """Place the movers, largest demand first (ties by name), each on the first target with room."""
    free = {t.host_id: t.free for t in targets}
    plan = Plan(free_after=free)
    for mover in sorted(movers, key=lambda m: (-m.demand, m.name, m.vm_id)):
        target = next((t for t in targets if free[t.host_id] >= mover.demand), None)
        if target is not None:
            free[target.host_id] -= mover.demand
        plan.placements.append(Placement(mover, target))
    return plan
