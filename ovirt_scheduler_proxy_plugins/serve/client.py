"""Calling a scheduler proxy as the engine does: XML-RPC over one HTTP connection, with a timeout
(used by `check` and by the simulator's harness; the engine itself is Java)."""
import xmlrpc.client


class TimeoutTransport(xmlrpc.client.Transport):
    """The standard transport (HTTP/1.1, the connection kept alive) with a socket timeout."""

    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


def proxy(url: str, timeout: float) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(url, transport=TimeoutTransport(timeout))
