"""What the units record about themselves (status.py) and the levels `ovirt-vf-scheduler status`
gives: on plain values, and serve's recorder while another process holds the file."""
import os
import time

from ovirt_scheduler_proxy_plugins import status
from ovirt_scheduler_proxy_plugins.tools.status_report import CRITICAL, OK, WARN, Line, source_line, unit_line


HOUR = 3600.0


def test_levels_follow_the_unit_kind_the_failure_and_the_window():
    now = 10 * HOUR
    base = {"since": 0, "decisions": 5, "fail_open": 1, "fail_closed": 0, "last_decision": now - 60,
            "last_failure": now - 600, "last_failure_kind": status.FAIL_OPEN, "last_failure_reason": "engine down"}
    failing = dict(base, last_decision=now - 900)                              # nothing decided since
    line = unit_line("VfFilter", failing, now, HOUR)
    assert line.status == CRITICAL and line.message.startswith(
        "failed open (every host passed) 10 min ago: engine down; 5 decisions")
    assert unit_line("VfFilter", base, now, HOUR) == Line(                      # decided since: recovered
        "VfFilter", WARN, "recovered: deciding again (last decision 60 s ago) after it failed open (every host "
        "passed) 10 min ago: engine down; 5 decisions, 1 fail-open, 0 fail-closed since %s" % time.strftime(
            "%Y-%m-%d %H:%M", time.localtime(now)))
    assert unit_line("VfWeight", failing, now, HOUR).status == WARN              # hosts merely unranked
    assert unit_line("VfFilter", dict(failing, last_failure_kind=status.FAIL_CLOSED), now, HOUR).message.startswith(
        "failed closed (kept no host)")
    assert unit_line("VfFilter", base, now, 300).status == OK                    # older than the window
    assert unit_line("VfFilter", None, now, HOUR).status == WARN
    down = {"last_ok": now - 900, "last_failure": now - 30, "failures": 4, "last_failure_reason": "UCS-M: refused"}
    assert source_line("ucsm", down, now, "min") == Line(
        "ucsm", WARN, "failing (last good read 15 min ago, last failure 30 s ago): UCS-M: refused; "
        "capacity_source = min decides with the engine's numbers alone")
    assert source_line("ucsm", dict(down, last_ok=now), now, "min").status == OK


def test_serves_recorder_never_waits_for_the_disk_and_loses_no_count(tmp_path):
    """While another process holds the status file's lock, answers are still recorded at once
    (in memory); once it is released, every one of them is in the file."""
    import threading
    import time
    from ovirt_scheduler_proxy_plugins.store import locked
    cache = str(tmp_path)
    status.record(cache, "VfFilter", status.OK)
    recorder = status.BackgroundRecorder()
    path = os.path.join(cache, "status-unit-VfFilter.json")
    with locked(path, timeout=5):
        started = time.monotonic()
        workers = [threading.Thread(target=lambda: [recorder.record(cache, "VfFilter", status.OK if i % 5 else
                                                                    status.FAIL_OPEN, "engine down")
                                                    for i in range(250)]) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert time.monotonic() - started < 0.5              # not one of them waited for the lock
        assert recorder.unwritten() >= 1
        time.sleep(0.3)
    recorder.close()
    assert recorder.unwritten() == 0
    record = status.read_all(cache)["units"]["VfFilter"]
    # The writer waited for the lock (up to status._LOCK_WAIT, longer than it was held here).
    assert (record["decisions"], record["fail_open"]) == (1 + 800, 200), record
    assert record["last_failure_reason"] == "engine down"
