"""The writes the operator commands make, validated as the engine validates them: scheduling
policies and cluster policy settings (`policy`), vNIC profiles (`port-profiles sync`)."""
import re
from typing import Dict, List, Optional, Tuple

from ovirtsdk4.reader import Reader
from ovirtsdk4.writer import Writer

from ..inventory import Inventory, SimCluster, SimPolicy, SimProfile, sim_id
from .common import XML, EngineFault, member_or_404
from .documents import POLICY_PARTS, Builder, policy_doc, policy_parts

class Writes:
    """The few writes `ovirt-vf-scheduler policy` makes, validated as the engine does
    (ClusterPolicyCRUDCommand, UpdateClusterCommand): a failed validation is HTTP 409 with
    the reason in the fault detail. Everything else stays read-only (405). Caller holds the lock."""

    def __init__(self, inventory: Inventory):
        self.inv = inventory

    def apply(self, method: str, seg: List[str], query: Dict[str, str], body: bytes) -> Tuple[int, str, bytes]:
        route = (method, seg[0], len(seg))
        if route == ("POST", "schedulingpolicies", 1):
            return 201, XML, Writer.write(policy_doc(self._add_policy(self._read(body)))).encode()
        if route == ("PUT", "schedulingpolicies", 2):
            return 200, XML, Writer.write(policy_doc(self._update_policy(seg[1], self._read(body)))).encode()
        if route == ("POST", "schedulingpolicies", 3) and seg[2] in POLICY_PARTS:
            policy, unit_id = self._add_part(seg[1], seg[2], self._read(body))
            added = next(item for item in policy_parts(policy, seg[2]) if item.id == unit_id)
            return 200, XML, Writer.write(added).encode()
        if route == ("DELETE", "schedulingpolicies", 4) and seg[2] in POLICY_PARTS:
            self._remove_part(seg[1], seg[2], seg[3])
            return 200, XML, b""
        if route == ("PUT", "clusters", 2):
            cluster = self._update_cluster(seg[1], self._read(body))
            return 200, XML, Writer.write(Builder(self.inv).cluster(cluster)).encode()
        if route == ("POST", "vnicprofiles", 1) or (route == ("POST", "networks", 3) and seg[2] == "vnicprofiles"):
            network_id = member_or_404(self.inv.networks, seg[1], "network").id if len(seg) == 3 else None
            profile = self._add_vnic_profile(self._read(body), network_id)
            return 201, XML, Writer.write(Builder(self.inv).profile(profile, {})).encode()
        if route == ("PUT", "vnicprofiles", 2):
            profile = self._update_vnic_profile(member_or_404(self.inv.profiles, seg[1], "vNIC profile"), self._read(body))
            return 200, XML, Writer.write(Builder(self.inv).profile(profile, {})).encode()
        raise EngineFault(405, "Method Not Allowed", "The fake engine does not write /%s" % "/".join(seg))

    @staticmethod
    def _read(body: bytes):
        try:
            return Reader.read(body)
        except Exception as err:  # noqa: BLE001 - any unreadable body is the client's fault
            raise EngineFault(400, "Bad Request", "Cannot read the request body: %s" % err) from None

    @staticmethod
    def _refuse(action: str, reason: str) -> "EngineFault":
        return EngineFault(409, "Operation Failed", "[Cannot %s Scheduling Policy. %s]" % (action, reason))

    def _regex_map(self, policy: SimPolicy) -> Dict[str, str]:
        """The union of the policy's units' property regexes (SchedulingManager.getCustomPropertiesRegexMap)."""
        regexes: Dict[str, str] = {}
        for uid in list(policy.filters) + list(policy.weights) + ([policy.balance] if policy.balance else []):
            regexes.update(self.inv.policy_units[uid].properties)
        return regexes

    @staticmethod
    def _invalid_properties(values: Dict[str, str], regexes: Dict[str, str]) -> Optional[str]:
        for key, value in values.items():
            if key not in regexes:
                return "Invalid property key: %s" % key
            if not re.fullmatch(regexes[key], value or ""):
                return "Invalid value %r for property %s (%s)" % (value, key, regexes[key])
        return None

    def _policy(self, pid: str, action: str) -> SimPolicy:
        policy = member_or_404(self.inv.policies, pid, "scheduling policy")
        if policy.locked:
            raise self._refuse(action, "Built-in (locked) policies cannot be changed.")
        return policy

    def _add_policy(self, incoming) -> SimPolicy:
        if not incoming.name:
            raise EngineFault(400, "Incomplete parameters", "SchedulingPolicy [name] required for add")
        if any(p.name == incoming.name for p in self.inv.policies.values()):
            raise self._refuse("add", "The name is already in use.")
        props = {p.name: p.value for p in incoming.properties or ()}
        problem = self._invalid_properties(props, {})      # a new policy has no units yet
        if problem:
            raise self._refuse("add", problem)
        pid = sim_id("schedulingpolicy", incoming.name)
        self.inv.policies[pid] = SimPolicy(pid, incoming.name, incoming.description or "", properties=props)
        return self.inv.policies[pid]

    def _update_policy(self, pid: str, incoming) -> SimPolicy:
        policy = self._policy(pid, "edit")
        if incoming.name and any(p.name == incoming.name and p.id != pid for p in self.inv.policies.values()):
            raise self._refuse("edit", "The name is already in use.")
        props = policy.properties
        if incoming.properties is not None:
            props = {p.name: p.value for p in incoming.properties}
            problem = self._invalid_properties(props, self._regex_map(policy))
            if problem:
                raise self._refuse("edit", problem)
        policy.name = incoming.name or policy.name
        policy.description = incoming.description if incoming.description is not None else policy.description
        policy.properties = props
        return policy

    def _add_part(self, pid: str, part: str, incoming) -> Tuple[SimPolicy, str]:
        policy = self._policy(pid, "edit")
        ref = incoming.scheduling_policy_unit
        unit = self.inv.policy_units.get(ref.id if ref is not None else None)
        if unit is None:
            raise self._refuse("edit", "Unknown policy unit.")
        if unit.type != POLICY_PARTS[part]:
            raise self._refuse("edit", "Policy unit %s is not a %s." % (unit.name, POLICY_PARTS[part]))
        if part == "balances":
            policy.balance = unit.id
            return policy, unit.id
        if unit.id in policy.filters or unit.id in policy.weights:
            raise self._refuse("edit", "Duplicate policy unit %s." % unit.name)
        if part == "filters":
            position = incoming.position or 0
            if position in (-1, 1) and position in policy.filters.values():
                raise self._refuse("edit", "Only one filter can be %s." % ("first" if position < 0 else "last"))
            policy.filters[unit.id] = position
        else:
            factor = 1 if incoming.factor is None else incoming.factor
            if factor < 0:
                raise self._refuse("edit", "Weight factor must not be negative.")
            policy.weights[unit.id] = factor
        return policy, unit.id

    def _remove_part(self, pid: str, part: str, uid: str) -> None:
        policy = self._policy(pid, "edit")
        if part == "balances" and policy.balance == uid:
            policy.balance = None
            return
        members = policy.filters if part == "filters" else policy.weights
        if part == "balances" or uid not in members:
            raise EngineFault(404, "Not Found", "Entity not found: %s" % uid)
        del members[uid]

    def _add_vnic_profile(self, incoming, network_id: Optional[str]) -> SimProfile:
        """AddVnicProfileCommand's checks in its order (VnicProfileValidator): name and network
        given, the network exists, the name is free on it, the custom properties are defined
        (CustomDeviceProperties, interface type) and their values match the regex whole."""
        if not incoming.name:
            raise EngineFault(400, "Incomplete parameters", "VnicProfile [name] required for add")
        if network_id is None:
            network_id = incoming.network.id if incoming.network is not None else None
            if not network_id:
                raise EngineFault(400, "Incomplete parameters", "VnicProfile [network.id] required for add")
        network = self.inv.networks.get(network_id)
        if network is None:
            raise EngineFault(409, "Operation Failed", "[The specified Logical Network doesn't exist.]")
        action = "Cannot add VM network interface profile"
        if any(p.network_name == network.name and p.name == incoming.name for p in self.inv.profiles.values()):
            raise EngineFault(409, "Operation Failed", "[%s. The VM network interface profile's name is already used by "
                         "an existing profile for the same network.\n-Please choose a different name.]" % action)
        props = {p.name: p.value for p in incoming.custom_properties or ()}
        problems = _custom_property_problems(props, self.inv.device_properties, action)
        if problems:
            raise EngineFault(409, "Operation Failed", "[%s]" % ", ".join(problems))
        pid = sim_id("vnicprofile", "%s@%s" % (incoming.name, network.name))
        self.inv.profiles[pid] = SimProfile(pid, incoming.name, network.name, props, incoming.description or "")
        return self.inv.profiles[pid]

    def _update_vnic_profile(self, profile: SimProfile, incoming) -> SimProfile:
        """UpdateVnicProfileCommand's checks: a new name free on the network, the custom properties (when
        sent: they replace the old ones) defined and matching their regex whole."""
        action = "Cannot edit VM network interface profile"
        if incoming.name and incoming.name != profile.name and any(
                p.network_name == profile.network_name and p.name == incoming.name for p in self.inv.profiles.values()):
            raise EngineFault(409, "Operation Failed", "[%s. The VM network interface profile's name is already used by "
                         "an existing profile for the same network.\n-Please choose a different name.]" % action)
        props = profile.custom_properties
        if incoming.custom_properties is not None:
            props = {p.name: p.value for p in incoming.custom_properties}
            problems = _custom_property_problems(props, self.inv.device_properties, action)
            if problems:
                raise EngineFault(409, "Operation Failed", "[%s]" % ", ".join(problems))
        profile.name = incoming.name or profile.name
        profile.description = incoming.description if incoming.description is not None else profile.description
        profile.custom_properties = props
        return profile

    def _update_cluster(self, cid: str, incoming) -> SimCluster:
        """Policy by id or name; properties merge into the cluster's, then the policy's defaults
        fill the gaps, keys no unit of the policy knows are dropped, and the rest must match."""
        cluster = member_or_404(self.inv.clusters, cid, "cluster")
        policy_id = cluster.scheduling_policy_id
        ref = incoming.scheduling_policy
        if ref is not None:
            match = [p.id for p in self.inv.policies.values()
                     if p.id == ref.id or (ref.name and p.name == ref.name)]
            if not match:
                raise EngineFault(404, "Not Found", "Entity not found: scheduling policy %s" % (ref.id or ref.name))
            policy_id = match[0]
        props = dict(cluster.scheduling_properties)
        props.update({p.name: p.value for p in incoming.custom_scheduling_policy_properties or ()})
        if policy_id is not None:
            policy = self.inv.policies[policy_id]
            regexes = self._regex_map(policy)
            props = dict(policy.properties, **props)
            props = {k: v for k, v in props.items() if k in regexes}
            problem = self._invalid_properties(props, regexes)
            if problem:
                raise EngineFault(409, "Operation Failed", "[Cannot edit Cluster. %s]" % problem)
        cluster.scheduling_policy_id, cluster.scheduling_properties = policy_id, props
        return cluster


_PROPERTY_KEY = re.compile(r"[a-z_A-Z0-9]+")
_PROPERTY_VALUE = re.compile(r"[^;]+")


def _custom_property_problems(props: Dict[str, str], regexes: Dict[str, str], action: str) -> List[str]:
    """DevicePropertiesUtils.validateProperties + CustomPropertiesUtils.handleCustomPropertiesError:
    a syntax error alone, else unknown keys, then values that do not match (whole value)."""
    if any(not _PROPERTY_KEY.fullmatch(k or "") or not _PROPERTY_VALUE.fullmatch(v or "") for k, v in props.items()):
        return ["%s if custom properties are in invalid format. Please check the input." % action]
    unknown = [k for k in props if k not in regexes]
    wrong = [k for k in props if k in regexes and not re.fullmatch(regexes[k], props[k])]
    problems = []
    if unknown:
        problems.append("%s if some of the specified custom properties are not configured by the system. "
                        "The keys are: %s" % (action, ",".join(unknown)))
    if wrong:
        problems.append("%s if some of the specified custom properties have illegal values. The keys are: %s"
                        % (action, ",".join(wrong)))
    return problems
