"""What the integration tests share besides fixtures (conftest.py): the console script, the
config they write, a proxy-style runner for the units in both run modes, running as another user."""
import os
import re
import sys
import threading
import time
import xmlrpc.client

from ovirt_scheduler_proxy_plugins.sim import proxy, served
from ovirt_scheduler_proxy_plugins.sim.workspace import write_config, write_secret

CLI = served.CLI
# Foreign plugins as other projects write them for the stock proxy, for serve to offer beside ours.
FOREIGN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "foreign")
_PLAIN_HTTP_WARNING = re.compile(r" warning: \[(engine|ucsm)\] url http://")

DISCOVERY = {}     # the session's `discovery` serve process, once a test asked for it


def with_discovery(conf_path):
    """Point the config's [serve] listen (unless it has one) at the `discovery` serve process, as on a
    host where serve runs: without it, `check` would call the engine's default port 18781."""
    with open(conf_path, encoding="utf-8") as handle:
        if "[serve]" in handle.read():
            return conf_path
    with open(conf_path, "a", encoding="utf-8") as handle:
        handle.write("\n[serve]\nlisten = 127.0.0.1:%d\n" % DISCOVERY["server"].port)
    return conf_path


class Proxy:
    """Runs VfFilter/VfWeight against one config file, the way `mode` says: "process" as the
    stock proxy does (a python3 process per unit), "serve" as the engine calls
    `ovirt-vf-scheduler serve` (XML-RPC to a real serve process, started on first use and again
    when the config path changes). Both give a sim.proxy.UnitRun with the same contract."""

    def __init__(self, plugins_dir, conf_path, state_dir, mode="process"):
        self.plugins_dir = plugins_dir
        self.conf_path = conf_path
        self.state_dir = state_dir
        self.mode = mode
        self.server = None
        self._starting = threading.Lock()      # concurrent first calls share one serve (test_faults)

    @property
    def log_path(self):
        return os.path.join(self.state_dir, "log", "vf.log")

    def log_text(self):
        try:
            with open(self.log_path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def run(self, unit, hosts, vm, args=None, conf_path=None):
        if self.mode == "serve":
            return served.unit_run(self.serving(conf_path or self.conf_path), unit, hosts, vm, args)
        env = proxy.proxy_env({"OVIRT_VF_SCHEDULER_CONF": conf_path or self.conf_path})
        return proxy.run_unit(self.plugins_dir, unit, hosts, vm, args, env=env)

    def serving(self, conf_path):
        with self._starting:
            if self.server is not None and self.server.conf_path != conf_path:
                self.stop()
            if self.server is None:
                self.server = served.ServeProcess(conf_path, self.plugins_dir)
                # decide from the event-driven view, as in steady state (unless the engine is down
                # or hung, or the config broken: then as without events)
                self.server.wait_for_usage_events(timeout=5, required=False)
            return self.server

    def status_written(self, timeout=10.0):
        """serve writes the unit status files in the background: wait until its /metrics says
        nothing is left unwritten (a plugin process has written its own before it exits)."""
        if self.mode != "serve" or self.server is None:
            return
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            code, body = self.server.get("/metrics")
            if code == 200 and re.search(rb"^ovirt_vf_scheduler_status_unwritten 0\.0$", body, re.M):
                return
            time.sleep(0.02)
        raise AssertionError("serve left unit status unwritten for %g s" % timeout)

    def stop(self):
        """Stop serve (if running): SIGTERM must end it with exit 0 and without a traceback."""
        if self.server is not None:
            server, self.server = self.server, None
            assert server.stop() == 0, server.stderr
            assert "Traceback" not in server.stderr, server.stderr

    def filter(self, hosts, vm, args=None, **kw):
        return self.run("VfFilter", hosts, vm, args, **kw)

    def weight(self, hosts, vm, args=None, **kw):
        return self.run("VfWeight", hosts, vm, args, **kw)


def int_scores(pairs):
    """A weight answer, returned unchanged once every score is checked to be an int. In Python
    996.0 == 996 and True == 1, so an equality test alone lets a float or bool score through, and
    the proxy passes a float on to the engine as an XML-RPC <double>, which breaks its ranking."""
    assert all(type(score) is int for _, score in pairs), pairs
    return pairs


def write_conf(state_dir, engine_url, extra_scheduler="", password="secret", extra="", deadline=4):
    """The tests' config: a short deadline, so hang cases stay quick; serve reads usage afresh
    for every VM (usage_max_age = 0), as a plugin process does, so that scenarios which change
    the world between two calls mean the same in both run modes."""
    fresh = "" if "usage_max_age" in extra_scheduler else "usage_max_age = 0\n"
    return write_config(state_dir, engine_url, password, "deadline = %g\n" % deadline + fresh + extra_scheduler,
                        extra)


_OUR_TOP_NAMES = ("ovirt_scheduler_proxy_plugins", "ucsm_source", "vf_filter", "vf_weight")


def _readable_source():
    """A world-readable copy of this checkout's modules (made once): another user may not read the
    checkout itself (a clone under /root, 0700), and install-plugins copies the shipped files."""
    if "copy" not in _READABLE:
        import atexit
        import shutil
        import tempfile
        top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        copy = tempfile.mkdtemp(prefix="vf-source-")
        atexit.register(shutil.rmtree, copy, True)
        for name in _OUR_TOP_NAMES:
            if os.path.isdir(os.path.join(top, name)):
                shutil.copytree(os.path.join(top, name), os.path.join(copy, name),
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(os.path.join(top, name + ".py"), copy)
        for where, dirs, files in os.walk(copy):
            os.chmod(where, 0o755)
            for name in files:
                os.chmod(os.path.join(where, name), 0o644)
        _READABLE["copy"] = copy
    return _READABLE["copy"]


_READABLE = {}


def _import_readable_cli(copy):
    """In the forked child, before it drops root: our modules afresh from `copy`, every one of them now
    (the user may not read this interpreter's or the venv's files for a later lazy import) -> cli."""
    import importlib
    import pkgutil
    for name in list(sys.modules):
        if name.split(".")[0] in _OUR_TOP_NAMES:
            del sys.modules[name]
    sys.path.insert(0, copy)
    for name in _OUR_TOP_NAMES:
        module = importlib.import_module(name)
        for sub in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
            importlib.import_module(sub.name)
    return importlib.import_module("ovirt_scheduler_proxy_plugins.cli")


def run_cli_as(user, argv, timeout=60):
    """`ovirt-vf-scheduler ARGV` as another user -> (exit code, stdout, stderr). Root only."""
    return run_as(user, lambda: sys.modules["ovirt_scheduler_proxy_plugins.cli"].main(list(argv)),
                  "ovirt-vf-scheduler %s" % argv, timeout)


def run_as(user, main, what, timeout=60):
    """`main()` (-> exit code) as another user: a forked child that drops to the user's uid and gids
    (os.setuid), since that user may not be able to exec this interpreter (a pyenv under /root), and
    imports a world-readable copy of our code first (the cli as main() finds it in sys.modules)
    -> (exit code, stdout, stderr). Root only."""
    import pwd
    import tempfile
    entry = pwd.getpwnam(user)
    copy = _readable_source()
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:                                       # child: never returns into pytest
        code = 70
        try:
            _import_readable_cli(copy)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout = os.fdopen(1, "w", closefd=False)
            sys.stderr = os.fdopen(2, "w", closefd=False)
            code = main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise TimeoutError("%s as %s: no exit within %g s" % (what, user, timeout))
        time.sleep(0.02)
    out.seek(0)
    err.seek(0)
    return os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode()


def signal_during_a_call(server, engine, signum, hosts, vm):
    """Send `signum` to serve while a VfFilter call is in flight (held 1 s at the engine per request:
    three of them, an event poll waited for included, stay within the tests' 4 s deadline) -> the
    answers that call got (one, unless the signal dropped it)."""
    from ovirt_scheduler_proxy_plugins.sim.served import call_unit
    engine.faults.api_delay = 1.0
    answers = []
    caller = threading.Thread(target=lambda: answers.append(call_unit(server, "VfFilter", hosts, vm)))
    engine.reset_requests()
    caller.start()
    give_up = time.monotonic() + 10
    while not engine.requests and time.monotonic() < give_up:      # the call has reached the engine
        time.sleep(0.01)
    server.proc.send_signal(signum)
    caller.join(10)
    return answers


def stderr_lines(run):
    """stderr without the warning each operator command prints for the fake engine's (and fake
    UCS-M's) http:// URL (test_config.py checks that line itself)."""
    return [line for line in run.stderr.splitlines() if not _PLAIN_HTTP_WARNING.search(line)]


def ucsm_section(state_dir, ucsm_url):
    """A [ucsm] section for a fake UCS-M, its password in a 0600 file."""
    pw = write_secret(os.path.join(state_dir, "ucsm.pw"), "secret")
    return "[ucsm]\nurl = %s\nusername = ovirt-ro\npassword_file = %s\ntimeout = 3\n" % (ucsm_url, pw)


RUN_MODES = ["process", "serve"]


def assert_valid_mo(mo, element):
    """Right class, every attribute a known property with a value the metadata accepts."""
    cls = type(mo)
    assert cls.__name__ == element.tag[0].upper() + element.tag[1:]
    unknown = set(element.attrib) - set(cls.prop_map)
    assert not unknown, "%s: attributes ucsmsdk does not know: %s" % (element.tag, unknown)
    for attr, value in element.attrib.items():
        meta = cls.prop_meta[cls.prop_map[attr]]
        assert meta.validate_property_value(value), "%s.%s=%r" % (element.tag, attr, value)
        assert getattr(mo, cls.prop_map[attr]) == value


def host_ids(world, *names):
    """The ids of the world's hosts with these names, in that order."""
    return [world.host_by_name(n).id for n in names]


def engine_reads(body):
    """The answer as the engine's client takes it: a strict XML 1.0 parser (no recovery), then
    the library's rules (no <nil/>, <i8> or <double>; an Integer result_code)."""
    from lxml import etree
    etree.fromstring(body, etree.XMLParser(recover=False, resolve_entities=False, no_network=True))
    assert b"<nil" not in body and b"<i8>" not in body and b"<double>" not in body
    value = xmlrpc.client.loads(body)[0][0]
    assert isinstance(value, dict) and ("result_code" not in value or type(value["result_code"]) is int)
    return value
