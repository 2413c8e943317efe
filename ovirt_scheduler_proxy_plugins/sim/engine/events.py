"""The engine's audit log as GET /events serves it (docs/engine-events.md), for the fake engine.

Events are emitted for the VM changes the engine itself performs: the fake compares each VM's
state (status, run-on host, NICs) with the state it last logged, and writes what the engine
would have written for that change:
  not running -> running   153 USER_STARTED_VM (host = chosen host), then 32 USER_RUN_VM once up
  running -> not running   61 VM_DOWN (host = where it ran)
  host changed (running)   63 VM_MIGRATION_DONE (host = the source, as MigrateVmCommand sets it)
  status -> migrating      62 VM_MIGRATION_START
  NIC plugged / unplugged  1012 / 1014; NIC added / removed / profile changed: 932 / 930 / 934
  VM removed               113 USER_REMOVE_VM
Reads follow the engine's query (SyntaxChecker): `from` is a strict `>` on the index, answers
come newest first, `max` (and `page K` in the search text) cut from the newest end, and a
filtered (non-admin) user's `from` is ignored unless a search is given. Indices can be reserved
and committed later (`reserve`/`commit`: the engine inserts each event in its own transaction,
so ids may become visible out of order), and events can be deleted (admin "clear", 30-day aging).
"""
import itertools
import re
import threading
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from ..inventory import VM_STATUSES_WITHOUT_HOST, SimVm

USER_RUN_VM, USER_STARTED_VM, VM_DOWN, USER_REMOVE_VM = 32, 153, 61, 113
VM_MIGRATION_START, VM_MIGRATION_DONE = 62, 63
NIC_PLUGGED, NIC_UNPLUGGED = 1012, 1014
NIC_ADDED, NIC_REMOVED, NIC_UPDATED = 932, 930, 934

# A VM's state as far as events go: (status, run-on host, ((nic name, profile id, plugged), ...)).
VmState = Tuple[str, Optional[str], Tuple[Tuple[str, Optional[str], bool], ...]]

_TYPE_TERM = re.compile(r"\s*type\s*=\s*(\d+)\s*", re.I)
_PAGE = re.compile(r"\s+page\s+(\d+)\s*$", re.I)


@dataclass(frozen=True)
class SimEvent:
    index: int
    code: int
    vm_id: Optional[str]
    vm_name: str
    host_id: Optional[str]
    description: str


def vm_state(vm: SimVm) -> VmState:
    running = vm.status not in VM_STATUSES_WITHOUT_HOST
    return (vm.status, vm.host_id if running else None,
            tuple((n.name, n.profile_id, n.plugged) for n in vm.nics))


def _running(state: Optional[VmState]) -> bool:
    return state is not None and state[1] is not None


def transition(old: Optional[VmState], new: Optional[VmState]) -> List[Tuple[int, Optional[str], str]]:
    """The (code, host id, what) events the engine logs for a VM going from `old` to `new`
    (None: the VM does not exist)."""
    if new is None:
        return [(USER_REMOVE_VM, None, "removed")] if old is not None else []
    out: List[Tuple[int, Optional[str], str]] = []
    status, host = new[0], new[1]
    if not _running(old) and _running(new):
        out.append((USER_STARTED_VM, host, "was started"))
        if status == "up":
            out.append((USER_RUN_VM, host, "started"))
    elif _running(old) and not _running(new):
        out.append((VM_DOWN, old[1], "is down"))
    elif _running(old) and _running(new):
        if host != old[1]:
            out.append((VM_MIGRATION_DONE, old[1], "migration completed"))
        elif status == "migrating" and old[0] != "migrating":
            out.append((VM_MIGRATION_START, host, "migration started"))
        elif status == "up" and old[0] in ("wait_for_launch", "powering_up"):
            out.append((USER_RUN_VM, host, "started"))
    if old is None:
        return out                                      # a new VM: no NIC events of its own
    before, after = {n[0]: n for n in old[2]}, {n[0]: n for n in new[2]}
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was is None:
            out.append((NIC_ADDED, host, "interface %s added" % name))
        elif now is None:
            out.append((NIC_REMOVED, host, "interface %s removed" % name))
        elif was[1] != now[1]:
            out.append((NIC_UPDATED, host, "interface %s updated" % name))
        elif was[2] != now[2]:
            out.append((NIC_PLUGGED if now[2] else NIC_UNPLUGGED, host,
                        "interface %s %s" % (name, "plugged" if now[2] else "unplugged")))
    return out


class EventLog:
    """The audit log: append-only ids from a sequence, each event visible once committed."""

    def __init__(self, first_index: int = 1000):
        self._lock = threading.Lock()
        self._ids = itertools.count(first_index)
        self._events: Dict[int, SimEvent] = {}       # committed and not deleted
        self._states: Dict[str, VmState] = {}        # what was last logged per VM
        self.emitted = 0

    # -- writing
    def reserve(self) -> int:
        """An index taken from the sequence whose event is not visible yet (commit() shows it)."""
        with self._lock:
            return next(self._ids)

    def commit(self, index: int, code: int, vm: Optional[SimVm], host_id: Optional[str], what: str) -> None:
        name = vm.name if vm is not None else ""
        event = SimEvent(index, code, vm.id if vm is not None else None, name, host_id,
                         "VM %s %s" % (name, what) if vm is not None else what)
        with self._lock:
            self._events[index] = event
            self.emitted += 1

    def emit(self, code: int, vm: Optional[SimVm], host_id: Optional[str], what: str) -> int:
        index = self.reserve()
        self.commit(index, code, vm, host_id, what)
        return index

    def baseline(self, vms: Iterable[SimVm]) -> None:
        """Take the VMs' current states as logged (what the world was before the engine started)."""
        with self._lock:
            self._states = {vm.id: vm_state(vm) for vm in vms}

    def observe(self, vms: Dict[str, SimVm], only: Optional[Iterable[str]] = None) -> int:
        """Log what changed since the last look, for the VMs `only` (default: every VM, and the
        ones removed); returns how many events were written."""
        ids = list(only) if only is not None else list(set(vms) | set(self._states))
        written = 0
        for vm_id in ids:
            vm = vms.get(vm_id)
            new = vm_state(vm) if vm is not None else None
            with self._lock:
                old = self._states.get(vm_id)
                if new is None:
                    self._states.pop(vm_id, None)
                else:
                    self._states[vm_id] = new
            if old == new:
                continue
            for code, host_id, what in transition(old, new):
                self.emit(code, vm or SimVm(vm_id, "", "", None, "down"), host_id, what)
                written += 1
        return written

    def delete_up_to(self, index: int) -> None:
        """Delete every event with an index <= `index` (an admin clearing them, or aging)."""
        with self._lock:
            for key in [k for k in self._events if k <= index]:
                del self._events[key]

    # -- reading
    def query(self, search: str, from_index: Optional[int], max_count: Optional[int],
              filtered_user: bool) -> List[SimEvent]:
        """The events GET /events answers: newest first. `search`: '' or `type=N or type=M ...`
        with an optional trailing `page K`; anything else is an invalid search (empty answer,
        as the engine gives)."""
        page = 1
        found = _PAGE.search(search)
        if found:
            page, search = int(found.group(1)), search[:found.start()]
        types = None
        if search.strip():
            terms = re.split(r"\bor\b", search, flags=re.I)
            matched = [_TYPE_TERM.fullmatch(term) for term in terms]
            if not all(matched):
                return []
            types = frozenset(int(m.group(1)) for m in matched)
        if filtered_user and not search.strip():
            from_index = None                        # AbstractBackendCollectionResource: no search, no from
        with self._lock:
            events = [e for e in self._events.values()
                      if (types is None or e.code in types) and (from_index is None or e.index > from_index)]
        events.sort(key=lambda e: e.index, reverse=True)
        if max_count is None:
            return events if page == 1 else []
        return events[(page - 1) * max_count: page * max_count]
