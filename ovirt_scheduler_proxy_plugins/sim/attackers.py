"""Hostile callers of `serve` (tests, bench/attacks.py), run as another local user.

They are scripts for the system python that use the stdlib alone: the other user (nobody) can
neither read a checkout under /root nor run a pyenv interpreter there.
"""
import pwd
import subprocess
from typing import List, Optional

SYSTEM_PYTHON = "/usr/bin/python3"

# argv: PORT COUNT SECONDS INTERVAL REOPEN. Opens COUNT connections, prints "open", then for
# SECONDS sends one header byte per connection every INTERVAL seconds, reopening closed ones when
# REOPEN is 1. Prints JSON: "ended", seconds from each closed connection's first byte to its end
# (0 for one closed before it sent any); "refused", how many were answered 503; "open" at the end.
TRICKLE = r'''
import json, select, socket, sys, time
port, count, seconds, interval, reopen = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                                          float(sys.argv[4]), sys.argv[5] == "1")
head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
conns = [[socket.create_connection(("127.0.0.1", port), timeout=5), None, 0] for _ in range(count)]
ended, refused = [], 0
print("open", flush=True)
stop = time.monotonic() + seconds
while time.monotonic() < stop:
    for conn in conns:
        sock, first, sent = conn
        if sock is None:
            continue
        try:
            if select.select([sock], [], [], 0)[0]:
                refused += sock.recv(100).startswith(b"HTTP/1.1 503")
                raise OSError("closed")
            sock.send(head[sent % len(head):][:1])
            conn[1], conn[2] = first or time.monotonic(), sent + 1
        except OSError:
            sock.close()
            ended.append(time.monotonic() - first if first else 0.0)
            conn[:] = [None, None, 0]
            if reopen:
                try:
                    conn[0] = socket.create_connection(("127.0.0.1", port), timeout=5)
                except OSError:
                    pass
    time.sleep(interval)
print(json.dumps({"ended": ended, "refused": refused, "open": sum(c[0] is not None for c in conns)}))
'''


def as_user(user: str, script: str, args: List[object], stdin: Optional[int] = subprocess.PIPE) -> subprocess.Popen:
    """`script` run by the system python as `user` (root only), stdout piped as text."""
    entry = pwd.getpwnam(user)
    return subprocess.Popen([SYSTEM_PYTHON, "-I", "-c", script] + [str(a) for a in args], cwd="/",
                            user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], stdin=stdin,
                            stdout=subprocess.PIPE, text=True)
