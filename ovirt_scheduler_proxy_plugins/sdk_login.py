"""An ovirtsdk4 Connection whose SSO login is bounded in time.

The SDK's own login (`Connection._get_access_token`) sends its POST through a curl handle with
no timeout at all, so a hung SSO endpoint blocks the caller forever (engine-rest.md section 1):
a plugin process only survives that thanks to its watchdog, and a long-lived server or an
operator command would not. Here the login is our own small POST, with the same TLS settings,
bounded by the request timeout, and its failures name the server and the step. Everything
else is the SDK's: requests, token reuse, and the one re-login it does on a 401.

Imported lazily (it imports the SDK, ~0.15 s): only paths that talk to the engine pay for it.
"""
import io
import json
from urllib.parse import urlencode, urlsplit

import ovirtsdk4
import pycurl

_MAX_ANSWER = 64 * 1024      # an SSO answer is a few hundred bytes


def sso_url(api_url: str) -> str:
    """Where the SDK itself would log in: scheme and host of the API URL, fixed path."""
    parts = urlsplit(api_url)
    return "%s://%s/ovirt-engine/sso/oauth/token" % (parts.scheme, parts.netloc)


def _too_big(chunk: bytes, body: io.BytesIO) -> int:
    if body.tell() + len(chunk) > _MAX_ANSWER:
        return 0                 # curl aborts the transfer (error 23)
    return body.write(chunk)


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
        if url.startswith("https"):
            curl.setopt(pycurl.SSL_VERIFYPEER, 0 if insecure else 1)
            curl.setopt(pycurl.SSL_VERIFYHOST, 0 if insecure else 2)
            if ca_file:
                curl.setopt(pycurl.CAINFO, ca_file)
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


class BoundedConnection(ovirtsdk4.Connection):
    """ovirtsdk4.Connection with the SSO login above (first use and the re-login on a 401)."""

    def __init__(self, login_timeout: float, **kwargs):
        super().__init__(**kwargs)
        self._login_args = (kwargs["url"], kwargs.get("username") or "", kwargs.get("password") or "",
                            kwargs.get("ca_file"), bool(kwargs.get("insecure")), login_timeout)

    def _get_access_token(self):   # the SDK's hook for every login it makes
        return login(*self._login_args)

    @property
    def current_token(self):
        """The token in use, without logging in to get one."""
        return self._sso_token
