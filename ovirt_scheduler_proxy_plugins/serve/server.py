"""`ovirt-vf-scheduler serve`: the XML-RPC server the engine calls instead of ovirt-scheduler-proxy.

What a long-lived server owes the engine (docs/proxy-contract.md section 7) and how it is met here:
 - the engine connects with a 100 ms timeout and fails open on a slow accept(): accept runs in
   its own thread and each connection gets a thread (connections.py: capped in all and per
   caller, idle ones closed first to make room, each request read within a deadline), while
   decisions run in a bounded worker pool under a per-call deadline;
 - the engine is the only caller: the protocol has no authentication, so a local caller is
   identified by the uid owning its socket (peers.py) and refused (403) unless allowed;
 - discovery happens once, at engine start, whatever our config says: `discover` needs no
   config at all, and a missing or broken config makes the units fail with its error (as plugin
   processes would) while the server stays up; an edited config (or password file) is picked up
   by the next call, checked with a stat() per call;
 - never None, floats or big ints in an answer (the engine's parser rejects them);
 - SIGTERM/SIGINT: stop accepting, let in-flight calls finish, exit 0; SIGHUP: reopen the log
   and reload the config.
One log line per call (method, units, hosts, elapsed) beside the units' decision lines, in the
config's log_file; server life (start, reloads, stop) also on stderr (the journal).
"""
import contextlib
import io
import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Optional, Tuple
from xmlrpc.client import Fault, dumps, loads
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

from .. import config, plugin_files, status, units
from ..ledger import Ledger
from ..logs import FollowedLog
from . import connections, foreign, peers
from .metrics import CONTENT_TYPE, Metrics
from .protocol import FAULT_BAD_CALL, Service, echo, fault_for
from .warm import WarmEngine

LOG = logging.getLogger("ovirt_vf_scheduler.serve")
LIFE = logging.getLogger("ovirt_vf_scheduler.serve.life")   # start, reloads, stop: INFO, yet on stderr
MAX_BODY = 2 * 1024 * 1024      # 5000 host ids are ~300 KB of XML
WORKERS = 8
FOREIGN_WORKERS = 16
MAX_DEPTH = 16                  # arrays and structs in arrays and structs: the engine's calls nest 3 deep
SERVER_NAME = "ovirt-vf-scheduler"
DRAIN_SECONDS = int(config.PROXY_BUDGET) + 5   # SIGTERM: in-flight calls get this long (the proxy's budget and 5 s)
# engine method -> (Service method, the arguments it takes)
METHODS = {"discover": ("discover", ()),
           "runFilters": ("run_filters", ("filter names", "host ids", "VM id", "properties")),
           "runCostFunctions": ("run_cost_functions", ("[[weight name, factor], ...]", "host ids", "VM id",
                                                       "properties")),
           "runLoadBalancing": ("run_load_balancing", ("balancer name", "host ids", "properties"))}


class ConfigWatch:
    """The config as of the last call: re-read when the file or a password file changed."""

    def __init__(self, path: str, on_change):
        self.path = path
        self._lock = threading.Lock()
        self._signature: Optional[tuple] = None
        self._loaded: Tuple[Optional[config.Settings], Optional[config.ConfigError]] = (None, None)
        self._on_change = on_change

    @staticmethod
    def _stat(path: str) -> Optional[tuple]:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode

    def forget(self) -> None:
        """The next current() reads the files again."""
        with self._lock:
            self._signature = None

    def current(self) -> Tuple[Optional[config.Settings], Optional[config.ConfigError]]:
        with self._lock:
            settings = self._loaded[0]
            files = settings.files if settings else config.named_files(self.path)
            signature = tuple(self._stat(path) for path in files)
            if signature != self._signature:
                try:
                    self._loaded = (config.load(self.path), None)
                except config.ConfigError as err:
                    self._loaded = (None, err)
                settings = self._loaded[0]
                self._signature = tuple(self._stat(path) for path in (settings.files if settings else
                                                                      config.named_files(self.path)))
                self._on_change(*self._loaded)
            return self._loaded


class _Handler(SimpleXMLRPCRequestHandler):
    protocol_version = "HTTP/1.1"             # the engine's client keeps connections alive
    disable_nagle_algorithm = True            # else ~40 ms per keep-alive answer
    rpc_paths = ("/", "/RPC2")
    timeout = connections.WRITE_SECONDS       # reads: the pool's limits (DeadlineReader)

    def __init__(self, conn: connections.Connection, request, client_address, server):
        self.conn = conn
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(connections.DeadlineReader(self.conn, self.server.app.connections))

    def version_string(self) -> str:
        return SERVER_NAME                    # not the Python version

    def handle_one_request(self) -> None:
        super().handle_one_request()
        self.server.app.connections.answered(self.conn)

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        try:
            length = int(self.headers.get("content-length") or -1)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.send_error(413 if length > MAX_BODY else 411)
            return
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        if not self._may_call(length):
            return
        if encoding != "identity":            # the engine's client never compresses: no decompression bomb
            self.server.app.refused("encoding", ("encoding", self.conn.peer), "refused a call from %s: "
                                    "Content-Encoding %s (415)" % (_peer_text(self.conn.peer), encoding[:40]))
            self._refuse(length, 415, "Content-Encoding %s: send the request uncompressed" % encoding[:40])
            return
        if not self.is_rpc_path_valid():
            self._refuse(length, 404, "POST XML-RPC to /")
            return
        with self.server.app.in_flight():
            body = self.rfile.read(length)
            if len(body) < length:
                self.close_connection = True
                return
            answer = self.server._marshaled_dispatch(body, None, self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            self.wfile.flush()

    def _may_call(self, length: int = 0) -> bool:
        """The caller is allowed ([serve] allowed_users, allowed_hosts); else 403 and one log line."""
        ip = peers.address(self.client_address[0])
        kind, uid = self.conn.peer
        uid = uid if kind == "uid" else None
        if self.server.app.callers().admits(ip, uid):
            return True
        who = _peer_text(self.conn.peer)
        why = "not in [serve] allowed_users" if uid is not None else \
            "its user cannot be identified" if ip.is_loopback else "not in [serve] allowed_hosts"
        self.server.app.refused("caller", ("caller", self.conn.peer), "refused a call from %s: %s" % (who, why))
        self._refuse(length, 403, "%s may not call this scheduler proxy" % who)
        return False

    def _refuse(self, length: int, status: int, why: str) -> None:
        """Answer `status` and close; the body is read first (within the read deadline), else
        closing on unread bytes resets the connection before the caller reads the answer."""
        self.rfile.read(length)
        self.send_error(status, explain=why)

    def end_headers(self) -> None:
        if self.server.app.stopping:
            self.send_header("Connection", "close")     # and close_connection: the last answer here
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802
        if not self._may_call():
            return
        if self.path.split("?")[0] == "/metrics":
            body, ctype, status = self.server.app.metrics.text(), CONTENT_TYPE, 200
        else:
            body, ctype, status = b"ovirt-vf-scheduler serve: POST XML-RPC to /, GET /metrics\n", \
                "text/plain; charset=utf-8", 404
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002 (signature of the base class)
        LOG.debug("http %s: " + format, self.client_address[0], *args)


class _Server(SimpleXMLRPCServer):
    """Accepts in its own thread; each admitted connection gets a thread (connections.Pool caps them)."""
    request_queue_size = 128

    def __init__(self, app: "App", address: Tuple[str, int]):
        self.app = app
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, requestHandler=_Handler, logRequests=False, allow_none=False,
                         encoding="utf-8", bind_and_activate=True)

    def process_request(self, request, client_address) -> None:
        uid = peers.peer_uid(client_address, request.getsockname())
        peer = ("uid", uid) if uid is not None else ("address", client_address[0])
        conn, refused = self.app.connections.admit(request, peer)
        if conn is None:
            if refused == "peer":
                self.app.refused("busy", ("peer cap", peer), "%s holds %d connections, none idle: refusing more "
                                 "(503)" % (_peer_text(peer), self.app.connections.per_peer))
            else:
                self.app.refused("busy", "full", "%d connections open, none idle: refusing new ones (503)"
                                 % self.app.connections.cap)
            self._unavailable(request)
            self.shutdown_request(request)
            return
        threading.Thread(target=self._serve, args=(conn, client_address), name="connection", daemon=True).start()

    def _serve(self, conn: connections.Connection, client_address) -> None:
        try:
            _Handler(conn, conn.sock, client_address, self)
        except OSError as err:          # the caller reset or broke the connection: no server error
            LOG.debug("connection from %s ended: %s", client_address[0], err)
        except Exception:   # noqa: BLE001 - one connection's failure must not end the thread silently
            LOG.exception("connection from %s failed, please report it", client_address[0])
        finally:
            self.app.connections.leave(conn.sock)
            self.shutdown_request(conn.sock)

    @staticmethod
    def _unavailable(request) -> None:
        try:
            request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass

    def _dispatch(self, method: str, params: tuple):
        return self.app.dispatch(method, params)

    def _marshaled_dispatch(self, data, dispatch_method=None, path=None) -> bytes:
        """The base class's, but a call that fails is answered with a one-line fault (never
        "<class '...'>: ..." with a Python repr of the error)."""
        try:
            params, method = loads(data, use_builtin_types=self.use_builtin_types)
            body = dumps((self._dispatch(method, params),), methodresponse=True, allow_none=False,
                         encoding=self.encoding)
        except Exception as err:  # noqa: BLE001 - every failure of a call becomes its fault
            body = dumps(fault_for(err), allow_none=False, encoding=self.encoding)
        return body.encode(self.encoding, "xmlcharrefreplace")


def _peer_text(peer: tuple) -> str:
    kind, value = peer
    return "uid %s" % peers.user_name(value) if kind == "uid" else value


class App:
    """The serve process: config, warm engine state, units, the server and its life cycle."""

    def __init__(self, conf_path: str, listen: Tuple[str, int], plugins_dir: str):
        import defusedxml.xmlrpc
        defusedxml.xmlrpc.monkey_patch()     # calls are parsed without DTDs or entity expansion
        self.log_file = FollowedLog()
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        root.addHandler(self.log_file)
        logging.captureWarnings(True)
        self.warm = WarmEngine()
        self.recorder = status.BackgroundRecorder()
        self.metrics = Metrics(self.warm.view_age, self._pending_claims, self.recorder.unwritten,
                               self.warm.live.describe, METHODS)
        self.connections = connections.Pool(on_late=lambda conn: self.refused(
            "slow", ("slow", conn.peer), "closed a connection from %s: its request was not read whole within "
            "%g s" % (_peer_text(conn.peer), self.connections.read_deadline)))
        self._refusals = connections.Refusals()
        self._callers: Tuple[object, peers.Callers] = (None, peers.Callers.of(None))
        self.config = ConfigWatch(conf_path, self._config_changed)
        self._inflight = 0
        self.stopping = False                   # set at SIGTERM: answers then close their connection
        self._inflight_lock = threading.Condition()
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="decision")
        self.foreign_pool = ThreadPoolExecutor(max_workers=FOREIGN_WORKERS, thread_name_prefix="plugin")
        self.config.current()
        self.plugins_dir = plugins_dir
        self.service = Service(self.config.current, self.warm, plugins_dir, self.pool, self.foreign_pool,
                               self._answered)
        self.server = _Server(self, listen)
        self.address = self.server.server_address[:2]
        # The SDK's import (~0.15 s) before the first call needs it, not during it.
        threading.Thread(target=lambda: __import__("ovirt_scheduler_proxy_plugins.connection"),
                         name="preload", daemon=True).start()

    # -- config and status
    def _config_changed(self, settings: Optional[config.Settings], error: Optional[config.ConfigError]) -> None:
        if settings is None:
            LOG.error("configuration error (the units fail open until it is fixed): %s", error)
            return
        self.connections.read_deadline = settings.serve.read_deadline
        problem = self.log_file.use(settings.log_file)
        if problem:
            LOG.error("cannot open the decision log %s", problem)
        for warning in settings.warnings:
            LOG.warning("%s", warning)
        self.warm.configure(settings)
        LIFE.info("configuration %s loaded (engine %s, capacity from %s, usage_max_age %gs)",
                 settings.path, settings.engine.url, settings.capacity_source, settings.usage_max_age)

    def refused(self, reason: str, kind, message: str) -> None:
        """A connection or call refused: counted by reason in /metrics, logged at most once a
        minute per kind."""
        self.metrics.refused.labels(reason).inc()
        self._refusals.note(kind, message)

    def callers(self) -> peers.Callers:
        """Who may call, as the current config says (the default when it is broken): names are
        resolved once per config load."""
        settings = self.config.current()[0]
        if self._callers[0] is not settings:
            serve = settings.serve if settings else config.ServeSettings()
            self._callers = (settings, peers.Callers.of(serve.allowed_users, serve.allowed_hosts))
        return self._callers[1]

    def _pending_claims(self) -> int:
        settings = self.config.current()[0]
        if settings is None or not settings.claims:
            return 0
        return len(Ledger(settings.cache_dir, settings.claim_ttl).live())

    def _answered(self, done: units.UnitAnswer, settings: Optional[config.Settings]) -> None:
        """Every answer of our units: metrics, and the status file `ovirt-vf-scheduler status` reads
        (plugin processes record the same; here written in the background)."""
        self.recorder.record(settings.cache_dir if settings else config.state_dir(self.config.path), done.unit,
                      done.outcome, done.error or "")
        self.metrics.decisions.labels(done.unit, done.outcome).inc()
        if done.held_back:
            self.metrics.held_back.inc()
        if done.error is not None:
            self.metrics.source_errors.labels(done.cause or "unknown").inc()

    def _count_plugin_errors(self, reply) -> None:
        """Every unit the answer names in plugin_errors, ours and the other plugins' ("plugin not
        found" too); a name no plugin has is counted as "unknown", so callers cannot add labels."""
        failed = reply.get("plugin_errors", {}) if isinstance(reply, dict) else {}
        known = set(units.UNITS) | {name for _, name in self.service.foreign}
        for name in failed:
            self.metrics.plugin_errors.labels(name if name in known else "unknown").inc()

    # -- calls
    def dispatch(self, method: str, params: tuple):
        if method not in METHODS:
            raise Fault(1, "unknown method '%s' (known: %s)" % (echo(method), ", ".join(sorted(METHODS))))
        name, takes = METHODS[method]
        if len(params) != len(takes):
            raise Fault(FAULT_BAD_CALL, "bad call: %s takes %d arguments (%s), got %d"
                        % (method, len(takes), ", ".join(takes) or "none", len(params)))
        if _nested_deeper(params, MAX_DEPTH):
            raise Fault(FAULT_BAD_CALL, "bad call: arguments nested deeper than %d levels" % MAX_DEPTH)
        started = time.monotonic()
        outcome = "fault"
        try:
            reply = getattr(self.service, name)(*params)
            outcome = "code %d" % reply["result_code"] if isinstance(reply, dict) and "result_code" in reply \
                else "ok"
            self._count_plugin_errors(reply)
            return reply
        except Fault:
            raise
        except Exception:
            LOG.exception("%s failed, please report it", echo(method))
            raise
        finally:
            elapsed = time.monotonic() - started
            self.metrics.calls.labels(method).observe(elapsed)
            if outcome == "fault":
                self.metrics.call_errors.labels(method).inc()
            LOG.info("call %s%s -> %s in %.3fs", method, _describe(params), outcome, elapsed)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """One request, from its arrival until its answer is written: what SIGTERM waits for."""
        with self._inflight_lock:
            self._inflight += 1
        try:
            yield
        finally:
            with self._inflight_lock:
                self._inflight -= 1
                self._inflight_lock.notify_all()

    # -- life cycle
    def serve_forever(self) -> int:
        # The handler only notes the signal: taking a lock there (an Event, a log handler) can
        # deadlock with the main thread holding the same lock when the signal lands.
        signalled, reloads = [], []
        signal.signal(signal.SIGTERM, lambda signum, frame: signalled.append(signum))
        signal.signal(signal.SIGINT, lambda signum, frame: signalled.append(signum))
        signal.signal(signal.SIGHUP, lambda signum, frame: reloads.append(signum))
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                  name="accept", daemon=True)
        thread.start()
        LIFE.info("serving VfFilter, VfWeight on %s:%d (plugins dir %s: its other plugins load in the background)",
                  self.address[0], self.address[1], self.plugins_dir)
        threading.Thread(target=self._load_foreign, name="plugin-discovery", daemon=True).start()
        while not signalled:
            time.sleep(0.2)
            if reloads:
                reloads.clear()
                self.reload()
        LIFE.info("signal %d: finishing the calls in flight, then exiting", signalled[0])
        self.shutdown()
        return 0

    def reload(self) -> None:
        """SIGHUP (systemctl reload): reopen the decision log (after a rotation that moved it)
        and read the config again, even if its files look unchanged; calls in flight go on."""
        LIFE.info("SIGHUP: reopening the log and reloading the configuration")
        self.log_file.reopen()
        self.config.forget()
        self.config.current()

    def _load_foreign(self) -> None:
        """Discover the other plugins (up to foreign.BUDGET: a module hanging at import is given up
        and logged) while the engine can already call: discover answers with ours meanwhile."""
        started = time.monotonic()
        ours = plugin_files.ours_in(self.plugins_dir)
        found = {}
        try:
            found = foreign.discover(self.plugins_dir, ours, list(units.UNITS),
                                     progress=lambda known: self.service.found_foreign(known, complete=False))
        except Exception:  # noqa: BLE001 - a loader's surprise must not leave calls waiting for it
            LOG.exception("loading the other plugins failed: only VfFilter and VfWeight are offered")
        finally:
            self.service.found_foreign(found)
        LIFE.info("other plugins loaded in %.1f s: %s", time.monotonic() - started,
                  ", ".join(name for _, name in sorted(found)) or "none")

    def shutdown(self) -> None:
        """Stop accepting, let the calls in flight be answered (each is bounded by its deadline),
        then go: a worker still waiting for a hung engine or plugin has nobody left to answer.
        Kept-alive connections are closed after their next answer, so they cannot keep the drain open."""
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()
        give_up = time.monotonic() + DRAIN_SECONDS
        with self._inflight_lock:
            while self._inflight and time.monotonic() < give_up:
                self._inflight_lock.wait(0.2)
            left = self._inflight
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.foreign_pool.shutdown(wait=False, cancel_futures=True)
        foreign.kill_all()
        self.warm.close()
        if left:
            LOG.warning("stopped (%d calls still unanswered after %d s)", left, DRAIN_SECONDS)
        else:
            LIFE.info("stopped")
        self.recorder.close()
        self.log_file.close()


def _nested_deeper(params: tuple, limit: int) -> bool:
    """Arrays and structs nested deeper than `limit` (params itself is level 1); level by level,
    since a recursive look (a repr, a comparison) at 1,000 levels ends in a RecursionError."""
    level: list = [params]
    for _ in range(limit):
        level = [item for value in level if isinstance(value, (list, tuple, dict))
                 for item in (value.values() if isinstance(value, dict) else value)]
        if not level:
            return False
    return any(isinstance(value, (list, tuple, dict)) for value in level)


def _describe(params: tuple) -> str:
    """' units=VfFilter,VfWeight hosts=12 vm=…' for the call log line (never the properties)."""
    parts = []
    if params and isinstance(params[0], (list, tuple)):
        parts.append("units=" + ",".join(str(p[0] if isinstance(p, (list, tuple)) and p else p)
                                         for p in params[0])[:200])
    elif params and isinstance(params[0], str):
        parts.append("unit=" + params[0][:60])
    if len(params) > 1 and isinstance(params[1], (list, tuple)):
        parts.append("hosts=%d" % len(params[1]))
    if len(params) > 2 and isinstance(params[2], str):
        parts.append("vm=" + params[2][:40])
    return (" " + " ".join(parts)) if parts else ""


def stderr_logging() -> None:
    """The journal gets warnings, errors and the server's life, not one line per call."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(lambda record: record.levelno >= logging.WARNING or record.name == LIFE.name)
    handler.setFormatter(logging.Formatter("ovirt-vf-scheduler serve: %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
