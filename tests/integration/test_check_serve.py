"""`check`'s "serve" line: it calls discover where the engine will, knows our serve by its whole
command line, names whatever else holds the port, and says whether the engine's user may call."""
import dataclasses
import json
import os
import socket
import sys
import threading

from ovirt_scheduler_proxy_plugins import config
from ovirt_scheduler_proxy_plugins.config import ServeSettings
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess
from ovirt_scheduler_proxy_plugins.tools import check_serve

from tests.integration.helpers import run_as


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


def test_check_says_whether_the_engines_user_may_call(served):
    """The engine runs as ovirt: a config that leaves it out of allowed_users makes every engine
    call a 403, which check must say (the rest of the serve line would look fine)."""
    server = served("allowed_users = root\n")
    settings = config.load(server.conf)
    settings = dataclasses.replace(settings, serve=dataclasses.replace(settings.serve,
                                                                      listen=("127.0.0.1", server.port)))
    found = check_serve.finding(settings.serve, 5)
    assert found.status == "FAIL"
    assert found.message.endswith("but [serve] allowed_users (root) leaves out ovirt, the engine's user: serve "
                                  "answers every engine call with HTTP 403 and the engine schedules without the "
                                  "external units")
    assert found.hint.startswith("add ovirt to [serve] allowed_users")
    default = dataclasses.replace(settings, serve=dataclasses.replace(settings.serve, allowed_users=None))
    found = check_serve.finding(default.serve, 5)
    assert found.status == "OK" and found.message.endswith("; the engine's user ovirt may call")
    if os.geteuid() != 0:
        return
    # check run by a user serve refuses: neither "nothing answers" nor "another protocol"
    def check_as_nobody():
        found = check_serve.finding(settings.serve, 5)
        print(json.dumps([found.status, found.message]))
        return 0
    code, out, _ = run_as("nobody", check_as_nobody, "check_serve.finding")
    assert code == 0 and json.loads(out) == [
        "FAIL", "http://127.0.0.1:%d/ refuses calls from this user (uid 65534); [serve] allowed_users (root) leaves "
        "out ovirt, the engine's user: serve answers every engine call with HTTP 403 and the engine schedules "
        "without the external units" % server.port]
