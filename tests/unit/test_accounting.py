"""Demand, usage and engine capacity over plain records."""
import pytest

from ovirt_scheduler_proxy_plugins.accounting import (
    HOLDING_STATUSES, HostRecord, VfProfile, VmRecord, VnicRecord, demand, engine_capacity, holdings, min_capacity,
    usage, vm_demand)
from ovirt_scheduler_proxy_plugins.model import Demand

VF = frozenset({"p-vmfex"})


def vm(vm_id, host_id, status="up", vf=1, plain=0, unplugged_vf=0):
    nics = ([VnicRecord(True, "p-vmfex")] * vf + [VnicRecord(True, "p-plain")] * plain
            + [VnicRecord(False, "p-vmfex")] * unplugged_vf + [VnicRecord(True, None)])
    return VmRecord(vm_id, vm_id, status, host_id, tuple(nics))


def test_demand_counts_plugged_vf_nics_only():
    assert demand(vm("v", None, vf=2, plain=3, unplugged_vf=4).nics, VF) == 2


def test_vm_demand_names_the_port_profiles_of_plugged_vf_nics_only():
    profiles = {"p-db": VfProfile("db", "pp-db"), "p-web": VfProfile("web", "pp:web"),
                "p-off": VfProfile("web", "pp-unplugged"), "p-empty": VfProfile("x", "")}
    nics = (VnicRecord(True, "p-db"), VnicRecord(True, "p-db"), VnicRecord(True, "p-web"),
            VnicRecord(False, "p-off"), VnicRecord(True, "p-empty"), VnicRecord(True, "p-plain"))
    assert vm_demand(nics, profiles) == Demand(4, frozenset({"pp-db", "pp:web"}))


ALL_STATUSES = ["down", "image_locked", "migrating", "not_responding", "paused", "powering_down",
                "powering_up", "reboot_in_progress", "restoring_state", "saving_state", "suspended",
                "unassigned", "unknown", "up", "wait_for_launch"]


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_usage_by_status(status):
    holds = status not in ("down", "suspended", "image_locked", "unassigned")
    assert (status in HOLDING_STATUSES) == holds
    used = usage([vm("other", "h1", status, vf=2)], VF, "me", ["h1"])
    assert used["h1"] == ((2, 1) if holds else (0, 0))


def test_usage_leaves_out_the_scheduled_vm_and_other_hosts():
    vms = [vm("me", "h1", vf=3), vm("a", "h1", vf=1), vm("b", "h1", vf=2, plain=1),
           vm("c", "h2", vf=5), vm("d", "h1", vf=0, plain=2)]
    assert usage(vms, VF, "me", ["h1", "h3"]) == {"h1": (3, 2), "h3": (0, 0)}


def test_holdings_totals_and_largest_match_the_vms_counted_once():
    """A VM listed twice (a fresh record and an older copy) counts once, as its last record says."""
    vms = [vm("me", "h1", vf=6), vm("me", "h1", vf=2), vm("a", "h1", vf=1), vm("c", "h2", vf=5),
           vm("d", "h2", status="down", vf=7)]
    held = holdings(vms, VF)
    assert held == {"h1": {"me": 2, "a": 1}, "h2": {"c": 5}}
    assert held.totals == {"h1": (3, 2), "h2": (5, 1)}
    assert held.largest == 5
    assert usage(vms, VF, "me", ["h1", "h2", "h3"]) == {"h1": (1, 1), "h2": (5, 1), "h3": (0, 0)}


def test_engine_capacity_prefers_vf_devices_of_the_driver_then_nic_config():
    assert engine_capacity(HostRecord("h", "h", ("enic",) * 6 + ("ixgbevf",) * 4, (16,)), "enic") == (
        6, "6 enic VF devices")
    assert engine_capacity(HostRecord("h", "h", ("ixgbevf",) * 4, (8, 4)), "enic")[0] == 12
    assert engine_capacity(HostRecord("h", "h", (), ()), "enic")[0] == 0


def test_min_capacity_skips_unknown_sources():
    assert min_capacity([(8, "engine"), (10, "ucsm")]) == (8, "engine")
    assert min_capacity([(None, "engine"), (10, "ucsm")]) == (10, "ucsm")
    assert min_capacity([(None, "engine"), (None, "ucsm")])[0] is None
