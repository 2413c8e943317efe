"""The fake engine itself: SSO, the API dispatcher with its fault injection and render cache,
and the HTTP(S) server; see the package docstring for the behaviour."""
import contextlib
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

from ovirtsdk4 import types
from ovirtsdk4.writer import Writer

from ..inventory import VM_STATUSES, Inventory, SimHost, SimVm
from .common import EPOCH, API, JSON, SSO_LOGOUT_PATH, SSO_TOKEN_PATH, XML, EngineFault, member_or_404
from .cost import VM_LIST_BULK, VM_SINGLE, CostModel, vm_queries
from .documents import Builder, render_network_parts, render_scheduling
from .events import EventLog, SimEvent
from .query import (HOST_FOLLOW, NIC_FOLLOW, PROFILE_FOLLOW, VM_FOLLOW, compile_search, follow_key,
                    InvalidSearch, parse_follow)
from .writes import Writes

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


def _state(obj) -> tuple:
    """A comparable snapshot of a Sim* object, lists of nics included: the cache's validity check."""
    out = []
    for value in vars(obj).values():
        if isinstance(value, list):
            value = tuple(_state(v) for v in value)
        out.append(value)
    return tuple(out)


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
        self.cost = CostModel()                     # backend queries per request, and their time
        self.events = EventLog()
        self.events.baseline(inventory.vms.values())
        # Changes made to the inventory without mutate()/place_vm (tests add a running VM by
        # hand) are found by comparing every VM at each events request; benchmarks turn it off.
        self.watch_inventory = True
        self._queries = threading.local()           # the current request's backend queries

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
        """Change the inventory as the engine would; the events for what changed are logged on exit."""
        with self._lock:
            try:
                yield self.inventory
            finally:
                self.events.observe(self.inventory.vms)

    @contextlib.contextmanager
    def inventory_unlogged(self) -> Iterator[Inventory]:
        """Change the inventory with no event for it (an event the engine lost, for tests)."""
        with self._lock:
            try:
                yield self.inventory
            finally:
                self.events.baseline(self.inventory.vms.values())

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
                self.events.observe(self.inventory.vms, only=[vm_id])
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
            raise EngineFault(404, "Not Found", "No such path: %s" % path)
        except EngineFault as f:
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
            raise EngineFault(403, "Operation Failed", "[User is not authorized to perform this action.]")
        if method != "GET":
            with self._lock:
                return Writes(self.inventory).apply(method, seg, query, body)
        faults = self.faults
        if faults.api_delay:
            time.sleep(faults.api_delay)
        if faults.api_status is not None:
            raise EngineFault(faults.api_status, "Operation Failed", "Injected fault (HTTP %d)" % faults.api_status)
        all_content = "true" in (query.get("all_content", "").lower(), headers.get("All-Content", "").lower())
        self._queries.count = 1
        payload = self._render(path[len(API):].strip("/").split("/"), query, all_content, user)
        delay = self.cost.charge(self._queries.count)
        if delay:
            time.sleep(delay)
        if faults.malformed_xml:
            return 200, XML, payload.replace(b">", b"", 1)
        if faults.truncated_xml:
            return 200, XML, payload[:len(payload) // 2]
        return 200, "text/html; charset=UTF-8" if faults.wrong_content_type else XML, payload

    def _charge(self, queries: int) -> None:
        self._queries.count += queries

    def _render(self, seg: List[str], query: Dict[str, str], all_content: bool, user: str) -> bytes:
        with self._lock:
            inv, b = self.inventory, Builder(self.inventory)
            coll, oid, sub = (seg + [None, None])[:3] if seg != [""] else (None, None, None)
            if coll in ("schedulingpolicyunits", "schedulingpolicies", "options"):
                return render_scheduling(b, seg, query)
            if coll == "datacenters" or (coll == "networks" and sub == "vnicprofiles"):
                return render_network_parts(b, seg, query)
            if len(seg) > 3:
                raise EngineFault(404, "Not Found", "No such path: /%s" % "/".join(seg))
            if coll is None:
                return Writer.write(b.api()).encode()
            if coll == "vms":
                follow = parse_follow(query.get("follow"), NIC_FOLLOW if sub else VM_FOLLOW)
                if oid is None:
                    listed = self._vm_list(query)
                    self._charge(VM_LIST_BULK + vm_queries(listed, follow))
                    return self._write_list("vms", self._vm_entries(b, listed, follow, all_content))
                vm = member_or_404(inv.vms, oid, "VM")
                if sub == "nics":
                    self._charge(1)                             # GetVmInterfacesByVmId
                    return self._write_list("nics", [(None, None, lambda n=n: b.nic(vm, n, follow)) for n in vm.nics])
                if sub is None:
                    self._charge(VM_SINGLE + vm_queries([vm], follow))
                    return self._write_one(self._vm_entries(b, [vm], follow, all_content)[0])
            elif coll == "hosts":
                if oid is None:
                    follow = parse_follow(query.get("follow"), HOST_FOLLOW)
                    listed = self._host_list(query)
                    self._charge(len(listed) * len(follow))         # the link follower, per host and link
                    return self._write_list("hosts", self._host_entries(b, listed, follow, all_content))
                host = member_or_404(inv.hosts, oid, "host")
                if sub is None:
                    follow = parse_follow(query.get("follow"), HOST_FOLLOW)
                    return self._write_one(self._host_entries(b, [host], follow, all_content)[0])
                if sub == "nics":
                    return Writer.write(b.host_nics(host, all_content), root="host_nics").encode()
                if sub == "devices":
                    return self._cached(("devices", host.id), _state(host),
                                        lambda: Writer.write(b.host_devices(host), root="host_devices").encode())
            elif coll == "vnicprofiles" and sub is None:
                follow = parse_follow(query.get("follow"), PROFILE_FOLLOW)
                if oid is None:
                    self._charge(len(inv.profiles) * len(follow))
                    return Writer.write([b.profile(p, follow) for p in inv.profiles.values()],
                                        root="vnic_profiles").encode()
                return Writer.write(b.profile(member_or_404(inv.profiles, oid, "vNIC profile"), follow)).encode()
            elif coll == "networks" and sub is None:
                if oid is None:
                    return Writer.write([b.network(n.name) for n in inv.networks.values()], root="networks").encode()
                return Writer.write(b.network(member_or_404(inv.networks, oid, "network").name)).encode()
            elif coll == "events" and sub is None and oid is None:
                return self._render_events(query, user)
            elif coll == "clusters" and sub is None:
                if oid is None:
                    return Writer.write([b.cluster(c) for c in inv.clusters.values()], root="clusters").encode()
                return Writer.write(b.cluster(member_or_404(inv.clusters, oid, "cluster"))).encode()
            raise EngineFault(404, "Not Found", "No such path: /%s" % "/".join(seg))

    def _render_events(self, query: Dict[str, str], user: str) -> bytes:
        """GET /events (see events.py for the engine's rules this follows)."""
        if self.watch_inventory:
            self.events.observe(self.inventory.vms)
        from_index = _java_int(query.get("from", ""))
        max_count = _java_int(query.get("max", ""))
        found = self.events.query(query.get("search", ""), from_index,
                                  max_count if max_count is not None and max_count >= 0 else None,
                                  user in self.inventory.filtered_users)
        return Writer.write([_event(e) for e in found], root="events").encode()

    @staticmethod
    def _limit(items: list, query: Dict[str, str]) -> list:
        """`max` as the engine reads it (ParametersHelper.getIntegerParameter): absent, empty or not
        a Java int means no limit; the engine logs a bad value and ignores it, it is no fault.
        A negative max also means no limit here (fake choice: the engine's answer is unverified)."""
        limit = _java_int(query.get("max", ""))
        return items if limit is None or limit < 0 else items[:limit]

    def _vm_list(self, query: Dict[str, str]) -> List[SimVm]:
        try:
            search = compile_search(query.get("search", ""), self.inventory, vms=True)
        except InvalidSearch:
            return []                       # the engine answers an invalid search with 200 + empty list
        return self._limit([vm for vm in self.inventory.vms.values() if search.matches(vm)], query)

    def _host_list(self, query: Dict[str, str]) -> List[SimHost]:
        try:
            search = compile_search(query.get("search", ""), self.inventory, vms=False)
        except InvalidSearch:
            return []
        return self._limit([h for h in self.inventory.hosts.values() if search.matches(h)], query)

    # -- render cache
    # An entry is (cache key or None, state snapshot, builder of the types object).
    def _vm_entries(self, b: Builder, vms: List[SimVm], follow, all_content: bool) -> list:
        # Only a VM's own state goes into its document unless follow inlines other objects.
        cacheable = set(follow) <= {"nics"} and not follow.get("nics")
        fkey = follow_key(follow)
        return [(("vm", vm.id, fkey, all_content) if cacheable else None, _state(vm),
                 lambda vm=vm: b.vm(vm, follow, all_content)) for vm in vms]

    def _host_entries(self, b: Builder, hosts: List[SimHost], follow, all_content: bool) -> list:
        # A host's document holds its own state plus the VM summary; follow=cluster inlines more.
        cacheable = "cluster" not in follow
        fkey = follow_key(follow)
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


def _java_int(text: str) -> Optional[int]:
    """An int parameter as the engine reads it: None when absent, empty or not a Java int."""
    if not _JAVA_INT.fullmatch(text) or not -2 ** 31 <= int(text) < 2 ** 31:
        return None
    return int(text)


def _event(event: SimEvent):
    """An event as EventMapper writes it: index, code, severity, time, description, vm, host."""
    obj = types.Event(id=str(event.index), index=event.index, code=event.code, severity=types.LogSeverity.NORMAL,
                      time=EPOCH, description=event.description, origin="oVirt", custom_id=-1, flood_rate=30)
    if event.vm_id:
        obj.vm = types.Vm(id=event.vm_id, name=event.vm_name)
        obj.vm.href = "%s/vms/%s" % (API, event.vm_id)
    if event.host_id:
        obj.host = types.Host(id=event.host_id)
        obj.host.href = "%s/hosts/%s" % (API, event.host_id)
    obj.href = "%s/events/%d" % (API, event.index)
    return obj
