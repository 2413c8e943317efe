"""The fake UCS-M server: sessions with cookies and a per-user session limit, the queries,
both error forms, fault injection, and the HTTP(S) server on 127.0.0.1."""
import logging
import ssl
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

import defusedxml
import defusedxml.ElementTree as DET

from .filters import BadRequest, flag, in_filter, filter_matches
from .objects import TEMPLATES, Mo, build_objects
from .samples import (UcsmPortProfile, UcsmQosPolicy, UcsmServer, UcsmVlan, qos_policies_of, sample_port_profiles,
                      vlans_of)
from .writes import ConfigRefused, configure

LOG = logging.getLogger("ovirt_vf_scheduler.sim.ucsm")

# The per-user session limit: ucsmsdk's metadata names the failure ERR-max-userid-sessions-reached,
# but the numeric errorCode a real aaaLogin answers with is in no public source found (ucsmsdk,
# its issues, public captures). "572" is INVENTED: assert it only as the fake's own number.
INVENTED_SESSION_LIMIT_CODE = "572"


@dataclass
class Faults:
    """Misbehaviour, applied to the methods in `methods` (None = every method)."""
    delay: float = 0.0                        # hang this long before answering
    drip: float = 0.0                         # pause between 64 KiB pieces of the answer
    http_status: Optional[int] = None         # answer with this HTTP status and an HTML page
    malformed_xml: bool = False               # answer with truncated XML
    entity_bomb: bool = False                 # answer with a DOCTYPE and nested entities
    reject_cookies: bool = False              # every query: drop the session, answer 552
    max_sessions: int = 32                    # per user
    methods: Optional[FrozenSet[str]] = None
    refuse_writes: Optional[Tuple[str, str]] = None   # (errorCode, errorDescr) for every configConfMo(s)
    expire_pending: bool = False              # set by expire_cookies(), used up by the fake

    def applies(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def expire_cookies(self) -> None:
        """Every session is gone by the next request other than aaaLogin (a query gets 552,
        aaaLogout 555), as after a UCS-M session timeout that strikes mid-run."""
        self.expire_pending = True



def _answer(request: ET.Element, **attrs: str) -> ET.Element:
    return ET.Element(request.tag, dict(attrs, cookie=request.get("cookie", ""), response="yes"))


def _method_error(request: ET.Element, code: str, descr: str) -> ET.Element:
    return _answer(request, errorCode=code, invocationResult="unidentified-fail", errorDescr=descr)


def _parse_error(descr: str) -> ET.Element:
    return ET.Element("error", cookie="", response="yes", errorCode="ERR-xml-parse-error",
                      invocationResult="594", errorDescr=descr)


def _entity_bomb(method: str) -> bytes:
    entities = ['<!ENTITY e0 "lollollollol">'] + [
        '<!ENTITY e%d "%s">' % (level, ("&e%d;" % (level - 1)) * 10) for level in range(1, 10)]
    return ('<?xml version="1.0"?><!DOCTYPE %s [%s]><%s cookie="" response="yes" '
            'errorDescr="&e9;"/>' % (method, "".join(entities), method)).encode()


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "text/xml"
    headers: Dict[str, str] = field(default_factory=dict)
    pause: float = 0.0                        # between 64 KiB pieces of the body


def _html(status: int) -> _Reply:
    phrase = HTTPStatus(status).phrase
    page = "<html><head><title>%d %s</title></head><body><h1>%s</h1></body></html>" % (
        status, phrase, phrase)
    return _Reply(status, page.encode(), "text/html")


# --- the fake ----------------------------------------------------------------------------

_SESSION_FREE = ("aaaLogin", "aaaRefresh", "aaaLogout")
WRITE_METHODS = ("configConfMo", "configConfMos")
_PIECE = 64 * 1024


class FakeUcsm:
    """One fake UCS domain over HTTP(S) on 127.0.0.1; start() it, use .url, stop() it."""

    def __init__(self, servers: Iterable[UcsmServer], users: Optional[Mapping[str, str]] = None,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 redirect_to: Optional[str] = None,
                 port_profiles: Optional[Iterable[UcsmPortProfile]] = None,
                 vlans: Optional[Iterable[UcsmVlan]] = None, qos_policies: Optional[Iterable[UcsmQosPolicy]] = None,
                 privileges: Optional[Mapping[str, str]] = None):
        """port_profiles None: sample_port_profiles(); vlans and qos_policies None: those the port
        profiles name. privileges: user -> UCS-M privileges, comma-separated (default read-only)."""
        profiles = list(sample_port_profiles() if port_profiles is None else port_profiles)
        objects = build_objects(servers, profiles, vlans_of(profiles) if vlans is None else vlans,
                                qos_policies_of(profiles) if qos_policies is None else qos_policies)
        self.users = dict(users if users is not None else {"ovirt-ro": "secret"})
        self.privileges = dict(privileges or {})
        self.faults = Faults()
        self.requests: List[Tuple[str, ...]] = []
        self.write_requests: List[ET.Element] = []     # every configConfMo(s) as received
        self.logins = 0
        self.logouts = 0
        self.url = ""
        self._tls = (tls_cert, tls_key) if tls_cert else None
        self._redirect_to = redirect_to     # answer every POST with a 301 to this base URL
        self._by_dn = {attrs["dn"]: (class_id, attrs) for class_id, attrs in objects}
        self._sessions: Dict[str, str] = {}  # cookie -> user
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._methods: Dict[str, Callable[[ET.Element], ET.Element]] = {
            "aaaLogin": self._login, "aaaRefresh": self._refresh, "aaaLogout": self._logout,
            "aaaKeepAlive": lambda request: _answer(request),
            "configResolveClass": self._resolve_class,
            "configResolveClasses": self._resolve_classes,
            "configResolveDn": self._resolve_dn, "configResolveDns": self._resolve_dns,
            "configResolveChildren": self._resolve_children, "configScope": self._scope,
            "configConfMo": self._configure, "configConfMos": self._configure}

    # lifecycle

    def start(self) -> "FakeUcsm":
        server = _HttpServer(("127.0.0.1", 0), _Handler)
        server.fake = self
        scheme = "http"
        if self._tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self._tls)
            # handshake in the handler thread, so a stalled client cannot block accept()
            server.socket = context.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
            scheme = "https"
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-ucsm", daemon=True)
        self._thread.start()
        self.url = "%s://127.0.0.1:%d" % (scheme, server.server_address[1])
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self) -> "FakeUcsm":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # observation and faults

    @property
    def objects(self) -> List[Mo]:
        """Every object of the domain, as written so far."""
        with self._lock:
            return list(self._by_dn.values())

    def writes(self) -> int:
        """configConfMo(s) requests received (refused ones included)."""
        with self._lock:
            return len(self.write_requests)

    @property
    def active_sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expire_if_due(self, method: str) -> None:
        with self._lock:
            if self.faults.expire_pending and method != "aaaLogin":
                self.faults.expire_pending = False
                self._sessions.clear()

    # request handling

    def handle(self, body: bytes) -> _Reply:
        try:
            request = DET.fromstring(body)
        except (ET.ParseError, defusedxml.DefusedXmlException) as err:
            return self._xml(_parse_error("XML PARSING ERROR: %s" % err))
        self._record(request)
        if self._redirect_to:
            return _Reply(301, b"", "text/html", {"Location": self._redirect_to + "/nuova"})
        if not self.faults.applies(request.tag):
            return self._dispatch(request)
        reply = self._fault(request.tag) or self._dispatch(request)
        reply.pause = self.faults.drip
        return reply

    def _dispatch(self, request: ET.Element) -> _Reply:
        self._expire_if_due(request.tag)
        method = self._methods.get(request.tag)
        if method is None:
            return self._xml(_parse_error("XML PARSING ERROR: unknown method %s" % request.tag))
        try:
            rejected = None if request.tag in _SESSION_FREE else self._check_cookie(request)
            return self._xml(rejected if rejected is not None else method(request))
        except BadRequest as err:
            return self._xml(_parse_error(str(err)))

    def _record(self, request: ET.Element) -> None:
        class_ids = [request.get("classId") or request.get("inClass") or ""]
        class_ids += [item.get("value", "") for item in request.iter("classId")]
        if request.tag in WRITE_METHODS:        # the top-level dns written
            class_ids += [request.get("dn", "")] + [pair.get("key", "") for pair in request.iter("pair")]
        with self._lock:
            self.requests.append((request.tag,) + tuple(name for name in class_ids if name))
            if request.tag in WRITE_METHODS:
                self.write_requests.append(request)

    def pause(self, seconds: float) -> None:
        """Sleep, but wake up when the fake stops."""
        self._stopping.wait(seconds)

    def _fault(self, method: str) -> Optional[_Reply]:
        faults = self.faults
        if faults.delay:
            self.pause(faults.delay)
        if faults.http_status:
            return _html(faults.http_status)
        if faults.malformed_xml:
            truncated = '<%s cookie="" response="yes"><outConfigs><lsServer dn="org-' % method
            return _Reply(200, truncated.encode())
        if faults.entity_bomb:
            return _Reply(200, _entity_bomb(method))
        return None

    def _xml(self, element: ET.Element) -> _Reply:
        return _Reply(200, ET.tostring(element))

    # session methods

    def _check_cookie(self, request: ET.Element) -> Optional[ET.Element]:
        """552 for an unknown, expired or deliberately rejected cookie."""
        cookie = request.get("cookie", "")
        with self._lock:
            if self.faults.reject_cookies:
                self._sessions.pop(cookie, None)
            if cookie in self._sessions:
                return None
        return _method_error(request, "552", "Authorization required")

    def _login(self, request: ET.Element) -> ET.Element:
        user = request.get("inName", "")
        if not self._password_ok(request):
            return _method_error(request, "551", "Authentication failed")
        with self._lock:
            if list(self._sessions.values()).count(user) >= self.faults.max_sessions:
                return _method_error(request, INVENTED_SESSION_LIMIT_CODE,
                                     "User reached maximum session limit "
                                     "(ERR-max-userid-sessions-reached)")
            cookie = self._new_session(user)
            self.logins += 1
        return self._session_answer(request, cookie, user)

    def _refresh(self, request: ET.Element) -> ET.Element:
        user = request.get("inName", "")
        if not self._password_ok(request):
            return _method_error(request, "551", "Authentication failed")
        with self._lock:
            if self._sessions.pop(request.get("inCookie", ""), None) is None:
                return _method_error(request, "552", "Authorization required")
            cookie = self._new_session(user)
        return self._session_answer(request, cookie, user)

    def _password_ok(self, request: ET.Element) -> bool:
        expected = self.users.get(request.get("inName", ""))
        return expected is not None and expected == request.get("inPassword")

    def _new_session(self, user: str) -> str:
        cookie = "%d/%s" % (time.time(), uuidlib.uuid4())
        self._sessions[cookie] = user
        return cookie

    def _session_answer(self, request: ET.Element, cookie: str, user: str) -> ET.Element:
        answer = _answer(request, outCookie=cookie, outRefreshPeriod="600", outPriv=self._privileges_of(user),
                         outDomains="", outChannel="noencssl", outEvtChannel="noencssl",
                         outSessionId="web_%d_A" % (zlib.crc32(cookie.encode()) % 100000),
                         outVersion="4.2(3b)", outName=user, outPasswdExpiryDuration="0",
                         outPasswdExpiryStatus="not-applicable")
        return answer

    def _privileges_of(self, user: str) -> str:
        return self.privileges.get(user, "read-only")

    def _logout(self, request: ET.Element) -> ET.Element:
        with self._lock:
            if self._sessions.pop(request.get("inCookie", ""), None) is None:
                return _method_error(request, "555", "Session not found")
            self.logouts += 1
        return _answer(request, outStatus="success")

    # queries

    def _objects_of(self, class_id: str) -> List[Mo]:
        if class_id not in TEMPLATES:
            raise BadRequest("XML PARSING ERROR: no class named %s" % class_id)
        return [mo for mo in self.objects if mo[0] == class_id]

    def _children(self, dn: str) -> List[Mo]:
        return [mo for mo in self.objects if mo[1]["dn"].rpartition("/")[0] == dn]

    # writes

    def _configure(self, request: ET.Element) -> ET.Element:
        """configConfMo(s): see writes.py; faults.refuse_writes answers every write with that error."""
        if self.faults.refuse_writes:
            return _method_error(request, *self.faults.refuse_writes)
        with self._lock:
            user = self._sessions.get(request.get("cookie", ""), "")
            privileges = frozenset(self._privileges_of(user).split(","))
            try:
                out = configure(self._by_dn, request, privileges)
            except ConfigRefused as err:
                return _method_error(request, err.code, err.descr)
        answer = _answer(request, **({"dn": request.get("dn", "")} if request.tag == "configConfMo" else {}))
        answer.append(out)
        return answer

    def _configs(self, request: ET.Element, found: Iterable[Mo], tag: str = "outConfigs",
                 **echo: str) -> ET.Element:
        """The answer element: echoed attributes plus the objects, nested when hierarchical."""
        answer = _answer(request, **echo)
        container = ET.SubElement(answer, tag)
        hierarchical = flag(request, "inHierarchical")
        container.extend(self._element(mo, hierarchical, top=True) for mo in found)
        return answer

    def _element(self, mo: Mo, hierarchical: bool, top: bool) -> ET.Element:
        """Top-level objects carry dn; nested children carry only rn, as in the guide."""
        class_id, attrs = mo
        shown = dict(attrs)
        if not top:
            shown["rn"] = shown.pop("dn").rpartition("/")[2]
        element = ET.Element(class_id, shown)
        if hierarchical:
            element.extend(self._element(child, True, top=False)
                           for child in self._children(attrs["dn"]))
        return element

    def _resolve_class(self, request: ET.Element) -> ET.Element:
        class_id = request.get("classId", "")
        objects, flt = self._objects_of(class_id), in_filter(request, class_id)
        found = [mo for mo in objects if filter_matches(flt, mo[1])]
        return self._configs(request, found, classId=class_id)

    def _resolve_classes(self, request: ET.Element) -> ET.Element:
        class_ids = [item.get("value", "") for item in request.iter("classId")]
        return self._configs(request, [mo for class_id in class_ids
                                       for mo in self._objects_of(class_id)])

    def _resolve_dn(self, request: ET.Element) -> ET.Element:
        dn = request.get("dn", "")
        found = [self._by_dn[dn]] if dn in self._by_dn else []
        return self._configs(request, found, "outConfig", dn=dn)

    def _resolve_dns(self, request: ET.Element) -> ET.Element:
        dns = [item.get("value", "") for item in request.iter("dn")]
        answer = self._configs(request, [self._by_dn[dn] for dn in dns if dn in self._by_dn])
        unresolved = ET.SubElement(answer, "outUnresolved")
        unresolved.extend(ET.Element("dn", value=dn) for dn in dns if dn not in self._by_dn)
        return answer

    def _resolve_children(self, request: ET.Element) -> ET.Element:
        class_id = request.get("classId") or None
        if class_id:
            self._objects_of(class_id)          # unknown class -> error
        flt = in_filter(request, class_id)
        found = [mo for mo in self._children(request.get("inDn", ""))
                 if (not class_id or mo[0] == class_id) and filter_matches(flt, mo[1])]
        return self._configs(request, found, **({"classId": class_id} if class_id else {}))

    def _scope(self, request: ET.Element) -> ET.Element:
        dn, class_id = request.get("dn", ""), request.get("inClass", "")
        objects, flt = self._objects_of(class_id), in_filter(request, class_id)
        recursive = flag(request, "inRecursive")

        def below(mo_dn: str) -> bool:
            return mo_dn.startswith(dn + "/") if recursive else mo_dn.rpartition("/")[0] == dn

        found = [mo for mo in objects if below(mo[1]["dn"]) and filter_matches(flt, mo[1])]
        return self._configs(request, found, dn=dn)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False      # stop() must not wait for a handler hanging on purpose
    fake: FakeUcsm

    def handle_error(self, request, client_address) -> None:
        """Clients that gave up (timeouts, TLS refusals) are expected; keep stderr clean."""
        LOG.debug("fake UCS-M: connection from %s ended badly", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = self.server.fake.handle(body) if self.path == "/nuova" else _html(404)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for start in range(0, len(reply.body), _PIECE):
            if start and reply.pause:
                self.server.fake.pause(reply.pause)
            self.wfile.write(reply.body[start:start + _PIECE])

    def log_message(self, format, *args) -> None:  # noqa: A002 (signature of the base class)
        LOG.debug("fake UCS-M: " + format, *args)
