"""A fake oVirt engine (SSO + the REST subset the VF plugins read), for tests, the demo and benchmarks.

Why a fake at all: the plugins talk to the engine only through the real `ovirtsdk4.Connection`, so a
fake that the real client can read back (documents written by the SDK's own writer) exercises the
plugin's real code path, its error handling included. See the shared engine-rest.md §7 for what it
reproduces and what it cannot (no `<link rel=...>` elements, alphabetical element order, no
permissions, no `case_sensitive`).

    with FakeEngine(inventory) as engine:
        conn = ovirtsdk4.Connection(url=engine.url, username="admin@internal", password="secret",
                                    insecure=True)

Behaviour worth knowing (all as the real engine, unless marked "fake choice"):
- SSO: POST /ovirt-engine/sso/oauth/token -> JSON token, 400 JSON access_denied on a bad password;
  POST /ovirt-engine/services/sso-logout revokes the token. API calls without a live bearer token
  get 401 with an empty body (the SDK then logs in once more and retries).
- `follow` inlines linked collections (vms: nics, nics.vnic_profile(.network), cluster, host(.nics,
  .devices, .cluster); hosts: nics, devices, cluster; vnicprofiles: network). A null vnic_profile
  under follow=nics.vnic_profile is an HTTP 500 fault for the whole request. An unknown follow path
  is a 400 fault (fake choice: the real engine's answer is unverified).
- `all_content` (query parameter or All-Content header, inherited through follow) gates
  HostNic.virtual_functions_configuration, HostNic.physical_function and Host.hosted_engine.
- Vm.host only when the status is not down/suspended/image_locked; search (`on_host=`...) agrees.
- Search subset of engine-rest.md §3 with engine enum names for status; an invalid search is
  HTTP 200 with an empty list.
- Query parameters as the engine reads them: by name only (an unknown one is ignored), the first
  of a repeated name, and the last path segment's matrix parameters (`vms;max=2`) like query
  parameters; a trailing slash names the same resource (JAX-RS path matching).
- A `Version` header other than 4 is HTTP 400 with the servlet container's HTML page, no XML fault
  (the engine's VersionFilter calls sendError(400)); without the header the engine serves 4.
- `max` limits vms and hosts; absent, empty or not an integer means no limit: the engine logs a
  bad value and ignores it (ParametersHelper.getIntegerParameter), it answers no fault.
- Scheduling (for `ovirt-vf-scheduler policy`/`check`, empty unless the inventory adds them):
  GET schedulingpolicyunits, schedulingpolicies with their filters/weights/balances (POST adds a
  unit, DELETE removes one, id = the unit's id), POST/PUT schedulingpolicies, PUT clusters/{id}
  (scheduling_policy, custom_scheduling_policy_properties), validated as the engine does (locked
  policies, unit types, duplicates, property keys and regexes) with 409 faults. GET options/{name}
  answers 404 unless Inventory.options makes the option readable (a real engine keeps
  CustomDeviceProperties and ExternalSchedulerEnabled internal). Inventory.forbidden makes
  collections answer 403 to a user (fake choice). Any other write is 405.
- Documents are sized like real ones: a running VM with 3 nics (follow=nics) is 6.0 KB; a host with
  follow=nics,devices&all_content=true and 16 VFs is 115 KB (159 devices: 123 of a UCS B200 M5's
  chipset/uncore/VIC/RAID/SCSI/USB, the enic PF, 16 VFs and their net_* children).

Performance: serialized per-object fragments are cached, keyed by (id, follow, all_content) and
validated against a snapshot of the object's state, so a mutated inventory is never served stale,
and the bytes equal what one Writer.write() of the whole list gives (`cache=False` is that
reference path, compared in the tests). Measured on loopback, Python 3.11, build_scale_inventory(1000, 20):
  GET hosts?all_content=true&follow=nics,devices (1000 hosts, 113 MB):
      render 5.1 s cold, 0.06 s warm; over HTTP (requests) 5.8 s cold, 0.5 s warm;
      the SDK then needs ~7 s to fetch and parse it (~7 ms per host).
  GET vms?search=on_host=host1 or ... or on_host=host200&follow=nics (4000 VMs, 21 MB):
      render 1.2 s cold, 0.05 s warm; over HTTP 1.4 s cold, 0.1 s warm; SDK fetch+parse 1.5 s.
Cold = first request for those objects: let a benchmark make one warm-up request.
"""
import contextlib
import datetime
import json
import re
import secrets
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from ovirtsdk4 import types  # importing the package registers the writers Writer dispatches to
from ovirtsdk4.reader import Reader
from ovirtsdk4.writer import Writer

from .inventory import (HOST_STATUSES, VM_STATUSES, VM_STATUSES_WITHOUT_HOST, Inventory, SimCluster,
                        SimHost, SimNic, SimPolicy, SimPolicyUnit, SimProfile, SimVm, sim_id)

API = "/ovirt-engine/api"
SSO_TOKEN_PATH = "/ovirt-engine/sso/oauth/token"
SSO_LOGOUT_PATH = "/ovirt-engine/services/sso-logout"
XML = "application/xml"
JSON = "application/json"

# A fixed clock for document timestamps, so bodies are byte-identical between runs.
_EPOCH = datetime.datetime(2024, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
_DATA_CENTER_ID = sim_id("datacenter", "Default")
# A Version header must name a version the engine serves; none (or empty) means the default, 4.
# The engine's default ENGINE_API_SUPPORTED_VERSIONS still lists "3", but 4.5 ships no v3 API:
# the fake refuses 3 as well (what a 4.5 engine answers to it is unverified).
_API_VERSIONS = frozenset(["", "4"])
_BAD_REQUEST_PAGE = b"<html><head><title>Error</title></head><body>Bad Request</body></html>"
_JAVA_INT = re.compile(r"[+-]?[0-9]+")          # what Integer.parseInt accepts (within int range)


@dataclass
class Faults:
    """Fault injection, read on every request, so tests may change it while the engine runs.

    All but `login_delay` apply to API GETs only (not to SSO).
    """
    login_delay: float = 0.0          # SSO token POST sleeps this long first (hung login)
    api_delay: float = 0.0            # every API GET sleeps this long first (hung mid-request)
    api_status: Optional[int] = None  # answer every API GET with this status and an XML fault
    malformed_xml: bool = False       # 200 application/xml with a body that is not XML
    truncated_xml: bool = False       # 200 application/xml with the first half of the real body
    wrong_content_type: bool = False  # the real body, labelled text/html
    always_401: bool = False          # every API GET is 401, even right after a fresh login
    lag_seconds: float = 0.0          # default delay of FakeEngine.place_vm (engine sets run_on_vds late)


class _RequestLine(NamedTuple):
    method: str
    path: str                         # without the query string and matrix parameters
    query: Dict[str, str]             # decoded, as the engine reads them (see _matrix_parameters)


def _matrix_parameters(segment: str) -> Dict[str, str]:
    """The matrix parameters of the path's last segment (`vms;max=2`): the engine reads them like
    query parameters, a query parameter of the same name winning, and a repeated name gives
    its first value (ParametersHelper.getParameter, getFirst)."""
    found: Dict[str, str] = {}
    for item in segment.split(";")[1:]:
        name, _, value = item.partition("=")
        found.setdefault(unquote(name), unquote(value))
    return found


class RecordedRequest(_RequestLine):
    """A (method, path, query) tuple, plus `.headers` (lower-case names, e.g. "version", "all-content")."""

    def __new__(cls, method: str, path: str, query: Dict[str, str], headers: Dict[str, str]):
        self = super().__new__(cls, method, path, query)
        self.headers = headers
        return self


class _Fault(Exception):
    """An HTTP error the engine answers with an XML <fault>."""

    def __init__(self, status: int, reason: str, detail: str):
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def _link(cls, href: str, oid: str):
    """A reference as the engine writes it: only id and href."""
    obj = cls(id=oid)
    obj.href = href
    return obj


def _ref(cls, collection: str, oid: str):
    """A link to a top-level collection's member, e.g. _ref(types.Icon, "icons", id)."""
    return _link(cls, "%s/%s/%s" % (API, collection, oid), oid)


def _hex(name: str) -> str:
    """HostDevice ids are the hex of the device name (engine HexUtils.string2hex)."""
    return name.encode("utf-8").hex()


def _mac(oui: str, oid: str) -> str:
    """A MAC in vendor prefix `oui` ('aa:bb:cc'), unique per id."""
    tail = bytes.fromhex(oid.replace("-", ""))[-3:]
    return oui + ":" + ":".join("%02x" % b for b in tail)


def _host_nic_id(host: SimHost, ifname: str) -> str:
    return sim_id("hostnic", "%s:%s" % (host.id, ifname))


def _host_mac(host: SimHost, ifname: str) -> str:
    """UCS pool MACs (00:25:b5); the net_* device names and the HostNics must agree."""
    return _mac("00:25:b5", _host_nic_id(host, ifname))


def _state(obj) -> tuple:
    """A comparable snapshot of a Sim* object, lists of nics included: the cache's validity check."""
    out = []
    for value in vars(obj).values():
        if isinstance(value, list):
            value = tuple(_state(v) for v in value)
        out.append(value)
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# follow= parsing

_HOST_FOLLOW: Dict[str, dict] = {"nics": {}, "devices": {}, "cluster": {}}
_PROFILE_FOLLOW: Dict[str, dict] = {"network": {}}
_NIC_FOLLOW: Dict[str, dict] = {"vnic_profile": _PROFILE_FOLLOW}
_VM_FOLLOW: Dict[str, dict] = {"nics": _NIC_FOLLOW, "cluster": {}, "host": _HOST_FOLLOW}


def _parse_follow(value: Optional[str], schema: Dict[str, dict]) -> Dict[str, dict]:
    """'nics,nics.vnic_profile' -> {'nics': {'vnic_profile': {}}}; 400 for a path not in `schema`."""
    tree: Dict[str, dict] = {}
    for path in filter(None, (p.strip() for p in (value or "").split(","))):
        node, allowed = tree, schema
        for part in path.split("."):
            if part not in allowed:
                raise _Fault(400, "Bad Request", "Cannot follow '%s': no link named '%s'" % (path, part))
            node, allowed = node.setdefault(part, {}), allowed[part]
    return tree


def _follow_key(tree: Dict[str, dict]) -> tuple:
    return tuple(sorted((k, _follow_key(v)) for k, v in tree.items()))


# ----------------------------------------------------------------------------------------------
# search= (engine-rest.md §3)

_TOKEN = re.compile(r'\s*(?:(?P<conj>and|or)(?=\s|$)'
                    r'|(?P<field>[A-Za-z_][\w.]*)\s*(?P<op>!=|=)\s*(?P<value>"[^"]*"|[^\s"]+))', re.I)
# Engine enum names are the REST names without underscores, matched case-insensitively;
# VM MigratingFrom/MigratingTo both show as REST "migrating", which is no enum name itself.
_VM_STATUS_ENUM = {s.replace("_", ""): frozenset([s]) for s in VM_STATUSES if s != "migrating"}
_VM_STATUS_ENUM.update(migratingfrom=frozenset(["migrating"]), migratingto=frozenset(["migrating"]))
_HOST_STATUS_ENUM = {s.replace("_", ""): frozenset([s]) for s in HOST_STATUSES}


class _InvalidSearch(Exception):
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
            raise _InvalidSearch(text[pos:])
        pos = m.end()
        if m.group("conj"):
            if expect_term:
                raise _InvalidSearch("dangling %s" % m.group("conj"))
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
        raise _InvalidSearch("dangling conjunction")
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


def _compile_search(text: str, inv: Inventory, vms: bool) -> _Search:
    """Compile a VM (`vms`) or host search; raises _InvalidSearch where the engine finds nothing."""
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
                    raise _InvalidSearch("status %r" % value)
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
                raise _InvalidSearch("unknown field %r" % field_name)
        groups.append(conds)
    return _Search(groups, _VM_KEYS if vms else _HOST_KEYS)


# ----------------------------------------------------------------------------------------------
# Host devices: what vdsm reports for a Cisco UCS B200 M5 with a VIC (vmfex-hosts.md §4-§5).

class _Dev(NamedTuple):
    name: str
    capability: str
    parent: Optional[str]
    driver: Optional[str] = None
    product: Optional[Tuple[str, str]] = None      # (id, name)
    vendor: Optional[Tuple[str, str]] = None
    physfn: Optional[str] = None                   # VFs: the PF device name
    totalvfs: Optional[int] = None                 # PFs with VFs


_INTEL = ("0x8086", "Intel Corporation")
_CISCO = ("0x1137", "Cisco Systems Inc")
_VIC_PF = ("0x0043", "VIC Ethernet NIC")
_VIC_VF = ("0x0071", "VIC SR-IOV VF")
_VIC_BUS = 0x1c                                    # the PF that carries the VFs: pci_0000_1c_00_0


def _pci(bus: int, slot: int, func: int) -> str:
    return "pci_0000_%02x_%02x_%d" % (bus, slot, func)


def _padding_devices() -> List[_Dev]:
    """The host-independent part: chipset, uncore, VIC bridges, RAID, SCSI hosts and USB."""
    devs = [_Dev("computer", "system", None)]
    chipset = [((0, 0), "2020", "Sky Lake-E DMI3 Registers", None)]
    chipset += [((4, f), "2021", "Sky Lake-E CBDMA Registers", "ioatdma") for f in range(8)]
    chipset += [((5, 0), "2024", "Sky Lake-E MM/Vt-d Configuration Registers", None),
                ((5, 2), "2025", "Sky Lake-E RAS", None), ((5, 4), "2026", "Sky Lake-E IOAPIC", None),
                ((8, 0), "2014", "Sky Lake-E Ubox Registers", None),
                ((8, 1), "2015", "Sky Lake-E Ubox Registers", None),
                ((8, 2), "2016", "Sky Lake-E Ubox Registers", None),
                ((0x11, 0), "a1ec", "C620 Series Chipset Family MROM 0", None),
                ((0x11, 5), "a1d2", "C620 Series Chipset Family SSATA Controller [AHCI mode]", "ahci"),
                ((0x14, 0), "a1af", "C620 Series Chipset Family USB 3.0 xHCI Controller", "xhci_hcd"),
                ((0x14, 2), "a1b1", "C620 Series Chipset Family Thermal Subsystem", "intel_pch_thermal"),
                ((0x16, 0), "a1ba", "C620 Series Chipset Family MEI Controller #1", "mei_me"),
                ((0x16, 1), "a1bb", "C620 Series Chipset Family MEI Controller #2", None),
                ((0x16, 4), "a1be", "C620 Series Chipset Family MEI Controller #3", None),
                ((0x17, 0), "a182", "C620 Series Chipset Family SATA Controller [AHCI mode]", "ahci"),
                ((0x1c, 0), "a190", "C620 Series Chipset Family PCI Express Root Port #1", "pcieport"),
                ((0x1c, 5), "a195", "C620 Series Chipset Family PCI Express Root Port #6", "pcieport"),
                ((0x1f, 0), "a1c3", "C620 Series Chipset Family LPC/eSPI Controller", None),
                ((0x1f, 2), "a1a1", "C620 Series Chipset Family Power Management Controller", None),
                ((0x1f, 4), "a1a3", "C620 Series Chipset Family SMBus", "i801_smbus"),
                ((0x1f, 5), "a1a4", "C620 Series Chipset Family SPI Controller", None)]
    for (slot, func), pid, pname, driver in chipset:
        devs.append(_Dev(_pci(0, slot, func), "pci", "computer", driver, ("0x" + pid, pname), _INTEL))
    devs.append(_Dev(_pci(3, 0, 0), "pci", _pci(0, 0x1c, 5), "mgag200",
                     ("0x0522", "MGA G200e [Pilot] ServerEngines (SEP1)"),
                     ("0x102b", "Matrox Electronics Systems Ltd.")))
    for bus in (0x17, 0x3a, 0x5d, 0x85, 0xae, 0xd7):          # one IIO stack per PCIe root
        devs += [_Dev(_pci(bus, 0, 0), "pci", "computer", "pcieport",
                      ("0x2030", "Sky Lake-E PCI Express Root Port A"), _INTEL),
                 _Dev(_pci(bus, 5, 0), "pci", "computer", None,
                      ("0x2034", "Sky Lake-E VT-d"), _INTEL),
                 _Dev(_pci(bus, 5, 2), "pci", "computer", None,
                      ("0x2035", "Sky Lake-E RAS Configuration Registers"), _INTEL),
                 _Dev(_pci(bus, 5, 4), "pci", "computer", None,
                      ("0x2036", "Sky Lake-E IOxAPIC Configuration Registers"), _INTEL)]
    for bus in (0x16, 0x64):                                  # uncore, one bus per socket
        devs += [_Dev(_pci(bus, 8 + f // 8, f % 8), "pci", "computer", None,
                      ("0x208d", "Sky Lake-E CHA Registers"), _INTEL) for f in range(10)]
        devs += [_Dev(_pci(bus, 0x1e, f), "pci", "computer", None,
                      ("0x%x" % (0x2080 + f), "Sky Lake-E PCU Registers"), _INTEL) for f in range(5)]
    # Cisco VIC: upstream switch port, five downstream ports, management, eth0, eth1, two FCoE HBAs.
    devs.append(_Dev(_pci(0x18, 0, 0), "pci", _pci(0x17, 0, 0), "pcieport",
                     ("0x0040", "VIC PCIe Upstream Port"), _CISCO))
    endpoints = [(0x1a, None, ("0x0042", "VIC Management Controller")),
                 (0x1b, "enic", _VIC_PF), (_VIC_BUS, "enic", _VIC_PF),
                 (0x1d, "fnic", ("0x0045", "VIC FCoE HBA")), (0x1e, "fnic", ("0x0045", "VIC FCoE HBA"))]
    for port, (bus, driver, product) in enumerate(endpoints):
        devs.append(_Dev(_pci(0x19, port, 0), "pci", _pci(0x18, 0, 0), "pcieport",
                         ("0x0041", "VIC PCIe Downstream Port"), _CISCO))
        if bus != _VIC_BUS:                                    # the VF-carrying PF is per host
            devs.append(_Dev(_pci(bus, 0, 0), "pci", _pci(0x19, port, 0), driver, product, _CISCO))
    devs.append(_Dev(_pci(0x3b, 0, 0), "pci", _pci(0x3a, 0, 0), "megaraid_sas",
                     ("0x005d", "MegaRAID SAS-3 3108 [Invader]"), ("0x1000", "Broadcom / LSI")))
    devs += [_Dev("scsi_host0", "scsi_host", _pci(0x3b, 0, 0)),
             _Dev("scsi_target0_2_0", "scsi_target", "scsi_host0"),
             _Dev("scsi_0_2_0_0", "scsi", "scsi_target0_2_0"),
             _Dev("block_sda_3600605b00d9a7d502a1b3c4d5e6f7a8b", "storage", "scsi_0_2_0_0"),
             _Dev("scsi_generic_sg0", "scsi_generic", "scsi_0_2_0_0")]
    devs += [_Dev("scsi_host%d" % n, "scsi_host", _pci(0, 0x11 if n <= 6 else 0x17, 5 if n <= 6 else 0))
             for n in range(1, 13)]
    devs += [_Dev("scsi_host13", "scsi_host", _pci(0x1d, 0, 0)),
             _Dev("scsi_host14", "scsi_host", _pci(0x1e, 0, 0))]
    linux = ("0x1d6b", "Linux Foundation")
    devs += [_Dev("usb_usb1", "usb_device", _pci(0, 0x14, 0), "usb", ("0x0002", "2.0 root hub"), linux),
             _Dev("usb_usb2", "usb_device", _pci(0, 0x14, 0), "usb", ("0x0003", "3.0 root hub"), linux),
             _Dev("usb_1_0_1_0", "usb", "usb_usb1", "hub"),
             _Dev("usb_2_0_1_0", "usb", "usb_usb2", "hub"),
             _Dev("usb_1_1", "usb_device", "usb_usb1", "usb", ("0x0249", "Virtual Keyboard and Mouse"),
                  ("0x0624", "Avocent Corp.")),
             _Dev("usb_1_1_1_0", "usb", "usb_1_1", "usbhid"),
             _Dev("usb_1_1_1_1", "usb", "usb_1_1", "usbhid"),
             _Dev("net_lo_00_00_00_00_00_00", "net", "computer")]
    return devs


_PADDING = _padding_devices()


def _vf_name(i: int) -> Tuple[int, int, int]:
    """(bus, slot, func) of VF i of the PF at _VIC_BUS:00.0 (VF routing ids follow the PF)."""
    devfn = i + 1
    return _VIC_BUS, devfn // 8, devfn % 8


def _host_devices(host: SimHost) -> List[_Dev]:
    eth0, eth1 = _host_mac(host, "eth0"), _host_mac(host, "eth1")
    pf = _pci(_VIC_BUS, 0, 0)
    devs = list(_PADDING)
    devs += [_Dev(pf, "pci", _pci(0x19, 2, 0), "enic", _VIC_PF, _CISCO,
                  totalvfs=host.vf_devices or None),
             _Dev("net_eth0_" + eth0.replace(":", "_"), "net", _pci(0x1b, 0, 0)),
             _Dev("net_eth1_" + eth1.replace(":", "_"), "net", pf),
             _Dev("net_ovirtmgmt_" + eth0.replace(":", "_"), "net", "computer")]
    for i in range(host.vf_devices):
        bus, slot, func = _vf_name(i)
        vf = _pci(bus, slot, func)
        devs.append(_Dev(vf, "pci", pf, host.vf_driver, _VIC_VF, _CISCO, physfn=pf))
        if host.vf_driver == "enic":          # a VF bound to vfio-pci has no netdev
            devs.append(_Dev("net_enp%ds%df%d_00_00_00_00_00_00" % (bus, slot, func), "net", vf))
    return devs


# ----------------------------------------------------------------------------------------------
# Document builders (types objects; the Writer turns them into XML)

class _Builder:
    """Builds SDK objects from the inventory for one request (caller holds the engine lock)."""

    def __init__(self, inv: Inventory):
        self.inv = inv
        self._summaries: Optional[Dict[str, Tuple[int, int]]] = None

    # -- links
    @staticmethod
    def cluster_link(cid: str):
        return _ref(types.Cluster, "clusters", cid)

    @staticmethod
    def host_link(hid: str):
        return _ref(types.Host, "hosts", hid)

    @staticmethod
    def network_link(name: str):
        return _ref(types.Network, "networks", sim_id("network", name))

    def summaries(self) -> Dict[str, Tuple[int, int]]:
        """host id -> (VMs running there, of which migrating), computed once per request."""
        if self._summaries is None:
            counts: Dict[str, List[int]] = {}
            for vm in self.inv.vms.values():
                hid = vm.run_on_host_id
                if hid is not None:
                    c = counts.setdefault(hid, [0, 0])
                    c[0] += 1
                    c[1] += vm.status == "migrating"
            self._summaries = {k: (v[0], v[1]) for k, v in counts.items()}
        return self._summaries

    # -- clusters, networks, profiles
    def cluster(self, c: SimCluster):
        obj = types.Cluster(
            id=c.id, name=c.name, description="Cluster %s" % c.name, comment="",
            ballooning_enabled=True, bios_type=types.BiosType.Q35_SEA_BIOS,
            cpu=types.Cpu(architecture=types.Architecture.X86_64,
                          type="Intel Cascadelake Server IBRS SSBD MDS"),
            data_center=_ref(types.DataCenter, "datacenters", _DATA_CENTER_ID),
            error_handling=types.ErrorHandling(on_error=types.MigrateOnError.MIGRATE),
            firewall_type=types.FirewallType.FIREWALLD, fips_mode=types.FipsMode.DISABLED,
            gluster_service=False, ha_reservation=False,
            ksm=types.Ksm(enabled=True, merge_across_nodes=True),
            log_max_memory_used_threshold=95,
            log_max_memory_used_threshold_type=types.LogMaxMemoryUsedThresholdType.PERCENTAGE,
            maintenance_reason_required=False,
            memory_policy=types.MemoryPolicy(over_commit=types.MemoryOverCommit(percent=100),
                                             transparent_huge_pages=types.TransparentHugePages(enabled=True)),
            migration=types.MigrationOptions(auto_converge=types.InheritableBoolean.INHERIT,
                                             compressed=types.InheritableBoolean.INHERIT,
                                             encrypted=types.InheritableBoolean.INHERIT),
            optional_reason=False, switch_type=types.SwitchType.LEGACY, threads_as_cores=False,
            trusted_service=False, tunnel_migration=False, upgrade_in_progress=False,
            version=types.Version(major=4, minor=7), virt_service=True, vnc_encryption=False)
        if c.scheduling_policy_id:
            obj.scheduling_policy = _ref(types.SchedulingPolicy, "schedulingpolicies", c.scheduling_policy_id)
        if c.scheduling_properties:
            obj.custom_scheduling_policy_properties = _properties(c.scheduling_properties)
        obj.href = "%s/clusters/%s" % (API, c.id)
        return obj

    def network(self, name: str):
        nid = sim_id("network", name)
        obj = types.Network(
            id=nid, name=name, description="", comment="", mtu=0, stp=False, vdsm_name=name,
            port_isolation=False, required=True,
            usages=[types.NetworkUsage.VM] + ([types.NetworkUsage.MANAGEMENT] if name == "ovirtmgmt" else []),
            data_center=_ref(types.DataCenter, "datacenters", _DATA_CENTER_ID))
        obj.href = "%s/networks/%s" % (API, nid)
        return obj

    def profile(self, p: SimProfile, follow: Dict[str, dict]):
        obj = types.VnicProfile(
            id=p.id, name=p.name, description="", port_mirroring=False,
            pass_through=types.VnicPassThrough(mode=types.VnicPassThroughMode.DISABLED),
            custom_properties=[types.CustomProperty(name=k, value=v) for k, v in p.custom_properties.items()],
            network=self.network(p.network_name) if "network" in follow else self.network_link(p.network_name))
        if not p.custom_properties:           # the engine's default profiles carry this filter
            fid = sim_id("networkfilter", "vdsm-no-mac-spoofing")
            obj.network_filter = _ref(types.NetworkFilter, "networkfilters", fid)
        obj.href = "%s/vnicprofiles/%s" % (API, p.id)
        return obj

    # -- VMs
    def nic(self, vm: SimVm, n: SimNic, follow: Dict[str, dict]):
        nid = sim_id("nic", "%s:%s" % (vm.id, n.name))
        obj = types.Nic(id=nid, name=n.name, interface=types.NicInterface.VIRTIO, linked=True,
                        plugged=n.plugged, synced=True, mac=types.Mac(address=_mac("56:6f:1a", nid)),
                        vm=_ref(types.Vm, "vms", vm.id))
        if "vnic_profile" in follow:
            if n.profile_id is None:          # the engine's link follower throws on the null link
                raise _Fault(500, "Operation Failed",
                             "Cannot follow link 'vnic_profile' of NIC '%s' of VM '%s': it is null"
                             % (n.name, vm.name))
            obj.vnic_profile = self.profile(self.inv.profiles[n.profile_id], follow["vnic_profile"])
        elif n.profile_id is not None:
            obj.vnic_profile = _ref(types.VnicProfile, "vnicprofiles", n.profile_id)
        obj.href = "%s/vms/%s/nics/%s" % (API, vm.id, nid)
        return obj

    def vm(self, vm: SimVm, follow: Dict[str, dict], all_content: bool):
        seq = int(vm.id[:8], 16)
        running = vm.status not in VM_STATUSES_WITHOUT_HOST
        template_id = "00000000-0000-0000-0000-000000000000"
        obj = types.Vm(
            id=vm.id, name=vm.name, status=types.VmStatus(vm.status), comment="",
            description="Application server %s (owner: team-%d, ticket OPS-%d)" % (vm.name, seq % 17, seq % 9973),
            creation_time=_EPOCH - datetime.timedelta(days=seq % 700),
            type=types.VmType.SERVER, origin="ovirt", stateless=False, delete_protected=False,
            start_paused=False, soundcard_enabled=False, tunnel_migration=False, tpm_enabled=False,
            multi_queues_enabled=True, virtio_scsi_multi_queues_enabled=False,
            next_run_configuration_exists=False, has_illegal_images=False, run_once=False,
            use_latest_template_version=False, migration_downtime=-1, cpu_shares=0,
            memory=8 * 2 ** 30, numa_tune_mode=types.NumaTuneMode.INTERLEAVE,
            cpu_pinning_policy=types.CpuPinningPolicy.NONE,
            storage_error_resume_behaviour=types.VmStorageErrorResumeBehaviour.AUTO_RESUME,
            bios=types.Bios(type=types.BiosType.Q35_SEA_BIOS, boot_menu=types.BootMenu(enabled=False)),
            cpu=types.Cpu(architecture=types.Architecture.X86_64,
                          topology=types.CpuTopology(cores=1, sockets=4, threads=1)),
            os=types.OperatingSystem(type="rhel_8x64", boot=types.Boot(devices=[types.BootDevice.HD])),
            display=types.Display(type=types.DisplayType.VNC, monitors=1, allow_override=False,
                                  copy_paste_enabled=True, disconnect_action="LOCK_SCREEN",
                                  disconnect_action_delay=0, file_transfer_enabled=True,
                                  smartcard_enabled=False, single_qxl_pci=False, keyboard_layout="en-us"),
            high_availability=types.HighAvailability(enabled=False, priority=0),
            io=types.Io(threads=1),
            memory_policy=types.MemoryPolicy(guaranteed=8 * 2 ** 30, max=32 * 2 ** 30, ballooning=True),
            migration=types.MigrationOptions(auto_converge=types.InheritableBoolean.INHERIT,
                                             compressed=types.InheritableBoolean.INHERIT,
                                             encrypted=types.InheritableBoolean.INHERIT,
                                             parallel_migrations_policy=types.ParallelMigrationsPolicy.INHERIT),
            placement_policy=types.VmPlacementPolicy(affinity=types.VmAffinity.MIGRATABLE),
            sso=types.Sso(methods=[types.Method(id=types.SsoMethod.GUEST_AGENT)]),
            time_zone=types.TimeZone(name="Etc/GMT"),
            usb=types.Usb(enabled=False),
            console=types.Console(enabled=False),
            virtio_scsi=types.VirtioScsi(enabled=True),
            custom_properties=[types.CustomProperty(name="viodiskcache", value="writeback")],
            cluster=self.cluster(self.inv.clusters[vm.cluster_id]) if "cluster" in follow
            else self.cluster_link(vm.cluster_id),
            cpu_profile=_ref(types.CpuProfile, "cpuprofiles", sim_id("cpuprofile", vm.cluster_id)),
            template=_ref(types.Template, "templates", template_id),
            original_template=_ref(types.Template, "templates", template_id),
            quota=_ref(types.Quota, "datacenters/%s/quotas" % _DATA_CENTER_ID, sim_id("quota", "Default")),
            small_icon=_ref(types.Icon, "icons", sim_id("icon", "rhel8-small")),
            large_icon=_ref(types.Icon, "icons", sim_id("icon", "rhel8-large")))
        if running:
            obj.start_time = _EPOCH - datetime.timedelta(hours=seq % 500)
            obj.fqdn = "%s.apps.example.com" % vm.name
            obj.guest_operating_system = types.GuestOperatingSystem(
                architecture="x86_64", codename="Ootpa", distribution="Red Hat Enterprise Linux", family="Linux",
                kernel=types.Kernel(version=types.Version(full_version="4.18.0-477.10.1.el8_8.x86_64",
                                                          major=4, minor=18, build=0, revision=477)),
                version=types.Version(full_version="8.8", major=8, minor=8))
            obj.guest_time_zone = types.TimeZone(name="UTC", utc_offset="+00:00")
        else:
            obj.stop_time = _EPOCH - datetime.timedelta(hours=seq % 300)
            obj.stop_reason = ""
        hid = vm.run_on_host_id
        if hid is not None:
            obj.host = (self.host(self.inv.hosts[hid], follow["host"], all_content) if "host" in follow
                        else self.host_link(hid))
        if "nics" in follow:
            obj.nics = [self.nic(vm, n, follow["nics"]) for n in vm.nics]
        obj.href = "%s/vms/%s" % (API, vm.id)
        return obj

    # -- hosts
    def host_nics(self, h: SimHost, all_content: bool):
        seq = int(h.id[:8], 16)
        eth0 = types.HostNic(
            name="eth0", mac=types.Mac(address=_host_mac(h, "eth0")), mtu=1500, speed=40 * 10 ** 9,
            status=types.NicStatus.UP, boot_protocol=types.BootProtocol.STATIC, bridged=True,
            custom_configuration=False, network=self.network_link("ovirtmgmt"),
            ip=types.Ip(address="10.%d.%d.%d" % (seq % 250, (seq >> 8) % 250, (seq >> 16) % 250 + 1),
                        netmask="255.255.0.0", gateway="10.%d.0.1" % (seq % 250), version=types.IpVersion.V4),
            ipv6_boot_protocol=types.BootProtocol.AUTOCONF)
        eth1 = types.HostNic(
            name="eth1", mac=types.Mac(address=_host_mac(h, "eth1")), mtu=9000, speed=40 * 10 ** 9,
            status=types.NicStatus.UP, boot_protocol=types.BootProtocol.NONE, bridged=False,
            custom_configuration=False, ipv6_boot_protocol=types.BootProtocol.NONE)
        if all_content and h.nic_vfs_configured is not None:
            eth1.virtual_functions_configuration = types.HostNicVirtualFunctionsConfiguration(
                max_number_of_virtual_functions=max(h.nic_vfs_configured, h.vf_devices),
                number_of_virtual_functions=h.nic_vfs_configured, all_networks_allowed=True)
        nics = [eth0, eth1]
        for i in range(h.vf_nics):
            bus, slot, func = _vf_name(i)
            nics.append(types.HostNic(
                name="enp%ds%df%d" % (bus, slot, func), mac=types.Mac(address="00:00:00:00:00:00"), mtu=1500,
                speed=40 * 10 ** 9, status=types.NicStatus.DOWN, boot_protocol=types.BootProtocol.NONE,
                bridged=False, custom_configuration=False))
        for nic in nics:
            nic.id = _host_nic_id(h, nic.name)
            nic.host = self.host_link(h.id)
            nic.href = "%s/hosts/%s/nics/%s" % (API, h.id, nic.id)
        if all_content:
            for nic in nics[2:]:
                nic.physical_function = _link(types.HostNic, eth1.href, eth1.id)
        return nics

    def host_devices(self, h: SimHost):
        out, iommu_group = [], 0
        for d in _host_devices(h):
            obj = types.HostDevice(id=_hex(d.name), name=d.name, capability=d.capability, driver=d.driver,
                                   virtual_functions=d.totalvfs, host=self.host_link(h.id))
            if d.capability == "pci":          # vdsm numbers groups in PCI order; one device each here
                obj.iommu_group = iommu_group
                iommu_group += 1
            if d.product:
                obj.product = types.Product(id=d.product[0], name=d.product[1])
                obj.vendor = types.Vendor(id=d.vendor[0], name=d.vendor[1])
            for attr, ref in (("parent_device", d.parent), ("physical_function", d.physfn)):
                if ref is not None:
                    link = _link(types.HostDevice, "%s/hosts/%s/devices/%s" % (API, h.id, _hex(ref)), _hex(ref))
                    link.name = ref
                    setattr(obj, attr, link)
            obj.href = "%s/hosts/%s/devices/%s" % (API, h.id, obj.id)
            out.append(obj)
        return out

    def host(self, h: SimHost, follow: Dict[str, dict], all_content: bool):
        seq = int(h.id[:8], 16)
        active, migrating = self.summaries().get(h.id, (0, 0))
        obj = types.Host(
            id=h.id, name=h.name, address=h.address, comment="", description="UCS B200 M5 blade %s" % h.name,
            status=types.HostStatus(h.status), type=types.HostType.RHEL, port=54321,
            protocol=types.HostProtocol.STOMP, external_status=types.ExternalStatus.OK,
            spm=types.Spm(priority=5, status=types.SpmStatus.SPM if seq % 50 == 0 else types.SpmStatus.NONE),
            summary=types.VmSummary(active=active, migrating=migrating, total=active),
            cpu=types.Cpu(name="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", speed=2500.0,
                          type="Intel Cascadelake Server IBRS SSBD MDS",
                          topology=types.CpuTopology(cores=20, sockets=2, threads=2)),
            memory=768 * 2 ** 30, max_scheduling_memory=700 * 2 ** 30 - (seq % 64) * 2 ** 30,
            os=types.OperatingSystem(type="RHEL", version=types.Version(full_version="8.9 - 1.el8", major=8, minor=9),
                                     reported_kernel_cmdline="BOOT_IMAGE=(hd0,msdos1)/vmlinuz-4.18.0-513.el8.x86_64 "
                                     "root=/dev/mapper/rhel-root ro crashkernel=auto intel_iommu=on "
                                     "rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet"),
            iscsi=types.IscsiDetails(initiator="iqn.1994-05.com.redhat:%s" % h.id[:12]),
            ksm=types.Ksm(enabled=False, merge_across_nodes=True),
            kdump_status=types.KdumpStatus.DISABLED, se_linux=types.SeLinux(mode=types.SeLinuxMode.ENFORCING),
            auto_numa_status=types.AutoNumaStatus.ENABLE, numa_supported=True,
            transparent_huge_pages=types.TransparentHugePages(enabled=True),
            device_passthrough=types.HostDevicePassthrough(enabled=True),
            hardware_information=types.HardwareInformation(
                family="UCSB", manufacturer="Cisco Systems Inc", product_name="UCSB-B200-M5",
                serial_number=h.serial, uuid=h.hw_uuid, version="A0",
                supported_rng_sources=[types.RngSource.HWRNG, types.RngSource.URANDOM]),
            libvirt_version=types.Version(full_version="libvirt-8.0.0-22.module+el8.9.0", major=8, minor=0,
                                          build=0, revision=0),
            version=types.Version(full_version="vdsm-4.50.5.1-1.el8", major=4, minor=50, build=5, revision=1),
            certificate=types.Certificate(organization="example.com", subject="O=example.com,CN=%s" % h.address),
            ssh=types.Ssh(port=22, fingerprint="SHA256:%s" % h.id.replace("-", "")[:43]),
            power_management=types.PowerManagement(enabled=False, automatic_pm_enabled=True,
                                                   kdump_detection=True),
            update_available=False, reinstallation_required=False, network_operation_in_progress=False,
            ovn_configured=True, vgpu_placement=types.VgpuPlacement.CONSOLIDATED,
            cluster=self.cluster(self.inv.clusters[h.cluster_id]) if "cluster" in follow
            else self.cluster_link(h.cluster_id))
        if all_content:
            obj.hosted_engine = types.HostedEngine(active=False, configured=False, global_maintenance=False,
                                                   local_maintenance=False, score=0)
        if "nics" in follow:
            obj.nics = self.host_nics(h, all_content)
        if "devices" in follow:
            obj.devices = self.host_devices(h)
        obj.href = "%s/hosts/%s" % (API, h.id)
        return obj

    def api(self):
        vms = self.inv.vms.values()
        return types.Api(
            product_info=types.ProductInfo(name="oVirt Engine", vendor="ovirt.org", instance_id=_DATA_CENTER_ID,
                                           version=types.Version(full_version="4.5.7-1.el8", major=4, minor=5,
                                                                 build=7, revision=0)),
            summary=types.ApiSummary(
                hosts=types.ApiSummaryItem(active=sum(h.status == "up" for h in self.inv.hosts.values()),
                                           total=len(self.inv.hosts)),
                vms=types.ApiSummaryItem(active=sum(v.run_on_host_id is not None for v in vms), total=len(vms)),
                users=types.ApiSummaryItem(active=1, total=len(self.inv.users)),
                storage_domains=types.ApiSummaryItem(active=1, total=1)),
            time=_EPOCH)


# ----------------------------------------------------------------------------------------------
# Scheduling policies, policy units and system options (proxy-contract.md §6, admin steps 4-5)

_POLICY_PARTS = {"filters": "filter", "weights": "weight", "balances": "load_balancing"}


def _properties(values: Dict[str, str]) -> list:
    return [types.Property(name=k, value=v) for k, v in values.items()]


def _unit_ref(uid: str):
    return _ref(types.SchedulingPolicyUnit, "schedulingpolicyunits", uid)


def _policy_unit(u: SimPolicyUnit):
    obj = types.SchedulingPolicyUnit(id=u.id, name=u.name, description=u.description, enabled=u.enabled,
                                     internal=u.internal, type=types.PolicyUnitType(u.type),
                                     properties=_properties(u.properties) or None)
    obj.href = "%s/schedulingpolicyunits/%s" % (API, u.id)
    return obj


def _policy(p: SimPolicy):
    obj = types.SchedulingPolicy(id=p.id, name=p.name, description=p.description, locked=p.locked,
                                 default_policy=p.default_policy, properties=_properties(p.properties) or None)
    obj.href = "%s/schedulingpolicies/%s" % (API, p.id)
    return obj


def _policy_parts(p: SimPolicy, part: str) -> list:
    """A policy's filters, weights or balances as the engine lists them: id = the unit's id."""
    if part == "filters":
        items = [types.Filter(id=uid, position=pos, scheduling_policy_unit=_unit_ref(uid))
                 for uid, pos in p.filters.items()]
    elif part == "weights":
        items = [types.Weight(id=uid, factor=factor, scheduling_policy_unit=_unit_ref(uid))
                 for uid, factor in p.weights.items()]
    else:
        items = [types.Balance(id=p.balance, scheduling_policy_unit=_unit_ref(p.balance))] if p.balance else []
    for item in items:
        item.href = "%s/schedulingpolicies/%s/%s/%s" % (API, p.id, part, item.id)
    return items


def _option(name: str, values: Dict[str, str], version: Optional[str]):
    obj = types.SystemOption(id=name, name=name, values=[
        types.SystemOptionValue(value=value, version=ver) for ver, value in values.items()
        if version in (None, "", ver)])
    obj.href = "%s/options/%s" % (API, name)
    return obj


def _render_scheduling(b: "_Builder", seg: List[str], query: Dict[str, str]) -> bytes:
    """GET schedulingpolicyunits[/id], schedulingpolicies[/id[/filters|weights|balances[/unit]]],
    options/name (404 unless the inventory makes the option readable, as for internal options)."""
    inv = b.inv
    coll, rest = seg[0], seg[1:]
    if coll == "options" and len(rest) == 1:
        if rest[0] not in inv.options:
            raise _Fault(404, "Not Found", "")
        return Writer.write(_option(rest[0], inv.options[rest[0]], query.get("version"))).encode()
    if coll == "schedulingpolicyunits" and len(rest) <= 1:
        if not rest:
            return Writer.write([_policy_unit(u) for u in inv.policy_units.values()],
                                root="scheduling_policy_units").encode()
        return Writer.write(_policy_unit(FakeEngine._get(inv.policy_units, rest[0], "policy unit"))).encode()
    if coll == "schedulingpolicies" and len(rest) <= 3:
        if not rest:
            return Writer.write([_policy(p) for p in inv.policies.values()], root="scheduling_policies").encode()
        policy = FakeEngine._get(inv.policies, rest[0], "scheduling policy")
        if len(rest) == 1:
            return Writer.write(_policy(policy)).encode()
        if rest[1] in _POLICY_PARTS:
            items = _policy_parts(policy, rest[1])
            if len(rest) == 2:
                return Writer.write(items, root=rest[1]).encode()
            found = [item for item in items if item.id == rest[2]]
            if found:
                return Writer.write(found[0]).encode()
            raise _Fault(404, "Not Found", "Entity not found: %s" % rest[2])
    raise _Fault(404, "Not Found", "No such path: /%s" % "/".join(seg))


class _Writes:
    """The few writes `ovirt-vf-scheduler policy` makes, validated as the engine does
    (ClusterPolicyCRUDCommand, UpdateClusterCommand): a failed validation is HTTP 409 with
    the reason in the fault detail. Everything else stays read-only (405). Caller holds the lock."""

    def __init__(self, inventory: Inventory):
        self.inv = inventory

    def apply(self, method: str, seg: List[str], query: Dict[str, str], body: bytes) -> Tuple[int, str, bytes]:
        route = (method, seg[0], len(seg))
        if route == ("POST", "schedulingpolicies", 1):
            return 201, XML, Writer.write(_policy(self._add_policy(self._read(body)))).encode()
        if route == ("PUT", "schedulingpolicies", 2):
            return 200, XML, Writer.write(_policy(self._update_policy(seg[1], self._read(body)))).encode()
        if route == ("POST", "schedulingpolicies", 3) and seg[2] in _POLICY_PARTS:
            policy, unit_id = self._add_part(seg[1], seg[2], self._read(body))
            added = next(item for item in _policy_parts(policy, seg[2]) if item.id == unit_id)
            return 200, XML, Writer.write(added).encode()
        if route == ("DELETE", "schedulingpolicies", 4) and seg[2] in _POLICY_PARTS:
            self._remove_part(seg[1], seg[2], seg[3])
            return 200, XML, b""
        if route == ("PUT", "clusters", 2):
            cluster = self._update_cluster(seg[1], self._read(body))
            return 200, XML, Writer.write(_Builder(self.inv).cluster(cluster)).encode()
        raise _Fault(405, "Method Not Allowed", "The fake engine does not write /%s" % "/".join(seg))

    @staticmethod
    def _read(body: bytes):
        try:
            return Reader.read(body)
        except Exception as err:  # noqa: BLE001 - any unreadable body is the client's fault
            raise _Fault(400, "Bad Request", "Cannot read the request body: %s" % err) from None

    @staticmethod
    def _refuse(action: str, reason: str) -> "_Fault":
        return _Fault(409, "Operation Failed", "[Cannot %s Scheduling Policy. %s]" % (action, reason))

    def _regex_map(self, policy: SimPolicy) -> Dict[str, str]:
        """The union of the policy's units' property regexes (SchedulingManager.getCustomPropertiesRegexMap)."""
        regexes: Dict[str, str] = {}
        for uid in list(policy.filters) + list(policy.weights) + ([policy.balance] if policy.balance else []):
            regexes.update(self.inv.policy_units[uid].properties)
        return regexes

    @staticmethod
    def _invalid_properties(values: Dict[str, str], regexes: Dict[str, str]) -> Optional[str]:
        for key, value in values.items():
            if key not in regexes:
                return "Invalid property key: %s" % key
            if not re.fullmatch(regexes[key], value or ""):
                return "Invalid value %r for property %s (%s)" % (value, key, regexes[key])
        return None

    def _policy(self, pid: str, action: str) -> SimPolicy:
        policy = FakeEngine._get(self.inv.policies, pid, "scheduling policy")
        if policy.locked:
            raise self._refuse(action, "Built-in (locked) policies cannot be changed.")
        return policy

    def _add_policy(self, incoming) -> SimPolicy:
        if not incoming.name:
            raise _Fault(400, "Incomplete parameters", "SchedulingPolicy [name] required for add")
        if any(p.name == incoming.name for p in self.inv.policies.values()):
            raise self._refuse("add", "The name is already in use.")
        props = {p.name: p.value for p in incoming.properties or ()}
        problem = self._invalid_properties(props, {})      # a new policy has no units yet
        if problem:
            raise self._refuse("add", problem)
        pid = sim_id("schedulingpolicy", incoming.name)
        self.inv.policies[pid] = SimPolicy(pid, incoming.name, incoming.description or "", properties=props)
        return self.inv.policies[pid]

    def _update_policy(self, pid: str, incoming) -> SimPolicy:
        policy = self._policy(pid, "edit")
        if incoming.name and any(p.name == incoming.name and p.id != pid for p in self.inv.policies.values()):
            raise self._refuse("edit", "The name is already in use.")
        props = policy.properties
        if incoming.properties is not None:
            props = {p.name: p.value for p in incoming.properties}
            problem = self._invalid_properties(props, self._regex_map(policy))
            if problem:
                raise self._refuse("edit", problem)
        policy.name = incoming.name or policy.name
        policy.description = incoming.description if incoming.description is not None else policy.description
        policy.properties = props
        return policy

    def _add_part(self, pid: str, part: str, incoming) -> Tuple[SimPolicy, str]:
        policy = self._policy(pid, "edit")
        ref = incoming.scheduling_policy_unit
        unit = self.inv.policy_units.get(ref.id if ref is not None else None)
        if unit is None:
            raise self._refuse("edit", "Unknown policy unit.")
        if unit.type != _POLICY_PARTS[part]:
            raise self._refuse("edit", "Policy unit %s is not a %s." % (unit.name, _POLICY_PARTS[part]))
        if part == "balances":
            policy.balance = unit.id
            return policy, unit.id
        if unit.id in policy.filters or unit.id in policy.weights:
            raise self._refuse("edit", "Duplicate policy unit %s." % unit.name)
        if part == "filters":
            position = incoming.position or 0
            if position in (-1, 1) and position in policy.filters.values():
                raise self._refuse("edit", "Only one filter can be %s." % ("first" if position < 0 else "last"))
            policy.filters[unit.id] = position
        else:
            factor = 1 if incoming.factor is None else incoming.factor
            if factor < 0:
                raise self._refuse("edit", "Weight factor must not be negative.")
            policy.weights[unit.id] = factor
        return policy, unit.id

    def _remove_part(self, pid: str, part: str, uid: str) -> None:
        policy = self._policy(pid, "edit")
        if part == "balances" and policy.balance == uid:
            policy.balance = None
            return
        members = policy.filters if part == "filters" else policy.weights
        if part == "balances" or uid not in members:
            raise _Fault(404, "Not Found", "Entity not found: %s" % uid)
        del members[uid]

    def _update_cluster(self, cid: str, incoming) -> SimCluster:
        """Policy by id or name; properties merge into the cluster's, then the policy's defaults
        fill the gaps, keys no unit of the policy knows are dropped, and the rest must match."""
        cluster = FakeEngine._get(self.inv.clusters, cid, "cluster")
        policy_id = cluster.scheduling_policy_id
        ref = incoming.scheduling_policy
        if ref is not None:
            match = [p.id for p in self.inv.policies.values()
                     if p.id == ref.id or (ref.name and p.name == ref.name)]
            if not match:
                raise _Fault(404, "Not Found", "Entity not found: scheduling policy %s" % (ref.id or ref.name))
            policy_id = match[0]
        props = dict(cluster.scheduling_properties)
        props.update({p.name: p.value for p in incoming.custom_scheduling_policy_properties or ()})
        if policy_id is not None:
            policy = self.inv.policies[policy_id]
            regexes = self._regex_map(policy)
            props = dict(policy.properties, **props)
            props = {k: v for k, v in props.items() if k in regexes}
            problem = self._invalid_properties(props, regexes)
            if problem:
                raise _Fault(409, "Operation Failed", "[Cannot edit Cluster. %s]" % problem)
        cluster.scheduling_policy_id, cluster.scheduling_properties = policy_id, props
        return cluster


# ----------------------------------------------------------------------------------------------
# HTTP

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive, as curl expects from the engine
    disable_nagle_algorithm = True         # else ~40 ms per keep-alive response (Nagle + delayed ACK)
    server_version = "FakeOvirtEngine/4.5"

    def setup(self):
        super().setup()
        self.server.engine._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.engine._track(self.connection, False)

    def log_message(self, format, *args):  # noqa: A002  (signature of the base class)
        """Quiet: tests and benchmarks read their own output."""

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, ctype, payload = self.server.engine._respond(self.command, self.path, self.headers, body)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, engine: "FakeEngine", port: int, tls: Optional[ssl.SSLContext]):
        self.engine, self.tls = engine, tls
        super().__init__(("127.0.0.1", port), _Handler)

    def finish_request(self, request, client_address):
        """TLS handshake here, in the connection's thread, so a stalled client blocks nobody else."""
        if self.tls is None:
            return super().finish_request(request, client_address)
        tls_sock = self.tls.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls_sock, client_address)
        finally:
            tls_sock.close()

    def handle_error(self, request, client_address):
        """Quiet for dropped connections (client timeouts, refused TLS, engine.stop()); loud for bugs."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeEngine:
    """The fake engine; see the module docstring. Thread-safe; mutate a running engine's inventory
    inside `with engine.mutate():` (or through place_vm) so no request sees a half-done change."""

    def __init__(self, inventory: Inventory, tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 port: int = 0, cache: bool = True):
        """tls_cert/tls_key: PEM paths (the key may be inside tls_cert); set = serve HTTPS.
        cache=False writes every document whole with the SDK writer (the reference for the cache)."""
        self.inventory = inventory
        self.faults = Faults()
        self._tls = None
        if tls_cert:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(tls_cert, tls_key)
        self._port = port
        self._use_cache = cache
        self._lock = threading.RLock()              # inventory + render cache
        self._cache: Dict[tuple, Tuple[tuple, bytes]] = {}
        self._meta = threading.Lock()               # tokens, counters, request log, connections
        self._tokens: Dict[str, str] = {}            # live token -> user
        self._logins = self._logouts = 0
        self._requests: List[RecordedRequest] = []
        self._conns: set = set()
        self._timers: List[threading.Timer] = []
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle
    def start(self) -> "FakeEngine":
        """Listen; after a stop() the engine comes back on the same port (same url)."""
        if self._server is not None:
            raise RuntimeError("FakeEngine is already running")
        self._server = _Server(self, self._port, self._tls)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open keep-alive connections: from now on the engine is down."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._meta:
            conns, self._conns = list(self._conns), set()
            timers, self._timers = self._timers, []
        for t in timers:
            t.cancel()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._server = None

    def __enter__(self) -> "FakeEngine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return "%s://127.0.0.1:%d%s" % ("https" if self._tls else "http", self.port, API)

    # -- observation and control
    @property
    def requests(self) -> List[RecordedRequest]:
        with self._meta:
            return list(self._requests)

    def reset_requests(self) -> None:
        with self._meta:
            self._requests.clear()

    def api_request_count(self) -> int:
        """GET requests to the API (SSO token and logout POSTs excluded)."""
        return sum(r.method == "GET" and r.path.startswith(API) for r in self.requests)

    @property
    def logins(self) -> int:
        with self._meta:
            return self._logins

    @property
    def logouts(self) -> int:
        with self._meta:
            return self._logouts

    def expire_tokens(self) -> None:
        """Every issued token becomes invalid, as after the engine's idle session timeout."""
        with self._meta:
            self._tokens.clear()

    @contextlib.contextmanager
    def mutate(self) -> Iterator[Inventory]:
        with self._lock:
            yield self.inventory

    def place_vm(self, vm_id: str, host_id: Optional[str], status: str = "up",
                 after: Optional[float] = None) -> threading.Event:
        """Set a VM's run-on host and status after `after` seconds (default faults.lag_seconds):
        the engine shows a just-scheduled VM on its host only once vdsm's create call returns.
        The returned event is set when the change is visible."""
        if status not in VM_STATUSES or vm_id not in self.inventory.vms:
            raise ValueError("unknown VM %r or status %r" % (vm_id, status))
        done = threading.Event()

        def apply():
            with self._lock:
                vm = self.inventory.vms[vm_id]
                vm.host_id, vm.status = host_id, status
            done.set()

        delay = self.faults.lag_seconds if after is None else after
        if delay <= 0:
            apply()
        else:
            timer = threading.Timer(delay, apply)
            timer.daemon = True
            with self._meta:
                self._timers.append(timer)
            timer.start()
        return done

    def _track(self, conn, add: bool) -> None:
        with self._meta:
            (self._conns.add if add else self._conns.discard)(conn)

    # -- request handling
    def _respond(self, method: str, raw_path: str, headers, body: bytes) -> Tuple[int, str, bytes]:
        parts = urlsplit(raw_path)
        segments = parts.path.split("/")
        path = "/".join(segment.split(";", 1)[0] for segment in segments)
        query = _matrix_parameters(segments[-1])
        query.update({k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()})
        with self._meta:
            self._requests.append(RecordedRequest(method, path, query, {k.lower(): v for k, v in headers.items()}))
        try:
            if method == "POST" and path == SSO_TOKEN_PATH:
                return self._sso_token(body)
            if method == "POST" and path == SSO_LOGOUT_PATH:
                return self._sso_logout(body)
            if path == API or path.startswith(API + "/"):
                return self._api(method, path, query, headers, body)
            raise _Fault(404, "Not Found", "No such path: %s" % path)
        except _Fault as f:
            return f.status, XML, Writer.write(types.Fault(reason=f.reason, detail=f.detail)).encode()

    def _sso_token(self, body: bytes) -> Tuple[int, str, bytes]:
        with self._meta:
            self._logins += 1
        if self.faults.login_delay:
            time.sleep(self.faults.login_delay)
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        user = form.get("username", "")
        if form.get("grant_type") != "password" or "ovirt-app-api" not in form.get("scope", "").split():
            return 400, JSON, json.dumps({"error_code": "invalid_request",
                                          "error": "Unsupported grant_type or scope"}).encode()
        if user not in self.inventory.users or self.inventory.users[user] != form.get("password"):
            return 400, JSON, json.dumps({
                "error_code": "access_denied",
                "error": "Cannot authenticate user '%s': The username or password is incorrect." % user}).encode()
        token = secrets.token_urlsafe(32)
        with self._meta:
            self._tokens[token] = user
        exp = int((time.time() + 360000) * 1000)
        return 200, JSON, json.dumps({"access_token": token, "scope": "ovirt-app-api", "exp": str(exp),
                                      "token_type": "bearer"}).encode()

    def _sso_logout(self, body: bytes) -> Tuple[int, str, bytes]:
        form = parse_qs(body.decode("utf-8"))
        with self._meta:
            self._logouts += 1
            for token in form.get("token", []):
                self._tokens.pop(token, None)
        return 200, JSON, b"{}"

    def _api(self, method: str, path: str, query: Dict[str, str], headers,
             body: bytes = b"") -> Tuple[int, str, bytes]:
        auth = headers.get("Authorization", "")
        with self._meta:
            user = self._tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if user is None or self.faults.always_401:
            return 401, XML, b""
        if headers.get("Version", "") not in _API_VERSIONS:
            # VersionFilter (after the auth filters): sendError(400), so the servlet container's page
            return 400, "text/html;charset=UTF-8", _BAD_REQUEST_PAGE
        seg = path[len(API):].strip("/").split("/")
        if seg[0] in self.inventory.forbidden.get(user, ()):
            raise _Fault(403, "Operation Failed", "[User is not authorized to perform this action.]")
        if method != "GET":
            with self._lock:
                return _Writes(self.inventory).apply(method, seg, query, body)
        faults = self.faults
        if faults.api_delay:
            time.sleep(faults.api_delay)
        if faults.api_status is not None:
            raise _Fault(faults.api_status, "Operation Failed", "Injected fault (HTTP %d)" % faults.api_status)
        all_content = "true" in (query.get("all_content", "").lower(), headers.get("All-Content", "").lower())
        payload = self._render(path[len(API):].strip("/").split("/"), query, all_content)
        if faults.malformed_xml:
            return 200, XML, payload.replace(b">", b"", 1)
        if faults.truncated_xml:
            return 200, XML, payload[:len(payload) // 2]
        return 200, "text/html; charset=UTF-8" if faults.wrong_content_type else XML, payload

    def _render(self, seg: List[str], query: Dict[str, str], all_content: bool) -> bytes:
        with self._lock:
            inv, b = self.inventory, _Builder(self.inventory)
            coll, oid, sub = (seg + [None, None])[:3] if seg != [""] else (None, None, None)
            if coll in ("schedulingpolicyunits", "schedulingpolicies", "options"):
                return _render_scheduling(b, seg, query)
            if len(seg) > 3:
                raise _Fault(404, "Not Found", "No such path: /%s" % "/".join(seg))
            if coll is None:
                return Writer.write(b.api()).encode()
            if coll == "vms":
                follow = _parse_follow(query.get("follow"), _NIC_FOLLOW if sub else _VM_FOLLOW)
                if oid is None:
                    return self._write_list("vms", self._vm_entries(b, self._vm_list(query), follow, all_content))
                vm = self._get(inv.vms, oid, "VM")
                if sub == "nics":
                    return self._write_list("nics", [(None, None, lambda n=n: b.nic(vm, n, follow)) for n in vm.nics])
                if sub is None:
                    return self._write_one(self._vm_entries(b, [vm], follow, all_content)[0])
            elif coll == "hosts":
                if oid is None:
                    follow = _parse_follow(query.get("follow"), _HOST_FOLLOW)
                    entries = self._host_entries(b, self._host_list(query), follow, all_content)
                    return self._write_list("hosts", entries)
                host = self._get(inv.hosts, oid, "host")
                if sub is None:
                    follow = _parse_follow(query.get("follow"), _HOST_FOLLOW)
                    return self._write_one(self._host_entries(b, [host], follow, all_content)[0])
                if sub == "nics":
                    return Writer.write(b.host_nics(host, all_content), root="host_nics").encode()
                if sub == "devices":
                    return self._cached(("devices", host.id), _state(host),
                                        lambda: Writer.write(b.host_devices(host), root="host_devices").encode())
            elif coll == "vnicprofiles" and sub is None:
                follow = _parse_follow(query.get("follow"), _PROFILE_FOLLOW)
                if oid is None:
                    return Writer.write([b.profile(p, follow) for p in inv.profiles.values()],
                                        root="vnic_profiles").encode()
                return Writer.write(b.profile(self._get(inv.profiles, oid, "vNIC profile"), follow)).encode()
            elif coll == "clusters" and sub is None:
                if oid is None:
                    return Writer.write([b.cluster(c) for c in inv.clusters.values()], root="clusters").encode()
                return Writer.write(b.cluster(self._get(inv.clusters, oid, "cluster"))).encode()
            raise _Fault(404, "Not Found", "No such path: /%s" % "/".join(seg))

    @staticmethod
    def _get(items: dict, oid: str, what: str):
        if oid not in items:
            raise _Fault(404, "Operation Failed", "Entity not found: %s %s" % (what, oid))
        return items[oid]

    @staticmethod
    def _limit(items: list, query: Dict[str, str]) -> list:
        """`max` as the engine reads it (ParametersHelper.getIntegerParameter): absent, empty or not
        a Java int means no limit; the engine logs a bad value and ignores it, it is no fault.
        A negative max also means no limit here (fake choice: the engine's answer is unverified)."""
        text = query.get("max", "")
        if not _JAVA_INT.fullmatch(text) or not -2 ** 31 <= int(text) < 2 ** 31:
            return items
        limit = int(text)
        return items if limit < 0 else items[:limit]

    def _vm_list(self, query: Dict[str, str]) -> List[SimVm]:
        try:
            search = _compile_search(query.get("search", ""), self.inventory, vms=True)
        except _InvalidSearch:
            return []                       # the engine answers an invalid search with 200 + empty list
        return self._limit([vm for vm in self.inventory.vms.values() if search.matches(vm)], query)

    def _host_list(self, query: Dict[str, str]) -> List[SimHost]:
        try:
            search = _compile_search(query.get("search", ""), self.inventory, vms=False)
        except _InvalidSearch:
            return []
        return self._limit([h for h in self.inventory.hosts.values() if search.matches(h)], query)

    # -- render cache
    # An entry is (cache key or None, state snapshot, builder of the types object).
    def _vm_entries(self, b: _Builder, vms: List[SimVm], follow, all_content: bool) -> list:
        # Only a VM's own state goes into its document unless follow inlines other objects.
        cacheable = set(follow) <= {"nics"} and not follow.get("nics")
        fkey = _follow_key(follow)
        return [(("vm", vm.id, fkey, all_content) if cacheable else None, _state(vm),
                 lambda vm=vm: b.vm(vm, follow, all_content)) for vm in vms]

    def _host_entries(self, b: _Builder, hosts: List[SimHost], follow, all_content: bool) -> list:
        # A host's document holds its own state plus the VM summary; follow=cluster inlines more.
        cacheable = "cluster" not in follow
        fkey = _follow_key(follow)
        summaries = b.summaries()
        return [(("host", h.id, fkey, all_content) if cacheable else None, (_state(h), summaries.get(h.id)),
                 lambda h=h: b.host(h, follow, all_content)) for h in hosts]

    def _cached(self, key: Optional[tuple], state: tuple, render: Callable[[], bytes]) -> bytes:
        if key is None or not self._use_cache:
            return render()
        hit = self._cache.get(key)
        if hit is None or hit[0] != state:
            hit = self._cache[key] = (state, render())
        return hit[1]

    def _write_one(self, entry) -> bytes:
        key, state, build = entry
        return self._cached(key, state, lambda: Writer.write(build()).encode())

    def _write_list(self, root: str, entries: list) -> bytes:
        if not self._use_cache:
            return Writer.write([build() for _, _, build in entries], root=root).encode()
        if not entries:
            return ("<%s/>" % root).encode()
        return b"".join([b"<%s>" % root.encode()] + [self._write_one(e) for e in entries]
                        + [b"</%s>" % root.encode()])
