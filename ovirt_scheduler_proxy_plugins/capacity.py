"""Capacity sources: "VFs per host id", each with a source name and an age.

The engine and UCS-M (ucsm_facts) are two sources; `min` combines them. Both change rarely,
so their per-host answers are cached on disk with a TTL and a decision normally costs no
round trip for capacity. Host identity (name, hardware UUID, serial) comes with the engine's
host data and is cached alongside, because UCS-M mapping needs it.
"""
import logging
import time
from typing import Callable, Dict, Iterable, List, Optional

from .accounting import HostRecord, engine_capacity, min_capacity
from .config import Settings
from .learned import Learned
from .model import Capacity
from .store import RecordCache
from .ucsm_facts import CapacityError, UcsmFacts

LOG = logging.getLogger("ovirt_vf_scheduler.capacity")


def _engine_entries(records: Iterable[HostRecord], vf_driver: str) -> Dict[str, dict]:
    entries = {}
    for record in records:
        vfs, detail = engine_capacity(record, vf_driver)
        entries[record.host_id] = {"name": record.name, "vfs": vfs, "detail": detail,
                                   "hw_uuid": record.hw_uuid, "serial": record.serial}
    return entries


def refresh_engine_hosts(settings: Settings, fetch_hosts: Callable[[], List[HostRecord]], learned: Learned,
                         memo: Optional[dict] = None) -> None:
    """Read every host for the cache now (serve does it in the background before the TTL ends,
    so that no decision pays for the largest read of all); the caller writes `learned`."""
    learned.cache(RecordCache(settings.cache_dir, "hosts-engine", memo), _engine_entries(fetch_hosts(), settings.vf_driver))


def engine_hosts(settings: Settings, host_ids: List[str], fetch_hosts: Callable[[], List[HostRecord]],
                 learned: Learned, memo: Optional[dict] = None) -> Dict[str, dict]:
    """Cached engine host entries for `host_ids`, refreshed with one whole-engine query
    when any of them is missing or stale (the cache is written later, through `learned`). Ids
    the engine does not know map to nothing. `memo`: a long-lived caller's in-memory copy of the
    cache files (store.RecordCache)."""
    cache = RecordCache(settings.cache_dir, "hosts-engine", memo)
    entries = cache.fresh(settings.capacity_ttl)
    if any(host_id not in entries for host_id in host_ids):
        fetched = _engine_entries(fetch_hosts(), settings.vf_driver)
        # Remember unknown ids too, so a stray id does not cost a full query every time.
        fetched.update({host_id: {"absent": True} for host_id in host_ids if host_id not in fetched})
        entries.update(learned.cache(cache, fetched))
    return {host_id: entries[host_id] for host_id in host_ids
            if host_id in entries and not entries[host_id].get("absent")}


def from_engine(entry: dict, now: float) -> Capacity:
    return Capacity(vfs=entry["vfs"], source="engine", age=max(0.0, now - entry["read_at"]), detail=entry["detail"])


def combine_min(engine: Capacity, ucsm: Capacity, host_name: str, log_disagreement: bool) -> Capacity:
    """The smaller of the two known answers; disagreement is logged (once per UCS-M read, not
    on every decision), never acted on further."""
    if log_disagreement and engine.vfs is not None and ucsm.vfs is not None and engine.vfs != ucsm.vfs:
        LOG.info("capacity sources disagree on host %s: engine %d (%s), ucsm %d (%s)",
                 host_name, engine.vfs, engine.detail, ucsm.vfs, ucsm.detail)
    vfs, source = min_capacity([(engine.vfs, "engine"), (ucsm.vfs, "ucsm")])
    chosen = {"engine": engine, "ucsm": ucsm}.get(source)
    if chosen is None:
        return Capacity(None, "min", 0.0, "engine: %s; ucsm: %s" % (engine.detail, ucsm.detail))
    return Capacity(vfs, "min:" + source, chosen.age, chosen.detail)


def capacities(settings: Settings, hosts: Dict[str, dict], ucsm_facts: Optional[UcsmFacts]) -> Dict[str, Capacity]:
    """Capacity per host id from the configured source (`ucsm_facts`: None without [ucsm])."""
    source = settings.capacity_source
    now = time.time()
    engine = {host_id: from_engine(entry, now) for host_id, entry in hosts.items()}
    if source == "engine":
        return engine
    try:
        ucsm = ucsm_facts.capacities()
    except CapacityError as err:
        if source == "ucsm":
            raise
        # min: a host missing from one source uses the other, and here UCS-M has none.
        LOG.warning("%s; using engine capacity alone", err)
        return engine
    if source == "ucsm":
        return ucsm
    return {host_id: combine_min(engine[host_id], ucsm[host_id], hosts[host_id]["name"], ucsm_facts.read_now)
            for host_id in hosts}


def describe(caps: Dict[str, Capacity]) -> Optional[str]:
    """'engine (age 12s)' style summary for the decision log."""
    if not caps:
        return None
    sources = sorted({cap.source.split(":")[0] for cap in caps.values()})
    oldest = max(cap.age for cap in caps.values())
    return "%s (oldest %.0fs)" % ("+".join(sources), oldest)
