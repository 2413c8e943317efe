"""`check` items for the [ucsm] source: a login to each UCS domain, a service profile (hence a
dynamic vNIC count) for every engine host, and a port profile in every domain for every VF
property value, read with ucsm_source.read_domains like the units."""
import time
from typing import Dict, Iterator, List, Mapping

from ..accounting import HostRecord, VfProfile, engine_capacity
from ..config import Settings
from ..render import domain_label
from ..ucsm_facts import ucsm_settings
from . import output, port_profile_plan
from .check_local import PLAIN_HTTP, UCSM_CA_HINT, WRONG_NAME, tls_trouble
from .findings import FAIL, OK, WARN, Finding

MAP_HINT = ("add a line 'HOST = org-root/ls-PROFILE' to [ucsm] host_map, or fix the service profile "
            "association in UCS Manager")
PORT_PROFILE_HINT = ("define the port profile in UCS Manager of those domains (LAN > Port Profiles), or point the "
                     "vNIC profile at one they define (`ovirt-vf-scheduler port-profiles` lists them)")


def _login_failure(url: str, user: str, err: Exception) -> Finding:
    import ucsm_source
    if isinstance(err, ucsm_source.UcsmAuthError):
        return Finding("ucsm login", FAIL, "%s refused %s: %s" % (url, user, err),
                       "check [ucsm] username and password (a read-only UCS-M account is enough)")
    trouble = tls_trouble(str(err))
    if trouble == PLAIN_HTTP:
        return Finding("ucsm login", FAIL, "%s: that port speaks plain HTTP, not TLS: %s" % (url, err),
                       "UCS Manager serves TLS on port 443: [ucsm] url = https://UCSM without the port")
    if trouble is not None:
        return Finding("ucsm login", FAIL, "TLS verification of %s failed: %s" % (url, err),
                       UCSM_CA_HINT + ("; and use the name its certificate carries in [ucsm] url"
                                       if trouble == WRONG_NAME else ""))
    return Finding("ucsm login", FAIL, str(err),
                   "is [ucsm] url the UCS Manager address (https://UCSM)? is it reachable from the engine host? "
                   "with https, set [ucsm] ca_file")


def ucsm_findings(settings: Settings, hosts: List[HostRecord], vf_profiles: Mapping[str, VfProfile],
                  timeout: float) -> Iterator[Finding]:
    """One login line per domain, one line for the host mapping (per-host reasons listed), one
    for the port profiles the VF property values name."""
    import ucsm_source
    identities = [ucsm_source.HostIdentity(h.host_id, h.name, h.hw_uuid, h.serial) for h in hosts]
    answers, domains = [], {}
    for url in settings.ucsm.urls:
        reading = ucsm_source.read_domains(ucsm_settings(settings, (url,)), identities, time.monotonic() + timeout)
        if url in reading.failures:
            yield _login_failure(url, settings.ucsm.username, reading.failures[url])
            continue
        answers.append(reading.capacities)
        domains[url] = set(reading.port_profiles[url])
        yield Finding("ucsm login", OK, "%s: logged in as %s and read the service and port profiles; %s"
                      % (url, settings.ucsm.username, export_rights(reading.privileges.get(url, ""))))
    if answers and hosts:
        merged = {h.host_id: next((a[h.host_id] for a in answers if a[h.host_id].domain), answers[0][h.host_id])
                  for h in hosts}
        yield _mapping(settings, hosts, merged)
        disagree = _disagreements(settings, hosts, merged)
        if disagree:
            yield Finding("capacity: sources", WARN, "engine and UCS-M disagree on %d host%s: %s" % (
                len(disagree), "" if len(disagree) == 1 else "s", output.listed(disagree)),
                "capacity_source = min uses the smaller of the two; check the VIC's VF count on those hosts")
    if domains and vf_profiles:
        yield _port_profiles(settings, vf_profiles, domains)


# UCS-M privileges that may write port profiles and QoS policies (ucsmsdk: vnicProfile, epqosDefinition);
# VLANs (--create-vlan) need admin, ext-lan-config or ext-lan-policy besides.
_PROFILE_WRITERS = frozenset(("admin", "ls-network", "ls-network-policy"))


def export_rights(privileges: str) -> str:
    """What the account's privileges (aaaLogin outPriv) allow `port-profiles export` to do."""
    held = set(privileges.split(",")) - {""}
    shown = privileges or "none reported"
    if held & _PROFILE_WRITERS:
        return "privileges %s: `port-profiles export` may write" % shown
    return ("privileges %s: enough for the units; `port-profiles export` would be refused (it needs the network "
            "or admin role)" % shown)


def _port_profiles(settings: Settings, vf_profiles: Mapping[str, VfProfile], domains: Dict[str, set]) -> Finding:
    values = {profile.port_profile for profile in vf_profiles.values() if profile.port_profile}
    missing = port_profile_plan.unresolved(values, domains)
    if not missing:
        return Finding("port profiles", OK, "every %s value (%d) names a port profile in every UCS domain read (%d)"
                       % (settings.vf_property, len(values), len(domains)))
    effect = ("VfFilter keeps VMs using them out of those domains" if settings.checks_port_profiles
              else "VMs using them fail to start there ([ucsm] port_profiles = ignore)")
    listed = ["%s=%s (missing in %s)" % (settings.vf_property, item.value,
                                         ", ".join(domain_label(url) for url in item.missing_in)) for item in missing]
    return Finding("port profiles", WARN, "%d vNIC profile value%s name%s no port profile in some UCS domain, so %s: %s"
                   % (len(missing), "" if len(missing) == 1 else "s", "s" if len(missing) == 1 else "", effect,
                      output.listed(listed, most=5)), PORT_PROFILE_HINT)


def _mapping(settings: Settings, hosts: List[HostRecord], merged: Dict[str, object]) -> Finding:
    unknown = ["%s (%s)" % (h.name, merged[h.host_id].reason) for h in hosts
               if merged[h.host_id].dynamic_eth is None]
    if not unknown:
        ways = sorted({merged[h.host_id].matched_by for h in hosts})
        return Finding("capacity: ucsm", OK, "all %d hosts map to a service profile (matched by %s)"
                       % (len(hosts), ", ".join(ways)))
    closed = settings.capacity_source == "ucsm" and settings.on_error == "closed"
    effect = ("VfFilter drops them for every VM-FEX VM (on_error = closed)" if closed
              else "their capacity is unknown to the ucsm source")
    return Finding("capacity: ucsm", FAIL if closed else WARN, "%d of %d hosts have no UCS-M capacity, so %s: %s"
                   % (len(unknown), len(hosts), effect, output.listed(unknown, most=5)), MAP_HINT)


def _disagreements(settings: Settings, hosts: List[HostRecord], merged: Dict[str, object]) -> List[str]:
    out = []
    for host in hosts:
        engine_vfs = engine_capacity(host, settings.vf_driver)[0]
        ucsm_vfs = merged[host.host_id].dynamic_eth
        if engine_vfs and ucsm_vfs is not None and engine_vfs != ucsm_vfs:
            out.append("%s engine %d / ucsm %d" % (host.name, engine_vfs, ucsm_vfs))
    return out
