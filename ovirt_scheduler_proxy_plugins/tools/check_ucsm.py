"""`check` items for the [ucsm] source: a login to each UCS domain, and a service profile (hence a
dynamic vNIC count) for every engine host, read with ucsm_source.read_capacity like the units."""
import time
from typing import Dict, Iterator, List

from ..accounting import HostRecord, engine_capacity
from ..config import Settings
from . import output
from .check_local import PLAIN_HTTP, UCSM_CA_HINT, WRONG_NAME, tls_trouble
from .findings import FAIL, OK, WARN, Finding

MAP_HINT = ("add a line 'HOST = org-root/ls-PROFILE' to [ucsm] host_map, or fix the service profile "
            "association in UCS Manager")


def _domain_settings(settings: Settings, url: str):
    import ucsm_source
    ucsm = settings.ucsm
    return ucsm_source.UcsmSettings(urls=(url,), username=ucsm.username, password=ucsm.password,
                                    ca_file=ucsm.ca_file, insecure=ucsm.insecure, timeout=ucsm.timeout,
                                    host_map=dict(ucsm.host_map))


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


def ucsm_findings(settings: Settings, hosts: List[HostRecord], timeout: float) -> Iterator[Finding]:
    """One login line per domain, then one line for the host mapping (per-host reasons listed)."""
    import ucsm_source
    identities = [ucsm_source.HostIdentity(h.host_id, h.name, h.hw_uuid, h.serial) for h in hosts]
    answers = []
    for url in settings.ucsm.urls:
        try:
            answers.append(ucsm_source.read_capacity(_domain_settings(settings, url), identities,
                                                     time.monotonic() + timeout))
        except ucsm_source.UcsmError as err:
            yield _login_failure(url, settings.ucsm.username, err)
            continue
        yield Finding("ucsm login", OK, "%s: logged in as %s and read the service profiles"
                      % (url, settings.ucsm.username))
    if answers and hosts:
        merged = {h.host_id: next((a[h.host_id] for a in answers if a[h.host_id].domain), answers[0][h.host_id])
                  for h in hosts}
        yield _mapping(settings, hosts, merged)
        disagree = _disagreements(settings, hosts, merged)
        if disagree:
            yield Finding("capacity: sources", WARN, "engine and UCS-M disagree on %d host%s: %s" % (
                len(disagree), "" if len(disagree) == 1 else "s", output.listed(disagree)),
                "capacity_source = min uses the smaller of the two; check the VIC's VF count on those hosts")


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
