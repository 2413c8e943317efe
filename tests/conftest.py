"""What applies to the whole suite, unit and integration alike: no test may connect to the engine's
default scheduler port (port_guard.py), and the fault suite's one-line count. Imports nothing heavy:
tests/unit runs without ovirtsdk4 (tests/integration/conftest.py holds the fake servers' fixtures)."""
import os

import pytest

from tests import port_guard

_PORT_GUARD_LOG = port_guard.install()


@pytest.fixture(autouse=True)
def _no_connect_to_the_production_port():
    """Fails the test in which anything (pytest or a child) tried to connect to 18781 (port_guard.py)."""
    seen = os.path.getsize(_PORT_GUARD_LOG)
    yield
    tried = port_guard.new_lines(_PORT_GUARD_LOG, seen)
    if tried:
        pytest.fail("the test connected to port %d:\n%s" % (port_guard.FORBIDDEN_PORT, tried), pytrace=False)


def pytest_terminal_summary(terminalreporter):
    """The fault suite's one-line count (issue: print a summary line with the count of cases)."""
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])
               if getattr(r, "when", "") == "call" and "test_faults.py::" in r.nodeid]
    if reports:
        failed = sum(1 for r in reports if r.failed)
        terminalreporter.write_line("fault suite: %d cases run (filter and weight each), %d passed, %d failed"
                                    % (len(reports), len(reports) - failed, failed))

