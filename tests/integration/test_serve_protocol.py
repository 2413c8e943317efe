"""`ovirt-vf-scheduler serve` called the way the engine calls it: the engine's own request bodies,
odd but legal calls, malformed calls, a hung engine, concurrency, config edits. Every scenario of
test_plugins/test_faults also runs through serve (the `units` fixture)."""
import os
import re
import socket
import subprocess
import threading
import time
import xmlrpc.client

import pytest

from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess, call_unit

from tests.builders import H1, H2, VM
from tests.integration.helpers import CLI, engine_reads, host_ids, write_conf


WIRE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "engine-wire")


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


def test_a_remote_address_needs_allow_remote(tmp_path):
    run = subprocess.run([CLI, "serve", "--listen", "0.0.0.0:0", "--config", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "0.0.0.0 is not a loopback address and the protocol has no authentication" in run.stderr


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
