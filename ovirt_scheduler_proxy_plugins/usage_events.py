"""Keeping a usage view current from the engine's events, without reading every VM again.

The rule: an event only says WHICH VM changed; the VM's state always comes from a fresh read
of that VM (GET /vms/<id>?follow=nics), so an event seen late, twice or out of order does no
harm. What does harm is an event never seen, so (docs/engine-events.md, "Pitfalls"):
 - every poll reaches back OVERLAP ids below the newest index applied (ids are taken from a
   sequence but each event commits in its own transaction, so a lower id can appear late) and
   skips the indices already applied;
 - an index applied before that the engine no longer returns means events were deleted (an
   admin cleared them, or they aged out): the view cannot tell what it missed -> full resync;
 - an event that moves usage but names no VM -> full resync;
 - whatever escapes these is healed by the periodic full resync ([scheduler] usage_resync).
Worked example: newest applied 1,050, with 1,040 and 1,050 applied; the poll asks from=950
and gets 1,062 (VM A started), 1,051 (VM B down), 1,050 and 1,040 (applied): B and A are read
again, the newest becomes 1,062 and the indices kept are those above 962 (1,040 ... 1,062).
"""
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Mapping, Optional, Sequence, Tuple

from .accounting import VmRecord

# Codes that can move VF usage (the VM's host, its running state or its NICs change):
# started (153, 32, 152, 538, 150, 506 HA restart), down (61, 119, 142 unknown, 143 fenced),
# migration (62, 67 start, 63 done, 65, 120 failed), NIC plugged/unplugged (1012, 1014),
# vNIC added/removed/updated (932, 930, 934), VM removed (113).
USAGE_CODES = frozenset((153, 32, 152, 538, 150, 506, 61, 119, 142, 143, 62, 67, 63, 65, 120,
                         1012, 1014, 932, 930, 934, 113))
OVERLAP = 100               # ids a poll reaches back below the newest applied index


@dataclass(frozen=True)
class EventRecord:
    index: int
    code: int
    vm_id: Optional[str]
    host_id: Optional[str]


@dataclass(frozen=True)
class Cursor:
    """Where a view stands in the engine's event log."""
    newest: int                          # the highest index applied (or the log's newest at a full read)
    applied: FrozenSet[int] = frozenset()   # indices applied above the overlap floor

    @property
    def poll_from(self) -> int:
        """The `from` of the next poll (the engine answers indices strictly above it)."""
        return max(0, self.newest - OVERLAP)


@dataclass(frozen=True)
class CatchUp:
    vm_ids: Tuple[str, ...]              # VMs to read again, in the order their events came
    cursor: Cursor                       # where the view stands once they are read
    gap: Optional[str]                   # why the view must be read whole again, or None


def catch_up(cursor: Cursor, events: Sequence[EventRecord]) -> CatchUp:
    """What a poll's answer (every event above cursor.poll_from) asks of the view."""
    answered = {event.index for event in events}
    deleted = sorted(index for index in cursor.applied if index > cursor.poll_from and index not in answered)
    fresh = sorted((e for e in events if e.index not in cursor.applied and e.code in USAGE_CODES),
                   key=lambda e: e.index)
    nameless = [e.index for e in fresh if not e.vm_id]
    gap = None
    if deleted:
        gap = "event %d and %d more already applied are gone from the engine's log (deleted or aged out)" \
              % (deleted[0], len(deleted) - 1)
    elif nameless:
        gap = "event %d moves VF usage but names no VM" % nameless[0]
    newest = max([cursor.newest] + list(answered))
    floor = max(0, newest - OVERLAP)
    applied = frozenset(index for index in cursor.applied | answered if index > floor)
    vm_ids = tuple(dict.fromkeys(e.vm_id for e in fresh if e.vm_id))
    return CatchUp(vm_ids, Cursor(newest, applied), gap)


def holds_vfs(record: VmRecord, vf_profile_ids: FrozenSet[str]) -> bool:
    """A VM the usage view keeps: not down, with a vNIC on a VF profile (what the full read's
    search `vnic.network_name=<net> and status!=Down` finds, less VMs that could hold nothing)."""
    return record.status != "down" and any(nic.profile_id in vf_profile_ids for nic in record.nics)


def apply_reads(vms: Mapping[str, VmRecord], reread: Mapping[str, Optional[VmRecord]],
                vf_profile_ids: FrozenSet[str]) -> Dict[str, VmRecord]:
    """The view's VMs once the VMs in `reread` were read again (None: the engine no longer knows it)."""
    out = dict(vms)
    for vm_id, record in reread.items():
        if record is not None and holds_vfs(record, vf_profile_ids):
            out[vm_id] = record
        else:
            out.pop(vm_id, None)
    return out


def unknown_profiles(records: Iterable[VmRecord], known: FrozenSet[str]) -> FrozenSet[str]:
    """vNIC profile ids on these VMs that the view's profile read did not have: profiles were
    added since, and one of them may carry the VF property (the view reads them again)."""
    return frozenset(nic.profile_id for record in records for nic in record.nics
                     if nic.profile_id is not None and nic.profile_id not in known)
