"""Join UCS-M objects into a per-host dynamic vNIC capacity: pure functions, no network.

Which service profile belongs to an oVirt host, first hit wins:
  1. settings.host_map (by host id, then host name): the admin's explicit override. When a
     host is mapped, automatic matching is off for it, so a wrong entry shows up as "not
     found" instead of being papered over by a guess.
  2. "uuid": host hardware UUID == computeBlade/computeRackUnit `uuid`, case-insensitive
     (UCS-M writes the profile's UUID into SMBIOS). lsServer.uuid is never compared: it may
     be the literal "derived".
  3. "uuid-swapped": the same with the first three UUID fields byte-swapped (some SMBIOS
     readers swap them).
  4. "serial": host serial == server `serial`.
A matched server leads to its profile via `assignedToDn`, else via an lsServer whose `pnDn`
is the server. Templates never count as profiles.

Capacity: only an associated profile has a known count. Its `operDynamicConPolicyName`
(a dn) names the vnicDynamicConPolicy; if empty, the profile-local `<sp>/dynamic-con`
applies; with neither, the profile really has 0 dynamic vNICs.
"""
import logging
import uuid as uuidlib
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .model import HostIdentity, ManagedObject, UcsmCapacity

LOG = logging.getLogger("ovirt_vf_scheduler.ucsm")

SERVER_CLASSES = ("computeBlade", "computeRackUnit")
POLICY_CLASSES = ("vnicDynamicConPolicy", "vnicDynamicCon")
DYNAMIC_INST_TYPES = ("dynamic", "dynamic-vf")
MAX_DYNAMIC_ETH = 256


@dataclass(frozen=True)
class DomainInventory:
    """One domain's objects, indexed for the joins."""
    url: str
    servers_by_uuid: Mapping[str, ManagedObject]
    servers_by_serial: Mapping[str, ManagedObject]
    profiles: Mapping[str, ManagedObject]          # lsServer instances by dn
    profiles_by_server: Mapping[str, ManagedObject]  # lsServer instances by pnDn
    policies: Mapping[str, ManagedObject]          # vnicDynamicConPolicy and vnicDynamicCon by dn
    in_use: Optional[Mapping[str, int]]            # dynamic vnicEther per profile; None: not read


def index_domain(url: str, objects: Iterable[ManagedObject], count_in_use: bool) -> DomainInventory:
    """Index a domain's objects (any order, any mix of classes)."""
    by_class: Dict[str, List[ManagedObject]] = {}
    for obj in objects:
        by_class.setdefault(obj.class_id, []).append(obj)
    servers = [obj for class_id in SERVER_CLASSES for obj in by_class.get(class_id, ())]
    profiles = [obj for obj in by_class.get("lsServer", ()) if obj.get("type") == "instance"]
    return DomainInventory(
        url=url,
        servers_by_uuid=_index(servers, lambda obj: normalize_uuid(obj.get("uuid"))),
        servers_by_serial=_index(servers, lambda obj: normalize_serial(obj.get("serial"))),
        profiles={obj.dn: obj for obj in profiles},
        profiles_by_server=_index(profiles, lambda obj: obj.get("pnDn")),
        policies={obj.dn: obj for class_id in POLICY_CLASSES for obj in by_class.get(class_id, ())},
        in_use=_count_dynamic(by_class.get("vnicEther", ())) if count_in_use else None,
    )


def _index(objects: Iterable[ManagedObject], key) -> Dict[str, ManagedObject]:
    """Objects by key, skipping empty keys (unset uuid/serial must never match anything)."""
    index: Dict[str, ManagedObject] = {}
    for obj in objects:
        value = key(obj)
        if value:
            index.setdefault(value, obj)
    return index


def _count_dynamic(ethers: Iterable[ManagedObject]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for ether in ethers:
        if ether.get("instType") in DYNAMIC_INST_TYPES:
            profile_dn = ether.dn.rpartition("/")[0]
            counts[profile_dn] = counts.get(profile_dn, 0) + 1
    return counts


def normalize_uuid(value: Optional[str]) -> Optional[str]:
    """Canonical lower-case UUID, or None for empty, all-zero or unparsable values."""
    try:
        parsed = uuidlib.UUID((value or "").strip())
    except ValueError:
        return None
    return str(parsed) if parsed.int else None


def swap_uuid(value: Optional[str]) -> Optional[str]:
    """The UUID with its first three fields byte-swapped (SMBIOS little-endian reading)."""
    canonical = normalize_uuid(value)
    return str(uuidlib.UUID(bytes_le=uuidlib.UUID(canonical).bytes)) if canonical else None


def normalize_serial(value: Optional[str]) -> Optional[str]:
    return (value or "").strip().upper() or None


def parse_dynamic_eth(value: str) -> Optional[int]:
    """dynamicEth is a string: "off"/"" = 0, else 0..256; anything else is unknown (None)."""
    text = value.strip().lower()
    if text in ("", "off"):
        return 0
    if text.isascii() and text.isdigit() and int(text) <= MAX_DYNAMIC_ETH:
        return int(text)
    return None


def map_domain(inventory: DomainInventory, hosts: Sequence[HostIdentity],
               host_map: Mapping[str, str]) -> Dict[str, UcsmCapacity]:
    """Capacity of the hosts this domain knows; hosts it does not know are left out."""
    answers = {}
    for host in hosts:
        match = find_profile(host, inventory, host_map)
        if match is not None:
            answers[host.host_id] = capacity(host, inventory, *match)
    return answers


def find_profile(host: HostIdentity, inventory: DomainInventory,
                 host_map: Mapping[str, str]) -> Optional[Tuple[str, str, str]]:
    """(matched_by, profile dn or "", server dn) for the host, or None if this domain lacks it."""
    mapped = mapped_dn(host, host_map)
    if mapped is not None:
        profile = inventory.profiles.get(mapped)
        return ("host_map", mapped, profile.get("pnDn")) if profile is not None else None
    keys = (("uuid", inventory.servers_by_uuid, normalize_uuid(host.hw_uuid)),
            ("uuid-swapped", inventory.servers_by_uuid, swap_uuid(host.hw_uuid)),
            ("serial", inventory.servers_by_serial, normalize_serial(host.serial)))
    for matched_by, index, key in keys:
        server = index.get(key) if key else None
        if server is not None:
            return matched_by, _profile_dn_of(server, inventory), server.dn
    return None


def mapped_dn(host: HostIdentity, host_map: Mapping[str, str]) -> Optional[str]:
    return host_map.get(host.host_id) or host_map.get(host.name)


def _profile_dn_of(server: ManagedObject, inventory: DomainInventory) -> str:
    assigned = server.get("assignedToDn")
    if assigned:
        return assigned
    profile = inventory.profiles_by_server.get(server.dn)
    return profile.dn if profile is not None else ""


def capacity(host: HostIdentity, inventory: DomainInventory, matched_by: str,
             profile_dn: str, server_dn: str) -> UcsmCapacity:
    """The dynamic vNIC count in effect for a matched host, or unknown with the reason."""
    def answer(dynamic_eth: Optional[int], policy: Optional[str], reason: str) -> UcsmCapacity:
        known = inventory.in_use is not None and profile_dn in inventory.profiles
        in_use = inventory.in_use.get(profile_dn, 0) if known else None
        return UcsmCapacity(host.host_id, dynamic_eth, inventory.url, profile_dn or None, policy,
                            matched_by, in_use, reason)

    profile = inventory.profiles.get(profile_dn)
    if profile is None:
        return answer(None, None, "server %s has no service profile" % server_dn)
    if profile.get("assocState") != "associated":
        return answer(None, None, "service profile %s is %s"
                      % (profile_dn, profile.get("assocState") or "not associated"))
    named = profile.get("operDynamicConPolicyName")
    policy_dn = named or profile_dn + "/dynamic-con"
    policy = inventory.policies.get(policy_dn)
    if policy is None and named:
        return answer(None, None, "dynamic vNIC policy %s not found" % named)
    if policy is None:
        return answer(0, None, "no dynamic vNIC policy")
    raw = policy.get("dynamicEth")
    value = parse_dynamic_eth(raw)
    if value is None:
        return answer(None, policy_dn, "invalid dynamicEth %r (%s)" % (raw, policy_dn))
    return answer(value, policy_dn, "dynamicEth=%d (%s)" % (value, policy_dn))


def merge_domains(hosts: Sequence[HostIdentity], answers: Sequence[Mapping[str, UcsmCapacity]],
                  host_map: Mapping[str, str]) -> Dict[str, UcsmCapacity]:
    """One answer per host from the per-domain answers (in domain order): first domain wins."""
    merged = {}
    for host in hosts:
        found = [domain[host.host_id] for domain in answers if host.host_id in domain]
        if len(found) > 1:
            LOG.warning("host %s found in %d UCS domains (%s); using %s", host.name, len(found),
                        ", ".join(answer.domain or "" for answer in found), found[0].domain)
        merged[host.host_id] = found[0] if found else not_found(host, host_map)
    return merged


def not_found(host: HostIdentity, host_map: Mapping[str, str]) -> UcsmCapacity:
    mapped = mapped_dn(host, host_map)
    reason = ("host_map entry %s not found in any UCS domain" % mapped if mapped
              else "not found in any UCS domain")
    return UcsmCapacity(host.host_id, None, None, None, None, None, None, reason)
