"""serve's connections against callers that are not the engine: other local users, slow or idle
connections, compressed and deeply nested bodies, signals, a secret in a URL. Real sockets on
loopback against a real serve process; another user's calls come from a child running as
`nobody` (root only), with the system python and the stdlib alone (a checkout under /root is
not readable by nobody)."""
import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import xmlrpc.client

import pytest

from ovirt_scheduler_proxy_plugins import config
from ovirt_scheduler_proxy_plugins.serve import peers
from ovirt_scheduler_proxy_plugins.sim import attackers
from ovirt_scheduler_proxy_plugins.sim.served import call_unit

from tests.integration.helpers import CLI, signal_during_a_call, write_conf

READ_DEADLINE = 2.0
SHORT_DEADLINE = "read_deadline = %g\n" % READ_DEADLINE

# As `nobody`: POST each body of the JSON list on stdin on its own connection; print the statuses.
POST_EACH = r'''
import json, socket, sys
port = int(sys.argv[1])
statuses = []
for body in json.load(sys.stdin):
    body = body.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        statuses.append(int(sock.makefile("rb").readline().split()[1]))
print(json.dumps(statuses))
'''


def as_nobody(script, *args):
    """`script` run by the system python as nobody -> the Popen (stdin and stdout piped)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the other user's calls come from a child dropped to nobody")
    if not os.access(attackers.SYSTEM_PYTHON, os.X_OK):
        pytest.skip("no %s to run the other user's calls with" % attackers.SYSTEM_PYTHON)
    return attackers.as_user("nobody", script, list(args))


def body(method, *params):
    return xmlrpc.client.dumps(params, method).encode()


def test_other_local_users_are_refused_and_write_no_claims(served, world):
    """18 runFilters calls for other VMs from nobody would fill host a with claims for 120 s, so
    that the victim VM is refused although its VFs are free: they get 403, and one log line."""
    server = served()
    a = world.host_by_name("a").id
    others = [world.add_vm("other%d" % i, vmfex_nics=2).id for i in range(18)]
    victim = world.add_vm("victim", vmfex_nics=2).id
    child = as_nobody(POST_EACH, server.port)
    out, _ = child.communicate(json.dumps([body("runFilters", ["VfFilter"], [a], vm, {}).decode()
                                           for vm in others]), timeout=60)
    assert json.loads(out) == [403] * 18
    assert call_unit(server, "VfFilter", [a], victim) == {"result_code": 0, "result": [a]}
    refusals = [line for line in server.stderr.splitlines() if "refused a call from" in line]
    assert refusals == ["ovirt-vf-scheduler serve: WARNING refused a call from uid 65534 (nobody): "
                        "not in [serve] allowed_users"]
    assert b'ovirt_vf_scheduler_refused_total{reason="caller"} 18.0' in server.get("/metrics")[1]
    # allowed_users applies from the next call on, without a restart
    with open(server.conf, "a", encoding="utf-8") as handle:
        handle.write("allowed_users = root nobody\n")
    child = as_nobody(POST_EACH, server.port)
    out, _ = child.communicate(json.dumps([body("discover").decode()]), timeout=60)
    assert json.loads(out) == [200]


def test_connections_from_both_address_families_are_told_apart_by_user():
    """The socket tables give the owner of the caller's end, over IPv4 and IPv6."""
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family) as listener:
            listener.bind((host, 0))
            listener.listen(1)
            with socket.create_connection(listener.getsockname()[:2]):
                accepted, peer = listener.accept()
                with accepted:
                    ours = accepted.getsockname()[:2]
                    assert peers.peer_uid(peer[:2], ours) == os.getuid()
                    assert peers.peer_uid(("127.0.0.2", 9), ours) is None
                    # the scan of /proc/net/tcp{,6}, where sock_diag netlink is not available
                    assert peers._scanned((peers.address(peer[0]), peer[1]), (peers.address(ours[0]), ours[1])) \
                        == os.getuid()
    callers = peers.Callers.of(["root", "4242"], ["192.0.2.0/24"])
    assert callers.uids == {0, 4242}
    assert callers.admits(peers.address("127.0.0.1"), 4242) and not callers.admits(peers.address("::1"), 7)
    assert not callers.admits(peers.address("127.0.0.1"), None)          # a local caller not found
    assert callers.admits(peers.address("192.0.2.7"), None) and not callers.admits(peers.address("198.51.100.1"), None)


def test_trickling_connections_are_cut_and_cannot_crowd_out_the_engine(served, world):
    """70 connections from another (allowed) user sending a header byte every 0.25 s: that user
    holds at most its cap, each connection is closed when its request is not read whole within the
    read deadline, and another user's calls are answered meanwhile."""
    server = served("allowed_users = root nobody\n" + SHORT_DEADLINE)
    a = world.host_by_name("a").id
    vm = world.add_vm("new", vmfex_nics=2).id
    assert call_unit(server, "VfFilter", [a], vm)["result"] == [a]          # warm: login, host data
    child = as_nobody(attackers.TRICKLE, server.port, 70, READ_DEADLINE + 3, 0.25, 0)
    assert child.stdout.readline() == "open\n"
    time.sleep(0.5)                                        # every connection has sent its first bytes
    timings = []
    for _ in range(4):
        started = time.monotonic()
        assert xmlrpc.client.ServerProxy(server.url).runFilters(["VfFilter"], [a], vm, {})["result"] == [a]
        timings.append(time.monotonic() - started)
    ended = json.loads(child.communicate(timeout=30)[0])
    assert max(timings) < 1.0, timings
    assert ended["open"] == 0 and len(ended["ended"]) == 70 and max(ended["ended"]) < READ_DEADLINE + 2.0, ended


def test_idle_connections_make_room_and_a_slow_request_is_cut(served, world):
    """200 idle kept-alive connections: the ones idle longest are closed, so a new connection is
    still answered; a request trickling in is closed at the read deadline, not held for ever."""
    server = served(SHORT_DEADLINE)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(200)]
    try:
        started = time.monotonic()
        assert "VfFilter" in xmlrpc.client.ServerProxy(server.url).discover()["filters"]
        assert time.monotonic() - started < 1.0
        assert idle[0].recv(100) == b""                    # closed to make room
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
            started = time.monotonic()
            try:
                for byte in b"POST / HTTP/1.1\r\nHost: x\r\n" * 2:
                    slow.sendall(bytes([byte]))
                    time.sleep(0.1)
                closed_after = None
            except OSError:
                closed_after = time.monotonic() - started
            assert closed_after is not None and READ_DEADLINE <= closed_after < READ_DEADLINE + 2.0
        assert "WARNING closed a connection from uid %s: its request was not read whole within 2 s" \
            % peers.user_name(os.getuid()) in server.stderr
        assert b'ovirt_vf_scheduler_refused_total{reason="slow"} 1.0' in server.get("/metrics")[1]
    finally:
        for sock in idle:
            sock.close()


def test_a_compressed_body_is_refused_unread(served, world):
    """The engine never compresses a request; a 60 KB gzip body inflating to 60 MB is refused with
    415, without decompressing it (serve's memory stays flat), and the next call is answered."""
    server = served()
    bomb = gzip.compress(body("discover")[:-len(b"</methodCall>\n")] + b" " * (60 << 20) + b"</methodCall>\n")
    assert len(bomb) < 100_000
    status, _ = server.post(gzip.compress(body("discover")), headers={"Content-Encoding": "gzip"})
    assert status == 415
    rss_before = _settled_rss_kb(server)
    threads = [threading.Thread(target=server.post, args=(bomb,), kwargs={"headers": {"Content-Encoding": "gzip"}})
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert _rss_kb(server) - rss_before < 20_000
    assert server.post(bomb, headers={"Content-Encoding": "gzip"})[0] == 415
    assert b'ovirt_vf_scheduler_refused_total{reason="encoding"} 10.0' in server.get("/metrics")[1]
    assert "VfFilter" in server.client().discover()["filters"]


def _settled_rss_kb(server, limit=15.0):
    """serve's RSS once its start-up work is done (the SDK's preload, the usage view's first full
    read): two looks 0.5 s apart within 1 MB."""
    server.wait_for_usage_events(required=False, timeout=limit)
    give_up, last = time.monotonic() + limit, _rss_kb(server)
    while time.monotonic() < give_up:
        time.sleep(0.5)
        now = _rss_kb(server)
        if abs(now - last) < 1024:
            return now
        last = now
    return last


def _rss_kb(server):
    with open("/proc/%d/status" % server.proc.pid) as status:
        return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])


def test_an_argument_nested_1000_levels_is_a_one_line_fault(served, world):
    server = served()
    nested = "<value><array><data>" * 1000 + "<value>x</value>" + "</data></array></value>" * 1000
    status, answer = server.post(("<?xml version='1.0'?><methodCall><methodName>runFilters</methodName><params>"
                                  "<param><value><array><data><value>VfFilter</value></data></array></value></param>"
                                  "<param>%s</param><param><value>x</value></param><param><value><struct/></value>"
                                  "</param></params></methodCall>" % nested).encode())
    assert status == 200
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(answer)
    assert fault.value.faultString == "bad call: arguments nested deeper than 16 levels"
    a = world.host_by_name("a").id
    assert call_unit(server, "VfFilter", [a], world.add_vm("plain").id)["result"] == [a]
    assert "Recursion" not in server.stderr and "Recursion" not in open(os.path.join(server.state, "log", "vf.log")).read()


def test_sigterm_is_not_held_by_a_stalled_body(served):
    server = served(SHORT_DEADLINE)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<?xml")
        time.sleep(0.3)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(READ_DEADLINE + 10) == 0
        assert time.monotonic() - started < READ_DEADLINE + 3.0          # was 35 s: the drain limit


def test_sighup_reloads_and_reopens_the_log_without_dropping_a_call(served, world, engine):
    server = served()
    a = world.host_by_name("a").id
    vm = world.add_vm("new", vmfex_nics=2).id
    call_unit(server, "VfFilter", [a], vm)
    log = os.path.join(server.state, "log", "vf.log")
    os.rename(log, log + ".1")                                  # logrotate moved it
    assert signal_during_a_call(server, engine, signal.SIGHUP, [a], vm) == [{"result_code": 0, "result": [a]}]
    assert server.proc.poll() is None
    assert "SIGHUP: reopening the log and reloading the configuration" in server.stderr
    assert "configuration %s loaded" % server.conf in open(log).read()     # the new log, at once


def test_a_password_in_a_url_is_refused_and_never_shown(served, world, engine, tmp_path):
    url = engine.url.replace("http://", "http://admin:hunter2@")
    with pytest.raises(config.ConfigError) as error:
        config.load(write_conf(str(tmp_path / "alone"), url))
    assert "[engine] url: expected a URL without a user name or password" in str(error.value)
    assert "hunter2" not in str(error.value)
    server = served(url=url)
    a = world.host_by_name("a").id
    reply = call_unit(server, "VfFilter", [a], world.add_vm("new", vmfex_nics=1).id)
    assert "[engine] url: expected a URL without a user name or password" in reply["plugin_errors"]["VfFilter"][0]
    assert "hunter2" not in repr(reply) and "hunter2" not in server.stderr


def test_the_server_header_names_no_python_version(served):
    server = served()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/metrics")
    assert conn.getresponse().getheader("Server") == "ovirt-vf-scheduler"
    conn.close()


def test_a_remote_address_needs_allowed_hosts(tmp_path):
    conf = tmp_path / "none.conf"
    run = subprocess.run([CLI, "serve", "--listen", "0.0.0.0:0", "--allow-remote", "--config", str(conf)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "listening on 0.0.0.0 needs [serve] allowed_hosts in %s" % conf in run.stderr
