"""No test may reach the engine's default scheduler port (127.0.0.1:18781): a developer's or CI
machine may run a real serve or proxy there, which would get calls from the suite, and a busy
port would change test outcomes.

An audit hook refuses every connect to that port, in pytest and in every Python child it starts
(a sitecustomize on PYTHONPATH, in a world-readable directory so that children running as
another user load it too), and appends a line to a log; conftest fails the test that caused one.
"""
import atexit
import os
import shutil
import tempfile

FORBIDDEN_PORT = 18781
LOG_ENV = "OVIRT_VF_TEST_PORT_GUARD_LOG"

HOOK = '''
import os, sys

def _refuse_forbidden_port(event, args):
    if event != "socket.connect":
        return
    address = args[1]
    if isinstance(address, tuple) and len(address) >= 2 and address[1] == %(port)d:
        try:
            with open(os.environ[%(env)r], "a") as log:
                log.write("pid %%d connected to %%s:%%d: %%s\\n" %% (os.getpid(), address[0], address[1],
                                                                  " ".join(sys.argv)))
        except (KeyError, OSError):
            pass
        raise ConnectionRefusedError(111, "the test suite may not connect to port %(port)d")

sys.addaudithook(_refuse_forbidden_port)
''' % {"port": FORBIDDEN_PORT, "env": LOG_ENV}


def install() -> str:
    """Guard this process and its Python children; -> the log path (empty while nothing connected)."""
    where = tempfile.mkdtemp(prefix="vf-port-guard-")
    atexit.register(shutil.rmtree, where, True)
    os.chmod(where, 0o755)
    with open(os.path.join(where, "sitecustomize.py"), "w", encoding="utf-8") as handle:
        handle.write(HOOK)
    log = os.path.join(where, "connects.log")
    with open(log, "w", encoding="utf-8"):
        pass
    os.chmod(log, 0o666)              # children running as another user append too
    os.environ[LOG_ENV] = log
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [where, os.environ.get("PYTHONPATH")]))
    exec(compile(HOOK, "port_guard", "exec"), {})
    return log


def new_lines(log: str, seen: int) -> str:
    with open(log, encoding="utf-8") as handle:
        handle.seek(seen)
        return handle.read()
