"""Runs `ovirt-vf-scheduler serve` as a real process and calls it the way the engine does.

The engine's client (Apache XML-RPC 3.1.3) POSTs to / with keep-alive and calls runFilters
with every external filter of the policy, runCostFunctions with [[unit, factor], ...]
(docs/proxy-contract.md sections 4 and 7). `unit_run` turns the answer for one of our units into
the same UnitRun the process harness (sim/proxy.py) gives, so a scenario can be checked
against both run modes with the same expectations:
 - a unit named in plugin_errors without a result -> exit 1 and its reason as the one stderr
   line, exactly what the plugin process prints;
 - a fail-closed filter ([] plus plugin_errors) -> exit 0, stdout [] (the process stays silent
   on stderr then too); the reason is kept in `UnitRun.reported`;
 - a fault (a malformed call) -> exit 1, stderr "fault: ...".
Shared by the tests, the demo and the benchmarks.
"""
import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client
from typing import Dict, List, Optional, Sequence

from ..config import CONF_ENV
from ..serve import client as rpc_client
from .proxy import UnitRun, proxy_env

CLI = os.path.join(os.path.dirname(sys.executable), "ovirt-vf-scheduler")
_SERVING = re.compile(r"serving .* on (\S+):(\d+) \(")
_USAGE_MODE = re.compile(r'^ovirt_vf_scheduler_usage_view_mode\{mode="(\w+)"\} 1\.0$', re.M)
_FULL_READS = re.compile(r'^ovirt_vf_scheduler_usage_full_reads_total\{reason="(\w+)"\} (\S+)$', re.M)
_LOADED = re.compile(r"other plugins loaded in ")


class ServeProcess:
    """`serve` on 127.0.0.1:<free port> with a config file and a plugin dir; stderr collected.
    Ready once it listens and, unless `wait_for_plugins` is False, has loaded the other plugins
    of the dir (in the background, so as an engine started after serve finds them)."""

    def __init__(self, conf_path: str, plugins_dir: str, wait_for_plugins: bool = True,
                 launcher: Sequence[str] = ()):
        """launcher: what runs the console script (e.g. an interpreter with options); default: itself."""
        self.conf_path = conf_path
        self.plugins_dir = plugins_dir
        env = proxy_env({CONF_ENV: conf_path})
        self.proc = subprocess.Popen(list(launcher) + [CLI, "serve", "--listen", "127.0.0.1:0", "--plugins-dir", plugins_dir],
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr_lines: List[str] = []
        self._ready = threading.Event()
        self.plugins_loaded = threading.Event()
        self.port = 0
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(30) or (wait_for_plugins and not self.plugins_loaded.wait(40)):
            self.stop()
            raise RuntimeError("serve did not start: %s" % "".join(self.stderr_lines))
        if not self.port:
            raise RuntimeError("serve exited: %s" % "".join(self.stderr_lines))
        self._local = threading.local()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            found = _SERVING.search(line)
            if found and not self.port:
                self.port = int(found.group(2))
                self._ready.set()
            if _LOADED.search(line):
                self.plugins_loaded.set()
        self._ready.set()
        self.plugins_loaded.set()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/" % self.port

    def client(self) -> xmlrpc.client.ServerProxy:
        """A client per thread (an HTTP connection is not shared across threads)."""
        if getattr(self._local, "client", None) is None:
            self._local.client = rpc_client.proxy(self.url, 120.0)     # kept alive, as the engine's
        return self._local.client

    def post(self, body: bytes, path: str = "/", headers: Optional[Dict[str, str]] = None):
        """Send raw bytes (e.g. the engine's own request bodies); (status, body)."""
        return self._request("POST", path, body, dict({"Content-Type": "text/xml"}, **(headers or {})))

    def get(self, path: str):
        return self._request("GET", path)

    def _request(self, method: str, path: str, body: Optional[bytes] = None,
                 headers: Optional[Dict[str, str]] = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def usage_mode(self) -> str:
        """How serve reads usage now (events, starting, off), from /metrics."""
        found = _USAGE_MODE.search(self.get("/metrics")[1].decode())
        return found.group(1) if found else "?"

    def full_reads(self) -> Dict[str, int]:
        """The usage view's full reads so far, by reason (ended ones, failed or not)."""
        text = self.get("/metrics")[1].decode()
        return {reason: int(float(value)) for reason, value in _FULL_READS.findall(text)}

    def wait_for_usage_events(self, timeout: float = 30.0, required: bool = True) -> None:
        """Until the event-driven usage view is in use; or, not `required`, until its first full
        read ended whatever it gave, or `timeout` passed (an engine a test keeps down or hung,
        a broken config): decisions then read usage whole, as without events."""
        limit = time.monotonic() + timeout
        while True:
            mode = self.usage_mode()
            if mode == "events" or (not required and (mode == "off" or self.full_reads())):
                return
            if time.monotonic() > limit:
                if not required:
                    return
                raise RuntimeError("serve's usage view is %s after %g s: %s" % (mode, timeout, self.stderr))
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


def call_unit(server: ServeProcess, unit: str, hosts: List[str], vm_id: str,
              args: Optional[Dict[str, str]] = None):
    """The engine's call for one of our units: the raw answer (a struct, or a Fault raised)."""
    client = server.client()
    if unit == "VfFilter":
        return client.runFilters([unit], list(hosts), vm_id, dict(args or {}))
    return client.runCostFunctions([[unit, 1]], list(hosts), vm_id, dict(args or {}))


def unit_run(server: ServeProcess, unit: str, hosts: List[str], vm_id: str,
             args: Optional[Dict[str, str]] = None) -> UnitRun:
    """`call_unit`, in the process harness's terms (see the module docstring)."""
    started = time.monotonic()
    try:
        reply = call_unit(server, unit, hosts, vm_id, args)
    except xmlrpc.client.Fault as fault:
        return UnitRun(unit, 1, "", "fault: %s\n" % fault.faultString, time.monotonic() - started,
                       discarded_because="fault %d" % fault.faultCode)
    elapsed = time.monotonic() - started
    reported = (reply.get("plugin_errors") or {}).get(unit, [None])[0]
    result = reply["result"]
    if unit == "VfWeight":
        result = None if reported is not None else [(host, score) for host, score, name in result if name == unit]
    elif reported is not None and reply.get("errors") == ["all filters failed"]:
        result = None                                  # our filter gave no answer: fail-open
    if result is None:
        return UnitRun(unit, 1, "", "ovirt-vf-scheduler %s: %s\n" % (unit, reported), elapsed,
                       discarded_because="plugin_errors", reported=reported)
    return UnitRun(unit, 0, repr(result), "", elapsed, result=result, reported=reported)
