"""serve and foreign plugins (tests/data/foreign): they answer as under the stock proxy, failures are
named, a hung, flooding or slow-to-import plugin is killed or given up, and no child outlives a run."""
import os
import subprocess
import shutil
import time
import xmlrpc.client

import pytest

from ovirt_scheduler_proxy_plugins.sim import proxy
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess
from ovirt_scheduler_proxy_plugins.serve import foreign

from tests.builders import H1, VM
from tests.integration.helpers import FOREIGN, engine_reads, host_ids


def test_foreign_units_answer_like_under_the_proxy_but_failures_are_named(bed, world):
    client = bed.client()
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    reply = client.runFilters(["NoisyFilter", "FirstHostFilter"], [a, b], vm, {})
    assert reply["result"] == [a]                         # the noisy one is discarded, as by the proxy
    assert reply["plugin_errors"] == {"NoisyFilter": ["wrote to stderr: \\x1b[33mDeprecationWarning\\x1b[0m: something"]}
    reply = client.runCostFunctions([["PartialWeight", 1], ["VfWeight", 1]], [a, b], vm, {})
    assert reply["result"] == [[a, 1, "PartialWeight"], [b, 1, "PartialWeight"],
                               [a, 1000, "VfWeight"], [b, 996, "VfWeight"]]
    assert reply["errors"] == ["PartialWeight: 1 of 2 hosts not scored, given its worst weight 1"]
    assert client.runLoadBalancing("MoveFirst", [a, b], {}) == {"result_code": 0, "result": ["", [a, b]]}
    assert client.runLoadBalancing("Nope", [a], {}) == {
        "result_code": 1, "result": ["", []], "plugin_errors": {"Nope": ["plugin not found: 'Nope'"]}}


def run_foreign(tmp_path, module, source, unit, kind, budget, monkeypatch):
    """One call of a foreign unit as serve makes it, with this interpreter as the python3 on PATH;
    (its result, seconds taken)."""
    (tmp_path / (module + ".py")).write_text(source)
    monkeypatch.setenv("PATH", os.path.dirname(proxy.sys.executable) + os.pathsep + os.environ["PATH"])
    started = time.monotonic()
    ran = foreign.run(str(tmp_path), foreign.ForeignUnit(unit, kind, module, "", ""), ([H1], VM, {}), budget=budget)
    return ran, time.monotonic() - started


def _live_members(group):
    """pids of the processes in process group `group` that are not zombies (from /proc)."""
    members = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":      # fields: state, ppid, pgrp, ...
            members.append(int(pid))
    return members


def test_a_hung_foreign_plugin_is_killed_with_its_children(tmp_path, monkeypatch):
    """Only the plugin's own process group is looked at: a bystander's `sleep 60` (another program's,
    here the test's own) must neither be killed nor mistaken for the plugin's."""
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    group_file = tmp_path / "group"
    try:
        ran, took = run_foreign(tmp_path, "slow", "import os, subprocess, time\nclass Slow:\n"
                                "    def do_filter(self, hosts, vm, args):\n"
                                "        subprocess.Popen(['sleep', '60'])\n"
                                "        open(%r, 'w').write(str(os.getpgrp()))\n"
                                "        time.sleep(60)\n" % str(group_file),
                                "Slow", "filters", 1.0, monkeypatch)
        assert ran == foreign.ForeignResult(error="no answer within 1 s (killed)")
        assert took < 3
        group = int(group_file.read_text())
        assert group != os.getpgrp()
        give_up = time.monotonic() + 5                  # SIGKILL lands at once; /proc may lag a moment
        while _live_members(group) and time.monotonic() < give_up:
            time.sleep(0.05)
        assert _live_members(group) == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def _sleepers(marker):
    """Processes running `sleep <marker>` (a marker no other test, here or in a parallel suite, uses)."""
    return subprocess.run(["pgrep", "-f", "sleep %s" % marker], capture_output=True, text=True).stdout.split()


@pytest.mark.parametrize("pipes", ["its own", "the plugin's"])
def test_a_foreign_plugin_that_ends_normally_leaves_no_child_behind(tmp_path, monkeypatch, pipes):
    """A child started in the background dies with the run, whether it kept the plugin's stdout and
    stderr open (the answer must not wait for it) or not."""
    marker = "61.%d" % os.getpid()
    redirect = ", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL" if pipes == "its own" else ""
    ran, took = run_foreign(tmp_path, "spawner", "import subprocess\nclass Spawner:\n"
                            "    def do_filter(self, hosts, vm, args):\n"
                            "        subprocess.Popen(['sleep', '%s']%s)\n        print(hosts)\n" % (marker, redirect),
                            "Spawner", "filters", 20.0, monkeypatch)
    assert ran == foreign.ForeignResult(result=[H1])
    assert took < 5
    time.sleep(0.2)
    assert _sleepers(marker) == []


def test_a_foreign_plugin_flooding_its_output_is_killed_at_the_cap(tmp_path, monkeypatch):
    """Output is read as it comes and capped: a plugin printing without end costs at most the
    cap in memory, and is killed then, not at the end of its budget."""
    ran, took = run_foreign(tmp_path, "chatty", "import sys\nclass Chatty:\n"
                            "    def do_score(self, hosts, vm, args):\n"
                            "        while True:\n            sys.stdout.write('x' * 65536)\n",
                            "Chatty", "scores", 20.0, monkeypatch)
    assert ran == foreign.ForeignResult(error="more than 4 MB of output (killed)")
    assert took < 10


def test_every_answer_is_well_formed_whatever_a_foreign_plugin_writes(bed, world):
    """NoisyFilter colours its stderr, PartialWeight has control characters in its description and
    properties_validation: escaped as text, the answers stay readable."""
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    status, body = bed.post(xmlrpc.client.dumps((), "discover").encode())
    offered = engine_reads(body)
    assert offered["scores"]["PartialWeight"] == ["Scores all but the last host\\x07", "x=\\x02"]
    status, body = bed.post(xmlrpc.client.dumps((["NoisyFilter", "VfFilter"], [a, b], vm, {}), "runFilters").encode())
    reply = engine_reads(body)
    assert reply["plugin_errors"] == {"NoisyFilter": ["wrote to stderr: \\x1b[33mDeprecationWarning\\x1b[0m: something"]}
    assert reply["result"] == [b]


def test_a_foreign_weight_gives_the_hosts_it_left_unscored_its_worst_weight(bed, world):
    """A host left unscored would rank best; it gets the unit's worst weight (9 here, not 1)."""
    a, b = host_ids(world, "a", "b")
    c = world.add_host("c", vf_devices=4).id
    reply = bed.client().runCostFunctions([["PartialWeight", 1]], [a, b, c], world.vm_by_name("new").id, {})
    assert reply["result"] == [[a, 1, "PartialWeight"], [b, 9, "PartialWeight"], [c, 9, "PartialWeight"]]
    assert reply["errors"] == ["PartialWeight: 1 of 3 hosts not scored, given its worst weight 9"]


def test_serve_listens_first_and_loads_the_other_plugins_in_the_background(tmp_path, plugin_dir):
    """A module sleeping 45 s at import: the port opens and discover answers at once (with our
    units at least); the other modules' units come as they load."""
    marker = "45.%d" % os.getpid()
    with open(os.path.join(plugin_dir, "sleepy.py"), "w") as handle:
        handle.write("import subprocess\nsubprocess.run(['sleep', '%s'])\n" % marker)
    started = time.monotonic()
    server = ServeProcess(str(tmp_path / "none.conf"), plugin_dir, wait_for_plugins=False)
    try:
        offered = server.client().discover()
        assert time.monotonic() - started < 10
        assert {"VfFilter", "VfWeight"} <= set(offered["filters"]) | set(offered["scores"])
        give_up = time.monotonic() + 10
        while not _sleepers(marker) and time.monotonic() < give_up:
            time.sleep(0.1)
        assert not server.plugins_loaded.is_set() and _sleepers(marker)      # still importing sleepy
        while "FirstHostFilter" not in offered["filters"] and time.monotonic() < give_up:
            time.sleep(0.1)
            offered = server.client().discover()                             # the quick modules: loaded
        assert "FirstHostFilter" in offered["filters"] and not server.plugins_loaded.is_set()
        reply = server.client().runFilters(["VfFilter"], [H1], VM, {})      # ours answer meanwhile
        assert "cannot read the config file" in reply["plugin_errors"]["VfFilter"][0]
    finally:
        assert server.stop() == 0
    time.sleep(0.2)
    assert _sleepers(marker) == []                                           # its loader went with serve


def test_a_module_hanging_at_import_is_given_up_after_the_budget(tmp_path, monkeypatch, caplog):
    marker = "46.%d" % os.getpid()
    (tmp_path / "sleepy.py").write_text("import subprocess\nsubprocess.run(['sleep', '%s'])\n" % marker)
    shutil.copy(os.path.join(FOREIGN, "first_host.py"), str(tmp_path / "quick.py"))
    (tmp_path / "garbled.py").write_text("import atexit\natexit.register(print, \"{'filters': 5}\")\n")
    monkeypatch.setenv("PATH", os.path.dirname(proxy.sys.executable) + os.pathsep + os.environ["PATH"])
    started, known = time.monotonic(), []
    found = foreign.discover(str(tmp_path), [], [], budget=1.5, progress=known.append)
    assert time.monotonic() - started < 4
    assert list(found) == [("filters", "FirstHostFilter")]
    assert list(known[1]) == [("filters", "FirstHostFilter")] and len(known) == 3     # before sleepy gave up
    assert "plugin module sleepy: not loaded: its import was killed: no answer within 1.5 s" in caplog.text
    assert "plugin module garbled: not loaded: its loader's answer is garbled" in caplog.text
    time.sleep(0.2)
    assert _sleepers(marker) == []
