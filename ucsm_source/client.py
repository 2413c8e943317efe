"""A small client for the Cisco UCS Manager XML API (POST <url>/nuova): sessions, queries and,
for `port-profiles export` only, configConfMo.

Why not ucsmsdk: it cannot verify certificates against a CA file, makes extra calls per
login and may print warnings, which void a scheduler plugin's answer. Every call here is
bounded by the caller's absolute deadline, and the last LOGOUT_RESERVE seconds are kept for
aaaLogout so that a failed or slow run still gives its session back (UCS-M caps sessions).
"""
import contextlib
import logging
import time
import warnings
import xml.etree.ElementTree as ET
from typing import Iterable, Iterator, List, Optional, Sequence
from urllib.parse import urljoin, urlsplit

import defusedxml
import defusedxml.ElementTree as DET
import requests
from urllib3.exceptions import InsecureRequestWarning

from .model import ManagedObject, UcsmSettings

LOG = logging.getLogger("ovirt_vf_scheduler.ucsm")

LOGOUT_RESERVE = 0.5        # seconds before the deadline that only aaaLogout may use
_CHUNK = 64 * 1024


class UcsmError(Exception):
    """A UCS-M call failed. str() is one line naming the domain; never credentials."""

    def __init__(self, url: str, message: str, code: Optional[str] = None,
                 descr: Optional[str] = None):
        super().__init__("UCS-M %s: %s" % (url, " ".join(message.split())))
        self.url = url
        self.code = code
        self.descr = descr


class UcsmAuthError(UcsmError):
    """551: the credentials were refused."""


class UcsmSessionError(UcsmError):
    """552 (cookie missing, expired or refreshed) even after one re-login."""


class UcsmUnavailable(UcsmError):
    """Transport trouble: refused, timeout, deadline, HTTP error, non-XML or oversized body."""


class UcsmProtocolError(UcsmError):
    """The answer is not a UCS-M document we can trust: malformed, DTD/entities, wrong root."""


_ERRORS_BY_CODE = {"551": UcsmAuthError, "552": UcsmSessionError,
                   "ERR-xml-parse-error": UcsmProtocolError}


# --- inFilter builders -------------------------------------------------------------------

def eq(class_id: str, prop: str, value: str) -> ET.Element:
    """Property equals value."""
    return ET.Element("eq", {"class": class_id, "property": prop, "value": value})


def wcard(class_id: str, prop: str, regex: str) -> ET.Element:
    """Property matches a regular expression."""
    return ET.Element("wcard", {"class": class_id, "property": prop, "value": regex})


def and_(*filters: ET.Element) -> ET.Element:
    """All filters hold. Keep it small: UCS-M limits composites (ucsmsdk nests beyond 10)."""
    return _composite("and", filters)


def or_(*filters: ET.Element) -> ET.Element:
    """Any filter holds."""
    return _composite("or", filters)


def _composite(tag: str, filters: Iterable[ET.Element]) -> ET.Element:
    element = ET.Element(tag)
    element.extend(filters)
    return element


# --- client ------------------------------------------------------------------------------

class UcsmClient:
    """One session with one UCS domain. Use as a context manager: login, then logout always."""

    def __init__(self, url: str, settings: UcsmSettings, deadline: float):
        self.url = url.rstrip("/")
        self._endpoint = self.url + "/nuova"
        self._settings = settings
        self._deadline = deadline
        self._cookie: Optional[str] = None
        self.privileges = ""                # aaaLogin outPriv, e.g. "read-only" or "admin,read-only"
        self._session = requests.Session()
        self._session.trust_env = False     # no env proxies/netrc/CA bundles near credentials
        self._session.verify = False if settings.insecure else (settings.ca_file or True)
        self._session.headers["Content-Type"] = "application/x-www-form-urlencoded"

    def __enter__(self) -> "UcsmClient":
        try:
            self.login()
        except BaseException:
            self._session.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.logout()
        except UcsmError as err:
            LOG.warning("logout failed, the session stays until UCS-M expires it: %s", err)
        finally:
            self._session.close()

    # session methods

    def login(self) -> None:
        """aaaLogin; keeps the cookie for the queries."""
        root = self._exchange(ET.Element("aaaLogin", inName=self._settings.username,
                                         inPassword=self._settings.password))
        self._cookie = self._out_cookie(root)
        self.privileges = root.get("outPriv", "")

    def refresh(self) -> None:
        """aaaRefresh: UCS-M issues a new cookie and the old one stops working."""
        root = self._exchange(ET.Element("aaaRefresh", inName=self._settings.username,
                                         inPassword=self._settings.password,
                                         inCookie=self._require_cookie()))
        self._cookie = self._out_cookie(root)

    def logout(self) -> None:
        """aaaLogout; 555 (session already gone) counts as success."""
        if self._cookie is None:
            return
        cookie, self._cookie = self._cookie, None
        try:
            self._exchange(ET.Element("aaaLogout", inCookie=cookie), reserve=0.0)
        except UcsmError as err:
            if err.code != "555":
                raise

    # queries: each returns the objects flattened, children (hierarchical) after their parent

    def resolve_class(self, class_id: str, in_filter: Optional[ET.Element] = None,
                      hierarchical: bool = False) -> List[ManagedObject]:
        request = ET.Element("configResolveClass", classId=class_id,
                             inHierarchical=_flag(hierarchical))
        _add_filter(request, in_filter)
        return self._query(request)

    def resolve_classes(self, class_ids: Sequence[str],
                        hierarchical: bool = False) -> List[ManagedObject]:
        request = ET.Element("configResolveClasses", inHierarchical=_flag(hierarchical))
        ids = ET.SubElement(request, "inIds")
        for class_id in class_ids:
            ET.SubElement(ids, "classId", value=class_id)
        return self._query(request)

    def resolve_dn(self, dn: str, hierarchical: bool = False) -> List[ManagedObject]:
        """The object at dn (empty list if none), plus its subtree when hierarchical."""
        return self._query(ET.Element("configResolveDn", dn=dn,
                                      inHierarchical=_flag(hierarchical)))

    def resolve_dns(self, dns: Sequence[str], hierarchical: bool = False) -> List[ManagedObject]:
        """The objects that exist among dns; unresolved dns are simply absent."""
        request = ET.Element("configResolveDns", inHierarchical=_flag(hierarchical))
        container = ET.SubElement(request, "inDns")
        for dn in dns:
            ET.SubElement(container, "dn", value=dn)
        return self._query(request)

    def resolve_children(self, in_dn: str, class_id: Optional[str] = None,
                         in_filter: Optional[ET.Element] = None) -> List[ManagedObject]:
        request = ET.Element("configResolveChildren", inDn=in_dn, inHierarchical="false")
        if class_id:
            request.set("classId", class_id)
        _add_filter(request, in_filter)
        return self._query(request)

    # writes

    def configure(self, mo: ET.Element) -> List[ManagedObject]:
        """configConfMo of one object with its children (each one's `status` says created, modified
        or deleted); returns what UCS-M answers. An error answer raises UcsmError with its code."""
        request = ET.Element("configConfMo", dn=mo.get("dn", ""), inHierarchical="false")
        ET.SubElement(request, "inConfig").append(mo)
        return self._query(request)

    # plumbing

    def _query(self, request: ET.Element) -> List[ManagedObject]:
        """Send a query with the cookie; on 552 log in again once and retry."""
        try:
            root = self._with_cookie(request)
        except UcsmSessionError:
            LOG.info("%s: session rejected (552), logging in again", self.url)
            self.login()
            root = self._with_cookie(request)
        container = root.find("outConfigs")
        if container is None:
            container = root.find("outConfig")
        if container is None:
            raise UcsmProtocolError(self.url, "%s answer has no outConfigs" % request.tag)
        return list(_objects(container, ""))

    def _with_cookie(self, request: ET.Element) -> ET.Element:
        request.set("cookie", self._require_cookie())
        return self._exchange(request)

    def _require_cookie(self) -> str:
        if self._cookie is None:
            raise UcsmError(self.url, "not logged in")
        return self._cookie

    def _out_cookie(self, root: ET.Element) -> str:
        cookie = root.get("outCookie")
        if not cookie:
            raise UcsmProtocolError(self.url, "%s answer has no outCookie" % root.tag)
        return cookie

    def _exchange(self, request: ET.Element, reserve: float = LOGOUT_RESERVE) -> ET.Element:
        """POST one method and return the checked answer element."""
        method = request.tag
        started = time.monotonic()
        body = self._post(ET.tostring(request), method, self._deadline - reserve)
        root = self._parse(body, method)
        LOG.debug("%s: %s%s -> %d bytes in %.3fs", self.url, method, _describe(request),
                  len(body), time.monotonic() - started)
        self._raise_for_error(root, method)
        return root

    def _post(self, body: bytes, method: str, until: float) -> bytes:
        """POST to the endpoint, following at most one http->https redirect on the same host
        (a second one is refused by _redirect_target, as the URL is https by then)."""
        url, timeout = self._endpoint, 0.0
        try:
            with self._quiet_if_insecure():
                while True:
                    timeout = self._timeout(method, until)
                    with self._session.post(url, data=body, timeout=(timeout, timeout),
                                            stream=True, allow_redirects=False) as response:
                        if not response.is_redirect:
                            payload = self._read(response, method, until)
                            self._endpoint = url
                            return payload
                        url = self._redirect_target(url, response.headers["Location"])
        except requests.Timeout:
            raise UcsmUnavailable(self.url, "%s: no answer within %.1fs%s"
                                  % (method, timeout, _deadline_note(until))) from None
        except requests.RequestException as err:
            raise UcsmUnavailable(self.url, "%s: %s" % (method, _root_cause(err))) from None

    def _quiet_if_insecure(self):
        """Silence urllib3's InsecureRequestWarning: warnings on stderr void a plugin's answer."""
        if not self._settings.insecure:
            return contextlib.nullcontext()
        return _ignoring(InsecureRequestWarning)

    def _timeout(self, method: str, until: float) -> float:
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise UcsmUnavailable(self.url, "%s: deadline exceeded" % method)
        return min(self._settings.timeout, remaining)

    def _redirect_target(self, url: str, location: str) -> str:
        target = urljoin(url, location)
        current, new = urlsplit(url), urlsplit(target)
        if not (current.scheme == "http" and new.scheme == "https"
                and current.hostname == new.hostname):
            raise UcsmUnavailable(self.url, "refusing redirect to %s" % target)
        LOG.info("%s redirects to %s; configure the https URL", self.url, target)
        return target

    def _read(self, response: requests.Response, method: str, until: float) -> bytes:
        """The body, stopped at max_response_bytes and at the deadline."""
        if response.status_code != 200:
            raise UcsmUnavailable(self.url, "%s: HTTP %d %s"
                                  % (method, response.status_code, response.reason or ""))
        limit = self._settings.max_response_bytes
        chunks, size = [], 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise UcsmUnavailable(self.url, "%s: answer larger than %d bytes" % (method, limit))
            if time.monotonic() > until:
                raise UcsmUnavailable(self.url, "%s: deadline exceeded while reading" % method)
            chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, body: bytes, method: str) -> ET.Element:
        head = body.lstrip()[:64].lower()
        if not head.startswith(b"<") or head.startswith((b"<html", b"<!doctype html")):
            raise UcsmUnavailable(self.url, "%s: answer is not XML" % method)
        try:
            root = DET.fromstring(body)
        except defusedxml.DefusedXmlException:
            raise UcsmProtocolError(self.url, "%s: answer has a DTD or entities" % method) from None
        except ET.ParseError as err:
            raise UcsmProtocolError(self.url, "%s: malformed XML (%s)" % (method, err)) from None
        if root.tag not in (method, "error"):
            raise UcsmProtocolError(self.url, "%s: unexpected <%s> answer" % (method, root.tag))
        return root

    def _raise_for_error(self, root: ET.Element, method: str) -> None:
        """Both error forms: <method errorCode=..> and root <error> (number in invocationResult)."""
        code = root.get("errorCode")
        if code is None and root.tag != "error":
            return
        descr = root.get("errorDescr", "")
        number = " (%s)" % root.get("invocationResult", "") if root.tag == "error" else ""
        error_class = _ERRORS_BY_CODE.get(code or "", UcsmError)
        raise error_class(self.url, "%s failed: %s%s %s" % (method, code or "?", number, descr),
                          code=code, descr=descr)


@contextlib.contextmanager
def _ignoring(category):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _add_filter(request: ET.Element, in_filter: Optional[ET.Element]) -> None:
    if in_filter is not None:
        ET.SubElement(request, "inFilter").append(in_filter)


def _objects(container: ET.Element, parent_dn: str) -> Iterator[ManagedObject]:
    """Flatten (hierarchical) answers; nested children may carry only rn."""
    for element in container:
        attrs = dict(element.attrib)
        if not attrs.get("dn") and parent_dn:
            attrs["dn"] = "%s/%s" % (parent_dn, attrs.get("rn", ""))
        yield ManagedObject(element.tag, attrs)
        yield from _objects(element, attrs.get("dn", ""))


def _describe(request: ET.Element) -> str:
    """What a query asked for, for the debug log: never other attributes (inPassword, cookies)."""
    names = [request.get("classId") or request.get("dn") or request.get("inDn") or ""]
    names += [item.get("value", "") for item in request.iter("classId")]
    shown = ",".join(name for name in names if name)
    return " " + shown if shown else ""


def _deadline_note(until: float) -> str:
    return " (deadline reached)" if time.monotonic() >= until else ""


def _root_cause(err: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without their wrapper noise."""
    seen = err
    for _depth in range(8):         # real chains are short; a cyclic one must not hang us
        inner = getattr(seen, "reason", None)
        if not isinstance(inner, BaseException):
            inner = seen.__cause__ or next((arg for arg in seen.args
                                            if isinstance(arg, BaseException)), None)
        if inner is None:
            break
        seen = inner
    return str(seen) or type(seen).__name__
