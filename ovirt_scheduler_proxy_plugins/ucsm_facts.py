"""What UCS-M says for one decision: dynamic vNICs per host, port profiles per UCS domain.

Both change rarely, so both are cached on disk for [ucsm] cache_ttl (capacity-ucsm.json by
host id, with the host's domain; ucsm-domains.json by domain URL). A cold cache costs one
read of every domain, capacity and port profiles in the same session
(ucsm_source.read_domains, at most 5 requests per domain); a warm one costs none. A
decision reads UCS-M at most once, even when both the capacity source and the port-profile
rule need it. A read with a failed domain is not cached: what it says about the domains
that answered is used for this decision only. A domain that failed is not asked again for
FAILURE_HOLD seconds (ucsm-failures.json, shared by every process): during an outage one
decision in that time waits for its timeout, not every one, which would hold the engine's
scheduling for seconds per VM. Every read is counted for `status` (the source "ucsm"): min
mode hides an outage, status shows it. Cache entries and that count are gathered in a
learned.Learned, written by the snapshot once every read is done.
"""
import logging
import time
from typing import Dict, Optional, Tuple

from .config import Settings
from .learned import Learned
from .model import CacheCold, Capacity, DataSourceError, DomainPortProfiles
from .store import RecordCache

LOG = logging.getLogger("ovirt_vf_scheduler.capacity")
FAILURE_HOLD = 30.0     # seconds a UCS domain that failed is not asked again


class CapacityError(DataSourceError):
    """A capacity source failed as a whole (not: one host unknown)."""


def ucsm_settings(settings: Settings, urls: Optional[Tuple[str, ...]] = None):
    """The ucsm_source settings for [ucsm] (optionally for some of its domains only)."""
    import ucsm_source   # only the UCS-M paths pay for its import
    ucsm = settings.ucsm
    return ucsm_source.UcsmSettings(
        urls=ucsm.urls if urls is None else urls, username=ucsm.username, password=ucsm.password, ca_file=ucsm.ca_file,
        insecure=ucsm.insecure, timeout=ucsm.timeout, host_map=dict(ucsm.host_map))


def _age(entry: dict) -> float:
    return max(0.0, time.time() - entry["read_at"])


class UcsmFacts:
    """UCS-M's answers for `hosts` (engine host entries by id: name, hw_uuid, serial), read lazily.

    `port_profiles`: the port-profile rule will be asked too, so a cold domain cache is a
    reason to read (the capacity source alone needs only the per-host entries). `memo`: a
    long-lived caller's in-memory copy of the cache files (store.RecordCache). `cached_only`:
    CacheCold instead of a read.
    """

    def __init__(self, settings: Settings, hosts: Dict[str, dict], deadline: float, port_profiles: bool,
                 learned: Learned, memo: Optional[dict] = None, cached_only: bool = False):
        self._settings = settings
        self._cached_only = cached_only
        self._learned = learned
        self._memo = memo
        self._hosts = hosts
        self._deadline = deadline
        self._want_domains = port_profiles
        self._loaded = False
        self._host_entries: Dict[str, dict] = {}       # host id -> vfs, detail, in_use, domain, read_at
        self._domains: Dict[str, dict] = {}            # domain URL -> profiles (names), read_at
        self._uncached_hosts: Dict[str, dict] = {}     # certain facts of a partly failed read
        self.failures: Dict[str, str] = {}             # domain URL -> why it could not be read
        self.read_now = False                          # UCS-M was read by this decision

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        ucsm = self._settings.ucsm
        host_records = RecordCache(self._settings.cache_dir, "capacity-ucsm", self._memo)
        domain_cache = RecordCache(self._settings.cache_dir, "ucsm-domains", self._memo)
        self._host_entries = host_records.fresh(ucsm.cache_ttl)
        self._domains = domain_cache.fresh(ucsm.cache_ttl)
        cold_hosts = any("domain" not in self._host_entries.get(host_id, {}) for host_id in self._hosts)
        cold_domains = self._want_domains and any(url not in self._domains for url in ucsm.urls)
        if (cold_hosts or cold_domains) and self._cached_only:
            raise CacheCold("the UCS-M cache is cold")
        if cold_hosts or cold_domains:
            self._read(host_records, domain_cache)

    def _read(self, host_records: RecordCache, domain_cache: RecordCache) -> None:
        import ucsm_source
        identities = [ucsm_source.HostIdentity(host_id=host_id, name=entry["name"], hw_uuid=entry.get("hw_uuid"),
                                               serial=entry.get("serial"))
                      for host_id, entry in self._hosts.items()]
        failure_cache = RecordCache(self._settings.cache_dir, "ucsm-failures", self._memo)
        held = failure_cache.fresh(min(FAILURE_HOLD, self._settings.ucsm.cache_ttl))
        asked = tuple(url for url in self._settings.ucsm.urls if url not in held)
        reading = ucsm_source.read_domains(ucsm_settings(self._settings, asked), identities, self._deadline) \
            if asked else ucsm_source.UcsmReading({}, {}, {})
        failures = {url: str(err) for url, err in reading.failures.items()}
        if failures:
            self._learned.cache(failure_cache, {url: {"error": error} for url, error in failures.items()})
        failures.update({url: "%s (not asked again for %.0f s)" % (
            held[url].get("error", "failed"), max(0.0, FAILURE_HOLD - _age(held[url]))) for url in held
            if url in self._settings.ucsm.urls})
        self.read_now = bool(asked)
        hosts = {host_id: {"vfs": answer.dynamic_eth, "detail": answer.reason, "in_use": answer.in_use,
                           "domain": answer.domain}
                 for host_id, answer in reading.capacities.items()}
        domains = {url: {"profiles": sorted(profiles)} for url, profiles in reading.port_profiles.items()}
        if not failures:
            self._learned.source("ucsm")
            self._host_entries.update(self._learned.cache(host_records, hosts))
            self._domains.update(self._learned.cache(domain_cache, domains))
            return
        self.failures = failures
        if asked:       # a domain held back after a failure was not read: nothing new to count
            self._learned.source("ucsm", "UCS-M: %s" % "; ".join(self.failures.values()))
        for line in self.failures.values():
            LOG.warning("%s", line)
        now = time.time()
        self._uncached_hosts = {host_id: dict(entry, read_at=now) for host_id, entry in hosts.items()
                                if entry["domain"]}
        self._domains.update({url: dict(entry, read_at=now) for url, entry in domains.items()})

    def capacities(self) -> Dict[str, Capacity]:
        """dynamicEth per host; CapacityError if a domain failed and the cache cannot answer."""
        self._load()
        if any(host_id not in self._host_entries for host_id in self._hosts):
            raise CapacityError("UCS-M: %s" % "; ".join(self.failures.values()))
        capacities = {}
        for host_id in self._hosts:
            entry = self._host_entries[host_id]
            detail = entry["detail"]
            if entry.get("in_use") is not None:
                detail += ", %d dynamic vNICs deployed" % entry["in_use"]
            capacities[host_id] = Capacity(entry["vfs"], "ucsm", _age(entry), detail)
        return capacities

    def port_profiles(self) -> Dict[str, DomainPortProfiles]:
        """The port profiles of each host's UCS domain; unknown (never empty) where UCS-M could not tell."""
        self._load()
        entries = dict(self._host_entries, **self._uncached_hosts)
        failed = "; ".join(self.failures.values())
        known = {url: DomainPortProfiles(url, frozenset(domain["profiles"])) for url, domain in self._domains.items()}
        found = {}
        for host_id in self._hosts:
            entry = entries.get(host_id) or {}
            url = entry.get("domain")
            if url in known:
                found[host_id] = known[url]
            elif url:
                found[host_id] = DomainPortProfiles(url, None, "UCS domain not read: %s" % (failed or "no answer"))
            elif failed:
                found[host_id] = DomainPortProfiles(None, None, "not in the UCS domains that answered; %s" % failed)
            else:
                found[host_id] = DomainPortProfiles(None, None, entry.get("detail") or "not in any UCS domain")
        return found
