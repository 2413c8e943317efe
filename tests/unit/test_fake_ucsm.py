"""The fake UCS-M's objects on their own: what every inventory carries, inconsistent ones refused."""
import dataclasses

import pytest

from ovirt_scheduler_proxy_plugins.sim.ucsm import (EXTRA_POLICY_DNS, RESERVED_VLANS_DN, SPARE_PROFILE_DN,
                                                    SPARE_SERVER_DN, TEMPLATE_DN, UcsmServer, build_objects)


def test_inventory_carries_objects_mapping_must_skip():
    dns = {attrs["dn"] for _, attrs in build_objects([])}
    assert {TEMPLATE_DN, SPARE_PROFILE_DN, SPARE_SERVER_DN, RESERVED_VLANS_DN} | set(EXTRA_POLICY_DNS) == dns


def test_inconsistent_inventories_are_refused():
    one = UcsmServer("sys/chassis-1/blade-1", "4b279c8a-5f19-11e2-0000-000000000001", "S1", "a",
                     policy_name="p", dynamic_eth="10")
    other = UcsmServer("sys/chassis-1/blade-2", "4b279c8a-5f19-11e2-0000-000000000002", "S2", "b",
                       policy_name="p", dynamic_eth="20")
    assert len(build_objects([one, dataclasses.replace(other, dynamic_eth="10")])) > 0
    with pytest.raises(ValueError, match="two different objects"):
        build_objects([one, other])
    with pytest.raises(ValueError, match="server dn"):
        build_objects([UcsmServer("sys/blade-1", "u", "s", "c")])
