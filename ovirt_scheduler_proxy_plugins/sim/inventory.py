"""What the fake engine knows: clusters, hosts, vNIC profiles and VMs, as plain values.

No I/O and no SDK import, so tests, the demo and the benchmarks can build a world by
hand and hand it to `engine.FakeEngine`. Ids are uuid5 of the kind and name, so the same
names give the same ids in every run (benchmark logs stay comparable), and they are
lower-case UUID strings like the engine's.
"""
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..model import NetworkQos

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ovirt-vf-scheduler:sim")

# REST VmStatus / HostStatus values (ovirtsdk4.types); checked here so that a typo in a
# test fails at build time instead of silently matching nothing.
VM_STATUSES = frozenset((
    "down", "image_locked", "migrating", "not_responding", "paused", "powering_down",
    "powering_up", "reboot_in_progress", "restoring_state", "saving_state", "suspended",
    "unassigned", "unknown", "up", "wait_for_launch"))
HOST_STATUSES = frozenset((
    "connecting", "down", "error", "initializing", "install_failed", "installing",
    "installing_os", "kdumping", "maintenance", "non_operational", "non_responsive",
    "pending_approval", "preparing_for_maintenance", "reboot", "unassigned", "up"))
# The engine emits Vm.host only outside these statuses (it clears run_on_vds there).
VM_STATUSES_WITHOUT_HOST = frozenset(("down", "suspended", "image_locked"))

DEFAULT_CLUSTER = "Default"
# What `engine-config -s CustomDeviceProperties=...` gave vNIC profiles (interface type): the
# documented vmfex regex. A real engine keeps the value internal (GET /options answers 404).
DEFAULT_DEVICE_PROPERTIES = {"vmfex": "^[a-zA-Z0-9_.-]{2,32}$"}
DEFAULT_VMFEX_PROFILE = "vmfex"          # network "vmfex", custom property vmfex=pp-vmfex
DEFAULT_PLAIN_PROFILE = "ovirtmgmt"      # network "ovirtmgmt", no custom property


def sim_id(kind: str, name: str) -> str:
    """Deterministic lower-case UUID for an object of `kind` called `name`."""
    return str(uuid.uuid5(_NAMESPACE, "%s:%s" % (kind, name)))


@dataclass
class SimCluster:
    id: str
    name: str
    scheduling_policy_id: Optional[str] = None      # None: not shown (no policies in the world)
    scheduling_properties: Dict[str, str] = field(default_factory=dict)   # what the proxy gets as args


POLICY_UNIT_TYPES = frozenset(("filter", "weight", "load_balancing"))   # REST PolicyUnitType values


@dataclass
class SimPolicyUnit:
    """A scheduling policy unit; external ones (internal=False) are what the engine discovered
    through ovirt-scheduler-proxy, disabled when the last discovery failed."""
    id: str
    name: str
    type: str                             # one of POLICY_UNIT_TYPES
    internal: bool = True
    enabled: bool = True
    description: str = ""
    properties: Dict[str, str] = field(default_factory=dict)   # property name -> regex


@dataclass
class SimPolicy:
    """A scheduling (cluster) policy; built-in ones are locked."""
    id: str
    name: str
    description: str = ""
    locked: bool = False
    default_policy: bool = False
    filters: Dict[str, int] = field(default_factory=dict)      # unit id -> position (-1 first, 0 any, 1 last)
    weights: Dict[str, int] = field(default_factory=dict)      # unit id -> factor
    balance: Optional[str] = None                              # unit id
    properties: Dict[str, str] = field(default_factory=dict)   # the policy's default property values


@dataclass
class SimNetwork:
    id: str
    name: str
    vlan_id: Optional[int] = None         # None: untagged (the engine then writes no <vlan>)


@dataclass
class SimQos:
    """A network QoS of the data center: its id and its limits (name included)."""
    id: str
    limits: NetworkQos


@dataclass
class SimProfile:
    id: str
    name: str
    network_name: str
    custom_properties: Dict[str, str]     # e.g. {"vmfex": "pp-vlan100"}; {} for a plain profile
    description: str = ""
    qos_id: Optional[str] = None          # a network QoS of the data center


@dataclass
class SimNic:
    name: str
    profile_id: Optional[str]             # None = empty profile (no vnic_profile link)
    plugged: bool = True


@dataclass
class SimHost:
    id: str
    name: str
    cluster_id: str
    vf_devices: int = 0                   # enic VFs exposed as host devices (with physical_function)
    vf_driver: str = "enic"
    nic_vfs_configured: Optional[int] = None  # PF HostNic VF config number (None = no such config)
    vf_nics: int = 0                      # VFs also reported as HostNics (vdsm hides enic VFs: 0)
    hw_uuid: str = ""                     # SMBIOS UUID, upper case like dmidecode/vdsm report it
    serial: str = ""
    status: str = "up"                    # REST HostStatus value
    address: str = ""


@dataclass
class SimVm:
    id: str
    name: str
    cluster_id: str
    host_id: Optional[str]                # run-on host; the engine hides it when down/suspended
    status: str                           # REST VmStatus value, e.g. "up", "down", "migrating"
    nics: List[SimNic] = field(default_factory=list)

    @property
    def run_on_host_id(self) -> Optional[str]:
        """The host the engine reports (Vm.host) and searches (on_host=) for this VM."""
        return None if self.status in VM_STATUSES_WITHOUT_HOST else self.host_id


@dataclass
class Inventory:
    """Every collection is a dict keyed by id, in insertion order (the engine's list order)."""
    clusters: Dict[str, SimCluster] = field(default_factory=dict)
    hosts: Dict[str, SimHost] = field(default_factory=dict)
    vms: Dict[str, SimVm] = field(default_factory=dict)
    profiles: Dict[str, SimProfile] = field(default_factory=dict)
    networks: Dict[str, SimNetwork] = field(default_factory=dict)   # every profile's network, at least
    qoss: Dict[str, SimQos] = field(default_factory=dict)           # the data center's network QoS
    users: Dict[str, str] = field(default_factory=lambda: {"admin@internal": "secret"})
    policy_units: Dict[str, SimPolicyUnit] = field(default_factory=dict)
    policies: Dict[str, SimPolicy] = field(default_factory=dict)
    # GET /options/{name}: only the options listed here are readable, by version. A real engine
    # keeps CustomDeviceProperties and ExternalSchedulerEnabled internal (ClientAccessLevel
    # Internal: 404 through REST), so the default world exposes neither.
    options: Dict[str, Dict[str, str]] = field(default_factory=dict)
    # user -> top-level API collections that answer 403 to that user (fake choice: a real engine
    # filters lists by permission for non-admin users, and refuses admin-only resources).
    forbidden: Dict[str, frozenset] = field(default_factory=dict)
    # Users the engine filters by permission (not admins): their GET /events ignores `from`
    # unless a search is given.
    filtered_users: frozenset = frozenset()
    # vNIC profile custom properties the engine accepts (name -> regex the whole value must match).
    device_properties: Dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DEVICE_PROPERTIES))

    def add_cluster(self, name: str = DEFAULT_CLUSTER) -> SimCluster:
        """Return the cluster called `name`, creating it on first use."""
        cid = sim_id("cluster", name)
        if cid not in self.clusters:
            self.clusters[cid] = SimCluster(cid, name, scheduling_policy_id=self._default_policy_id())
        return self.clusters[cid]

    def _default_policy_id(self) -> Optional[str]:
        return next((p.id for p in self.policies.values() if p.default_policy), None)

    # -- scheduling policies
    def add_policy_unit(self, name: str, kind: str, internal: bool = True, enabled: bool = True,
                        properties: Optional[Dict[str, str]] = None, description: str = "") -> SimPolicyUnit:
        """Add a unit; names repeat across types (HA is a filter and a weight), so ids key on both."""
        if kind not in POLICY_UNIT_TYPES:
            raise ValueError("unknown policy unit type %r" % kind)
        uid = sim_id("policyunit", "%s:%s" % (kind, name))
        self.policy_units[uid] = SimPolicyUnit(uid, name, kind, internal, enabled,
                                               description or "%s %s" % (name, kind), dict(properties or {}))
        return self.policy_units[uid]

    def unit_by_name(self, name: str, kind: str) -> SimPolicyUnit:
        return self.policy_units[sim_id("policyunit", "%s:%s" % (kind, name))]

    def add_policy(self, name: str, filters: Sequence[str] = (), weights: Sequence[Tuple[str, int]] = (),
                   balance: Optional[str] = None, locked: bool = False, default: bool = False,
                   properties: Optional[Dict[str, str]] = None) -> SimPolicy:
        """Add a policy from unit names (filters at position 0, weights with their factors)."""
        pid = sim_id("schedulingpolicy", name)
        self.policies[pid] = SimPolicy(
            pid, name, "%s scheduling policy" % name, locked, default,
            filters={self.unit_by_name(f, "filter").id: 0 for f in filters},
            weights={self.unit_by_name(w, "weight").id: factor for w, factor in weights},
            balance=self.unit_by_name(balance, "load_balancing").id if balance else None,
            properties=dict(properties or {}))
        return self.policies[pid]

    def policy_by_name(self, name: str) -> SimPolicy:
        return self.policies[sim_id("schedulingpolicy", name)]

    def add_builtin_policies(self) -> None:
        """A few of the engine's internal units and its locked built-in policies ("none" is the
        default); clusters without a policy get the default one, as the engine gives them."""
        for name in ("Memory", "CPU", "Network", "HA", "VmAffinityGroups", "PinToHost", "Migration"):
            self.add_policy_unit(name, "filter")
        for name in ("None", "OptimalForEvenDistribution", "OptimalForPowerSaving", "HA", "VmAffinityGroups"):
            self.add_policy_unit(name, "weight")
        self.add_policy_unit("None", "load_balancing")
        thresholds = {"HighUtilization": "^([5-9][0-9])$", "CpuOverCommitDurationMinutes": "^([1-9][0-9]*)$"}
        self.add_policy_unit("OptimalForEvenDistribution", "load_balancing", properties=thresholds)
        self.add_policy_unit("OptimalForPowerSaving", "load_balancing",
                             properties=dict(thresholds, LowUtilization="^([0-9]|[1-4][0-9])$"))
        common = ("Memory", "CPU", "Network", "HA", "VmAffinityGroups", "PinToHost", "Migration")
        self.add_policy("none", filters=common, weights=[("None", 1), ("HA", 1), ("VmAffinityGroups", 1)],
                        balance="None", locked=True, default=True)
        self.add_policy("evenly_distributed", filters=common,
                        weights=[("OptimalForEvenDistribution", 1), ("HA", 1), ("VmAffinityGroups", 1)],
                        balance="OptimalForEvenDistribution", locked=True,
                        properties={"HighUtilization": "80", "CpuOverCommitDurationMinutes": "2"})
        self.add_policy("power_saving", filters=common,
                        weights=[("OptimalForPowerSaving", 1), ("HA", 1), ("VmAffinityGroups", 1)],
                        balance="OptimalForPowerSaving", locked=True,
                        properties={"HighUtilization": "80", "LowUtilization": "20",
                                    "CpuOverCommitDurationMinutes": "2"})
        for cluster in self.clusters.values():
            cluster.scheduling_policy_id = cluster.scheduling_policy_id or self._default_policy_id()

    def add_vf_units(self, properties_validation: str = "", enabled: bool = True) -> None:
        """VfFilter and VfWeight as the engine records them after discovering the proxy's units
        (`properties_validation` in the proxy's key=regex;key=regex format)."""
        props = dict(item.split("=", 1) for item in properties_validation.split(";") if item)
        self.add_policy_unit("VfFilter", "filter", internal=False, enabled=enabled, properties=props,
                             description="Drop hosts without enough free VM-FEX VFs for the VM's vmfex vNICs")
        self.add_policy_unit("VfWeight", "weight", internal=False, enabled=enabled, properties=props,
                             description="Prefer hosts by free VM-FEX VFs (spread, pack or reserve; "
                                         "lower score is better)")

    def add_profile(self, name: str, network_name: Optional[str] = None, vmfex: Optional[str] = None,
                    custom_properties: Optional[Dict[str, str]] = None, qos: Optional[SimQos] = None) -> SimProfile:
        """Add (or replace) a vNIC profile; `vmfex` is the UCS port profile of a VM-FEX profile."""
        props = dict(custom_properties or {})
        if vmfex is not None:
            props["vmfex"] = vmfex
        pid = sim_id("vnicprofile", name)
        self.profiles[pid] = SimProfile(pid, name, self.add_network(network_name or name).name, props,
                                        qos_id=qos.id if qos is not None else None)
        return self.profiles[pid]

    def add_network(self, name: str, vlan_id: Optional[int] = None) -> SimNetwork:
        """Return the (VM) network called `name`, creating it on first use; a vlan_id tags it."""
        nid = sim_id("network", name)
        network = self.networks.setdefault(nid, SimNetwork(nid, name))
        if vlan_id is not None:
            network.vlan_id = vlan_id
        return network

    def add_qos(self, name: str, **limits: Optional[int]) -> SimQos:
        """A network QoS of the data center: outbound_/inbound_ average, peak (Mbps) and burst (MB)."""
        qid = sim_id("qos", name)
        self.qoss[qid] = SimQos(qid, NetworkQos(name, **limits))
        return self.qoss[qid]

    def add_host(self, name: str, cluster: str = DEFAULT_CLUSTER, vf_devices: int = 0,
                 vf_driver: str = "enic", nic_vfs_configured: Optional[int] = None, vf_nics: int = 0,
                 status: str = "up", hw_uuid: Optional[str] = None, serial: Optional[str] = None,
                 address: Optional[str] = None) -> SimHost:
        if status not in HOST_STATUSES:
            raise ValueError("unknown host status %r" % status)
        if not 0 <= vf_devices <= 254 or not 0 <= vf_nics <= 254:
            raise ValueError("VFs must fit behind their PF on one PCI bus (0..254)")
        hid = sim_id("host", name)
        self.hosts[hid] = SimHost(
            id=hid, name=name, cluster_id=self.add_cluster(cluster).id, vf_devices=vf_devices,
            vf_driver=vf_driver, nic_vfs_configured=nic_vfs_configured, vf_nics=vf_nics,
            hw_uuid=sim_id("hw", name).upper() if hw_uuid is None else hw_uuid,
            serial=("FCH%08X" % (uuid.UUID(hid).int % 2 ** 32)) if serial is None else serial,
            status=status, address="%s.example.com" % name if address is None else address)
        return self.hosts[hid]

    def host_by_name(self, name: str) -> SimHost:
        return self.hosts[sim_id("host", name)]

    def vm_by_name(self, name: str) -> SimVm:
        return self.vms[sim_id("vm", name)]

    def add_vm(self, name: str, host: Union[str, SimHost, None] = None, status: Optional[str] = None,
               cluster: Optional[str] = None, vmfex_nics: int = 0, plain_nics: int = 0,
               unplugged_vmfex: int = 0, empty_nics: int = 0, vmfex_profile: str = DEFAULT_VMFEX_PROFILE,
               plain_profile: str = DEFAULT_PLAIN_PROFILE) -> SimVm:
        """Add a VM; `host` is a host name or SimHost. Status defaults to up with a host, down without.

        NICs are named nic1.. in this order: plugged VM-FEX, unplugged VM-FEX, plain, empty profile.
        Missing default profiles are created (vmfex: network vmfex, vmfex=pp-vmfex).
        """
        host_obj = self.host_by_name(host) if isinstance(host, str) else host
        status = status or ("up" if host_obj else "down")
        if status not in VM_STATUSES:
            raise ValueError("unknown VM status %r" % status)
        if cluster is not None:
            cluster_id = self.add_cluster(cluster).id
        else:
            cluster_id = host_obj.cluster_id if host_obj else self.add_cluster().id
        kinds = []
        if vmfex_nics or unplugged_vmfex:
            vf_pid = self._profile_id(vmfex_profile, vmfex="pp-" + vmfex_profile)
            kinds += [(vf_pid, True)] * vmfex_nics + [(vf_pid, False)] * unplugged_vmfex
        if plain_nics:
            kinds += [(self._profile_id(plain_profile), True)] * plain_nics
        kinds += [(None, True)] * empty_nics
        nics = [SimNic("nic%d" % (i + 1), pid, plugged) for i, (pid, plugged) in enumerate(kinds)]
        vid = sim_id("vm", name)
        self.vms[vid] = SimVm(vid, name, cluster_id, host_obj.id if host_obj else None, status, nics)
        return self.vms[vid]

    def _profile_id(self, name: str, vmfex: Optional[str] = None) -> str:
        pid = sim_id("vnicprofile", name)
        if pid not in self.profiles:
            self.add_profile(name, vmfex=vmfex)
        return pid


def build_scale_inventory(n_hosts: int, vms_per_host: int, vfs_per_host: int = 16,
                          vmfex_share: float = 0.3, vmfex_nics: int = 2, plain_nics: int = 1,
                          n_clusters: int = 1) -> Inventory:
    """A benchmark world: hosts host1..hostN (so host1 is a substring of host10, as in real sites),
    each running `vms_per_host` up VMs of which an even `vmfex_share` carry `vmfex_nics` VM-FEX vNICs.

    The default share keeps every host within its VFs (20 VMs x 0.3 x 2 = 12 <= 16).
    """
    inv = Inventory()
    inv.add_profile(DEFAULT_VMFEX_PROFILE, vmfex="pp-" + DEFAULT_VMFEX_PROFILE)
    inv.add_profile(DEFAULT_PLAIN_PROFILE)
    clusters = [DEFAULT_CLUSTER] if n_clusters == 1 else ["cluster%d" % (c + 1) for c in range(n_clusters)]
    k = 0
    for i in range(1, n_hosts + 1):
        host = inv.add_host("host%d" % i, cluster=clusters[(i - 1) % n_clusters], vf_devices=vfs_per_host)
        for j in range(1, vms_per_host + 1):
            has_vf = int((k + 1) * vmfex_share) > int(k * vmfex_share)
            inv.add_vm("vm-%s-%d" % (host.name, j), host=host,
                       vmfex_nics=vmfex_nics if has_vf else 0, plain_nics=plain_nics)
            k += 1
    return inv
