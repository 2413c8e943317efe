"""Every engine fault, for the filter and the weight: the exact proxy-facing outcome, one
clear line, within the deadline, and no corrupt state left behind."""
import json
import os

import pytest

from conftest import write_conf

DEADLINE = 4.0          # conftest's [scheduler] deadline
SLACK = 2.0             # interpreter start and exit around the deadline


@pytest.fixture
def setup(world):
    world.add_host("h1", vf_devices=4)
    world.add_host("h2", vf_devices=4)
    vm = world.add_vm("new", vmfex_nics=1)
    return [world.host_by_name("h1").id, world.host_by_name("h2").id], vm.id


def _down(engine):
    engine.stop()


def _set(**faults):
    def apply(engine):
        for key, value in faults.items():
            setattr(engine.faults, key, value)
    return apply


# name, how to break the engine, words the one stderr line must contain
CASES = [
    ("engine down", _down, "engine"),
    ("hung at login", _set(login_delay=30), "deadline of 4 s exceeded"),
    ("hung mid-request", _set(api_delay=30), "deadline of 4 s exceeded"),
    ("401 loop", _set(always_401=True), "refused the credentials"),
    ("http 500", _set(api_status=500), "answered GET vnicprofiles with HTTP 500: Operation Failed"),
    ("malformed xml", _set(malformed_xml=True), "unreadable answer"),
    ("truncated xml", _set(truncated_xml=True), "unreadable answer"),
    ("wrong content type", _set(wrong_content_type=True), "GET vnicprofiles"),
]


@pytest.mark.parametrize("name, breaker, words", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("unit", ["VfFilter", "VfWeight"])
def test_fault_fails_open_with_one_line(setup, engine, units, name, breaker, words, unit):
    hosts, vm = setup
    breaker(engine)
    run = units.run(unit, hosts, vm)
    assert run.elapsed < DEADLINE + SLACK, run.elapsed
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("ovirt-vf-scheduler %s: " % unit) and run.stderr.count("\n") == 1
    assert words in run.stderr, run.stderr
    assert "secret" not in run.stderr and "secret" not in units.log_text()
    _assert_state_intact(units.state_dir)


@pytest.mark.parametrize("name, breaker, words", CASES, ids=[c[0] for c in CASES])
def test_fault_fails_closed_when_asked(setup, engine, units, name, breaker, words):
    hosts, vm = setup
    breaker(engine)
    run = units.filter(hosts, vm, {"vf_on_error": "closed"})
    assert run.elapsed < DEADLINE + SLACK
    assert run.ok and run.result == [] and run.stderr == ""        # the engine then has no host
    assert words in units.log_text()


def test_expired_token_is_renewed_once(setup, engine, units):
    hosts, vm = setup
    assert units.filter(hosts, vm).result == hosts
    engine.expire_tokens()
    run = units.filter(hosts, vm)
    assert run.ok and run.result == hosts
    assert engine.logins == 2


def test_wrong_password(setup, engine, units, tmp_path):
    hosts, vm = setup
    conf = write_conf(str(tmp_path / "bad"), engine.url, password="wrong")
    run = units.filter(hosts, vm, conf_path=conf)
    assert run.returncode == 1 and "refused the credentials" in run.stderr
    assert "wrong" not in run.stderr


def test_missing_config(setup, units, tmp_path):
    hosts, vm = setup
    missing = str(tmp_path / "none.conf")
    for unit in ("VfFilter", "VfWeight"):
        run = units.run(unit, hosts, vm, conf_path=missing)
        assert run.returncode == 1 and run.stdout == ""
        assert run.stderr == ("ovirt-vf-scheduler %s: configuration error: %s: cannot read the config "
                              "file: No such file or directory (set OVIRT_VF_SCHEDULER_CONF to use another "
                              "file)\n" % (unit, missing))


def test_bad_config_value(setup, engine, units, tmp_path):
    hosts, vm = setup
    conf = write_conf(str(tmp_path / "bad"), engine.url, "weight_mode = sideways\n")
    run = units.weight(hosts, vm, conf_path=conf)
    assert run.returncode == 1
    assert "[scheduler] weight_mode: expected one of spread, pack, reserve, got 'sideways'" in run.stderr


def test_bad_cluster_property(setup, units):
    hosts, vm = setup
    run = units.filter(hosts, vm, {"vf_reserve": "-3"})
    assert run.returncode == 1
    assert "cluster scheduling policy property vf_reserve: expected a whole number >= 0" in run.stderr


def test_unwritable_log_is_a_config_error(setup, engine, units, tmp_path):
    hosts, vm = setup
    blocker = tmp_path / "file"
    blocker.write_text("")
    conf = write_conf(str(tmp_path / "x"), engine.url, "log_file = %s/sub/vf.log\n" % blocker)
    text = open(conf).read().replace("log_file = %s/log/vf.log\n" % (tmp_path / "x"), "")
    open(conf, "w").write(text)
    run = units.filter(hosts, vm, conf_path=conf)
    assert run.returncode == 1 and "[scheduler] log_file: cannot open" in run.stderr


def test_corrupt_token_cache_is_ignored(setup, engine, units):
    hosts, vm = setup
    units.filter(hosts, vm)
    cache = os.path.join(units.state_dir, "cache")
    for name in os.listdir(cache):
        with open(os.path.join(cache, name), "w") as handle:
            handle.write("{not json")
    run = units.filter(hosts, vm)
    assert run.ok and run.result == hosts
    _assert_state_intact(units.state_dir)


def _assert_state_intact(state_dir):
    """Every state file is either absent or valid JSON (atomic replace, never half-written)."""
    cache = os.path.join(state_dir, "cache")
    if not os.path.isdir(cache):
        return
    for name in os.listdir(cache):
        if name.endswith(".json"):
            with open(os.path.join(cache, name)) as handle:
                json.load(handle)
