"""Reads what a decision needs from the engine, through ovirtsdk4 only.

Query plan (docs/engine-rest.md section 2, narrowed so documents stay small on big engines):
  1. GET /vnicprofiles?follow=network        -> which profiles carry the VF property, and their networks
  2. GET /vms?search=id=<vm> or vnic.network_name=<net> and status!=Down ...&follow=nics
                                              -> the scheduled VM (demand) + every running VM on those
                                                 networks (usage), whatever host it runs on
  3. GET /hosts?follow=nics,devices&all_content=true
                                              -> capacity of every host; only when the cache is cold
No request at all depends on the number of candidate hosts, and a VM without VF vNICs stops
after step 2 (serve reads the scheduled VM alone, GET /vms/<id>, while its usage view is fresh).
Through connection.BoundedConnection: the SDK's connection with a login bounded by [engine]
timeout, and the large answers parsed as they stream in (_Items) instead of the SDK's readers.
"""
import logging
import re
import time
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

from lxml import etree

from .accounting import HostRecord, VfProfile, VmRecord, VnicRecord
from .config import EngineSettings
from .model import DataSourceError
from .store import TokenCache
from .text import one_line
from .usage_events import USAGE_CODES, EventRecord

LOG = logging.getLogger("ovirt_vf_scheduler.engine")
# Network names that can go into a search term as they are; anything else (spaces, quotes,
# wildcards) falls back to the broader "every running VM" query, which is still correct.
_SEARCHABLE = re.compile(r"^[A-Za-z0-9_.-]+$")


MAX_ANSWER = 512 * 2 ** 20   # bytes: every host of 1,000 with its devices is ~115 MB
EVENT_PAGE = 500             # events per page: answers come newest first and `max` cuts the older ones
EVENT_PAGES = 20             # more new events than this many pages: reading the VMs whole is cheaper
# The search that makes `from` work for any account (a filtered user's `from` is ignored
# without a search) and keeps the answer to what moves VF usage.
EVENT_SEARCH = " or ".join("type=%d" % code for code in sorted(USAGE_CODES))


class EngineError(DataSourceError):
    """The engine could not give a usable answer."""


class TooManyEvents(EngineError):
    """More new events than a poll reads: the caller reads the VMs whole instead."""


class EngineUnreachable(EngineError):
    """No answer at all (refused, timed out): a long-lived caller backs off instead of retrying
    at once, because every retry would hold the engine's scheduling lock for the full timeout."""


# curl errors that mean "no answer": couldn't resolve/connect, timed out, empty reply, recv failure.
_NO_ANSWER = re.compile(r"\((?:<[^>]*>, )?(?:6|7|28|52|56), ")


def _text(element, path: str) -> Optional[str]:
    value = element.findtext(path)
    return value.strip() if value is not None else None


def _ref(element, path: str) -> Optional[str]:
    found = element.find(path)
    return found.get("id") if found is not None else None


def _vm_record(vm) -> VmRecord:
    nics = tuple(VnicRecord(plugged=_text(nic, "plugged") == "true", profile_id=_ref(nic, "vnic_profile"))
                 for nic in vm.iterfind("nics/nic"))
    vm_id = vm.get("id")
    return VmRecord(vm_id=vm_id, name=_text(vm, "name") or vm_id, status=_text(vm, "status") or "unknown",
                    host_id=_ref(vm, "host"), nics=nics)


def _event_record(event) -> Optional[EventRecord]:
    index, code = _text(event, "index") or "", _text(event, "code") or ""
    if not (index.isdigit() and code.isdigit()):
        return None
    return EventRecord(index=int(index), code=int(code), vm_id=_ref(event, "vm"), host_id=_ref(event, "host"))


def _count(element, path: str) -> int:
    """A non-negative count; anything else reads as 0 (capacity is never invented)."""
    text = _text(element, path) or ""
    return int(text) if text.isdigit() else 0


def _host_record(host) -> HostRecord:
    drivers = tuple(_text(dev, "driver") or "" for dev in host.iterfind("devices/host_device")
                    if dev.find("physical_function") is not None)
    configured = tuple(_count(cfg, "number_of_virtual_functions")
                       for cfg in host.iterfind("nics/host_nic/virtual_functions_configuration"))
    host_id = host.get("id")
    return HostRecord(host_id=host_id, name=_text(host, "name") or host_id, vf_device_drivers=drivers,
                      nic_vfs_configured=configured, hw_uuid=_text(host, "hardware_information/uuid"),
                      serial=_text(host, "hardware_information/serial_number"))


def vm_search(vm_id: Optional[str], networks: Optional[FrozenSet[str]]) -> str:
    """Search for the scheduled VM (if any) plus every non-Down VM attached to one of `networks`
    (None: the VM alone).

    AND binds tighter than OR in the engine's grammar, so each term needs its own status.
    """
    terms = ["id=%s" % vm_id] if vm_id else []
    if networks is None:
        pass
    elif networks and all(_SEARCHABLE.match(net) for net in networks):
        terms += ["vnic.network_name=%s and status!=Down" % net for net in sorted(networks)]
    else:
        terms += ["status!=Down"]
    return " or ".join(terms)


def sdk_connection(settings: EngineSettings, token: Optional[str], max_seconds: float = 0):
    """An ovirtsdk4 Connection with our TLS settings; each request AND the SSO login are bounded
    by the config's timeout (and by `max_seconds` if given). Raises ovirtsdk4.Error."""
    from .connection import BoundedConnection
    # A second past the caller's limit: its own deadline (a plugin's watchdog) fires first and
    # says so, rather than a request that happened to be running then.
    limit = min(settings.timeout, max_seconds + 1) if max_seconds else settings.timeout
    return BoundedConnection(login_timeout=limit, url=settings.url, username=settings.username,
                             password=settings.password, token=token, insecure=settings.insecure,
                             ca_file=settings.ca_file, timeout=max(1, int(limit + 0.999)))


class EngineSession:
    """One SDK connection, reusing the SSO token other processes cached: for one decision in a
    plugin process, or for the whole life of `serve` (`deadline` None: each request is bounded
    by [engine] timeout alone, and the caller bounds the call)."""

    def __init__(self, settings: EngineSettings, tokens: TokenCache, deadline: Optional[float]):
        import ovirtsdk4   # heavy (0.15 s): only on paths that talk to the engine
        self._sdk = ovirtsdk4
        self._tokens = tokens
        self.requests: List[str] = []
        remaining = max(0.001, deadline - time.monotonic()) if deadline is not None else 0
        try:
            self._conn = sdk_connection(settings, tokens.load(), remaining)
        except ovirtsdk4.Error as err:
            raise EngineError("cannot set up the engine connection to %s: %s" % (settings.url, err)) from None
        self._url = settings.url

    def drain_requests(self) -> List[str]:
        """What was asked since the last drain (for the decision log)."""
        asked, self.requests = self.requests, []
        return asked

    def save_token(self) -> None:
        """Share the token with other processes when the cache file does not hold it (a changed
        token, or a file that went missing or corrupt); never logs in for that."""
        try:
            token = self._conn.current_token
            if token:
                self._tokens.save(token)
        except Exception:   # noqa: BLE001 - saving the token is best effort
            LOG.debug("token not saved", exc_info=True)

    def close(self) -> None:
        """Keep the token for the next process: never log out (that would revoke it)."""
        self.save_token()
        self._conn.close(logout=False)

    def _get(self, what: str, path: str, query: Dict[str, str], item: str, convert: Callable,
             single: bool = False) -> list:
        """GET through the connection (its auth, TLS, token renewal and timeout) and convert each
        top-level `item` element (`single`: the document's root) while the body streams in.

        The SDK's readers build a full object for every attribute and take ~5x longer on the
        large VM and host lists, and the SDK buffers a whole answer before it can be read
        (bench/RESULTS.md); parsing as the bytes arrive keeps memory at one element, and the
        parse runs while the engine is still sending. `single` and a 404: [] (no such object).
        """
        self.requests.append(what)
        items = _Items(item, convert, single)
        try:
            status, other = self._conn.stream_get(path, query, items.feed, MAX_ANSWER)
            if single and status == 404:
                return []
            if status in (401, 403):
                raise EngineError("engine %s refused the credentials on %s (HTTP %s%s)"
                                  % (self._url, what, status, _fault_text(other)))
            if status != 200:
                raise EngineError("engine %s answered %s with HTTP %s%s"
                                  % (self._url, what, status, _fault_text(other)))
            return items.close()
        except self._sdk.AuthError as err:
            raise EngineError("engine %s refused the credentials on %s: %s"
                              % (self._url, what, error_line(err))) from None
        except self._sdk.Error as err:
            unreachable = isinstance(err, self._sdk.ConnectionError) or _NO_ANSWER.search(str(err))
            raise (EngineUnreachable if unreachable else EngineError)(
                "engine %s failed on %s: %s" % (self._url, what, error_line(err))) from None
        except etree.XMLSyntaxError as err:
            raise EngineError("engine %s sent an unreadable answer to %s: %s"
                              % (self._url, what, error_line(err))) from None

    def vf_profiles(self, vf_property: str) -> Dict[str, VfProfile]:
        """Profile id -> (network name, property value), for the vNIC profiles carrying `vf_property`."""
        return self.vnic_profiles(vf_property)[0]

    def vnic_profiles(self, vf_property: str) -> Tuple[Dict[str, VfProfile], FrozenSet[str]]:
        """vf_profiles(), and the id of every vNIC profile (to notice one added later)."""
        def convert(profile):
            values = {_text(prop, "name"): _text(prop, "value") or ""
                      for prop in profile.iterfind("custom_properties/custom_property")}
            vf = VfProfile(_text(profile, "network/name") or "", values[vf_property]) if vf_property in values else None
            return profile.get("id"), vf
        found = self._get("GET vnicprofiles", "/vnicprofiles", {"follow": "network"}, "vnic_profile", convert)
        return {pid: vf for pid, vf in found if vf is not None}, frozenset(pid for pid, _ in found)

    def newest_event(self) -> int:
        """The index of the newest event in the engine's log (0 when it is empty)."""
        found = self._get("GET events?max=1", "/events", {"max": "1"}, "event", _event_record)
        return max((event.index for event in found), default=0)

    def events_after(self, index: int) -> List[EventRecord]:
        """Every event that moves VF usage with an index above `index`, oldest first.

        The engine answers newest first and `max` keeps the newest, so a burst is read page by
        page (`page K` in the search) until a page comes back short; an event logged meanwhile
        shifts later pages by one, which repeats an event and never skips one.
        """
        found: Dict[int, EventRecord] = {}
        for page in range(1, EVENT_PAGES + 1):
            search = "%s page %d" % (EVENT_SEARCH, page)
            got = self._get("GET events?from=%d page %d" % (index, page), "/events",
                            {"from": str(index), "search": search, "max": str(EVENT_PAGE)}, "event", _event_record)
            found.update((event.index, event) for event in got)
            if len(got) < EVENT_PAGE:
                return sorted(found.values(), key=lambda event: event.index)
        raise TooManyEvents("more than %d new events after %d" % (EVENT_PAGE * EVENT_PAGES, index))

    def vms(self, vm_id: Optional[str], networks: Optional[FrozenSet[str]]) -> List[VmRecord]:
        """The VM `vm_id` (if given) and every running VM on `networks` (None: the VM alone)."""
        search = vm_search(vm_id, networks)
        return self._get("GET vms?search=%s" % search, "/vms", {"search": search, "follow": "nics"},
                         "vm", _vm_record)

    def vm(self, vm_id: str) -> List[VmRecord]:
        """The VM alone, by its URL (no search to parse): [] when the engine does not know it."""
        return self._get("GET vms/%s" % vm_id, "/vms/%s" % vm_id, {"follow": "nics"}, "vm", _vm_record,
                         single=True)

    def hosts(self) -> List[HostRecord]:
        return self._get("GET hosts", "/hosts", {"follow": "nics,devices", "all_content": "true"},
                         "host", _host_record)


class _Items:
    """convert(element) for each top-level `item` element of a document fed in chunks (None
    results are dropped); elements are freed as soon as they are converted."""

    def __init__(self, item: str, convert: Callable, single: bool):
        # collect_ids=False: no hash of every id attribute (a fifth of the parse time on VM lists)
        self._parser = etree.XMLPullParser(events=("end",), tag=item, resolve_entities=False,
                                           no_network=True, load_dtd=False, huge_tree=False, collect_ids=False)
        self._convert = convert
        self._single = single
        self.converted: list = []

    def feed(self, chunk: bytes) -> None:
        self._parser.feed(chunk)
        self._take()

    def _take(self) -> None:
        for _, element in self._parser.read_events():
            parent = element.getparent()
            if (parent is None) if self._single else (parent is not None and parent.getparent() is None):
                value = self._convert(element)
                if value is not None:
                    self.converted.append(value)
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]

    def close(self) -> list:
        """The converted items; XMLSyntaxError when the document is not complete."""
        self._parser.close()
        self._take()
        return self.converted


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _fault_text(body: bytes) -> str:
    """': <reason> (<detail>)' from an XML fault body, or '' when there is none."""
    try:
        fault = etree.fromstring(body or b"", _PARSER)
    except etree.XMLSyntaxError:
        return ""
    reason, detail = _text(fault, "reason"), _text(fault, "detail")
    return ": %s" % " ".join(x for x in (reason, detail and "(%s)" % detail) if x) if reason or detail else ""


_CURL_TUPLE = re.compile(r"""\((\d+), (['"])(.*?)\2\)""")     # pycurl's "(60, 'SSL certificate problem: ...')"


def error_line(err: Exception) -> str:
    """The error in one line of at most 300 characters, pycurl's (code, 'text') as 'text (curl error code)'."""
    return _CURL_TUPLE.sub(lambda found: "%s (curl error %s)" % (found.group(3), found.group(1)), one_line(err))[:300]


def find_vm(vms: List[VmRecord], vm_id: str) -> Optional[VmRecord]:
    return next((vm for vm in vms if vm.vm_id == vm_id), None)
