"""The burst simulation at small size (bench/burst.py): back-to-back starts and an evacuation
while the engine shows placed VMs only after a 0.5 s lag. With the ledger nothing is
over-booked and nothing refused while a host still had room; without it, over-bookings happen
(so these tests can fail)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.burst import Scenario, run_scenario  # noqa: E402

LAG = 0.5

# a: 2 free, b: 3 free. Spread sends the first 2-VF VM to b; without a claim the second one
# (scheduled ~0.2 s later, well inside the lag) sees b's 3 free VFs again and goes there too.
STARTS = Scenario("starts", (("a", 4, 2), ("b", 4, 1)), (2, 2, 1, 1, 2, 1))
# evac's VMs (2+1+1 VFs) leave for h1 (2 free) and h2 (1 free): one of them cannot fit.
EVACUATION = Scenario("evacuation", (("evac", 4, 0), ("h1", 4, 2), ("h2", 4, 3)), (2, 1, 1), evacuate="evac")


@pytest.mark.parametrize("scenario, placed", [(STARTS, 3), (EVACUATION, 2)], ids=["starts", "evacuation"])
def test_with_the_ledger_no_over_booking_and_no_wrong_refusal(scenario, placed):
    result = run_scenario(scenario, LAG, ledger=True)
    detail = [(d.vm, d.host, d.free_before) for d in result.decisions]
    assert (result.overbookings, result.wrong_refusals) == (0, 0), detail
    assert (result.placed, result.refused) == (placed, len(scenario.demands) - placed), detail
    assert result.mismatch == ""                  # the engine's view ends equal to libvirt's


@pytest.mark.parametrize("scenario", [STARTS, EVACUATION], ids=["starts", "evacuation"])
def test_without_the_ledger_the_burst_over_books(scenario):
    result = run_scenario(scenario, LAG, ledger=False)
    assert result.overbookings >= 1, [(d.vm, d.host, d.free_before) for d in result.decisions]
    assert result.mismatch == ""
