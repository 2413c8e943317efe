"""`ovirt-vf-scheduler explain`: the pure rendering (columns, colour, progress)."""
import io
import re
import time

from ovirt_scheduler_proxy_plugins import decide
from ovirt_scheduler_proxy_plugins.config import EngineSettings, Settings
from ovirt_scheduler_proxy_plugins.model import Snapshot, Vm
from ovirt_scheduler_proxy_plugins.tools import explain, output

from tests.builders import domain, host, need


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _report(hosts, demand=need(2)):
    snap = Snapshot(vm=Vm("vm-id", "vm1", demand, None, "down"), hosts={h.host_id: h for h in hosts})
    ids = [h.host_id for h in hosts]
    verdicts = decide.filter_hosts(demand, ids, snap.hosts, keep_unknown=True)
    scores = decide.score_hosts("spread", demand, ids, snap.hosts)
    settings = Settings(path="vf.conf", engine=EngineSettings("https://engine/ovirt-engine/api", "u", "p"))
    return explain.build_report(snap, verdicts, scores, {}, settings, "c1", {"vf_reserve": "1"})


def test_pending_claims_are_shown_and_colour_keeps_columns_aligned():
    """8 VFs - 3 used - 2 pending (claimed, not yet visible) - 1 reserve = 2 free: just fits."""
    report = _report([host("a", vfs=8, used=3, pending=2, reserve=1), host("b", vfs=None)])
    plain = explain.render_text(report, colour=False)
    coloured = explain.render_text(report, colour=True)
    assert "\x1b[32mkeep" in coloured and ANSI.sub("", coloured) == plain
    lines = plain.splitlines()
    header = next(line for line in lines if line.startswith("HOST"))
    row_a = next(line for line in lines if line.startswith("a "))
    pending = header.index("PENDING") + len("PENDING") - 1                 # right-aligned numbers
    assert row_a[pending] == "2" and "needs 2, 2 free: 6 of 8 used by 3 VMs (incl. 2 pending, 1 reserved)" in row_a
    assert "capacity unknown" in plain and "cluster properties: vf_reserve=1" in plain
    assert report["hosts"][0]["pending"] == 2


def test_port_profile_reasons_are_shown_as_data_and_words():
    report = _report([host("a", port_profiles=domain("pp-db")),
                      host("b", port_profiles=domain("pp-web", url="https://ucsm-b.example.com")),
                      host("c", port_profiles=domain(unknown="not in any UCS domain"))], need(2, "pp-db"))
    rows = {row["host"]: row for row in report["hosts"]}
    assert report["vm"]["port_profiles"] == ["pp-db"] and report["kept"] == 2
    assert (rows["b"]["keep"], rows["b"]["reason"], rows["b"]["port_profiles"], rows["b"]["ucs_domain"]) == (
        False, "port_profile_missing", ["pp-db"], "https://ucsm-b.example.com")
    assert rows["b"]["why"] == "port profile pp-db is not defined in UCS domain ucsm-b.example.com"
    assert (rows["c"]["keep"], rows["c"]["reason"], rows["c"]["ucs_domain"]) == (True, "port_profiles_unknown", None)
    assert rows["c"]["why"] == "needs port profile pp-db, unknown here (not in any UCS domain)"
    text = explain.render_text(report, colour=True)
    assert "needs 2 VFs, port profile pp-db, cluster c1" in text
    assert "\x1b[33mkeep" in text                                   # unknown is kept, in yellow
    assert report["summary"] == "2 of 3 hosts can run vm1 (1 lacking a port profile)"


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert output.colour_enabled(Tty()) and not output.colour_enabled(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output.colour_enabled(Tty())


def test_progress_shows_on_a_terminal_only_and_clears_its_line():
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        with output.Progress("reading hosts", stream=stream, delay=0.0):
            time.sleep(0.3)
    assert "\r\x1b[Kreading hosts... 0 s" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[K")
    assert pipe.getvalue() == ""
