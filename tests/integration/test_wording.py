"""Words an operator reads: install-plugins errors name the directory and the missing permission,
output piped into `head` ends quietly, and the demo calls a tie a tie."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from tests.integration.helpers import CLI, run_cli_as, write_conf


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
def test_install_plugins_into_a_directory_the_user_cannot_write():
    target = tempfile.mkdtemp(prefix="vf-plugins-")
    try:
        os.chmod(target, 0o555)
        code, out, err = run_cli_as("nobody", ["install-plugins", "--plugins-dir", target])
        assert (code, out) == (3, "")
        assert err == ("ovirt-vf-scheduler install-plugins: cannot write into %s: user nobody has no write permission "
                       "on the directory (0555 root:root); run as root, or pass --plugins-dir\n" % target)
        assert os.listdir(target) == []                                  # no temporary file left behind
    finally:
        shutil.rmtree(target)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
def test_install_plugins_over_a_module_the_user_cannot_read():
    target = tempfile.mkdtemp(prefix="vf-plugins-")
    try:
        subprocess.run([CLI, "install-plugins", "--plugins-dir", target], check=True, stdout=subprocess.DEVNULL)
        module = os.path.join(target, "vf_filter.py")
        with open(module, "r+b") as handle:            # same size: only reading it can tell
            handle.seek(-1, os.SEEK_END)
            handle.write(b" ")
        os.chmod(module, 0o600)
        os.chmod(target, 0o777)
        code, out, err = run_cli_as("nobody", ["install-plugins", "--plugins-dir", target, "--force"])
        assert (code, out) == (3, "")
        assert err == "ovirt-vf-scheduler install-plugins: %s: Permission denied\n" % module
    finally:
        shutil.rmtree(target)


def test_install_plugins_into_a_missing_directory_says_where_it_comes_from(tmp_path):
    run = subprocess.run([CLI, "install-plugins", "--plugins-dir", str(tmp_path / "nope")], capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 3 and run.stderr == (
        "ovirt-vf-scheduler install-plugins: %s: no such directory (the RPM, and ovirt-scheduler-proxy before "
        "oVirt 4.5, create it; pass --plugins-dir for another)\n" % (tmp_path / "nope"))


def test_output_read_by_a_pipe_that_closes_early_ends_quietly(tmp_path):
    """`check | head -1`: the reader goes away after one line; no BrokenPipeError traceback."""
    conf = write_conf(str(tmp_path), "http://127.0.0.1:9/ovirt-engine/api")
    proc = subprocess.Popen([CLI, "check", "--config", conf, "--user", "root", "--plugins-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert first.startswith(b"OK    config") and err == ""


def test_demo_calls_a_tie_a_tie_and_never_shows_negative_free():
    run = subprocess.run([CLI, "demo"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stderr == ""
    verdicts = [line for line in run.stdout.splitlines() if line.startswith("->")]
    # VfWeight's best is not the engine's pick: the engine sums every weight's rank (docs/proxy-contract.md section 4)
    assert verdicts[0] == ("-> VfWeight ranks blade3 first (weight 988, lower is better); the engine adds its own "
                           "weights (CPU, memory) before it picks the host")
    assert len(verdicts) == 4                                           # the plain VM is the last scenario
    assert verdicts[3] == ("-> VfWeight scores blade1, blade2, blade3, blade4, blade5 and rack1 equally (weight 0, "
                           "a 6-way tie): the engine's other weights decide among them")
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith(("blade", "rack"))]
    assert rows and all(int(row[5]) >= 0 for row in rows)               # the free column


def test_explain_names_the_port_profile_rule_by_its_config_value_and_ages_are_labelled(world, engine, tmp_path):
    world.add_host("h1", vf_devices=4)
    world.add_vm("web", vmfex_nics=1)
    conf = write_conf(str(tmp_path), engine.url)
    run = subprocess.run([CLI, "explain", "--config", conf, "--vm", "web"], capture_output=True, text=True,
                         timeout=60)
    assert " port_profiles=ignore (no [ucsm]) " in run.stdout, run.stdout          # the config's words, not "off"
    assert re.search(r"^HOST +VFS +SOURCE, AGE +USED ", run.stdout, re.M), run.stdout  # 'engine 12s': a read's age


def test_the_sample_config_says_serve_may_reuse_usage():
    sample = subprocess.run([CLI, "config", "--sample"], capture_output=True, text=True, timeout=60).stdout
    assert "always read fresh" not in sample
    assert "serve may reuse a read for usage_max_age seconds" in sample


def test_port_profiles_sync_takes_the_domain_as_the_outputs_name_it(tmp_path):
    from ovirt_scheduler_proxy_plugins import config
    from ovirt_scheduler_proxy_plugins.tools import common, port_profiles
    ucsm = "[ucsm]\nurl = http://127.0.0.1:41867, https://ucsm-b.example.com\nusername = u\npassword = p\n"
    settings = config.load(write_conf(str(tmp_path), "http://127.0.0.1:9/ovirt-engine/api", extra=ucsm))
    for given in ("127.0.0.1:41867", "http://127.0.0.1:41867", "http://127.0.0.1:41867/"):
        assert port_profiles._domains_wanted(settings, given) == ("http://127.0.0.1:41867",)
    assert port_profiles._domains_wanted(settings, "ucsm-b.example.com") == ("https://ucsm-b.example.com",)
    with pytest.raises(common.ToolError):
        port_profiles._domains_wanted(settings, "127.0.0.1:41868")


def test_json_commands_answer_an_error_in_json_too(tmp_path):
    conf = write_conf(str(tmp_path), "http://127.0.0.1:9/ovirt-engine/api")       # nothing listens there
    run = subprocess.run([CLI, "explain", "--config", conf, "--vm", "web", "--json"], capture_output=True,
                         text=True, timeout=60)
    import json
    answer = json.loads(run.stdout)
    assert run.returncode == 3 and answer["exit_code"] == 3 and "127.0.0.1:9" in answer["error"]
    assert "(7, '" not in answer["error"] and "(curl error 7)" in answer["error"]
