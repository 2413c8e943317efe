"""`ovirt-vf-scheduler serve`: the XML-RPC server the engine calls instead of ovirt-scheduler-proxy.

What a long-lived server owes the engine (proxy-contract.md section 7) and how it is met here:
 - the engine connects with a 100 ms timeout and fails open on a slow accept(): accept runs in
   its own thread and each connection gets a thread (capped; beyond the cap the connection is
   answered 503 at once), while decisions run in a bounded worker pool under a per-call deadline;
 - discovery happens once, at engine start, whatever our config says: `discover` needs no
   config at all, and a missing or broken config makes the units fail with its error (as plugin
   processes would) while the server stays up; an edited config (or password file) is picked up
   by the next call, checked with a stat() per call;
 - never None, floats or big ints in an answer (the engine's parser rejects them);
 - SIGTERM/SIGINT: stop accepting, let in-flight calls finish, exit 0.
One log line per call (method, units, hosts, elapsed) beside the units' decision lines, in the
config's log_file; server life (start, reloads, stop) also on stderr (the journal).
"""
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from typing import Iterator, Optional, Tuple
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

from .. import config, install, status, units
from ..proxy_io import LOG_FORMAT, LOG_MAX_BYTES, open_append
from ..store import Ledger
from . import foreign
from .metrics import CONTENT_TYPE, Metrics
from .protocol import Service
from .warm import WarmEngine

LOG = logging.getLogger("ovirt_vf_scheduler.serve")
LIFE = logging.getLogger("ovirt_vf_scheduler.serve.life")   # start, reloads, stop: INFO, yet on stderr
MAX_BODY = 2 * 1024 * 1024      # 5000 host ids are ~300 KB of XML
MAX_CONNECTIONS = 64
WORKERS = 8
FOREIGN_WORKERS = 16
IDLE_SECONDS = 60               # an idle keep-alive connection is closed after this
DRAIN_SECONDS = 35              # SIGTERM: in-flight calls get this long (the proxy budget is 30 s)
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


class _LogFile(logging.Handler):
    """The decision log: the config's log_file, followed across config edits, reopened when
    another process (a plugin run) rotated it, and rotated here past LOG_MAX_BYTES (as by the plugins)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self._path: Optional[str] = None
        self._stream = None
        self._inode = None
        self._checked = 0.0

    def use(self, path: Optional[str]) -> Optional[str]:
        """Switch to `path`; the error text when it cannot be opened."""
        with self.lock:
            if path == self._path and self._stream is not None:
                return None
            self._close()
            self._path = path
            return self._open()

    def _open(self) -> Optional[str]:
        if not self._path:
            return None
        try:
            fd = open_append(self._path)
            self._stream = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
            self._inode = os.fstat(fd).st_ino
            return None
        except OSError as err:
            self._stream = None
            return "%s: %s" % (self._path, err.strerror or err)

    def _close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._stream is None:
            return
        try:
            now = time.monotonic()
            if now - self._checked > 1.0:         # at most one stat per second
                self._checked = now
                try:
                    moved = os.stat(self._path).st_ino != self._inode or \
                        os.fstat(self._stream.fileno()).st_size >= LOG_MAX_BYTES
                except OSError:
                    moved = True
                if moved:
                    self._close()
                    self._open()
                    if self._stream is None:
                        return
            self._stream.write(self.format(record) + "\n")
        except Exception:   # noqa: BLE001 - logging must never break a call
            self.handleError(record)

    def close(self) -> None:
        with self.lock:
            self._close()
        super().close()


class _Handler(SimpleXMLRPCRequestHandler):
    protocol_version = "HTTP/1.1"             # the engine's client keeps connections alive
    disable_nagle_algorithm = True            # else ~40 ms per keep-alive answer
    rpc_paths = ("/", "/RPC2")
    timeout = IDLE_SECONDS

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        try:
            length = int(self.headers.get("content-length") or -1)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.send_error(413 if length > MAX_BODY else 411)
            return
        with self.server.app.in_flight():
            super().do_POST()
            self.wfile.flush()

    def end_headers(self) -> None:
        if self.server.app.stopping:
            self.send_header("Connection", "close")     # and close_connection: the last answer here
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802
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


class _Server(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, app: "App", address: Tuple[str, int]):
        self.app = app
        self._active = 0
        self._count_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, requestHandler=_Handler, logRequests=False, allow_none=False,
                         encoding="utf-8", bind_and_activate=True)

    def process_request(self, request, client_address) -> None:
        with self._count_lock:
            full = self._active >= MAX_CONNECTIONS
            if not full:
                self._active += 1
        if full:
            LOG.warning("%d connections open: refusing one from %s", MAX_CONNECTIONS, client_address[0])
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count_lock:
                self._active -= 1

    def _dispatch(self, method: str, params: tuple):
        return self.app.dispatch(method, params)


class App:
    """The serve process: config, warm engine state, units, the server and its life cycle."""

    def __init__(self, conf_path: str, listen: Tuple[str, int], plugins_dir: str):
        import defusedxml.xmlrpc
        defusedxml.xmlrpc.monkey_patch()     # calls are parsed without DTDs or entity expansion
        self.log_file = _LogFile()
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        root.addHandler(self.log_file)
        logging.captureWarnings(True)
        self.warm = WarmEngine()
        self.config = ConfigWatch(conf_path, self._config_changed)
        self.recorder = status.BackgroundRecorder()
        self.metrics = Metrics(self.warm.view_age, self._pending_claims, self.recorder.unwritten, METHODS)
        self._inflight = 0
        self.stopping = False                   # set at SIGTERM: answers then close their connection
        self._inflight_lock = threading.Condition()
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="decision")
        self.foreign_pool = ThreadPoolExecutor(max_workers=FOREIGN_WORKERS, thread_name_prefix="plugin")
        self.config.current()
        self.plugins_dir = plugins_dir
        ours = [name for name in ("vf_filter", "vf_weight") if _is_ours(plugins_dir, name)]
        self.foreign = foreign.discover(plugins_dir, ours, list(units.UNITS))
        self.service = Service(self.config.current, self.warm, plugins_dir, self.foreign, self.pool,
                               self.foreign_pool, self._answered)
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
        problem = self.log_file.use(settings.log_file)
        if problem:
            LOG.error("cannot open the decision log %s", problem)
        for warning in settings.warnings:
            LOG.warning("%s", warning)
        LIFE.info("configuration %s loaded (engine %s, capacity from %s, usage_max_age %gs)",
                 settings.path, settings.engine.url, settings.capacity_source, settings.usage_max_age)

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
        if done.error is not None:
            self.metrics.source_errors.labels(done.cause or "unknown").inc()

    # -- calls
    def dispatch(self, method: str, params: tuple):
        if method not in METHODS:
            raise Fault(1, "unknown method %r (known: %s)" % (method, ", ".join(sorted(METHODS))))
        name, takes = METHODS[method]
        if len(params) != len(takes):
            raise Fault(2, "bad call: %s takes %d arguments (%s), got %d"
                        % (method, len(takes), ", ".join(takes) or "none", len(params)))
        started = time.monotonic()
        outcome = "fault"
        try:
            reply = getattr(self.service, name)(*params)
            outcome = "code %d" % reply["result_code"] if isinstance(reply, dict) and "result_code" in reply \
                else "ok"
            for unit in reply.get("plugin_errors", ()) if isinstance(reply, dict) else ():
                self.metrics.plugin_errors.labels(unit).inc()
            return reply
        except Fault:
            raise
        except Exception:
            LOG.exception("%s failed, please report it", method)
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
        signalled = []
        signal.signal(signal.SIGTERM, lambda signum, frame: signalled.append(signum))
        signal.signal(signal.SIGINT, lambda signum, frame: signalled.append(signum))
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                  name="accept", daemon=True)
        thread.start()
        LIFE.info("serving VfFilter, VfWeight%s on %s:%d (plugins dir %s)", "".join(
            ", " + name for _, name in sorted(self.foreign)), self.address[0], self.address[1], self.plugins_dir)
        while not signalled:
            time.sleep(0.2)
        LIFE.info("signal %d: finishing the calls in flight, then exiting", signalled[0])
        self.shutdown()
        return 0

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
        self.warm.close()
        if left:
            LOG.warning("stopped (%d calls still unanswered after %d s)", left, DRAIN_SECONDS)
        else:
            LIFE.info("stopped")
        self.recorder.close()
        self.log_file.close()


def _is_ours(plugins_dir: str, module: str) -> bool:
    try:
        with open(os.path.join(plugins_dir, module + ".py"), encoding="utf-8", errors="replace") as handle:
            return install.MARKER in handle.read(4096)
    except OSError:
        return False


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
