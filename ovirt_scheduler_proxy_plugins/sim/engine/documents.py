"""Document builders: the inventory as SDK types objects (the Writer turns them into XML), for
the VM, host, vNIC profile and cluster documents and the scheduling policies, units and options."""
import datetime
from typing import Dict, List, Optional, Tuple

from ovirtsdk4 import types  # importing the package registers the writers Writer dispatches to
from ovirtsdk4.writer import Writer

from ..inventory import (VM_STATUSES_WITHOUT_HOST, Inventory, SimCluster, SimHost, SimNic, SimPolicy,
                         SimPolicyUnit, SimProfile, SimQos, SimVm, sim_id)
from .common import API, DATA_CENTER_ID, EPOCH, EngineFault, member_or_404, device_hex, host_mac, host_nic_id, make_link, make_mac, make_ref
from .devices import devices_of_host, vf_name
from .query import PROFILE_FOLLOW, parse_follow

class Builder:
    """Builds SDK objects from the inventory for one request (caller holds the engine lock)."""

    def __init__(self, inv: Inventory):
        self.inv = inv
        self._summaries: Optional[Dict[str, Tuple[int, int]]] = None

    # -- links
    @staticmethod
    def cluster_link(cid: str):
        return make_ref(types.Cluster, "clusters", cid)

    @staticmethod
    def host_link(hid: str):
        return make_ref(types.Host, "hosts", hid)

    @staticmethod
    def network_link(name: str):
        return make_ref(types.Network, "networks", sim_id("network", name))

    def summaries(self) -> Dict[str, Tuple[int, int]]:
        """host id -> (VMs running there, of which migrating), computed once per request."""
        if self._summaries is None:
            counts: Dict[str, List[int]] = {}
            for vm in self.inv.vms.values():
                hid = vm.run_on_host_id
                if hid is not None:
                    c = counts.setdefault(hid, [0, 0])
                    c[0] += 1
                    c[1] += vm.status == "migrating"
            self._summaries = {k: (v[0], v[1]) for k, v in counts.items()}
        return self._summaries

    # -- clusters, networks, profiles
    def cluster(self, c: SimCluster):
        obj = types.Cluster(
            id=c.id, name=c.name, description="Cluster %s" % c.name, comment="",
            ballooning_enabled=True, bios_type=types.BiosType.Q35_SEA_BIOS,
            cpu=types.Cpu(architecture=types.Architecture.X86_64,
                          type="Intel Cascadelake Server IBRS SSBD MDS"),
            data_center=make_ref(types.DataCenter, "datacenters", DATA_CENTER_ID),
            error_handling=types.ErrorHandling(on_error=types.MigrateOnError.MIGRATE),
            firewall_type=types.FirewallType.FIREWALLD, fips_mode=types.FipsMode.DISABLED,
            gluster_service=False, ha_reservation=False,
            ksm=types.Ksm(enabled=True, merge_across_nodes=True),
            log_max_memory_used_threshold=95,
            log_max_memory_used_threshold_type=types.LogMaxMemoryUsedThresholdType.PERCENTAGE,
            maintenance_reason_required=False,
            memory_policy=types.MemoryPolicy(over_commit=types.MemoryOverCommit(percent=100),
                                             transparent_huge_pages=types.TransparentHugePages(enabled=True)),
            migration=types.MigrationOptions(auto_converge=types.InheritableBoolean.INHERIT,
                                             compressed=types.InheritableBoolean.INHERIT,
                                             encrypted=types.InheritableBoolean.INHERIT),
            optional_reason=False, switch_type=types.SwitchType.LEGACY, threads_as_cores=False,
            trusted_service=False, tunnel_migration=False, upgrade_in_progress=False,
            version=types.Version(major=4, minor=7), virt_service=True, vnc_encryption=False)
        if c.scheduling_policy_id:
            obj.scheduling_policy = make_ref(types.SchedulingPolicy, "schedulingpolicies", c.scheduling_policy_id)
        if c.scheduling_properties:
            obj.custom_scheduling_policy_properties = _properties(c.scheduling_properties)
        obj.href = "%s/clusters/%s" % (API, c.id)
        return obj

    def network(self, name: str):
        nid = sim_id("network", name)
        sim = self.inv.networks.get(nid)
        obj = types.Network(
            id=nid, name=name, description="", comment="", mtu=0, stp=False, vdsm_name=name,
            port_isolation=False, required=True,
            usages=[types.NetworkUsage.VM] + ([types.NetworkUsage.MANAGEMENT] if name == "ovirtmgmt" else []),
            data_center=make_ref(types.DataCenter, "datacenters", DATA_CENTER_ID))
        if sim is not None and sim.vlan_id is not None:
            obj.vlan = types.Vlan(id=sim.vlan_id)
        obj.href = "%s/networks/%s" % (API, nid)
        return obj

    @staticmethod
    def qos(q: SimQos):
        """A network QoS as the engine writes it (href under its data center)."""
        obj = types.Qos(id=q.id, type=types.QosType.NETWORK,
                        data_center=make_ref(types.DataCenter, "datacenters", DATA_CENTER_ID), **vars(q.limits))
        obj.href = "%s/datacenters/%s/qoss/%s" % (API, DATA_CENTER_ID, q.id)
        return obj

    def profile(self, p: SimProfile, follow: Dict[str, dict]):
        obj = types.VnicProfile(
            id=p.id, name=p.name, description=p.description, port_mirroring=False,
            pass_through=types.VnicPassThrough(mode=types.VnicPassThroughMode.DISABLED),
            custom_properties=[types.CustomProperty(name=k, value=v) for k, v in p.custom_properties.items()],
            network=self.network(p.network_name) if "network" in follow else self.network_link(p.network_name))
        if p.qos_id is not None:              # a link whose href names the data center (follow_link works)
            obj.qos = make_link(types.Qos, "%s/datacenters/%s/qoss/%s" % (API, DATA_CENTER_ID, p.qos_id), p.qos_id)
        if not p.custom_properties:           # the engine's default profiles carry this filter
            fid = sim_id("networkfilter", "vdsm-no-mac-spoofing")
            obj.network_filter = make_ref(types.NetworkFilter, "networkfilters", fid)
        obj.href = "%s/vnicprofiles/%s" % (API, p.id)
        return obj

    # -- VMs
    def nic(self, vm: SimVm, n: SimNic, follow: Dict[str, dict]):
        nid = sim_id("nic", "%s:%s" % (vm.id, n.name))
        obj = types.Nic(id=nid, name=n.name, interface=types.NicInterface.VIRTIO, linked=True,
                        plugged=n.plugged, synced=True, mac=types.Mac(address=make_mac("56:6f:1a", nid)),
                        vm=make_ref(types.Vm, "vms", vm.id))
        if "vnic_profile" in follow:
            if n.profile_id is None:          # the engine's link follower throws on the null link
                raise EngineFault(500, "Operation Failed",
                             "Cannot follow link 'vnic_profile' of NIC '%s' of VM '%s': it is null"
                             % (n.name, vm.name))
            obj.vnic_profile = self.profile(self.inv.profiles[n.profile_id], follow["vnic_profile"])
        elif n.profile_id is not None:
            obj.vnic_profile = make_ref(types.VnicProfile, "vnicprofiles", n.profile_id)
        obj.href = "%s/vms/%s/nics/%s" % (API, vm.id, nid)
        return obj

    def vm(self, vm: SimVm, follow: Dict[str, dict], all_content: bool):
        seq = int(vm.id[:8], 16)
        running = vm.status not in VM_STATUSES_WITHOUT_HOST
        template_id = "00000000-0000-0000-0000-000000000000"
        obj = types.Vm(
            id=vm.id, name=vm.name, status=types.VmStatus(vm.status), comment="",
            description="Application server %s (owner: team-%d, ticket OPS-%d)" % (vm.name, seq % 17, seq % 9973),
            creation_time=EPOCH - datetime.timedelta(days=seq % 700),
            type=types.VmType.SERVER, origin="ovirt", stateless=False, delete_protected=False,
            start_paused=False, soundcard_enabled=False, tunnel_migration=False, tpm_enabled=False,
            multi_queues_enabled=True, virtio_scsi_multi_queues_enabled=False,
            next_run_configuration_exists=False, has_illegal_images=False, run_once=False,
            use_latest_template_version=False, migration_downtime=-1, cpu_shares=0,
            memory=8 * 2 ** 30, numa_tune_mode=types.NumaTuneMode.INTERLEAVE,
            cpu_pinning_policy=types.CpuPinningPolicy.NONE,
            storage_error_resume_behaviour=types.VmStorageErrorResumeBehaviour.AUTO_RESUME,
            bios=types.Bios(type=types.BiosType.Q35_SEA_BIOS, boot_menu=types.BootMenu(enabled=False)),
            cpu=types.Cpu(architecture=types.Architecture.X86_64,
                          topology=types.CpuTopology(cores=1, sockets=4, threads=1)),
            os=types.OperatingSystem(type="rhel_8x64", boot=types.Boot(devices=[types.BootDevice.HD])),
            display=types.Display(type=types.DisplayType.VNC, monitors=1, allow_override=False,
                                  copy_paste_enabled=True, disconnect_action="LOCK_SCREEN",
                                  disconnect_action_delay=0, file_transfer_enabled=True,
                                  smartcard_enabled=False, single_qxl_pci=False, keyboard_layout="en-us"),
            high_availability=types.HighAvailability(enabled=False, priority=0),
            io=types.Io(threads=1),
            memory_policy=types.MemoryPolicy(guaranteed=8 * 2 ** 30, max=32 * 2 ** 30, ballooning=True),
            migration=types.MigrationOptions(auto_converge=types.InheritableBoolean.INHERIT,
                                             compressed=types.InheritableBoolean.INHERIT,
                                             encrypted=types.InheritableBoolean.INHERIT,
                                             parallel_migrations_policy=types.ParallelMigrationsPolicy.INHERIT),
            placement_policy=types.VmPlacementPolicy(affinity=types.VmAffinity.MIGRATABLE),
            sso=types.Sso(methods=[types.Method(id=types.SsoMethod.GUEST_AGENT)]),
            time_zone=types.TimeZone(name="Etc/GMT"),
            usb=types.Usb(enabled=False),
            console=types.Console(enabled=False),
            virtio_scsi=types.VirtioScsi(enabled=True),
            custom_properties=[types.CustomProperty(name="viodiskcache", value="writeback")],
            cluster=self.cluster(self.inv.clusters[vm.cluster_id]) if "cluster" in follow
            else self.cluster_link(vm.cluster_id),
            cpu_profile=make_ref(types.CpuProfile, "cpuprofiles", sim_id("cpuprofile", vm.cluster_id)),
            template=make_ref(types.Template, "templates", template_id),
            original_template=make_ref(types.Template, "templates", template_id),
            quota=make_ref(types.Quota, "datacenters/%s/quotas" % DATA_CENTER_ID, sim_id("quota", "Default")),
            small_icon=make_ref(types.Icon, "icons", sim_id("icon", "rhel8-small")),
            large_icon=make_ref(types.Icon, "icons", sim_id("icon", "rhel8-large")))
        if running:
            obj.start_time = EPOCH - datetime.timedelta(hours=seq % 500)
            obj.fqdn = "%s.apps.example.com" % vm.name
            obj.guest_operating_system = types.GuestOperatingSystem(
                architecture="x86_64", codename="Ootpa", distribution="Red Hat Enterprise Linux", family="Linux",
                kernel=types.Kernel(version=types.Version(full_version="4.18.0-477.10.1.el8_8.x86_64",
                                                          major=4, minor=18, build=0, revision=477)),
                version=types.Version(full_version="8.8", major=8, minor=8))
            obj.guest_time_zone = types.TimeZone(name="UTC", utc_offset="+00:00")
        else:
            obj.stop_time = EPOCH - datetime.timedelta(hours=seq % 300)
            obj.stop_reason = ""
        hid = vm.run_on_host_id
        if hid is not None:
            obj.host = (self.host(self.inv.hosts[hid], follow["host"], all_content) if "host" in follow
                        else self.host_link(hid))
        if "nics" in follow:
            obj.nics = [self.nic(vm, n, follow["nics"]) for n in vm.nics]
        obj.href = "%s/vms/%s" % (API, vm.id)
        return obj

    # -- hosts
    def host_nics(self, h: SimHost, all_content: bool):
        seq = int(h.id[:8], 16)
        eth0 = types.HostNic(
            name="eth0", mac=types.Mac(address=host_mac(h, "eth0")), mtu=1500, speed=40 * 10 ** 9,
            status=types.NicStatus.UP, boot_protocol=types.BootProtocol.STATIC, bridged=True,
            custom_configuration=False, network=self.network_link("ovirtmgmt"),
            ip=types.Ip(address="10.%d.%d.%d" % (seq % 250, (seq >> 8) % 250, (seq >> 16) % 250 + 1),
                        netmask="255.255.0.0", gateway="10.%d.0.1" % (seq % 250), version=types.IpVersion.V4),
            ipv6_boot_protocol=types.BootProtocol.AUTOCONF)
        eth1 = types.HostNic(
            name="eth1", mac=types.Mac(address=host_mac(h, "eth1")), mtu=9000, speed=40 * 10 ** 9,
            status=types.NicStatus.UP, boot_protocol=types.BootProtocol.NONE, bridged=False,
            custom_configuration=False, ipv6_boot_protocol=types.BootProtocol.NONE)
        if all_content and h.nic_vfs_configured is not None:
            eth1.virtual_functions_configuration = types.HostNicVirtualFunctionsConfiguration(
                max_number_of_virtual_functions=max(h.nic_vfs_configured, h.vf_devices),
                number_of_virtual_functions=h.nic_vfs_configured, all_networks_allowed=True)
        nics = [eth0, eth1]
        for i in range(h.vf_nics):
            bus, slot, func = vf_name(i)
            nics.append(types.HostNic(
                name="enp%ds%df%d" % (bus, slot, func), mac=types.Mac(address="00:00:00:00:00:00"), mtu=1500,
                speed=40 * 10 ** 9, status=types.NicStatus.DOWN, boot_protocol=types.BootProtocol.NONE,
                bridged=False, custom_configuration=False))
        for nic in nics:
            nic.id = host_nic_id(h, nic.name)
            nic.host = self.host_link(h.id)
            nic.href = "%s/hosts/%s/nics/%s" % (API, h.id, nic.id)
        if all_content:
            for nic in nics[2:]:
                nic.physical_function = make_link(types.HostNic, eth1.href, eth1.id)
        return nics

    def host_devices(self, h: SimHost):
        out, iommu_group = [], 0
        for d in devices_of_host(h):
            obj = types.HostDevice(id=device_hex(d.name), name=d.name, capability=d.capability, driver=d.driver,
                                   virtual_functions=d.totalvfs, host=self.host_link(h.id))
            if d.capability == "pci":          # vdsm numbers groups in PCI order; one device each here
                obj.iommu_group = iommu_group
                iommu_group += 1
            if d.product:
                obj.product = types.Product(id=d.product[0], name=d.product[1])
                obj.vendor = types.Vendor(id=d.vendor[0], name=d.vendor[1])
            for attr, ref in (("parent_device", d.parent), ("physical_function", d.physfn)):
                if ref is not None:
                    link = make_link(types.HostDevice, "%s/hosts/%s/devices/%s" % (API, h.id, device_hex(ref)), device_hex(ref))
                    link.name = ref
                    setattr(obj, attr, link)
            obj.href = "%s/hosts/%s/devices/%s" % (API, h.id, obj.id)
            out.append(obj)
        return out

    def host(self, h: SimHost, follow: Dict[str, dict], all_content: bool):
        seq = int(h.id[:8], 16)
        active, migrating = self.summaries().get(h.id, (0, 0))
        obj = types.Host(
            id=h.id, name=h.name, address=h.address, comment="", description="UCS B200 M5 blade %s" % h.name,
            status=types.HostStatus(h.status), type=types.HostType.RHEL, port=54321,
            protocol=types.HostProtocol.STOMP, external_status=types.ExternalStatus.OK,
            spm=types.Spm(priority=5, status=types.SpmStatus.SPM if seq % 50 == 0 else types.SpmStatus.NONE),
            summary=types.VmSummary(active=active, migrating=migrating, total=active),
            cpu=types.Cpu(name="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", speed=2500.0,
                          type="Intel Cascadelake Server IBRS SSBD MDS",
                          topology=types.CpuTopology(cores=20, sockets=2, threads=2)),
            memory=768 * 2 ** 30, max_scheduling_memory=700 * 2 ** 30 - (seq % 64) * 2 ** 30,
            os=types.OperatingSystem(type="RHEL", version=types.Version(full_version="8.9 - 1.el8", major=8, minor=9),
                                     reported_kernel_cmdline="BOOT_IMAGE=(hd0,msdos1)/vmlinuz-4.18.0-513.el8.x86_64 "
                                     "root=/dev/mapper/rhel-root ro crashkernel=auto intel_iommu=on "
                                     "rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet"),
            iscsi=types.IscsiDetails(initiator="iqn.1994-05.com.redhat:%s" % h.id[:12]),
            ksm=types.Ksm(enabled=False, merge_across_nodes=True),
            kdump_status=types.KdumpStatus.DISABLED, se_linux=types.SeLinux(mode=types.SeLinuxMode.ENFORCING),
            auto_numa_status=types.AutoNumaStatus.ENABLE, numa_supported=True,
            transparent_huge_pages=types.TransparentHugePages(enabled=True),
            device_passthrough=types.HostDevicePassthrough(enabled=True),
            hardware_information=types.HardwareInformation(
                family="UCSB", manufacturer="Cisco Systems Inc", product_name="UCSB-B200-M5",
                serial_number=h.serial, uuid=h.hw_uuid, version="A0",
                supported_rng_sources=[types.RngSource.HWRNG, types.RngSource.URANDOM]),
            libvirt_version=types.Version(full_version="libvirt-8.0.0-22.module+el8.9.0", major=8, minor=0,
                                          build=0, revision=0),
            version=types.Version(full_version="vdsm-4.50.5.1-1.el8", major=4, minor=50, build=5, revision=1),
            certificate=types.Certificate(organization="example.com", subject="O=example.com,CN=%s" % h.address),
            ssh=types.Ssh(port=22, fingerprint="SHA256:%s" % h.id.replace("-", "")[:43]),
            power_management=types.PowerManagement(enabled=False, automatic_pm_enabled=True,
                                                   kdump_detection=True),
            update_available=False, reinstallation_required=False, network_operation_in_progress=False,
            ovn_configured=True, vgpu_placement=types.VgpuPlacement.CONSOLIDATED,
            cluster=self.cluster(self.inv.clusters[h.cluster_id]) if "cluster" in follow
            else self.cluster_link(h.cluster_id))
        if all_content:
            obj.hosted_engine = types.HostedEngine(active=False, configured=False, global_maintenance=False,
                                                   local_maintenance=False, score=0)
        if "nics" in follow:
            obj.nics = self.host_nics(h, all_content)
        if "devices" in follow:
            obj.devices = self.host_devices(h)
        obj.href = "%s/hosts/%s" % (API, h.id)
        return obj

    def api(self):
        vms = self.inv.vms.values()
        return types.Api(
            product_info=types.ProductInfo(name="oVirt Engine", vendor="ovirt.org", instance_id=DATA_CENTER_ID,
                                           version=types.Version(full_version="4.5.7-1.el8", major=4, minor=5,
                                                                 build=7, revision=0)),
            summary=types.ApiSummary(
                hosts=types.ApiSummaryItem(active=sum(h.status == "up" for h in self.inv.hosts.values()),
                                           total=len(self.inv.hosts)),
                vms=types.ApiSummaryItem(active=sum(v.run_on_host_id is not None for v in vms), total=len(vms)),
                users=types.ApiSummaryItem(active=1, total=len(self.inv.users)),
                storage_domains=types.ApiSummaryItem(active=1, total=1)),
            time=EPOCH)


# ----------------------------------------------------------------------------------------------
# Scheduling policies, policy units and system options (docs/proxy-contract.md §6, admin steps 4-5)

POLICY_PARTS = {"filters": "filter", "weights": "weight", "balances": "load_balancing"}


def _properties(values: Dict[str, str]) -> list:
    return [types.Property(name=k, value=v) for k, v in values.items()]


def _unit_ref(uid: str):
    return make_ref(types.SchedulingPolicyUnit, "schedulingpolicyunits", uid)


def _policy_unit(u: SimPolicyUnit):
    obj = types.SchedulingPolicyUnit(id=u.id, name=u.name, description=u.description, enabled=u.enabled,
                                     internal=u.internal, type=types.PolicyUnitType(u.type),
                                     properties=_properties(u.properties) or None)
    obj.href = "%s/schedulingpolicyunits/%s" % (API, u.id)
    return obj


def policy_doc(p: SimPolicy):
    obj = types.SchedulingPolicy(id=p.id, name=p.name, description=p.description, locked=p.locked,
                                 default_policy=p.default_policy, properties=_properties(p.properties) or None)
    obj.href = "%s/schedulingpolicies/%s" % (API, p.id)
    return obj


def policy_parts(p: SimPolicy, part: str) -> list:
    """A policy's filters, weights or balances as the engine lists them: id = the unit's id."""
    if part == "filters":
        items = [types.Filter(id=uid, position=pos, scheduling_policy_unit=_unit_ref(uid))
                 for uid, pos in p.filters.items()]
    elif part == "weights":
        items = [types.Weight(id=uid, factor=factor, scheduling_policy_unit=_unit_ref(uid))
                 for uid, factor in p.weights.items()]
    else:
        items = [types.Balance(id=p.balance, scheduling_policy_unit=_unit_ref(p.balance))] if p.balance else []
    for item in items:
        item.href = "%s/schedulingpolicies/%s/%s/%s" % (API, p.id, part, item.id)
    return items


def _option(name: str, values: Dict[str, str], version: Optional[str]):
    obj = types.SystemOption(id=name, name=name, values=[
        types.SystemOptionValue(value=value, version=ver) for ver, value in values.items()
        if version in (None, "", ver)])
    obj.href = "%s/options/%s" % (API, name)
    return obj


def render_scheduling(b: "Builder", seg: List[str], query: Dict[str, str]) -> bytes:
    """GET schedulingpolicyunits[/id], schedulingpolicies[/id[/filters|weights|balances[/unit]]],
    options/name (404 unless the inventory makes the option readable, as for internal options)."""
    inv = b.inv
    coll, rest = seg[0], seg[1:]
    if coll == "options" and len(rest) == 1:
        if rest[0] not in inv.options:
            raise EngineFault(404, "Not Found", "")
        return Writer.write(_option(rest[0], inv.options[rest[0]], query.get("version"))).encode()
    if coll == "schedulingpolicyunits" and len(rest) <= 1:
        if not rest:
            return Writer.write([_policy_unit(u) for u in inv.policy_units.values()],
                                root="scheduling_policy_units").encode()
        return Writer.write(_policy_unit(member_or_404(inv.policy_units, rest[0], "policy unit"))).encode()
    if coll == "schedulingpolicies" and len(rest) <= 3:
        if not rest:
            return Writer.write([policy_doc(p) for p in inv.policies.values()], root="scheduling_policies").encode()
        policy = member_or_404(inv.policies, rest[0], "scheduling policy")
        if len(rest) == 1:
            return Writer.write(policy_doc(policy)).encode()
        if rest[1] in POLICY_PARTS:
            items = policy_parts(policy, rest[1])
            if len(rest) == 2:
                return Writer.write(items, root=rest[1]).encode()
            found = [item for item in items if item.id == rest[2]]
            if found:
                return Writer.write(found[0]).encode()
            raise EngineFault(404, "Not Found", "Entity not found: %s" % rest[2])
    raise EngineFault(404, "Not Found", "No such path: /%s" % "/".join(seg))


def render_network_parts(b: "Builder", seg: List[str], query: Dict[str, str]) -> bytes:
    """GET networks/{id}/vnicprofiles and datacenters/{dc}/qoss[/{id}] (the data center's QoS)."""
    inv = b.inv
    if seg[0] == "networks" and len(seg) == 3 and seg[2] == "vnicprofiles":
        network = member_or_404(inv.networks, seg[1], "network")
        follow = parse_follow(query.get("follow"), PROFILE_FOLLOW)
        return Writer.write([b.profile(p, follow) for p in inv.profiles.values() if p.network_name == network.name],
                            root="vnic_profiles").encode()
    if seg[0] == "datacenters" and len(seg) in (3, 4) and seg[1] == DATA_CENTER_ID and seg[2] == "qoss":
        if len(seg) == 3:
            return Writer.write([b.qos(q) for q in inv.qoss.values()], root="qoss").encode()
        return Writer.write(b.qos(member_or_404(inv.qoss, seg[3], "QoS"))).encode()
    raise EngineFault(404, "Not Found", "No such path: /%s" % "/".join(seg))
