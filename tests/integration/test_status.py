"""What the units record about themselves (status.py) and `ovirt-vf-scheduler status`, the monitoring
check over it: counts from concurrent processes, the exit codes (0 OK, 1 WARN, 2 CRITICAL, 3 UNKNOWN)
after real unit runs against the fake engine and a fake UCS-M that fail on purpose (the levels on
plain values: tests/unit/test_status.py)."""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from ovirt_scheduler_proxy_plugins import status
from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, sample_servers
from ovirt_scheduler_proxy_plugins.tools.status_report import CRITICAL, OK, WARN

from tests.integration.helpers import CLI, run_cli_as, ucsm_section, write_conf


def run_status(units, *args):
    """`status` on the runner's config, once what the units answered is written."""
    units.status_written()
    return subprocess.run([CLI, "status", "--config", units.conf_path] + list(args), capture_output=True,
                          text=True, timeout=60)


def test_concurrent_processes_lose_no_count(tmp_path):
    code = ("import sys; from ovirt_scheduler_proxy_plugins import status\n"
            "for i in range(20): status.record(sys.argv[1], 'VfFilter', status.FAIL_OPEN if i % 4 == 0 "
            "else status.OK, 'engine down')")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(6)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 6
    record = status.read_all(str(tmp_path))["units"]["VfFilter"]
    assert (record["decisions"], record["fail_open"], record["fail_closed"]) == (90, 30, 0)
    assert record["last_failure_reason"] == "engine down" and record["last_failure_kind"] == status.FAIL_OPEN
    assert sorted(os.listdir(str(tmp_path))) == ["status-unit-VfFilter.json", "status-unit-VfFilter.json.lock"]


@pytest.fixture
def two_hosts(world):
    world.add_host("h1", vf_devices=8, hw_uuid=sample_servers(2)[0].uuid.upper())
    world.add_host("h2", vf_devices=8, hw_uuid=sample_servers(2)[1].uuid.upper())
    world.add_vm("web", vmfex_nics=2)
    return world


def hosts(world):
    return [world.host_by_name("h1").id, world.host_by_name("h2").id]


def test_ok_after_decisions_then_critical_after_the_filter_fails_open(two_hosts, engine, units):
    vm = two_hosts.vm_by_name("web").id
    assert units.filter(hosts(two_hosts), vm).ok
    only_filter = run_status(units)
    assert only_filter.returncode == 1 and "VfWeight no decision recorded yet" in only_filter.stdout.splitlines()[0]
    assert units.weight(hosts(two_hosts), vm).ok
    healthy = run_status(units)
    assert healthy.returncode == 0, healthy.stdout
    assert healthy.stdout.startswith("VF-SCHEDULER OK - the units decide normally | 'VfFilter_decisions'=1c")
    engine.stop()
    assert units.filter(hosts(two_hosts), vm).returncode == 1                    # fail-open: the proxy ignores it
    failed = run_status(units, "--json")
    report = json.loads(failed.stdout)
    assert (failed.returncode, report["status"], report["exit_code"]) == (2, CRITICAL, 2)
    record = report["units"]["VfFilter"]
    assert (record["decisions"], record["fail_open"], record["fail_closed"]) == (1, 1, 0)
    assert engine.url in record["last_failure_reason"] and "on_error = open" in record["last_failure_reason"]
    assert [line["status"] for line in report["lines"] if line["name"] != "engine-events"] == [CRITICAL, OK, OK]
    # VfFilter, VfWeight, claims (and serve's usage view: events readable)
    text = run_status(units).stdout.splitlines()[0]
    assert text.startswith("VF-SCHEDULER CRITICAL - VfFilter failed open (every host passed) ")


def test_fail_closed_and_a_failing_weight(two_hosts, engine, units):
    units.conf_path = write_conf(units.state_dir, engine.url, "on_error = closed\n")
    engine.stop()
    vm = two_hosts.vm_by_name("web").id
    assert units.filter(hosts(two_hosts), vm).result == []
    assert units.weight(hosts(two_hosts), vm).returncode == 1
    report = json.loads(run_status(units, "--json").stdout)
    assert report["units"]["VfFilter"]["fail_closed"] == 1 and report["units"]["VfWeight"]["fail_open"] == 1
    assert {line["name"]: line["status"] for line in report["lines"]} == {"VfFilter": CRITICAL, "VfWeight": WARN,
                                                                         "claims": OK}


def test_a_unit_failing_on_its_config_is_counted_where_status_looks(two_hosts, engine, units):
    os.unlink(os.path.join(units.state_dir, "engine.pw"))                     # the units cannot log in
    run = units.filter(hosts(two_hosts), two_hosts.vm_by_name("web").id)
    assert run.returncode == 1 and "password_file: cannot read" in run.stderr
    result = run_status(units, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 2 and report["lines"][0]["name"] == "config"
    assert "password_file: cannot read" in report["units"]["VfFilter"]["last_failure_reason"]   # [scheduler] cache_dir


def test_once_the_cause_is_fixed_status_says_recovered_and_check_is_ok(two_hosts, engine, units):
    """A fixed config must not leave check FAILing and status CRITICAL for the rest of the window:
    the failure stays visible (WARNING, "recovered"), check's line (does it work now?) is OK."""
    from ovirt_scheduler_proxy_plugins import config
    from ovirt_scheduler_proxy_plugins.tools.status_report import check_findings
    secret = os.path.join(units.state_dir, "engine.pw")
    os.rename(secret, secret + ".away")                                       # the units cannot log in
    vm = two_hosts.vm_by_name("web").id
    assert units.filter(hosts(two_hosts), vm).returncode == 1
    assert units.weight(hosts(two_hosts), vm).returncode == 1
    assert run_status(units).returncode == 2
    os.rename(secret + ".away", secret)                                       # fixed
    assert units.filter(hosts(two_hosts), vm).ok and units.weight(hosts(two_hosts), vm).ok
    result = run_status(units)
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith("VF-SCHEDULER WARNING - VfFilter recovered; VfWeight recovered | ")
    assert "recovered: deciding again (last decision " in result.stdout.splitlines()[1]
    found = {f.check: f for f in check_findings(config.load(units.conf_path))}
    assert (found["status VfFilter"].status, found["status VfWeight"].status) == ("OK", "OK")
    assert found["status VfFilter"].message.startswith("recovered: deciding again (last decision ")


def test_ucsm_down_in_min_mode_is_a_warning_not_silence(two_hosts, engine, units, tmp_path):
    ucsm = FakeUcsm(sample_servers(2)).start()
    units.conf_path = write_conf(units.state_dir, engine.url, "capacity_source = min\ncapacity_ttl = 1\n",
                                 extra=ucsm_section(units.state_dir, ucsm.url).replace("[ucsm]\n",
                                                                                       "[ucsm]\ncache_ttl = 1\n"))
    vm = two_hosts.vm_by_name("web").id
    assert units.filter(hosts(two_hosts), vm).ok and units.weight(hosts(two_hosts), vm).ok
    assert run_status(units).returncode == 0
    ucsm.stop()
    os.unlink(os.path.join(units.state_dir, "cache", "capacity-ucsm.json"))     # as after cache_ttl
    assert units.filter(hosts(two_hosts), vm).result == hosts(two_hosts)       # the engine's numbers decide
    result = run_status(units)
    lines = result.stdout.splitlines()
    assert result.returncode == 1 and lines[0].startswith("VF-SCHEDULER WARNING - ucsm failing (last good read ")
    assert "capacity_source = min decides with the engine's numbers alone" in result.stdout


def test_pending_claims_against_the_thresholds(two_hosts, engine, units):
    vm = two_hosts.vm_by_name("web").id
    assert units.filter(hosts(two_hosts), vm).ok and units.weight(hosts(two_hosts), vm).ok
    assert run_status(units).returncode == 0
    warn = run_status(units, "--claims-warn", "1")
    assert warn.returncode == 1 and "claims 1 pending claim holding 2 VFs" in warn.stdout.splitlines()[0]
    assert run_status(units, "--claims-warn", "1", "--claims-critical", "1").returncode == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
def test_a_user_who_cannot_read_cache_dir_or_the_config_gets_unknown_on_stdout(engine):
    """NRPE without sudo: not CRITICAL (the units, as their own user, read both fine) but UNKNOWN,
    and the line on stdout, which is all a monitoring system shows."""
    top = tempfile.mkdtemp(prefix="vf-status-")                  # /tmp/pytest-of-root is 0700
    try:
        os.chmod(top, 0o755)
        conf = write_conf(top, engine.url)
        os.makedirs(os.path.join(top, "cache"), mode=0o700)
        for path in (conf, os.path.join(top, "engine.pw")):
            os.chmod(path, 0o644)
        hint = "run it as root or as the units' user (sudo -u ovirt ovirt-vf-scheduler status)\n"
        code, out, err = run_cli_as("nobody", ["status", "--config", conf])
        assert (code, err) == (3, "")
        assert out == "VF-SCHEDULER UNKNOWN - cannot read cache_dir %s/cache as user nobody: Permission denied; " \
            % top + hint
        os.chmod(conf, 0o600)
        code, out, err = run_cli_as("nobody", ["status", "--config", conf])
        assert (code, err) == (3, "")
        assert out == "VF-SCHEDULER UNKNOWN - cannot read the config file %s as user nobody: Permission denied; " \
            % conf + hint
        code, out, err = run_cli_as("nobody", ["status", "--config", conf, "--json"])
        assert code == 3 and json.loads(out)["status"] == "UNKNOWN" and "as user nobody" in json.loads(out)["error"]
    finally:
        shutil.rmtree(top)


@pytest.mark.parametrize("argv, words", [
    (["--claims-warn", "10", "--claims-critical", "5"], "bad command line: --claims-warn 10 is above "
                                                         "--claims-critical 5"),
    (["--windwo", "60"], "bad command line: unrecognized arguments: --windwo 60"),
    (["--window", "soon"], "bad command line: argument --window: expected a number of seconds > 0, got 'soon'"),
])
def test_a_bad_command_line_is_unknown_not_critical(tmp_path, argv, words):
    """A typo in the NRPE command must not page as CRITICAL (exit 2)."""
    run = subprocess.run([CLI, "status", "--config", str(tmp_path / "none.conf")] + argv, capture_output=True,
                         text=True, timeout=60)
    assert (run.returncode, run.stdout) == (3, "VF-SCHEDULER UNKNOWN - %s\n" % words)


def test_the_help_gives_each_exit_code_one_meaning():
    status_help = subprocess.run([CLI, "status", "--help"], capture_output=True, text=True, timeout=60).stdout
    codes = [line.split()[0] for line in status_help.split("exit codes:")[1].splitlines() if line.strip()]
    assert codes == ["0", "1", "2", "3"]
    assert "  2  CRITICAL" in status_help and "  3  UNKNOWN: a bad command line" in status_help
    top = subprocess.run([CLI, "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "  3  the command failed (the message says why)" in top and "1  the command failed" not in top


def test_a_claim_that_cannot_be_recorded_is_a_failure_status_and_metrics_show(two_hosts, engine, units):
    """The ledger's lock held elsewhere: no claim can be recorded, so the filter fails (open), and
    that is counted where the operator looks: status, and serve's /metrics by unit and by source."""
    vm = two_hosts.vm_by_name("web").id
    assert units.filter(hosts(two_hosts), vm).ok                                    # the ledger exists
    fd = os.open(os.path.join(units.state_dir, "cache", "claims.json.lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        run = units.filter(hosts(two_hosts), vm)
    finally:
        os.close(fd)
    assert run.returncode == 1 and "the ledger of pending claims cannot be used: cannot lock" in run.stderr
    record = json.loads(run_status(units, "--json").stdout)["units"]["VfFilter"]
    assert record["fail_open"] == 1 and "cannot lock" in record["last_failure_reason"]
    if units.mode == "serve":
        metrics = units.server.get("/metrics")[1].decode()
        assert 'ovirt_vf_scheduler_source_errors_total{source="ledger"} 1.0' in metrics
        assert 'ovirt_vf_scheduler_plugin_errors_total{unit="VfFilter"} 1.0' in metrics
        assert 'ovirt_vf_scheduler_decisions_total{outcome="fail_open",unit="VfFilter"} 1.0' in metrics
