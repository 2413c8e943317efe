"""`ovirt-vf-scheduler serve` called the way the engine calls it: the engine's own request bodies,
odd but legal calls, foreign plugins, malformed calls, a hung engine, concurrency, config edits,
SIGTERM. Every scenario of test_plugins/test_faults also runs through serve (conftest.units)."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.client

import pytest

from tests.integration.helpers import CLI, host_ids, signal_during_a_call, ucsm_section, write_conf
from ovirt_scheduler_proxy_plugins.sim import proxy
from ovirt_scheduler_proxy_plugins.config import ServeSettings
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit
from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmPortProfile, UcsmServer
from ovirt_scheduler_proxy_plugins.serve import foreign, protocol
from ovirt_scheduler_proxy_plugins.store import HostCache

WIRE = os.path.join(os.path.dirname(__file__), "data", "engine-wire")
H1, H2, VM = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222",
              "33333333-3333-3333-3333-333333333333")

# Foreign plugins as other projects write them for the stock proxy.
FOREIGN = {
    "first_host.py": '''
class FirstHostFilter:
    properties_validation = "first=^[0-9]+$"

    def do_filter(self, hosts, vm, args):
        """Keep the first host only"""
        print(hosts[:1])
''',
    "five.py": '''
class FiveWeight:
    def do_score(self, hosts, vm, args):
        """Five for everyone, 7.6 for the last"""
        print([(h, 5) for h in hosts[:-1]] + [(hosts[-1], 7.6)])
''',
    "partial.py": '''
class PartialWeight:
    properties_validation = "x=\\x02"

    def do_score(self, hosts, vm, args):
        """Scores all but the last host\\x07"""
        print([(h, 9 if i % 2 else 1) for i, h in enumerate(hosts[:-1])])
''',
    "noisy.py": '''
import sys
class NoisyFilter:
    def do_filter(self, hosts, vm, args):
        """Right answer, but chatty on stderr, in colour"""
        sys.stderr.write("\\x1b[33mDeprecationWarning\\x1b[0m: something\\n")
        print(hosts)
''',
    "balancer.py": '''
class MoveFirst:
    def do_balance(self, hosts, args):
        """Move nothing, suggest the hosts"""
        print(["", hosts])
''',
    "impostor.py": '''
class VfFilter:
    def do_filter(self, hosts, vm, args):
        """Not ours"""
        print([])
''',
    "broken.py": "import no_such_module_anywhere\n",
    "helper_lib.py": "VALUE = 1\n",
}


@pytest.fixture
def plugin_dir(tmp_path):
    path = tmp_path / "plugins"
    path.mkdir()
    subprocess.run([CLI, "install-plugins", "--plugins-dir", str(path)], check=True, stdout=subprocess.DEVNULL)
    for name, text in FOREIGN.items():
        (path / name).write_text(text)
    return str(path)


@pytest.fixture
def bed(world, engine, tmp_path, plugin_dir):
    """A VM-FEX world, its config and a running serve (usage_max_age 0 unless a test says)."""
    world.add_host("a", vf_devices=4)
    world.add_host("b", vf_devices=4)
    world.add_vm("busy", host="a", vmfex_nics=3)                   # a: 1 free, b: 4 free
    world.add_vm("new", vmfex_nics=2)
    state = str(tmp_path / "state")
    conf = write_conf(state, engine.url)
    server = ServeProcess(conf, plugin_dir)
    server.state = state
    server.conf = conf
    server.wait_for_usage_events(required=False, timeout=10)    # decide as in steady state
    yield server
    assert server.stop() == 0, server.stderr
    assert "Traceback" not in server.stderr, server.stderr


def log_text(server):
    path = os.path.join(server.state, "log", "vf.log")
    return open(path).read() if os.path.exists(path) else ""


def test_discover_offers_our_units_and_the_foreign_ones(bed):
    offered = bed.client().discover()
    assert set(offered) == {"filters", "scores", "balance"}
    assert sorted(offered["filters"]) == ["FirstHostFilter", "NoisyFilter", "VfFilter"]
    assert sorted(offered["scores"]) == ["FiveWeight", "PartialWeight", "VfWeight"]
    assert offered["balance"] == {"MoveFirst": ["Move nothing, suggest the hosts", ""]}
    import vf_filter
    assert offered["filters"]["VfFilter"] == [vf_filter.VfFilter.do_filter.__doc__,
                                              vf_filter.VfFilter.properties_validation]
    assert offered["filters"]["FirstHostFilter"] == ["Keep the first host only", "first=^[0-9]+$"]
    assert "its filters unit VfFilter is skipped: serve runs its own VfFilter" in bed.stderr
    assert "plugin module broken: not loaded: ModuleNotFoundError" in bed.stderr


def test_the_engines_own_request_bodies(bed):
    """Bodies as Apache XML-RPC 3.1.3 writes them (untyped strings, <i4>, self-closed containers)."""
    status, body = bed.post(open(os.path.join(WIRE, "runFilters.request.xml"), "rb").read())
    assert status == 200
    reply = xmlrpc.client.loads(body)[0][0]
    assert reply == {"result_code": 1, "result": [H1],
                     "plugin_errors": {"NoSuchFilter": ["plugin not found: 'NoSuchFilter'"]}}
    status, body = bed.post(open(os.path.join(WIRE, "runCostFunctions.request.xml"), "rb").read())
    reply = xmlrpc.client.loads(body)[0][0]
    # per unit, with the unit's name; the float 7.6 came back as the Integer 8
    assert reply["result"] == [[H1, 5, "FiveWeight"], [H2, 8, "FiveWeight"]]
    assert reply["plugin_errors"] == {"NoSuchUnit": ["plugin not found: 'NoSuchUnit'"]}
    assert reply["errors"] == ["FiveWeight: non-integer weights rounded"]
    assert b"<double>" not in body and b"<nil" not in body and b"<i8>" not in body
    assert re.findall(rb"<value><int>(\d+)</int></value>", body)[:3] == [b"1", b"5", b"8"]
    status, body = bed.post(open(os.path.join(WIRE, "discover.request.xml"), "rb").read())
    assert status == 200 and b"VfFilter" in body


def test_weights_are_ints_on_the_wire(bed, world):
    """A float score breaks the engine (ClassCastException): the answer must carry <int>."""
    status, body = bed.post(xmlrpc.client.dumps(
        ([["VfWeight", 1]], host_ids(world, "a", "b"), world.vm_by_name("new").id, {}), "runCostFunctions").encode())
    assert status == 200
    assert re.findall(rb"<int>(\d+)</int>", body) == [b"0", b"1000", b"996"]   # result_code, a, b
    assert b"<double>" not in body
    reply = xmlrpc.client.loads(body)[0][0]
    assert all(type(score) is int for _, score, _ in reply["result"])


def test_odd_but_legal_calls(bed, world):
    client = bed.client()
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    assert client.runFilters([], [a, b], vm, {}) == {"result_code": 0, "result": [a, b]}
    assert client.runFilters(["VfFilter"], [b], vm, {}) == {"result_code": 0, "result": [b]}
    assert client.runFilters(["VfFilter"], [], vm, {}) == {"result_code": 0, "result": []}
    # a: 4 - 3 = 1 free < 2; the foreign first-host filter keeps a only: the intersection is empty
    assert client.runFilters(["VfFilter", "FirstHostFilter"], [a, b], vm, {}) == {"result_code": 0, "result": []}
    assert client.runFilters(["Nope"], [a], vm, {}) == {
        "result_code": 1, "result": [a], "errors": ["all filters failed"],
        "plugin_errors": {"Nope": ["plugin not found: 'Nope'"]}}
    assert client.runCostFunctions([], [a, b], vm, {}) == {"result_code": 0, "result": []}
    # <nil/> property values are unset properties (the engine never sends them, a client might)
    body = xmlrpc.client.dumps((["VfFilter"], [a, b], vm, {"vf_reserve": None}), "runFilters", allow_none=True)
    assert xmlrpc.client.loads(bed.post(body.encode())[1])[0][0] == {"result_code": 0, "result": [b]}
    # a property of ours applies per call: reserve 3 leaves b with 1
    assert client.runFilters(["VfFilter"], [a, b], vm, {"vf_reserve": "3", "other": "x"})["result"] == []


def test_a_thousand_hosts_in_one_call(bed, world):
    """The call's size, not the decision (bench/ measures decisions at 1000 hosts): a VM without
    VF vNICs passes every host without host data, and every host gets its neutral weight."""
    many = [world.add_host("h%04d" % i, vf_devices=2).id for i in range(1000)]
    vm = world.add_vm("plain", plain_nics=2).id
    reply = bed.client().runFilters(["VfFilter"], many, vm, {})
    assert reply == {"result_code": 0, "result": many}
    weights = bed.client().runCostFunctions([["VfWeight", 2]], many, vm, {})["result"]
    assert weights == [[host, 0, "VfWeight"] for host in many]


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


@pytest.mark.parametrize("params, method, words", [
    (("VfFilter", [H1], VM, {}), "runFilters", "the filter list must be an array, got 'VfFilter'"),
    ((["VfFilter"], H1, VM, {}), "runFilters", "the host list must be an array"),
    ((["VfFilter"], [H1], 42, {}), "runFilters", "the VM id 42 is not a UUID"),
    ((["VfFilter"], [H1, "h2"], VM, {}), "runFilters", "host id 'h2' is not a UUID"),
    ((["VfFilter"], [H1], VM, {"a": 1}), "runFilters", "property values must be strings"),
    ((["VfFilter"], [H1], VM), "runFilters",
     "bad call: runFilters takes 4 arguments (filter names, host ids, VM id, properties), got 3"),
    (([["VfWeight", "one"]], [H1], VM, {}), "runCostFunctions", "each weight must be [unit name, int factor]"),
    ((), "runMagic", "unknown method 'runMagic'"),
    ((["VfFilter"], [H1] * 10000, VM, {}), "runFilters", "the host list has 10000 entries, more than the 5000"),
])
def test_malformed_calls_get_a_fault_and_the_next_call_is_fine(bed, world, params, method, words):
    client = bed.client()
    with pytest.raises(xmlrpc.client.Fault) as fault:
        getattr(client, method)(*params)
    assert words in fault.value.faultString
    a, b = host_ids(world, "a", "b")
    assert client.runFilters(["VfFilter"], [a, b], world.vm_by_name("new").id, {})["result"] == [b]


def test_garbage_and_oversized_bodies(bed, world):
    status, body = bed.post(b"<methodCall><methodName>discover</methodName><params>")   # truncated
    assert status == 200 and b"<fault>" in body
    status, body = bed.post(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><methodCall>'
                            b'<methodName>&a;</methodName></methodCall>')
    assert status == 200 and b"<fault>" in body and b"aaaa" not in body              # no entities
    with socket.create_connection(("127.0.0.1", bed.port), timeout=10) as sock:      # refused unread
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
                     % (3 * 1024 * 1024))
        assert sock.recv(100).startswith(b"HTTP/1.1 413")
    assert bed.get("/metrics")[0] == 200 and bed.get("/nope")[0] == 404
    assert bed.client().runFilters(["VfFilter"], host_ids(world, "b"), world.vm_by_name("new").id, {})["result"]


def test_metrics_count_decisions_and_report_the_view(bed, world):
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    bed.client().runFilters(["VfFilter"], [a, b], vm, {})
    bed.client().runCostFunctions([["VfWeight", 1]], [a, b], vm, {})
    status, text = bed.get("/metrics")
    text = text.decode()
    assert 'ovirt_vf_scheduler_decisions_total{outcome="ok",unit="VfFilter"} 1.0' in text
    assert 'ovirt_vf_scheduler_decisions_total{outcome="ok",unit="VfWeight"} 1.0' in text
    assert 'ovirt_vf_scheduler_call_seconds_count{method="runFilters"} 1.0' in text
    assert "ovirt_vf_scheduler_pending_claims 1.0" in text        # new's claim (of 2 VFs, on b), as status counts
    assert re.search(r"ovirt_vf_scheduler_usage_view_age_seconds (\d+\.\d+)", text)


def test_error_series_exist_at_zero_and_count_every_plugin_error(bed, world):
    """Alerts need each error series before the first error; every unit the engine is told failed
    counts, a name no plugin answers to included (runLoadBalancing's too), as "unknown": a caller
    cannot make new series."""
    text = bed.get("/metrics")[1].decode()
    zero = ['ovirt_vf_scheduler_plugin_errors_total{unit="VfFilter"} 0.0',
            'ovirt_vf_scheduler_plugin_errors_total{unit="VfWeight"} 0.0',
            'ovirt_vf_scheduler_decisions_total{outcome="fail_open",unit="VfFilter"} 0.0',
            'ovirt_vf_scheduler_decisions_total{outcome="fail_closed",unit="VfWeight"} 0.0',
            'ovirt_vf_scheduler_call_faults_total{method="runLoadBalancing"} 0.0',
            'ovirt_vf_scheduler_source_errors_total{source="engine"} 0.0',
            'ovirt_vf_scheduler_source_errors_total{source="ucsm"} 0.0']
    assert [line for line in zero if line not in text] == []
    a, b = host_ids(world, "a", "b")
    client = bed.client()
    assert client.runLoadBalancing("Nope", [a], {})["plugin_errors"] == {"Nope": ["plugin not found: 'Nope'"]}
    assert client.runFilters(["Gone", "NoisyFilter"], [a, b], world.vm_by_name("new").id, {})["result_code"] == 1
    text = bed.get("/metrics")[1].decode()
    assert 'ovirt_vf_scheduler_plugin_errors_total{unit="unknown"} 2.0' in text          # Nope, Gone
    assert "Nope" not in text and "Gone" not in text
    assert 'ovirt_vf_scheduler_plugin_errors_total{unit="NoisyFilter"} 1.0' in text


def test_concurrent_calls_from_many_clusters(bed, world, engine):
    for i in range(8):
        world.add_host("c%d" % i, cluster="cluster%d" % i, vf_devices=2 + i)
        world.add_vm("vm%d" % i, cluster="cluster%d" % i, vmfex_nics=2)
    results, errors = {}, []

    def one(i):
        try:
            host = world.host_by_name("c%d" % i).id
            vm = world.vm_by_name("vm%d" % i).id
            for _ in range(5):
                reply = call_unit(bed, "VfFilter", [host], vm)
                results.setdefault(i, []).append(reply["result"])
        except Exception as err:   # noqa: BLE001 - reported by the assertion below
            errors.append(err)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for i in range(8):
        expected = [[world.host_by_name("c%d" % i).id]] * 5   # 2+i VFs, 2 needed: always fits
        assert results[i] == expected


def test_a_hung_engine_never_holds_a_call_past_the_deadline(bed, world, engine):
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    assert call_unit(bed, "VfFilter", [a, b], vm)["result"] == [b]            # warm: token, capacity
    engine.faults.api_delay = 30
    timings = []
    for _ in range(6):
        started = time.monotonic()
        reply = call_unit(bed, "VfFilter", [a, b], vm)
        timings.append(time.monotonic() - started)
        assert reply["result"] == [a, b]                                      # fail-open: every host
        assert "VfFilter" in reply["plugin_errors"]
    assert max(timings) < 4 + 1.0, timings                                    # the 4 s deadline
    assert sum(timings) < 12, timings                                         # backoff: the rest fail fast
    assert "not retried for" in str(call_unit(bed, "VfFilter", [a, b], vm)["plugin_errors"])
    engine.faults.api_delay = 0
    time.sleep(8.5)                                                           # the longest backoff
    assert call_unit(bed, "VfFilter", [a, b], vm) == {"result_code": 0, "result": [b]}


def test_an_edited_config_applies_to_the_next_call_and_a_bad_edit_fails_the_units_only(bed, world):
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    client = bed.client()
    assert client.runFilters(["VfFilter"], [a, b], vm, {})["result"] == [b]
    good = open(bed.conf).read()
    open(bed.conf, "w").write(good.replace("[scheduler]\n", "[scheduler]\nreserve = 3\n"))
    assert client.runFilters(["VfFilter"], [a, b], vm, {})["result"] == []            # b: 4 - 3 < 2
    open(bed.conf, "w").write(good.replace("[scheduler]\n", "[scheduler]\nweight_mode = sideways\n"))
    reply = client.runFilters(["VfFilter"], [a, b], vm, {})
    assert reply["result"] == [a, b] and reply["errors"] == ["all filters failed"]
    assert "[scheduler] weight_mode: expected one of spread, pack, reserve" in reply["plugin_errors"]["VfFilter"][0]
    assert "VfFilter" in client.discover()["filters"]                                   # still up
    open(bed.conf, "w").write(good)
    assert client.runFilters(["VfFilter"], [a, b], vm, {})["result"] == [b]


def test_serve_starts_and_discovers_without_a_config(tmp_path, plugin_dir, world):
    server = ServeProcess(str(tmp_path / "missing.conf"), plugin_dir)
    try:
        assert "VfWeight" in server.client().discover()["scores"]
        reply = server.client().runFilters(["VfFilter"], [H1, H2], VM, {})
        assert reply["result"] == [H1, H2] and "cannot read the config file" in reply["plugin_errors"]["VfFilter"][0]
        assert "starting without a usable config" in server.stderr
    finally:
        assert server.stop() == 0


def test_sigterm_finishes_the_call_in_flight_and_exits_0(bed, world, engine):
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    call_unit(bed, "VfFilter", [a, b], vm)
    assert signal_during_a_call(bed, engine, signal.SIGTERM, [a, b], vm) == [{"result_code": 0, "result": [b]}]
    assert bed.proc.wait(10) == 0
    assert "finishing the calls in flight" in bed.stderr


def test_sigterm_closes_kept_alive_connections_after_their_answer(bed, world, engine):
    """The engine keeps its connection open; the answer in flight at SIGTERM says Connection:
    close, so no further request on it can hold the drain open, and serve exits promptly."""
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    body = xmlrpc.client.dumps((["VfFilter"], [a, b], vm, {}), "runFilters").encode()
    conn = http.client.HTTPConnection("127.0.0.1", bed.port, timeout=20)
    conn.request("POST", "/", body, {"Content-Type": "text/xml"})
    first = conn.getresponse()
    assert first.getheader("Connection") is None and b"<string>%s</string>" % b.encode() in first.read()
    engine.faults.api_delay = 1.0          # held at the engine, well within the deadline (4 s) for 3 requests
    engine.reset_requests()
    conn.request("POST", "/", body, {"Content-Type": "text/xml"})     # the same kept-alive connection
    give_up = time.monotonic() + 10
    while not engine.requests and time.monotonic() < give_up:
        time.sleep(0.01)
    stopped_at = time.monotonic()
    bed.proc.send_signal(signal.SIGTERM)
    second = conn.getresponse()
    assert second.status == 200 and second.getheader("Connection") == "close"
    assert xmlrpc.client.loads(second.read())[0][0] == {"result_code": 0, "result": [b]}
    assert bed.proc.wait(10) == 0
    assert time.monotonic() - stopped_at < 5
    conn.close()


def test_warm_decisions_cost_one_engine_request_per_vm(world, engine, tmp_path, plugin_dir):
    """With the event-driven view (polled in the background, usage_max_age 60): the filter reads
    only its VM, the weight nothing; nothing else but event polls."""
    world.add_host("a", vf_devices=4)
    world.add_host("b", vf_devices=4)
    vms = [world.add_vm("vm%d" % i, vmfex_nics=1).id for i in range(4)]
    conf = write_conf(str(tmp_path / "state"), engine.url, "usage_max_age = 60\n")
    server = ServeProcess(conf, plugin_dir)
    try:
        server.wait_for_usage_events()
        ab = host_ids(world, "a", "b")
        call_unit(server, "VfFilter", ab, vms[0])                                 # cold: hosts
        engine.reset_requests()
        for vm in vms[1:]:
            call_unit(server, "VfFilter", ab, vm)
            call_unit(server, "VfWeight", ab, vm)
        api = [(r.path, r.query.get("follow")) for r in engine.requests if "/api" in r.path]
        events = ("/ovirt-engine/api/events", None)
        assert [r for r in api if r != events] == [("/ovirt-engine/api/vms/%s" % vm, "nics") for vm in vms[1:]]
        assert engine.logins == 1
    finally:
        assert server.stop() == 0


def test_without_events_a_fresh_view_is_reused(world, engine, tmp_path, plugin_dir):
    """usage_events = no: a view read whole serves usage_max_age; the filter reads only the VM."""
    world.add_host("a", vf_devices=4)
    world.add_host("b", vf_devices=4)
    vms = [world.add_vm("vm%d" % i, vmfex_nics=1).id for i in range(4)]
    conf = write_conf(str(tmp_path / "state"), engine.url, "usage_max_age = 60\nusage_events = no\n")
    server = ServeProcess(conf, plugin_dir)
    try:
        ab = host_ids(world, "a", "b")
        call_unit(server, "VfFilter", ab, vms[0])                                 # cold: login, view, hosts
        engine.reset_requests()
        for vm in vms[1:]:
            call_unit(server, "VfFilter", ab, vm)
            call_unit(server, "VfWeight", ab, vm)
        api = [r for r in engine.requests if "/api" in r.path]
        assert [(r.path, r.query) for r in api] == [("/ovirt-engine/api/vms/%s" % vm, {"follow": "nics"})
                                                    for vm in vms[1:]]
        assert server.usage_mode() == "off"
        assert engine.logins == 1
    finally:
        assert server.stop() == 0


def _domain(host, slot, port_profiles):
    """A UCS domain managing `host` alone, defining `port_profiles`."""
    server = UcsmServer(dn="sys/chassis-1/blade-%d" % slot, uuid=host.hw_uuid.lower(), serial="FCHW%04d" % slot,
                        sp_name=host.name, policy_name="kvm4", dynamic_eth="4")
    return FakeUcsm([server], port_profiles=[UcsmPortProfile(name) for name in port_profiles])


def test_a_warm_view_keeps_the_port_profile_of_each_vnic_profile(world, engine, tmp_path, plugin_dir):
    """Decisions from the usage view (the VM read alone) apply the port-profile rule with the view's
    vNIC profiles: a VM on pp-db stays out of b, whose UCS domain lacks pp-db; UCS-M is read once."""
    a, b = world.add_host("a", vf_devices=4), world.add_host("b", vf_devices=4)
    world.add_profile("db", vmfex="pp-db")
    web = world.add_vm("web", vmfex_nics=1).id                          # vmfex=pp-vmfex: defined in both
    db = world.add_vm("db", vmfex_nics=1, vmfex_profile="db").id
    state = str(tmp_path)
    with _domain(a, 1, ["pp-db", "pp-vmfex"]) as first, _domain(b, 2, ["pp-vmfex"]) as second:
        conf = write_conf(state, engine.url, "usage_max_age = 60\n",
                          extra=ucsm_section(state, "%s %s" % (first.url, second.url)))
        server = ServeProcess(conf, plugin_dir)
        server.state = state
        try:
            server.wait_for_usage_events()
            ab = [a.id, b.id]
            assert call_unit(server, "VfFilter", ab, web) == {"result_code": 0, "result": ab}   # cold
            engine.reset_requests()
            assert call_unit(server, "VfFilter", ab, db) == {"result_code": 0, "result": [a.id]}
            weights = call_unit(server, "VfWeight", ab, db)["result"]
            # a: 4 - 1 claimed by web (the first of the tie) - 1 = 2 free after; b: lacks pp-db
            assert weights == [[a.id, 998 - 2, "VfWeight"], [b.id, 1000, "VfWeight"]]
            assert [r.path for r in engine.requests if "/api" in r.path and not r.path.endswith("/events")] \
                == ["/ovirt-engine/api/vms/%s" % db]                         # and event polls, maybe
            assert [len(domain.requests) for domain in (first, second)] == [5, 5]       # the cold read only
            assert "b DROP: port profile pp-db is not defined in UCS domain %s" % second.url.split("//")[1] \
                in log_text(server)
        finally:
            assert server.stop() == 0


def test_a_remote_address_needs_allow_remote(tmp_path):
    run = subprocess.run([CLI, "serve", "--listen", "0.0.0.0:0", "--config", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "0.0.0.0 is not a loopback address and the protocol has no authentication" in run.stderr


def test_check_calls_discover_where_the_engine_will_and_names_the_port_holder(bed):
    """check's "serve" line: the engine discovers units once, at its start, on that address."""
    from ovirt_scheduler_proxy_plugins.tools import check_serve
    served = ServeSettings(listen=("127.0.0.1", bed.port))
    found = check_serve.finding(served, 5)
    assert (found.check, found.status) == ("serve", "OK")
    assert found.message.startswith("http://127.0.0.1:%d/ offers VfFilter and VfWeight to the engine; also "
                                    "FirstHostFilter, FiveWeight, MoveFirst, NoisyFilter, PartialWeight (pid %d: "
                                    % (bed.port, bed.proc.pid))
    assert "ovirt-vf-scheduler serve" in found.message
    bed.stop()
    found = check_serve.finding(served, 5)
    assert found.status == "FAIL" and "nothing answers the engine's discover at http://127.0.0.1:%d/" % bed.port \
        in found.message
    assert found.hint.startswith("on oVirt 4.5: systemctl enable --now ovirt-vf-scheduler")


def test_check_knows_our_serve_by_its_whole_command_line(tmp_path, plugin_dir):
    """The command line is shown cut to 120 characters, but judged whole: a serve whose
    interpreter path (here: its options) is long is still ours, not "neither serve nor the proxy"."""
    from ovirt_scheduler_proxy_plugins.tools import check_serve
    launcher = [sys.executable, "-X", "padding=" + "x" * 120]
    server = ServeProcess(str(tmp_path / "none.conf"), plugin_dir, launcher=launcher)
    try:
        found = check_serve.finding(ServeSettings(listen=("127.0.0.1", server.port)), 5)
    finally:
        assert server.stop() == 0
    assert (found.status, found.check) == ("OK", "serve"), found
    shown = "(pid %d: %s -X padding=%s...)" % (server.proc.pid, sys.executable, "x" * (117 - len(sys.executable) - 12))
    assert shown in found.message


def test_host_data_is_refreshed_in_the_background_before_its_ttl(world, engine, tmp_path, plugin_dir):
    """The read of every host (115 KB each with devices) is the largest of all: serve renews it
    past half capacity_ttl in the background, so no decision waits for it."""
    world.add_host("a", vf_devices=4)
    vms = [world.add_vm("vm%d" % i, vmfex_nics=1).id for i in range(3)]
    conf = write_conf(str(tmp_path / "state"), engine.url, "capacity_ttl = 2\nusage_max_age = 60\n")
    server = ServeProcess(conf, plugin_dir)
    try:
        server.wait_for_usage_events()
        a = host_ids(world, "a")
        call_unit(server, "VfFilter", a, vms[0])                           # cold: reads the hosts
        hosts_reads = lambda: sum(r.path.endswith("/hosts") for r in engine.requests)   # noqa: E731
        assert hosts_reads() == 1
        time.sleep(1.2)                                                    # past half the TTL
        call_unit(server, "VfFilter", a, vms[1])                           # starts the refresh
        give_up = time.monotonic() + 5
        while hosts_reads() < 2 and time.monotonic() < give_up:
            time.sleep(0.05)
        assert hosts_reads() == 2
        time.sleep(1.0)                                 # 2.2 s after the first read: its TTL is over
        assert call_unit(server, "VfFilter", a, vms[2])["result"] == a
        # the refreshed cache served it: the decision itself asked only for its VM (the usage view
        # is polled in the background; the refresh it may start again runs beside it)
        with open(os.path.join(os.path.dirname(conf), "log", "vf.log")) as log:
            last = [line for line in log if "VfFilter vm=vm2" in line][-1]
        assert " requests=1 " in last, last
    finally:
        assert server.stop() == 0


def test_a_foreign_weight_becomes_a_java_int_or_nothing():
    """What a foreign plugin prints is read by literal_eval: 1e999 is an infinity, which round()
    cannot turn into an int; the engine reads the weight as a Java Integer."""
    assert [protocol._weight(v) for v in (7.6, -2.5, 2 ** 40, -2 ** 40, 1e999, -1e999)] == [
        8, -2, 2 ** 31 - 1, -2 ** 31, 2 ** 31 - 1, -2 ** 31]
    assert all(type(protocol._weight(v)) is int for v in (7.6, 1e999, 3))
    assert [protocol._weight(v) for v in (float("nan"), True, "3", None, [1])] == [None] * 5


def test_a_foreign_plugin_flooding_its_output_is_killed_at_the_cap(tmp_path, monkeypatch):
    """Output is read as it comes and capped: a plugin printing without end costs at most the
    cap in memory, and is killed then, not at the end of its budget."""
    ran, took = run_foreign(tmp_path, "chatty", "import sys\nclass Chatty:\n"
                            "    def do_score(self, hosts, vm, args):\n"
                            "        while True:\n            sys.stdout.write('x' * 65536)\n",
                            "Chatty", "scores", 20.0, monkeypatch)
    assert ran == foreign.ForeignResult(error="more than 4 MB of output (killed)")
    assert took < 10


def test_check_names_a_port_held_by_something_that_is_not_http(tmp_path):
    """e.g. sshd moved to 18781: check must say so, not end in a traceback."""
    from ovirt_scheduler_proxy_plugins.tools import check_serve
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def answer_like_sshd():
        conn, _ = listener.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_8.7\r\n")
        conn.recv(65536)
        conn.close()
    threading.Thread(target=answer_like_sshd, daemon=True).start()
    try:
        found = check_serve.finding(ServeSettings(listen=("127.0.0.1", port)), 5)
    finally:
        listener.close()
    assert found.status == "FAIL"
    assert found.message.startswith("http://127.0.0.1:%d/ answers, but not the scheduler proxy's protocol" % port)


def test_unknown_host_ids_are_remembered_briefly_and_few(bed, world):
    """Random host ids from any caller: each unknown id is remembered (so a stray one does not
    cost a whole read of the engine's hosts every time), but at most HostCache.ABSENT_MAX of them:
    the file every decision reads stays small, however many ids are sent."""
    import uuid
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    for _ in range(2):
        strays = [str(uuid.uuid4()) for _ in range(1000)]
        reply = bed.client().runFilters(["VfFilter"], [a, b] + strays, vm, {})
        assert reply["result"] == [b] + strays                   # unknown: kept by on_error = open
    path = os.path.join(bed.state, "cache", "hosts-engine.json")
    entries = json.load(open(path))
    assert sum(1 for entry in entries.values() if entry.get("absent")) == HostCache.ABSENT_MAX
    assert not entries[a].get("absent") and not entries[b].get("absent")
    assert os.path.getsize(path) < 64 * 1024


def test_an_unknown_host_id_is_remembered_for_a_minute_at_most(tmp_path):
    cache = HostCache(str(tmp_path), "hosts-engine")
    now = time.time()
    cache.update({H1: {"name": "a", "vfs": 4}, H2: {"absent": True}}, now=now - HostCache.ABSENT_TTL - 1)
    assert set(cache.fresh(300.0, now=now)) == {H1}                       # the known host: its own TTL
    cache.update({}, now=now)
    assert set(json.load(open(cache.path))) == {H1}                      # and the absent one dropped


def engine_reads(body):
    """The answer as the engine's client takes it: a strict XML 1.0 parser (no recovery), then
    the library's rules (no <nil/>, <i8> or <double>; an Integer result_code)."""
    from lxml import etree
    etree.fromstring(body, etree.XMLParser(recover=False, resolve_entities=False, no_network=True))
    assert b"<nil" not in body and b"<i8>" not in body and b"<double>" not in body
    value = xmlrpc.client.loads(body)[0][0]
    assert isinstance(value, dict) and ("result_code" not in value or type(value["result_code"]) is int)
    return value


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


def test_faults_are_one_line_without_reprs_and_echo_at_most_200_characters(bed, world):
    a = host_ids(world, "a")[0]
    vm = world.vm_by_name("new").id
    faults = []
    for body in (xmlrpc.client.dumps((xmlrpc.client.Binary(b"x"), [a], vm, {}), "runFilters"),
                 xmlrpc.client.dumps(([a], [a], xmlrpc.client.DateTime(0), {}), "runFilters"),
                 '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                 '<methodCall><methodName>&e;</methodName></methodCall>',
                 xmlrpc.client.dumps((["x" * 1900000], [a], vm, {}), "runFilters"),
                 xmlrpc.client.dumps((), "y" * 1900000),
                 xmlrpc.client.dumps(("z" * 1900000, [a], {}), "runLoadBalancing")):
        status, answer = bed.post(body.encode())
        assert status == 200 and len(answer) < 2000, answer[:300]
        with pytest.raises(xmlrpc.client.Fault) as fault:
            engine_reads(answer)
        faults.append(fault.value.faultString)
    for text in faults:
        assert "\n" not in text and " at 0x" not in text and "<class" not in text and "Traceback" not in text, text
        assert "passwd" not in text and "EntitiesForbidden" not in text, text
    assert faults[0] == "bad call: the filter list must be an array, got a base64 value"
    assert faults[1] == "bad call: the VM id a dateTime value is not a UUID"
    assert faults[2] == "bad call: the body declares a DTD or entities, which are refused"
    assert faults[3].startswith("bad call: the filter list holds a name of more than 200 characters: xxx")
    assert faults[4].startswith("unknown method 'yyy") and "(known: discover, runCostFunctions" in faults[4]
    assert faults[5].startswith("bad call: the balancer name must be a string of at most 200 characters")


def test_foreign_plugin_failures_are_counted_in_plugin_errors_total(bed, world):
    a, b = host_ids(world, "a", "b")
    bed.client().runFilters(["NoisyFilter", "FirstHostFilter", "NoSuchFilter"], [a, b],
                            world.vm_by_name("new").id, {})
    text = bed.get("/metrics")[1].decode()
    assert 'ovirt_vf_scheduler_plugin_errors_total{unit="NoisyFilter"} 1.0' in text
    assert 'ovirt_vf_scheduler_plugin_errors_total{unit="unknown"} 1.0' in text
    assert 'unit="FirstHostFilter"' not in text and 'unit="NoSuchFilter"' not in text


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
    (tmp_path / "quick.py").write_text(FOREIGN["first_host.py"])
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


def test_a_config_with_non_utf8_bytes_is_a_configuration_error_and_serve_still_answers(tmp_path, plugin_dir,
                                                                                    engine):
    conf = write_conf(str(tmp_path / "state"), engine.url)
    with open(conf, "ab") as handle:
        handle.write(b"# caf\xe9\n")
    server = ServeProcess(conf, plugin_dir)
    try:
        assert "VfFilter" in server.client().discover()["filters"]
        reply = server.client().runFilters(["VfFilter"], [H1], VM, {})
        assert reply["plugin_errors"]["VfFilter"] == ["configuration error: %s: not UTF-8 text (line 13) "
                                                      "(on_error = open: the filter is ignored, every host kept)" % conf]
        assert "UnicodeDecodeError" not in server.stderr and "Traceback" not in server.stderr
    finally:
        assert server.stop() == 0
