"""`ovirt-vf-scheduler sim`: starts the demo's engine (and UCS-M), prints the export line, answers the
operator commands through the config it wrote, and stops cleanly on SIGTERM and Ctrl-C (SIGINT)."""
import json
import os
import re
import signal
import socket
import subprocess
import time

from tests.integration.helpers import CLI

EXPORT = "export OVIRT_VF_SCHEDULER_CONF="


def start(*args):
    """The running simulator and its config path, once it printed the export line."""
    proc = subprocess.Popen([CLI, "sim", "--port", "0"] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, "sim ended early: %s" % proc.stderr.read()
        lines.append(line)
        if line.startswith(EXPORT):
            return proc, line[len(EXPORT):].strip(), lines
    proc.kill()
    raise AssertionError("no export line within 30 s: %s" % lines)


def command(conf, *args):
    env = dict(os.environ, OVIRT_VF_SCHEDULER_CONF=conf)
    return subprocess.run([CLI] + list(args), capture_output=True, text=True, timeout=60, env=env)


def stop(proc, signum):
    started = time.monotonic()
    proc.send_signal(signum)
    code = proc.wait(timeout=10)
    return code, time.monotonic() - started, proc.stderr.read()


def test_sim_answers_explain_and_stops_on_sigterm_removing_its_state():
    proc, conf, lines = start()
    try:
        assert lines[0].startswith("Simulated engine at http://127.0.0.1:")
        explain = command(conf, "explain", "--vm", "web1", "--json")
        assert explain.returncode == 0, explain.stderr
        report = json.loads(explain.stdout)
        assert report["vm"]["cluster"] == "ucs" and report["summary"] == \
            "4 of 6 hosts can run web1 (1 too few free VFs, 1 no VFs)"      # engine numbers: blade2 has 8
        policy = command(conf, "policy", "--cluster", "ucs", "--dry-run")
        assert policy.returncode == 0 and "none_vf" in policy.stdout, policy.stdout + policy.stderr
    finally:
        code, took, err = stop(proc, signal.SIGTERM)
    assert (code, err) == (0, "simulator stopped\n") and took < 5
    assert not os.path.exists(os.path.dirname(conf))


def test_sim_with_ucsm_and_a_kept_dir_stops_on_ctrl_c(tmp_path):
    proc, conf, lines = start("--ucsm", "--dir", str(tmp_path / "sim"))
    try:
        assert lines[1].startswith("Simulated UCS Manager at http://127.0.0.1:")
        capacity = command(conf, "capacity", "--json")
        assert capacity.returncode == 0, capacity.stderr
        hosts = {h["host"]: h for h in json.loads(capacity.stdout)["clusters"][0]["hosts"]}
        assert (hosts["blade2"]["capacity"], hosts["blade2"]["capacity_source"]) == (6, "min:ucsm")
    finally:
        code, took, err = stop(proc, signal.SIGINT)
    assert (code, err) == (0, "simulator stopped; state kept in %s\n" % (tmp_path / "sim")) and took < 5
    assert conf == str(tmp_path / "sim" / "vf.conf") and os.path.exists(conf)


def _printed_commands(proc, lines):
    """The export line and the command lines the simulator printed for the other shell."""
    while not lines[-1].startswith("Ctrl-C"):
        lines.append(proc.stdout.readline())
        assert lines[-1], lines
    first = next(i for i, line in enumerate(lines) if line.startswith("In another shell"))
    printed = [line.strip() for line in lines[first + 1:-1]]
    return printed[0], printed[1:]


def _wait_for_port(port, seconds=30):
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("nothing listens on %d after %g s" % (port, seconds))


def test_every_printed_line_works_as_printed(tmp_path):
    """Pasted into a shell of a fresh clone (nothing on PATH): serve on its own port from [serve] listen
    (never the engine's 18781), then check with no FAIL, and the other commands answering."""
    proc, conf, lines = start("--dir", str(tmp_path / "sim"))
    served = None
    try:
        export, commands = _printed_commands(proc, lines)
        assert export == EXPORT + conf
        cli = commands[0].split()[0]
        assert os.path.isabs(cli) and os.access(cli, os.X_OK), commands
        assert commands[0] == cli + " serve &"
        env = dict(os.environ, PATH="/usr/bin:/bin")               # the clone's .venv/bin is not on PATH
        served = subprocess.Popen(["bash", "-c", "%s\n%s\nwait" % (export, commands[0])], env=env,
                                  start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(conf) as handle:
            listen = [line for line in handle if line.startswith("listen = ")]
        port = int(listen[0].rsplit(":", 1)[1])
        assert port != 18781
        _wait_for_port(port)
        for line in commands[1:]:
            run = subprocess.run(["bash", "-c", "%s\n%s" % (export, line)], env=env, capture_output=True,
                                 text=True, timeout=120)
            assert run.returncode in (0, 1), (line, run.stdout, run.stderr)        # 1: a WARN, no FAIL
            assert "Traceback" not in run.stderr and not re.search("^FAIL", run.stdout, re.M), (line, run.stdout)
            if " check " in line:
                assert "OK    serve" in run.stdout and "OK    plugin files" in run.stdout, run.stdout
                assert "OK    proxy python" in run.stdout, run.stdout
    finally:
        if served is not None:
            os.killpg(served.pid, signal.SIGTERM)
            served.wait(timeout=30)
        stop(proc, signal.SIGTERM)
