"""The fault suite: one table, every case run for VfFilter and VfWeight as the proxy runs them.

Each case asserts the exact proxy-facing contract (stdout / exit code / stderr), that the run
ends within the deadline, and that no cache, token or ledger file is left corrupt. The
terminal summary prints how many cases ran (conftest.pytest_terminal_summary).

World: hosts h1 (4 VFs, 1 used) and h2 (4 VFs, free), VM "new" needs 1 VF.
"""
import fcntl
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

from ovirt_scheduler_proxy_plugins.sim import proxy
from ovirt_scheduler_proxy_plugins.sim.inventory import sim_id
from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmServer
from ovirt_scheduler_proxy_plugins.ledger import boot_id

from tests.integration.helpers import int_scores, ucsm_section, write_conf

DEADLINE = 4.0          # helpers.write_conf's [scheduler] deadline
SLACK = 2.0             # interpreter start and exit around the deadline


class Ctx:
    """What a case may break or bend: the world, the engine, the runner and the inputs."""

    def __init__(self, world, engine, units, tmp_path):
        self.world, self.engine, self.units, self.tmp_path = world, engine, units, tmp_path
        self.hosts = [world.host_by_name("h1").id, world.host_by_name("h2").id]
        self.vm = world.vm_by_name("new").id
        self.args = {}
        self.ucsm: Optional[FakeUcsm] = None
        self.secrets = {"secret"}          # every password configured (engine, UCS-M): none may leak
        self.cleanups = []                 # undone after the case (a lock held, a mount)

    @property
    def cache(self):
        return os.path.join(self.units.state_dir, "cache")

    def use_ucsm(self):
        servers = [UcsmServer(dn="sys/chassis-1/blade-%d" % i, uuid=self.world.host_by_name(n).hw_uuid.lower(),
                              serial="S%d" % i, sp_name=n, policy_name="kvm4", dynamic_eth="4")
                   for i, n in enumerate(("h1", "h2"), start=1)]
        self.ucsm = FakeUcsm(servers).start()
        self.units.conf_path = write_conf(self.units.state_dir, self.engine.url, "capacity_source = ucsm\n",
                                          extra=ucsm_section(self.units.state_dir, self.ucsm.url))
        return self.ucsm

    def conf(self, scheduler_extra="", **kw):
        self.secrets.add(kw.get("password", "secret"))
        self.units.conf_path = write_conf(self.units.state_dir, self.engine.url, scheduler_extra, **kw)

    def warm(self):
        """One good decision first, so token, capacity and ledger files exist."""
        assert self.units.filter(self.hosts, self.vm).ok


@dataclass
class Fail:
    """Exit 1, nothing on stdout, exactly one stderr line containing `words`: the proxy ignores
    the unit (fail-open)."""
    words: str


@dataclass
class Answer:
    """Exit 0, empty stderr, stdout = this literal (computed from the context)."""
    expected: Callable[[Ctx, str], object]


def _all_kept(ctx, unit):
    return ctx.hosts if unit == "VfFilter" else [(ctx.hosts[0], 996), (ctx.hosts[1], 995)]


ALL_KEPT = Answer(_all_kept)       # h1: 4-1-1 = 2 left -> 996; h2: 3 left -> 995


@dataclass
class Fault:
    """serve only: the call is malformed, answered with an XML-RPC fault naming the bad input
    (the engine then fails open for that call)."""
    words: str


# Where serve answers differently from a plugin process, and why.
IN_SERVE = {
    # The engine sends only UUIDs: anything else is a broken caller, not a host to judge.
    "non-UUID host id": Fault("bad call: host id 'not-a-uuid' is not a UUID"),
    "non-UUID VM id": Fault("bad call: the VM id \"'; drop\" is not a UUID"),
    # A UUID followed by a newline is no UUID either (the pattern ends in \Z, not $).
    "host id with a trailing newline": Fault("bad call: host id '%s\\n' is not a UUID" % sim_id("host", "h2")),
    # A plugin process cannot run without its log (fds 1 and 2 point there); serve can, and
    # says so in the journal, so a full log disk does not turn every decision into a fail-open.
    "unwritable log file": ALL_KEPT,
}


def _set(**faults):
    def apply(ctx):
        for key, value in faults.items():
            setattr(ctx.engine.faults, key, value)
    return apply


def _ucsm_fault(**faults):
    def apply(ctx):
        ucsm = ctx.use_ucsm()
        for key, value in faults.items():
            setattr(ucsm.faults, key, value)
    return apply


def _ucsm_down(ctx):
    ctx.use_ucsm().stop()


def _under_a_file(key):
    """Point a path setting under a regular file: every write there fails as on a full or
    read-only disk (chmod would not stop root, which CI runs as)."""
    def apply(ctx):
        blocker = ctx.tmp_path / "blocker"
        blocker.write_text("")
        lines = open(ctx.units.conf_path).read().splitlines()
        lines = ["%s = %s/%s" % (key, blocker, key) if line.startswith(key + " =") else line for line in lines]
        open(ctx.units.conf_path, "w").write("\n".join(lines) + "\n")
    return apply


def _cache_dir_at(ctx, path):
    lines = open(ctx.units.conf_path).read().splitlines()
    lines = ["cache_dir = %s" % path if line.startswith("cache_dir =") else line for line in lines]
    open(ctx.units.conf_path, "w").write("\n".join(lines) + "\n")


def _ledger_lock_held(ctx):
    """Another process (here: the test) holds the ledger's lock for the whole decision."""
    ctx.warm()
    fd = os.open(os.path.join(ctx.cache, "claims.json.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ctx.cleanups.append(lambda: os.close(fd))


def _mounted_cache_dir(options, fill=False):
    """cache_dir on its own small tmpfs: read-only, or full (every block taken, so a lock file
    can still be created but no claim written). Root only (CI runs as root)."""
    def apply(ctx):
        where = ctx.tmp_path / "mounted-cache"
        where.mkdir()
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                                               capture_output=True).returncode != 0:
            pytest.skip("mounting a tmpfs needs root")
        ctx.cleanups.append(lambda: subprocess.run(["umount", "-l", str(where)], check=True))
        if fill:
            filler = os.open(str(where / "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(filler, b"x" * 4096):
                    pass
            except OSError:
                pass
            finally:
                os.close(filler)
        _cache_dir_at(ctx, str(where))
    return apply


SCRIBBLED = '{"truncated": [1, 2'


def _scribble(*prefixes):
    def apply(ctx):
        ctx.warm()
        for name in os.listdir(ctx.cache):
            if name.startswith(prefixes):
                with open(os.path.join(ctx.cache, name), "w") as handle:
                    handle.write(SCRIBBLED)
    return apply


def _clock_jump(ctx):
    """Files from a clock that ran ahead: a capacity cache saying 0 VFs and a claim on h2 both
    stamped in the future. Neither may be trusted: the capacity is re-read, the claim dropped."""
    ctx.warm()
    path = os.path.join(ctx.cache, "hosts-engine.json")
    entries = json.load(open(path))
    for entry in entries.values():
        entry.update(vfs=0, read_at=time.time() + 86400)
    json.dump(entries, open(path, "w"))
    claims = {sim_id("vm", "ghost"): {"demand": 3, "hosts": [ctx.hosts[1]],
                                      "source": None, "at": time.monotonic() + 3600, "boot": boot_id()}}
    json.dump(claims, open(os.path.join(ctx.cache, "claims.json"), "w"))


def _append_bytes(path, data):
    with open(path, "ab") as handle:
        handle.write(data)


def _inputs(hosts=None, vm=None, args=None):
    def apply(ctx):
        if hosts is not None:
            ctx.hosts = hosts(ctx) if callable(hosts) else hosts
        if vm is not None:
            ctx.vm = vm
        if args is not None:
            ctx.args = args
    return apply


def _dup_expected(ctx, unit):
    h1 = ctx.hosts[0]
    return [h1, h1] if unit == "VfFilter" else [(h1, 996), (h1, 996)]


def _junk_expected(ctx, unit):
    """A host id that is no UUID is never queried: unknown, kept by on_error = open, scored 999."""
    return ctx.hosts if unit == "VfFilter" else [(ctx.hosts[0], 996), (ctx.hosts[1], 999)]


CASES = {
    "engine down": (lambda ctx: ctx.engine.stop(), Fail("engine")),
    "hung at login": (_set(login_delay=30), Fail("deadline of 4 s exceeded")),
    "hung mid-request": (_set(api_delay=30), Fail("deadline of 4 s exceeded")),
    "401 loop": (_set(always_401=True), Fail("refused the credentials")),
    "http 500": (_set(api_status=500), Fail("answered GET vnicprofiles with HTTP 500: Operation Failed")),
    "truncated xml": (_set(truncated_xml=True), Fail("unreadable answer to GET vnicprofiles")),
    "malformed xml": (_set(malformed_xml=True), Fail("unreadable answer to GET vnicprofiles")),
    "wrong content type": (_set(wrong_content_type=True), Fail("GET vnicprofiles")),
    "wrong password": (lambda ctx: ctx.conf(password="wr0ng-Pw-3e7b"), Fail("refused the credentials")),
    "ucsm down": (_ucsm_down, Fail("UCS-M")),
    "ucsm hung": (_ucsm_fault(delay=30), Fail("UCS-M")),
    "ucsm 503": (_ucsm_fault(http_status=503), Fail("UCS-M")),
    "ucsm bad xml": (_ucsm_fault(malformed_xml=True), Fail("UCS-M")),
    "ucsm entity bomb": (_ucsm_fault(entity_bomb=True), Fail("UCS-M")),
    # Without its claim a decision would let the next ones book the same VFs: it fails instead.
    "unwritable cache dir": (_under_a_file("cache_dir"), Fail("the ledger of pending claims cannot be used: "
                                                              "cannot create the lock file")),
    "ledger lock held": (_ledger_lock_held, Fail("the ledger of pending claims cannot be used: cannot lock")),
    "read-only cache dir": (_mounted_cache_dir("ro,size=1m"), Fail("claims.json.lock: Read-only file system")),
    "full cache dir": (_mounted_cache_dir("size=256k", fill=True), Fail("claims.json: No space left on device")),
    "unwritable log file": (_under_a_file("log_file"), Fail("[scheduler] log_file: cannot open")),
    "corrupt token cache": (_scribble("engine-token-"), ALL_KEPT),
    "corrupt capacity cache": (_scribble("hosts-"), ALL_KEPT),
    "corrupt ledger": (_scribble("claims"), ALL_KEPT),
    "clock jump": (_clock_jump, ALL_KEPT),
    "empty host list": (_inputs(hosts=[]), Answer(lambda ctx, unit: [])),
    "duplicate host ids": (_inputs(hosts=lambda ctx: [ctx.hosts[0]] * 2), Answer(_dup_expected)),
    "non-UUID host id": (_inputs(hosts=lambda ctx: [ctx.hosts[0], "not-a-uuid"]), Answer(_junk_expected)),
    "host id with a trailing newline": (_inputs(hosts=lambda ctx: [ctx.hosts[0], ctx.hosts[1] + "\n"]),
                                        Answer(_junk_expected)),
    "unknown host id": (_inputs(hosts=lambda ctx: [ctx.hosts[0], sim_id("host", "ghost")]),
                        Answer(lambda ctx, unit: [ctx.hosts[0], sim_id("host", "ghost")] if unit == "VfFilter"
                               else [(ctx.hosts[0], 996), (sim_id("host", "ghost"), 999)])),
    "unknown VM id": (_inputs(vm=sim_id("vm", "nobody")), Fail("is not in the engine's answer")),
    "non-UUID VM id": (_inputs(vm="'; drop"), Fail("is not a UUID")),
    "bad property value": (_inputs(args={"vf_weight_mode": "sideways"}),
                           Fail("cluster scheduling policy property vf_weight_mode: expected one of")),
    "missing config": (lambda ctx: setattr(ctx.units, "conf_path", str(ctx.tmp_path / "none.conf")),
                       Fail("cannot read the config file")),
    "non-UTF-8 config": (lambda ctx: _append_bytes(ctx.units.conf_path, b"# caf\xe9\n"),
                         Fail("vf.conf: not UTF-8 text (line 13)")),
    "non-UTF-8 password file": (lambda ctx: _append_bytes(os.path.join(ctx.units.state_dir, "engine.pw"), b"\xff"),
                                Fail("engine.pw is not UTF-8 text")),
    "bad config": (lambda ctx: ctx.conf("weight_mode = sideways\n"),
                   Fail("[scheduler] weight_mode: expected one of spread, pack, reserve, got 'sideways'")),
}


@pytest.fixture
def ctx(world, engine, units, tmp_path):
    world.add_host("h1", vf_devices=4)
    world.add_host("h2", vf_devices=4)
    world.add_vm("busy", host="h1", vmfex_nics=1)
    world.add_vm("new", vmfex_nics=1)
    context = Ctx(world, engine, units, tmp_path)
    yield context
    if context.ucsm:
        context.ucsm.stop()
    context.units.stop()                # serve's files in a mounted cache_dir are closed first
    for cleanup in reversed(context.cleanups):
        cleanup()


@pytest.mark.parametrize("unit", ["VfFilter", "VfWeight"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fault_case(ctx, case, unit):
    setup, expect = CASES[case]
    if ctx.units.mode == "serve":
        expect = IN_SERVE.get(case, expect)
    setup(ctx)
    run = ctx.units.run(unit, ctx.hosts, ctx.vm, ctx.args)
    assert run.elapsed < DEADLINE + SLACK, run.elapsed
    if isinstance(expect, Fault):
        assert (run.returncode, run.stdout, run.stderr) == (1, "", "fault: %s\n" % expect.words), run
    elif isinstance(expect, Fail):
        assert (run.returncode, run.stdout) == (1, ""), run
        assert run.stderr.startswith("ovirt-vf-scheduler %s: " % unit) and run.stderr.count("\n") == 1
        assert expect.words in run.stderr, run.stderr
        if os.path.exists(ctx.units.log_path):          # an operator finds the reason in the log too
            assert expect.words in ctx.units.log_text(), ctx.units.log_text()
    else:
        assert (run.returncode, run.stderr) == (0, ""), run
        expected = expect.expected(ctx, unit)
        assert (int_scores(run.result) if unit == "VfWeight" else run.result) == expected
    assert_no_secret_shown(ctx, run)
    assert_state_intact(ctx.units)


# Configuration errors always fail open (exit 1): the on_error policy may itself be what is broken.
CONFIG_ERRORS = {"missing config", "bad config", "bad property value", "unwritable log file", "non-UTF-8 config",
                 "non-UTF-8 password file"}
FAILS_CLOSED = sorted(name for name, (_, expect) in CASES.items()
                      if isinstance(expect, Fail) and name not in CONFIG_ERRORS)


@pytest.mark.parametrize("case", FAILS_CLOSED)
def test_filter_fails_closed_when_asked(ctx, case):
    """on_error = closed: the filter answers [] (the engine then has no host), stderr empty
    (through serve: [] and the reason in plugin_errors, which the engine audit-logs)."""
    setup, expect = CASES[case]
    if ctx.units.mode == "serve" and isinstance(IN_SERVE.get(case), Fault):
        pytest.skip("a malformed call is a fault in serve, whatever the unit's policy")
    setup(ctx)
    run = ctx.units.filter(ctx.hosts, ctx.vm, dict(ctx.args, vf_on_error="closed"))
    assert run.elapsed < DEADLINE + SLACK
    assert (run.returncode, run.stderr, run.result) == (0, "", [])
    assert expect.words in ctx.units.log_text()
    assert_no_secret_shown(ctx, run)
    if ctx.units.mode == "serve":
        assert expect.words in run.reported and "on_error = closed: no host kept" in run.reported


def test_twenty_processes_at_once_on_one_cache_dir(ctx):
    """Twenty units at once share one cache dir and leave it intact. Not a deadline case: twenty
    interpreters starting at once on two cores (slower on 3.9) need more than the tests' 4 s, so
    the deadline here is 20 s, within the proxy's 30."""
    ctx.units.conf_path = write_conf(ctx.units.state_dir, ctx.engine.url, deadline=20)
    runs = []
    lock = threading.Lock()

    def one(unit):
        result = ctx.units.run(unit, ctx.hosts, ctx.vm)
        with lock:
            runs.append(result)

    threads = [threading.Thread(target=one, args=(unit,)) for unit in ("VfFilter", "VfWeight") * 10]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 20
    # each decided within its deadline (else it would have failed); twenty interpreters starting at
    # once on two cores may take longer than SLACK to get there, never longer than the proxy waits
    assert all(r.ok and r.stderr == "" for r in runs), [r.stderr for r in runs if not r.ok]
    assert all(r.elapsed < proxy.PROXY_BUDGET for r in runs), sorted(r.elapsed for r in runs)
    assert {tuple(r.result) for r in runs if r.unit == "VfFilter"} == {tuple(ctx.hosts)}
    assert_state_intact(ctx.units)


def test_expired_token_is_renewed_once(ctx):
    ctx.warm()
    ctx.engine.expire_tokens()
    run = ctx.units.filter(ctx.hosts, ctx.vm)
    assert run.ok and run.result == ctx.hosts
    assert ctx.engine.logins == 2


def assert_no_secret_shown(ctx, run):
    for secret in ctx.secrets:
        assert secret not in run.stderr + ctx.units.log_text(), secret


def assert_state_intact(units):
    """Every state file is either absent or valid JSON (atomic replace, never half-written),
    and no temp file is left behind, once serve's status writer is idle. A file the test scribbled
    may stay as it was when nothing needed to rewrite it (serve keeps its token in memory; a weight
    after the filter reads nothing)."""
    units.status_written()
    cache = os.path.join(units.state_dir, "cache")
    if not os.path.isdir(cache):
        return
    for name in os.listdir(cache):
        assert not name.startswith(".tmp-"), name
        if name.endswith(".json"):
            with open(os.path.join(cache, name)) as handle:
                text = handle.read()
            if text != SCRIBBLED:
                json.loads(text)
