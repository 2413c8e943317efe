"""What the fake accepts in configConfMo(s): the classes `port-profiles export` writes, with their
naming (rn), allowed parents, the privileges that may write them and each writable property's
check, as ucsmsdk 0.9.27's metadata states them (mometa/fabric/FabricVlan.py, epqos/EpqosDefinition.py,
epqos/EpqosEgress.py, vnic/VnicProfile.py, vnic/VnicEtherIf.py, vm/VmVnicProfCl.py;
docs/ucsm-export-notes.md). A check is (regex, value set, ranges): a value passes when the regex matches
it whole, it is in the value set, or it is a number inside one of the ranges.
"""
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional, Tuple

Check = Tuple[Optional[str], Tuple[str, ...], Tuple[str, ...]]

_NAME16 = r"[\-\.:_a-zA-Z0-9]{0,16}"
_DESCR = r"[ !#$%&\(\)\*\+,\-\./:;\?@\[\]_\{\|\}~a-zA-Z0-9]{0,256}"
_PATTERN = r"[ !#$%\(\)\*\+,\-\./:;\?@\[\\\]\^_\{\|\}~a-zA-Z0-9]{0,256}"
_YES_NO = ("false", "no", "true", "yes")
_OWNER = ("local", "pending-policy", "policy")
STATUS_REGEX = r"((removed|created|modified|deleted),){0,3}(removed|created|modified|deleted){0,1}"


@dataclass(frozen=True)
class WritableClass:
    rn: str                                  # "vnic-[name]": the naming property in brackets
    parents: FrozenSet[str]                  # class ids of the allowed containers
    privileges: FrozenSet[str]               # any one of them may write (ucsmsdk MoMeta access)
    props: Dict[str, Check]                  # writable (READ_WRITE) and naming properties

    def naming(self) -> Optional[str]:
        found = re.search(r"\[(\w+)\]", self.rn)
        return found.group(1) if found else None

    def rn_of(self, attrs: Dict[str, str]) -> str:
        name = self.naming()
        return self.rn.replace("[%s]" % name, attrs.get(name, "")) if name else self.rn


_NETWORK = frozenset(("admin", "ls-network", "ls-network-policy"))
CLASSES: Dict[str, WritableClass] = {
    "fabricVlan": WritableClass("net-[name]", frozenset(("fabricLanCloud",)),
                                frozenset(("admin", "ext-lan-config", "ext-lan-policy")), {
        "name": (r"[\-\.:_a-zA-Z0-9]{1,32}", (), ()), "id": (None, (), ("1-4042", "4048-4093")),
        "compressionType": (None, ("excluded", "included"), ()), "defaultNet": (None, _YES_NO, ()),
        "mcastPolicyName": (_NAME16, (), ()), "policyOwner": (None, _OWNER, ()),
        "pubNwName": (r".{0,510}", (), ()), "sharing": (None, ("community", "isolated", "none", "primary"), ())}),
    "epqosDefinition": WritableClass("ep-qos-[name]", frozenset(("orgOrg",)), _NETWORK | {"ls-qos-policy"}, {
        "name": (r"[\-\.:_a-zA-Z0-9]{1,16}", (), ()), "descr": (_DESCR, (), ()), "policyOwner": (None, _OWNER, ())}),
    "epqosEgress": WritableClass("egress", frozenset(("epqosDefinition",)), _NETWORK | {"ls-qos-policy"}, {
        "burst": (None, (), ("0-65535",)), "hostControl": (None, ("full", "full-with-exception", "none"), ()),
        "name": (_NAME16, (), ()), "prio": (None, ("best-effort", "bronze", "fc", "gold", "platinum", "silver"), ()),
        "rate": (None, ("line-rate",), ("8-100000000",))}),
    "vnicProfile": WritableClass("vnic-[name]", frozenset(("vnicProfileSet",)), _NETWORK, {
        "name": (r"[\-\.:_a-zA-Z0-9]{1,31}", (), ()), "descr": (_DESCR, (), ()),
        "hostNwIOPerf": (None, ("high-perf-reqd", "none"), ()), "maxPorts": (None, (), ("1-4096",)),
        "nwCtrlPolicyName": (_NAME16, (), ()), "pinToGroupName": (_NAME16, (), ()),
        "policyOwner": (None, _OWNER, ()), "qosPolicyName": (_NAME16, (), ()),
        "portProfileUuid": (r"(([0-9a-fA-F]){8}\-([0-9a-fA-F]){4}\-([0-9a-fA-F]){4}\-([0-9a-fA-F]){4}\-"
                            r"([0-9a-fA-F]){12})|0", (), ()),
        "type": (None, ("regular", "sla-only"), ())}),
    # ucsmsdk lists only admin for vnicEtherIf; inside a port profile it is written with it (fake's choice)
    "vnicEtherIf": WritableClass("if-[name]", frozenset(("vnicProfile",)), _NETWORK, {
        "name": (r"[\-\.:_a-zA-Z0-9]{1,32}", (), ()), "defaultNet": (None, _YES_NO, ()),
        "isQinQVlan": (None, _YES_NO, ())}),
    "vmVnicProfCl": WritableClass("cl-[name]", frozenset(("vnicProfile",)),
                                  _NETWORK | {"ls-config", "ls-config-policy", "pn-policy"}, {
        "name": (r"[\-\.:_a-zA-Z0-9]{1,16}", (), ()), "descr": (_DESCR, (), ()), "dcName": (_PATTERN, (), ()),
        "orgPath": (_PATTERN, (), ()), "swName": (_PATTERN, (), ()), "policyOwner": (None, _OWNER, ())}),
}

# Containers that always exist (verbs Get only: never created) and their classes.
CONTAINERS = {"fabric/lan": "fabricLanCloud", "fabric/lan/profiles": "vnicProfileSet", "org-root": "orgOrg"}


def value_ok(check: Check, value: str) -> bool:
    regex, value_set, ranges = check
    if value in value_set:
        return True
    if regex is not None and re.fullmatch(regex, value):
        return True
    if value.isascii() and value.isdigit():
        number = int(value)
        return any(int(low) <= number <= int(high) for low, high in (r.split("-") for r in ranges))
    return False
