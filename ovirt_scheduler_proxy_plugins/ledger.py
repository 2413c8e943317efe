"""The pending-claims file: lock, load, save, prune. The rule itself is claims.py.

A decision reads the pending claims, decides, and records its own claim: inside `section()`
all three happen under ONE hold of the file's lock, so no other decision (thread or process)
can read the same free VFs in between and book them twice. The ledger is the only thing that
keeps a burst from over-booking a host, so it cannot be skipped: a lock not had in time, or a
file the disk refuses, is a StoreError, which fails the decision (units: on_error).
"""
import contextlib
import logging
import os
import time
from typing import Iterator, List, Optional

from .claims import Claim, Seen, is_live, prune, replace
from .store import StoreError, locked, read_json, replace_json

LOG = logging.getLogger("ovirt_vf_scheduler.store")


def boot_id() -> str:
    """Claims are stamped with the system-wide monotonic clock, which restarts at boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return "unknown-boot"


class Ledger:
    """`cache_dir`/claims.json, read-modify-write under its lock; claims live `ttl` seconds."""

    LOCK_WAIT = 2.0     # seconds; the sections of other decisions are milliseconds long

    def __init__(self, cache_dir: str, ttl: float):
        self.path = os.path.join(cache_dir, "claims.json")
        self.ttl = ttl
        self.boot = boot_id()
        self._section: Optional[contextlib.ExitStack] = None
        self._held = False
        self._in_section: Optional[List[Claim]] = None   # what the file holds while the section holds the lock

    @contextlib.contextmanager
    def section(self) -> Iterator["Ledger"]:
        """Every read and write of the ledger inside the block under one hold of its lock, taken
        at the first of them (so the engine reads before it are not under it) and released at
        the end of the block."""
        with contextlib.ExitStack() as stack:
            self._section, self._held = stack, False
            try:
                yield self
            except StoreError as err:
                raise StoreError("the ledger of pending claims cannot be used: %s" % err) from None
            finally:
                self._section, self._held, self._in_section = None, False, None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._section is None:
            with locked(self.path, self.LOCK_WAIT):
                yield
            return
        if not self._held:
            self._section.enter_context(locked(self.path, self.LOCK_WAIT))
            self._held = True
        yield

    def _load(self) -> List[Claim]:
        """The claims on file; read once per section (nobody else writes while it holds the lock)."""
        if self._in_section is not None:
            return list(self._in_section)
        claims = self._read()
        if self._held:
            self._in_section = claims
        return list(claims)

    def _read(self) -> List[Claim]:
        value = read_json(self.path)
        if not isinstance(value, dict):
            return []
        claims = [Claim.from_json(vm_id, entry) for vm_id, entry in value.items() if isinstance(entry, dict)]
        return [claim for claim in claims if claim is not None]

    def _save(self, claims: List[Claim]) -> None:
        try:
            replace_json(self.path, {claim.vm_id: claim.to_json() for claim in claims})
        except OSError as err:
            self._in_section = None
            raise StoreError("cannot write %s: %s" % (self.path, err.strerror or err)) from None
        if self._held:
            self._in_section = list(claims)

    def live(self) -> List[Claim]:
        """Claims within their TTL, whatever the engine shows (for metrics and status)."""
        now = time.monotonic()
        return [c for c in self._load() if is_live(c, now, self.boot, self.ttl)]

    def pending(self, seen: Seen, seen_at: float) -> List[Claim]:
        """Live claims, dropping those the engine now shows placed (written back when changed);
        `seen_at` is when `seen` was asked for: only evidence newer than a claim releases it.
        Outside a section (an operator's look: explain, capacity) a ledger that cannot be locked
        or written is still read; a decision's section fails instead."""
        now = time.monotonic()
        try:
            with self._locked():
                claims = self._load()
                live = prune(claims, seen, now, self.boot, self.ttl, seen_at)
                if len(live) != len(claims):
                    self._save(live)
                return live
        except StoreError as err:
            if self._section is not None:
                raise
            LOG.warning("claims read without their lock: %s", err)
            return prune(self._load(), seen, now, self.boot, self.ttl, seen_at)

    def claims(self) -> List[Claim]:
        """Every claim on file, as it is (the weight's claim rule looks at the VM's own)."""
        with self._locked():
            return self._load()

    def put(self, claim: Claim) -> None:
        """Record `claim`, replacing the VM's older one (claims.replace); unchanged claims are not rewritten."""
        with self._locked():
            claims = self._load()
            if claim in claims:
                return
            self._save(replace(claims, claim, time.monotonic(), self.ttl))
