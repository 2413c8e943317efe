"""The sample UCS cluster the demo and `ovirt-vf-scheduler sim` share: five blades and a rack server
in the simulated engine, two simulated UCS domains over them, and the config that points the units there."""
import os
from typing import Dict, List

from .inventory import Inventory
from .ucsm import FakeUcsm, UcsmPortProfile, UcsmServer, sample_port_profiles
from .workspace import write_config, write_secret


def sample_cluster() -> Inventory:
    """Five UCS blades with 8 or 16 VFs and a rack server without, some VMs with VM-FEX vNICs (2 VFs each)."""
    inv = Inventory()
    inv.add_profile("vmfex-prod", network_name="prod", vmfex="pp-vlan100")
    inv.add_profile("vmfex-db", network_name="db", vmfex="pp-db")
    inv.add_profile("ovirtmgmt")
    # network blue is for `port-profiles export`: VLAN 100 and a 100 Mbps QoS, no port profile yet
    qos = inv.add_qos("100M", outbound_average=100, outbound_peak=100, outbound_burst=5)
    inv.add_network("blue", vlan_id=100)
    inv.add_profile("blue", network_name="blue", qos=qos)
    layout = {"blade1": (8, 4), "blade2": (8, 3), "blade3": (16, 2), "blade4": (16, 7),
              "blade5": (8, 0), "rack1": (0, 0)}
    for name, (vfs, vmfex_vms) in layout.items():
        inv.add_host(name, cluster="ucs", vf_devices=vfs)
        for index in range(vmfex_vms):
            inv.add_vm("%s-app%d" % (name, index + 1), host=name, vmfex_nics=2, plain_nics=1,
                       vmfex_profile="vmfex-prod")
        inv.add_vm("%s-db" % name, host=name, plain_nics=1)
    inv.add_vm("web1", cluster="ucs", vmfex_nics=2, plain_nics=1, vmfex_profile="vmfex-prod")
    inv.add_vm("db1", cluster="ucs", vmfex_nics=2, plain_nics=1, vmfex_profile="vmfex-db")
    inv.add_vm("batch1", cluster="ucs", plain_nics=2)
    inv.vm_by_name("blade4-app1").status = "migrating"
    return inv


# Two UCS domains: A manages blades 1-3 and defines every sample port profile; B manages blades
# 4-5 and lacks pp-db, so a VM whose vNIC names pp-db must stay in domain A.
DOMAINS = ({"blade1": 8, "blade2": 6, "blade3": 16}, {"blade4": 16, "blade5": 8})
DOMAIN_B_PORT_PROFILES = [UcsmPortProfile("pp-vlan100")]


def sample_ucs_domain(inv: Inventory, dynamic_eth: Dict[str, int]) -> List[UcsmServer]:
    """The blades as one UCS-M sees them: blade2's dynamic vNIC policy says 6 where the engine
    counts 8 VF devices (a pending policy change, say); rack1 is managed by no UCS-M."""
    return [UcsmServer(dn="sys/chassis-1/blade-%d" % slot, uuid=inv.host_by_name(name).hw_uuid.lower(),
                       serial=inv.host_by_name(name).serial, sp_name=name, org="org-root/org-ovirt",
                       policy_name="kvm%d" % vfs, dynamic_eth=str(vfs))
            for slot, (name, vfs) in enumerate(sorted(dynamic_eth.items()), start=1)]


def sample_ucs_fakes(inv: Inventory) -> List[FakeUcsm]:
    """The two simulated UCS domains, not started yet (demo and `sim` alike); the account may write
    (the units only read; `port-profiles export` writes)."""
    writer = {"ovirt-ro": "admin"}
    return [FakeUcsm(sample_ucs_domain(inv, DOMAINS[0]), port_profiles=sample_port_profiles(), privileges=writer),
            FakeUcsm(sample_ucs_domain(inv, DOMAINS[1]), port_profiles=DOMAIN_B_PORT_PROFILES, privileges=writer)]


def sim_config(state: str, url: str, password: str, ucsm_urls: List[str], ucsm_password: str) -> str:
    """The config for the simulated engine and UCS domains: capacity_source = min, both passwords in files."""
    ucsm_pw = write_secret(os.path.join(state, "ucsm.pw"), ucsm_password)
    return write_config(state, url, password, "capacity_source = min\n",
                        "[ucsm]\nurl = %s\nusername = ovirt-ro\npassword_file = %s\n" % (" ".join(ucsm_urls), ucsm_pw))
