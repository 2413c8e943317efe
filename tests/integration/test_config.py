"""A plain http:// engine URL as the units log it and the operator commands print it (the config
rules themselves: tests/unit/test_config.py)."""
import subprocess

from tests.integration.helpers import CLI


def test_plain_http_is_logged_on_every_unit_run_and_printed_by_operator_commands(world, engine, units):
    world.add_host("h1", vf_devices=4)
    vm = world.add_vm("vm1", vmfex_nics=1)
    for _ in range(2):
        assert units.filter([world.host_by_name("h1").id], vm.id).result == [world.host_by_name("h1").id]
    warned = [line for line in units.log_text().splitlines()
              if " WARNING " in line and "[engine] url %s is plain http" % engine.url in line]
    assert len(warned) == (2 if units.mode == "process" else 1)    # serve: once per config (re)load
    run = subprocess.run([CLI, "explain", "--config", units.conf_path, "--vm", "vm1"], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and run.stderr.splitlines() == [
        "ovirt-vf-scheduler explain: warning: [engine] url %s is plain http: the password and the session "
        "cross the network unencrypted; use https://" % engine.url]
