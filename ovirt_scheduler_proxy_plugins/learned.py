"""What one snapshot's reads learned that outlives it: cache entries and data-source outcomes.

The reading code (capacity, ucsm_facts) only gathers them here; snapshot.host_states writes them
once, after every engine and UCS-M read (also when a read failed: `status` must count a UCS-M
outage), so a read never climbs back up into the store or the status files half-way.
"""
from typing import Any, Dict, List, Optional, Tuple

from . import status
from .store import RecordCache

Entries = Dict[str, Dict[str, Any]]


class Learned:
    """Writes gathered during one snapshot's reads, for `cache_dir`."""

    def __init__(self, cache_dir: str):
        self._cache_dir = cache_dir
        self._caches: List[Tuple[RecordCache, Entries]] = []
        self._sources: List[Tuple[str, Optional[str]]] = []

    def cache(self, cache: RecordCache, entries: Entries) -> Entries:
        """`entries` read now, to be merged into `cache`; returned stamped for this decision's use."""
        stamped = RecordCache.stamp(entries)
        self._caches.append((cache, stamped))
        return stamped

    def source(self, name: str, error: Optional[str] = None) -> None:
        """The data source `name` was read: `error` None = it answered, else why it did not."""
        self._sources.append((name, error))

    def write(self) -> None:
        """Everything gathered, once (a failed cache write is logged by the cache, never raised)."""
        caches, sources, self._caches, self._sources = self._caches, self._sources, [], []
        for cache, stamped in caches:
            cache.merge(stamped)
        for name, error in sources:
            status.record_source(self._cache_dir, name, error)
