"""Port profiles from a hierarchical vnicProfile answer: pure functions, no network.

Children (vnicEtherIf = the VLANs, vmVnicProfCl = the profile clients) may come with `rn`
only; the client derives their dn from the parent's, so they are grouped by parent dn here.
"""
from typing import Dict, Iterable, List

from .model import ManagedObject, PortProfile

PORT_PROFILE_CLASS = "vnicProfile"
_VLAN_CLASS = "vnicEtherIf"
_CLIENT_CLASS = "vmVnicProfCl"
_YES = ("yes", "true")


def port_profiles(objects: Iterable[ManagedObject]) -> Dict[str, PortProfile]:
    """Port profiles by name; objects of other classes under them are ignored."""
    profiles: List[ManagedObject] = []
    children: Dict[str, List[ManagedObject]] = {}
    for obj in objects:
        if obj.class_id == PORT_PROFILE_CLASS:
            profiles.append(obj)
        else:
            children.setdefault(obj.dn.rpartition("/")[0], []).append(obj)
    found = {}
    for profile in profiles:
        name = profile.get("name") or profile.dn.rpartition("/vnic-")[2]
        if not name:
            continue
        kids = children.get(profile.dn, ())
        vlans = [kid for kid in kids if kid.class_id == _VLAN_CLASS]
        found[name] = PortProfile(
            name=name, descr=profile.get("descr"), vlans=tuple(vlan.get("name") for vlan in vlans),
            native_vlan=next((vlan.get("name") for vlan in vlans if vlan.get("defaultNet") in _YES), None),
            qos_policy=profile.get("qosPolicyName"), network_control_policy=profile.get("nwCtrlPolicyName"),
            max_ports=_whole(profile.get("maxPorts")),
            high_performance=profile.get("hostNwIOPerf") == "high-perf-reqd",
            clients=tuple(kid.get("name") for kid in kids if kid.class_id == _CLIENT_CLASS))
    return found


def _whole(value: str):
    return int(value) if value.isascii() and value.isdigit() else None
