"""serve and SIGTERM: the call in flight is finished, kept-alive connections closed after their answer."""
import http.client
import signal
import time
import xmlrpc.client

from ovirt_scheduler_proxy_plugins.sim.served import call_unit

from tests.integration.helpers import host_ids, signal_during_a_call


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
