"""Open connections, so that no caller can hold them all at the engine's expense.

- A request (request line, headers and body) must arrive whole within the read deadline from its
  first byte: an idle limit per read alone lets a caller sending a byte every few seconds hold a
  connection for ever.
- A connection waiting for its next request (kept alive) is idle. When the pool is full, or the
  peer (a local user, a remote address) holds its cap, the connection idle the longest is closed
  to make room, so a new connection is served whenever some connection is idle; past that (every
  connection reading or answering) it gets 503 at once.
- Refusals are logged at most once per interval and kind, with the count since the last line.
"""
import io
import logging
import socket
import threading
import time
from typing import Callable, Dict, Hashable, List, Optional, Tuple

LOG = logging.getLogger("ovirt_vf_scheduler.serve")
MAX_CONNECTIONS = 64
PER_PEER = 32                   # the engine opens one per cluster scheduling at the same time
IDLE_SECONDS = 60               # an idle kept-alive connection is closed after this
READ_DEADLINE = 10.0            # a whole request, from its first byte
WRITE_SECONDS = 60              # an answer the caller does not read
REPORT_EVERY = 60.0             # seconds between two log lines about the same kind of refusal


class Connection:
    """One accepted socket: its peer and whether it is idle or busy with a request."""

    def __init__(self, sock: socket.socket, peer: Hashable):
        self.sock = sock
        self.peer = peer                # ("uid", uid) of a local caller, else ("address", its address)
        self.idle_since: Optional[float] = time.monotonic()    # None while a request is read or answered
        self.read_by = 0.0
        self.evicted = False


class Pool:
    """The open connections and their caps; `read_deadline` may change (config reloads)."""

    def __init__(self, on_late: Callable[[Connection], None], cap: int = MAX_CONNECTIONS, per_peer: int = PER_PEER,
                 read_deadline: float = READ_DEADLINE):
        self.on_late = on_late          # a connection is closed for a request not read in time
        self.cap = cap
        self.per_peer = per_peer
        self.read_deadline = read_deadline
        self._lock = threading.Lock()
        self._open: Dict[socket.socket, Connection] = {}

    def admit(self, sock: socket.socket, peer: Hashable) -> Tuple[Optional[Connection], str]:
        """At accept: (the new connection, "") or (None, "peer" | "full") when the peer's
        connections, or all of them, are at their cap and busy."""
        with self._lock:
            theirs = [c for c in self._open.values() if c.peer == peer]
            if len(theirs) >= self.per_peer and not self._evict_idle(theirs):
                return None, "peer"
            if len(self._open) >= self.cap and not self._evict_idle(list(self._open.values())):
                return None, "full"
            conn = self._open[sock] = Connection(sock, peer)
            return conn, ""

    def leave(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.pop(sock, None)

    def _evict_idle(self, candidates: List[Connection]) -> bool:
        """Close the connection of `candidates` idle the longest (its thread sees EOF); lock held."""
        idle = [c for c in candidates if c.idle_since is not None and not c.evicted]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.idle_since)
        oldest.evicted = True
        self._open.pop(oldest.sock, None)
        try:
            oldest.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    # -- a connection's reads
    def timeout(self, conn: Connection) -> float:
        """How long the next read may wait: the idle limit between requests, else what is left of
        the request's read deadline."""
        if conn.idle_since is not None:
            return IDLE_SECONDS
        return conn.read_by - time.monotonic()

    def arrived(self, conn: Connection) -> bool:
        """Bytes came: an idle connection starts a request (and its deadline). False when the
        connection was evicted meanwhile (the bytes are dropped)."""
        with self._lock:
            if conn.evicted:
                return False
            if conn.idle_since is not None:
                conn.idle_since = None
                conn.read_by = time.monotonic() + self.read_deadline
            return True

    def answered(self, conn: Connection) -> None:
        """The request is answered: the connection waits, idle, for the next one."""
        with self._lock:
            conn.idle_since = time.monotonic()


class DeadlineReader(io.RawIOBase):
    """The socket as a raw stream whose reads keep the pool's limits (wrap it in a BufferedReader)."""

    def __init__(self, conn: Connection, pool: Pool):
        super().__init__()
        self._conn = conn
        self._pool = pool

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self._pool.timeout(self._conn)
        sock = self._conn.sock
        try:
            if left <= 0:
                raise socket.timeout("request not read whole within %g s" % self._pool.read_deadline)
            sock.settimeout(left)
            got = sock.recv_into(buffer)
        except socket.timeout:
            if self._conn.idle_since is None:         # within a request: its read deadline passed
                self._pool.on_late(self._conn)
            raise
        finally:
            sock.settimeout(WRITE_SECONDS)
        if got and not self._pool.arrived(self._conn):
            return 0
        return got


class Refusals:
    """Log lines about refused connections or calls, at most one per kind and interval."""

    def __init__(self, every: float = REPORT_EVERY, kinds: int = 256):
        self._every = every
        self._kinds = kinds
        self._lock = threading.Lock()
        self._last: Dict[Hashable, List] = {}     # kind -> [time of the last line, refusals since]

    def note(self, kind: Hashable, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last[0] < self._every:
                last[1] += 1
                return
            since = last[1] if last else 0
            self._last[kind] = [now, 0]
            if len(self._last) > self._kinds:             # forget the kind reported longest ago
                del self._last[min(self._last, key=lambda k: self._last[k][0])]
        LOG.warning("%s%s", message, " (%d more since the last such line)" % since if since else "")
