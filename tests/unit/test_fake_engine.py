"""The simulator's inventory on its own: the shape of the scale inventory the benchmarks use."""
from ovirt_scheduler_proxy_plugins.sim.inventory import build_scale_inventory, sim_id


def test_scale_inventory_shape():
    inv = build_scale_inventory(30, 20, vfs_per_host=16)
    assert (len(inv.hosts), len(inv.vms)) == (30, 600)
    vf_profile = sim_id("vnicprofile", "vmfex")
    per_host = {}
    for vm in inv.vms.values():
        per_host[vm.host_id] = per_host.get(vm.host_id, 0) + sum(n.profile_id == vf_profile for n in vm.nics)
    assert set(per_host.values()) == {12}                  # 20 VMs x 0.3 x 2 nics, within 16 VFs
    assert all(len(h) == 36 and h == h.lower() for h in list(inv.vms) + list(inv.hosts))
