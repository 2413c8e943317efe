"""`check` run as root tests what the units' user can do: files only root can read FAIL with the exact
command, and after running those commands the same lines are OK. The probe runs in a child that
drops to the user with os.setuid (CI runs as root; user nobody stands in for ovirt).
Also: units that failed open within the hour make check FAIL."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests.integration.helpers import CLI, with_discovery, write_conf

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="check switches users only when run as root"),
              pytest.mark.usefixtures("discovery")]
LINE = re.compile(r"^(OK|WARN|FAIL)\s+(\S.*?)\s{2,}(.*)$")


def run_check(conf, *args):
    with_discovery(conf)
    return subprocess.run([CLI, "check", "--config", conf, "--plugins-dir", "/nonexistent", "--python",
                           sys.executable] + list(args), capture_output=True, text=True, timeout=60)


def access_lines(run):
    """[(status, check, message, fix)] of the 'files as user' and 'state dirs' lines."""
    out, found = run.stdout.splitlines(), []
    for index, text in enumerate(out):
        match = LINE.match(text)
        if match and match.group(2) in ("files as user", "state dirs"):
            fix = out[index + 1].strip() if index + 1 < len(out) and out[index + 1].startswith(" ") else ""
            found.append((match.group(1), match.group(2), match.group(3), fix[len("fix: "):]))
    return found


@pytest.fixture
def site(engine):
    """A config tree as a careless root leaves it: everything 0600/0700 root, no cache dir, a root log dir."""
    top = tempfile.mkdtemp(prefix="vf-access-")           # not under /tmp/pytest-of-root (0700)
    os.chmod(top, 0o755)
    conf = write_conf(os.path.join(top, "etc"), engine.url)          # vf.conf and engine.pw, both 0600 root
    os.chmod(os.path.join(top, "etc"), 0o700)
    with open(conf) as handle:
        text = handle.read()
    text = text.replace("cache_dir = %s/etc/cache" % top, "cache_dir = %s/var/cache/vf" % top)
    text = text.replace("log_file = %s/etc/log/vf.log" % top, "log_file = %s/var/log/vf/vf.log" % top)
    with open(conf, "w") as handle:
        handle.write(text)
    os.makedirs(os.path.join(top, "var", "log", "vf"), mode=0o755)
    os.makedirs(os.path.join(top, "var", "cache"), mode=0o755)
    yield top, conf
    shutil.rmtree(top)


def test_root_only_files_fail_as_the_service_user_and_the_fix_commands_make_them_ok(site):
    top, conf = site
    etc = os.path.join(top, "etc")
    first = access_lines(run_check(conf, "--user", "nobody"))
    assert first[0] == ("FAIL", "files as user", "the config file %s/vf.conf: user nobody cannot enter %s "
                        "(0700 root:root)" % (etc, etc), "chgrp nogroup %s && chmod g+x %s" % (etc, etc))
    assert ("FAIL", "state dirs", "[scheduler] log_file %s/var/log/vf/vf.log does not exist and user nobody cannot "
            "create it in %s/var/log/vf (0755 root:root)" % (top, top),
            "install -d -o nobody -g nogroup -m 750 %s/var/log/vf" % top) in first
    assert ("WARN", "state dirs", "[scheduler] cache_dir %s/var/cache/vf does not exist and user nobody cannot "
            "create it in %s/var/cache (0755 root:root)" % (top, top),
            "install -d -o nobody -g nogroup -m 700 %s/var/cache/vf" % top) in first
    for *_, fix in first:
        subprocess.run(fix, shell=True, check=True)
    second = access_lines(run_check(conf, "--user", "nobody"))        # now the files themselves
    assert [line[3] for line in second if line[0] != "OK"] == [
        "chown root:nogroup %s/vf.conf && chmod 640 %s/vf.conf" % (etc, etc),
        "chown nobody %s/engine.pw && chmod 600 %s/engine.pw" % (etc, etc)]
    assert second[0][2] == "the config file %s/vf.conf: user nobody cannot read it (0600 root:root)" % etc
    for *_, fix in second:
        if fix:
            subprocess.run(fix, shell=True, check=True)
    third = access_lines(run_check(conf, "--user", "nobody"))
    assert [line[:2] for line in third] == [("OK", "files as user"), ("OK", "state dirs")]
    assert third[0][2] == "user nobody can read config file %s/vf.conf, [engine] password_file %s/engine.pw" % (
        etc, etc)
    root = access_lines(run_check(conf, "--user", "root"))
    assert [line[0] for line in root] == ["OK", "OK"]


def test_a_missing_service_user_fails(site):
    _, conf = site
    run = run_check(conf, "--user", "no-such-user-here")
    assert run.returncode == 3
    assert access_lines(run)[0][:3] == ("FAIL", "files as user", "user no-such-user-here does not exist, and "
                                        "the units run as that user")


def test_units_that_failed_open_in_the_last_hour_fail_check(world, engine, units):
    world.add_host("h1", vf_devices=4)
    vm = world.add_vm("vm1", vmfex_nics=1)
    engine.stop()
    assert units.filter([world.host_by_name("h1").id], vm.id).returncode == 1
    run = run_check(units.conf_path, "--user", "root")
    line = next(text for text in run.stdout.splitlines() if text.startswith("FAIL  status VfFilter"))
    assert "failed open (every host passed) " in line and engine.url in line
    assert run.returncode == 3


def test_a_probe_that_hangs_is_killed_not_waited_for(monkeypatch):
    """A path on a dead NFS mount can hang the probe child in stat(): check gives up after its
    probe time and kills the child, instead of waiting for it for ever."""
    import pwd
    import time
    from ovirt_scheduler_proxy_plugins.tools import check_access
    monkeypatch.setattr(check_access, "_PROBE_SECONDS", 0.5)
    monkeypatch.setattr(check_access, "_problem", lambda need: time.sleep(60))   # the child's stat() hangs
    need = check_access.Need("/var/cache/somewhere", "[scheduler] cache_dir", check_access.WRITE, is_dir=True)
    started = time.monotonic()
    with pytest.raises(OSError, match="the probe as user nobody gave no answer"):
        check_access._probe_as(pwd.getpwnam("nobody"), [need])
    assert time.monotonic() - started < 3
