"""The two query grammars: follow= (which links to inline) and search= (docs/engine-rest.md §3)."""
import re
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from ..inventory import HOST_STATUSES, VM_STATUSES, Inventory
from .common import EngineFault

HOST_FOLLOW: Dict[str, dict] = {"nics": {}, "devices": {}, "cluster": {}}
PROFILE_FOLLOW: Dict[str, dict] = {"network": {}}
NIC_FOLLOW: Dict[str, dict] = {"vnic_profile": PROFILE_FOLLOW}
VM_FOLLOW: Dict[str, dict] = {"nics": NIC_FOLLOW, "cluster": {}, "host": HOST_FOLLOW}


def parse_follow(value: Optional[str], schema: Dict[str, dict]) -> Dict[str, dict]:
    """'nics,nics.vnic_profile' -> {'nics': {'vnic_profile': {}}}; 400 for a path not in `schema`."""
    tree: Dict[str, dict] = {}
    for path in filter(None, (p.strip() for p in (value or "").split(","))):
        node, allowed = tree, schema
        for part in path.split("."):
            if part not in allowed:
                raise EngineFault(400, "Bad Request", "Cannot follow '%s': no link named '%s'" % (path, part))
            node, allowed = node.setdefault(part, {}), allowed[part]
    return tree


def follow_key(tree: Dict[str, dict]) -> tuple:
    return tuple(sorted((k, follow_key(v)) for k, v in tree.items()))



_TOKEN = re.compile(r'\s*(?:(?P<conj>and|or)(?=\s|$)'
                    r'|(?P<field>[A-Za-z_][\w.]*)\s*(?P<op>!=|=)\s*(?P<value>"[^"]*"|[^\s"]+))', re.I)
# Engine enum names are the REST names without underscores, matched case-insensitively;
# VM MigratingFrom/MigratingTo both show as REST "migrating", which is no enum name itself.
_VM_STATUS_ENUM = {s.replace("_", ""): frozenset([s]) for s in VM_STATUSES if s != "migrating"}
_VM_STATUS_ENUM.update(migratingfrom=frozenset(["migrating"]), migratingto=frozenset(["migrating"]))
_HOST_STATUS_ENUM = {s.replace("_", ""): frozenset([s]) for s in HOST_STATUSES}


class InvalidSearch(Exception):
    pass


class _Cond(NamedTuple):
    kind: str                          # which key of the object is tested
    values: Optional[frozenset]        # key (lower-case) in values ...
    regex: Optional["re.Pattern"]      # ... or key matches regex
    negate: bool


def _like(value: str) -> Tuple[Optional[frozenset], Optional["re.Pattern"]]:
    """A case-insensitive LIKE pattern with '*' wildcards, as a set when it has none."""
    if "*" not in value:
        return frozenset([value.lower()]), None
    return None, re.compile(".*".join(re.escape(p) for p in value.split("*")), re.I | re.S)


def _ids_like(value: str, named: Dict[str, str]) -> frozenset:
    """Ids (values of `named`) whose name (key, lower-case) matches the LIKE pattern."""
    values, regex = _like(value)
    if values is not None:
        return frozenset(named[v] for v in values if v in named)
    return frozenset(oid for name, oid in named.items() if regex.fullmatch(name))


def _parse_search(text: str) -> List[List[Tuple[str, bool, str]]]:
    """OR of ANDs of (field, negate, value); AND binds tighter, no parentheses, adjacency = AND."""
    groups: List[List[Tuple[str, bool, str]]] = [[]]
    pos, expect_term = 0, True
    while text[pos:].strip():
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InvalidSearch(text[pos:])
        pos = m.end()
        if m.group("conj"):
            if expect_term:
                raise InvalidSearch("dangling %s" % m.group("conj"))
            if m.group("conj").lower() == "or":
                groups.append([])
            expect_term = True
        else:
            value = m.group("value")
            if value.startswith('"'):
                value = value[1:-1]
            groups[-1].append((m.group("field").lower(), m.group("op") == "!=", value))
            expect_term = False
    if expect_term and pos:
        raise InvalidSearch("dangling conjunction")
    return [g for g in groups if g]


class _Search:
    """A compiled search over VMs or hosts; OR-ed single set terms of one field are merged, so
    `on_host=h1 or ... or on_host=h200` costs one set lookup per VM, not 200 comparisons."""

    def __init__(self, groups: List[List[_Cond]], keys: Dict[str, Callable]):
        merged: Dict[str, set] = {}
        rest = []
        for group in groups:
            c = group[0]
            if len(group) == 1 and c.values is not None and not c.negate:
                merged.setdefault(c.kind, set()).update(c.values)
            else:
                rest.append(group)
        self.groups = [[_Cond(k, frozenset(v), None, False)] for k, v in merged.items()] + rest
        self.keys = keys

    def matches(self, obj) -> bool:
        return not self.groups or any(all(self._test(c, obj) for c in g) for g in self.groups)

    def _test(self, cond: _Cond, obj) -> bool:
        key = self.keys[cond.kind](obj)
        if isinstance(key, frozenset):                      # multi-valued key (vNIC profiles)
            hit = bool(key & cond.values)
        elif cond.values is not None:
            hit = key in cond.values
        else:
            hit = key is not None and cond.regex.fullmatch(key) is not None
        return hit != cond.negate


_VM_KEYS: Dict[str, Callable] = {
    "id": lambda vm: vm.id.lower(),
    "name": lambda vm: vm.name.lower(),
    "run_host": lambda vm: vm.run_on_host_id,
    "cluster": lambda vm: vm.cluster_id,
    "status": lambda vm: vm.status,
    "profiles": lambda vm: frozenset(n.profile_id for n in vm.nics),
}
_HOST_KEYS: Dict[str, Callable] = {
    "id": lambda h: h.id.lower(),
    "name": lambda h: h.name.lower(),
    "cluster": lambda h: h.cluster_id,
    "status": lambda h: h.status,
}


def compile_search(text: str, inv: Inventory, vms: bool) -> _Search:
    """Compile a VM (`vms`) or host search; raises InvalidSearch where the engine finds nothing."""
    host_names = {h.name.lower(): h.id for h in inv.hosts.values()}
    cluster_names = {c.name.lower(): c.id for c in inv.clusters.values()}
    status_enum = _VM_STATUS_ENUM if vms else _HOST_STATUS_ENUM
    groups = []
    for group in _parse_search(text):
        conds = []
        for field_name, negate, value in group:
            if field_name in ("id", "name"):
                conds.append(_Cond(field_name, *_like(value), negate))
            elif field_name == "cluster":
                conds.append(_Cond("cluster", _ids_like(value, cluster_names), None, negate))
            elif field_name == "status":
                if value.lower() not in status_enum:
                    raise InvalidSearch("status %r" % value)
                conds.append(_Cond("status", status_enum[value.lower()], None, negate))
            elif vms and field_name in ("on_host", "hosts.name"):
                conds.append(_Cond("run_host", _ids_like(value, host_names), None, negate))
            elif vms and field_name == "host":
                # Free text, LIKE '%value%' over the host's name, address and cluster: h1 hits h10.
                _, regex = _like("*%s*" % value)
                hits = frozenset(h.id for h in inv.hosts.values() if any(
                    regex.fullmatch(t) for t in (h.name, h.address, inv.clusters[h.cluster_id].name)))
                conds.append(_Cond("run_host", hits, None, negate))
            elif vms and field_name == "vnic.network_name":
                values, regex = _like(value)
                hits = frozenset(p.id for p in inv.profiles.values() if (
                    p.network_name.lower() in values if values is not None else regex.fullmatch(p.network_name)))
                conds.append(_Cond("profiles", hits, None, negate))
            else:
                raise InvalidSearch("unknown field %r" % field_name)
        groups.append(conds)
    return _Search(groups, _VM_KEYS if vms else _HOST_KEYS)
