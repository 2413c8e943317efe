"""An ovirtsdk4 Connection whose SSO login is bounded in time, with a streamed GET for big lists.

The SDK's own login (`Connection._get_access_token`) sends its POST through a curl handle with
no timeout at all, so a hung SSO endpoint blocks the caller forever (docs/engine-rest.md section 1):
a plugin process only survives that thanks to its watchdog, and a long-lived server or an
operator command would not. Here the login is our own small POST, with the same TLS settings,
bounded by the request timeout, and its failures name the server and the step.

The SDK also reads a whole answer into memory before anyone may parse it: 36 MB for the running
VMs of 1,000 hosts, twice over while it is copied out. `stream_get` hands the body to the caller
as it arrives (the engine reader parses it on the fly), with the connection's token, TLS and
timeout, bounded in size, and the SDK's one re-login and retry on a 401. Everything else (the
operator commands' SDK services) is the SDK's.

Imported lazily (it imports the SDK, ~0.15 s): only paths that talk to the engine pay for it.
"""
import io
import json
import re
from typing import Callable, Dict, Optional, Tuple
from urllib.parse import urlencode, urlsplit

import ovirtsdk4
import pycurl

_MAX_ANSWER = 64 * 1024      # an SSO answer or an error's fault is a few hundred bytes
_XML = re.compile(r"^\s*(application|text)/xml\s*(;.*)?$", re.IGNORECASE)


def sso_url(api_url: str) -> str:
    """Where the SDK itself would log in: scheme and host of the API URL, fixed path."""
    parts = urlsplit(api_url)
    return "%s://%s/ovirt-engine/sso/oauth/token" % (parts.scheme, parts.netloc)


def _too_big(chunk: bytes, body: io.BytesIO) -> int:
    if body.tell() + len(chunk) > _MAX_ANSWER:
        return 0                 # curl aborts the transfer (error 23)
    return body.write(chunk)


def _tls(curl, url: str, ca_file, insecure: bool) -> None:
    if url.startswith("https"):
        curl.setopt(pycurl.SSL_VERIFYPEER, 0 if insecure else 1)
        curl.setopt(pycurl.SSL_VERIFYHOST, 0 if insecure else 2)
        if ca_file:
            curl.setopt(pycurl.CAINFO, ca_file)


def login(api_url: str, username: str, password: str, ca_file, insecure: bool, timeout: float) -> str:
    """A bearer token from the engine's SSO, within `timeout` seconds; raises ovirtsdk4 errors."""
    url = sso_url(api_url)
    body = io.BytesIO()
    curl = pycurl.Curl()
    try:
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.NOSIGNAL, 1)                 # timeouts without SIGALRM: safe in threads
        curl.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(timeout * 1000)))
        _tls(curl, url, ca_file, insecure)
        curl.setopt(pycurl.HTTPHEADER, ["Accept: application/json", "User-Agent: ovirt-vf-scheduler"])
        curl.setopt(pycurl.POSTFIELDS, urlencode({"grant_type": "password", "scope": "ovirt-app-api",
                                                  "username": username, "password": password}))
        curl.setopt(pycurl.WRITEFUNCTION, lambda chunk: _too_big(chunk, body))
        try:
            curl.perform()
        except pycurl.error as err:
            code, message = err.args[0], err.args[1] if len(err.args) > 1 else ""
            if code == pycurl.E_OPERATION_TIMEDOUT:
                raise ovirtsdk4.ConnectionError("SSO login at %s: no answer within %.1f s" % (url, timeout)) from None
            # "(code, 'message')" as the SDK words curl errors, so diagnoses keyed on it still work
            raise ovirtsdk4.ConnectionError("SSO login at %s failed: (%s, '%s')" % (url, code, message)) from None
        status = curl.getinfo(pycurl.RESPONSE_CODE)
        content_type = curl.getinfo(pycurl.CONTENT_TYPE) or ""
    finally:
        curl.close()
    try:
        answer = json.loads(body.getvalue().decode("utf-8"))
    except ValueError:
        raise ovirtsdk4.Error("SSO login at %s: HTTP %s answer is not JSON (%s)"
                              % (url, status, content_type or "no content type")) from None
    if isinstance(answer, list) and answer:
        answer = answer[0]
    if not isinstance(answer, dict):
        raise ovirtsdk4.Error("SSO login at %s: unexpected answer (HTTP %s)" % (url, status))
    if "error" in answer:
        raise ovirtsdk4.AuthError("SSO login at %s refused: %s: %s" % (
            url, answer.get("error_code", "error"), answer.get("error_description") or answer.get("error")))
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise ovirtsdk4.Error("SSO login at %s: HTTP %s answer without a token" % (url, status))
    return token


class _Transfer:
    """One streamed GET's state: status and content type of the last response, where the body goes."""

    def __init__(self, sink: Callable[[bytes], None], max_bytes: int):
        self.sink, self.max_bytes = sink, max_bytes
        self.status, self.content_type, self.size = 0, "", 0
        self.other = io.BytesIO()          # a non-200 body (an XML fault, at most _MAX_ANSWER)
        self.failure: Optional[BaseException] = None

    def header(self, line: bytes) -> None:
        text = line.decode("iso-8859-1").strip()
        if text.startswith("HTTP/"):       # a new response (after a 100 Continue or a redirect)
            parts = text.split()
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            self.content_type = ""
        elif text.lower().startswith("content-type:"):
            self.content_type = text.split(":", 1)[1].strip()

    def write(self, chunk: bytes):
        """curl's body callback: returning 0 aborts the transfer (pycurl would print an exception
        raised here on stderr, so it is kept for the caller instead)."""
        self.size += len(chunk)
        try:
            if self.size > self.max_bytes:
                raise ovirtsdk4.Error("answer larger than %d MB: refused" % (self.max_bytes // 2 ** 20))
            if self.status != 200:
                if self.other.tell() < _MAX_ANSWER:
                    self.other.write(chunk)
                return None
            if not _XML.match(self.content_type):
                raise ovirtsdk4.Error("the response content type '%s' isn't the expected XML" % self.content_type)
            self.sink(chunk)
        except BaseException as err:   # noqa: BLE001 - handed back to the caller after perform()
            self.failure = err
            return 0
        return None


class BoundedConnection(ovirtsdk4.Connection):
    """ovirtsdk4.Connection with the SSO login above (first use and the re-login on a 401) and
    `stream_get`."""

    def __init__(self, login_timeout: float, **kwargs):
        super().__init__(**kwargs)
        self._login_args = (kwargs["url"], kwargs.get("username") or "", kwargs.get("password") or "",
                            kwargs.get("ca_file"), bool(kwargs.get("insecure")), login_timeout)
        self._stream_curl = None

    def stream_get(self, path: str, query: Dict[str, str], sink: Callable[[bytes], None],
                   max_bytes: int) -> Tuple[int, bytes]:
        """GET `path`?`query`: a 200 body goes to `sink` chunk by chunk (an error raised by the sink
        is raised here), another status's body is returned. (status, that body)."""
        for attempt in (1, 2):
            transfer = _Transfer(sink, max_bytes)
            self._perform(path, query, transfer)
            if transfer.status != 401 or attempt == 2:
                return transfer.status, transfer.other.getvalue()
            self._sso_token = self._get_access_token()     # expired: log in again once, as the SDK does
        raise AssertionError("unreachable")

    def _perform(self, path: str, query: Dict[str, str], transfer: _Transfer) -> None:
        token = self.authenticate()
        if self._stream_curl is None:
            self._stream_curl = pycurl.Curl()             # kept: curl reuses its connection
        curl = self._stream_curl
        curl.reset()
        url = self._url.rstrip("/") + path + ("?" + urlencode(sorted(query.items())) if query else "")
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.TIMEOUT, self._timeout)
        curl.setopt(pycurl.ENCODING, "")                  # whatever compression curl can undo
        _tls(curl, self._url, self._ca_file, self._insecure)
        curl.setopt(pycurl.HTTPHEADER, ["Authorization: Bearer %s" % token, "Version: 4", "Accept: application/xml",
                                        "User-Agent: ovirt-vf-scheduler"])
        curl.setopt(pycurl.HEADERFUNCTION, transfer.header)
        curl.setopt(pycurl.WRITEFUNCTION, transfer.write)
        try:
            curl.perform()
        except pycurl.error as err:
            if transfer.failure is not None:
                raise transfer.failure from None
            code, message = err.args[0], err.args[1] if len(err.args) > 1 else ""
            # "(code, 'message')" as the SDK words curl errors (engine._NO_ANSWER reads the code)
            raise ovirtsdk4.Error("Failed to read response: (%s, '%s')" % (code, message)) from None
        if transfer.failure is not None:
            raise transfer.failure

    def close(self, logout=True):
        if self._stream_curl is not None:
            self._stream_curl.close()
            self._stream_curl = None
        super().close(logout=logout)

    def _get_access_token(self):   # the SDK's hook for every login it makes
        return login(*self._login_args)

    @property
    def current_token(self):
        """The token in use, without logging in to get one."""
        return self._sso_token
