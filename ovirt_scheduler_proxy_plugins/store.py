"""Small on-disk state shared by concurrently running plugin processes.

The filter and the weight run as separate processes at the same moment, so every file is
replaced atomically (temp file + os.replace) and read-modify-write goes under an flock.
A corrupt or unreadable file is treated as absent: state here is a cache, never the truth,
and losing it costs a round trip, not a wrong decision.
"""
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import time
import zlib
from typing import Any, Dict, Iterator, Optional


LOG = logging.getLogger("ovirt_vf_scheduler.store")
_FUTURE_SLACK = 60.0   # an entry stamped further in the future than this means the clock jumped


class StoreError(Exception):
    """The state directory cannot be used (lock not obtained in time)."""


def read_json(path: str) -> Optional[Any]:
    """The file's JSON value, or None when it is missing or corrupt (corruption is logged)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        LOG.warning("ignoring unreadable state file %s: %s", path, err)
        return None


def _owned_like_directory(path: str) -> None:
    """When root writes here (an operator command), give the file the directory's owner: the
    units run as the proxy's user and must still read, replace and lock it."""
    if os.geteuid() != 0:
        return
    owner = os.stat(os.path.dirname(path) or ".")
    if owner.st_uid != 0:
        os.chown(path, owner.st_uid, owner.st_gid)


def write_json(path: str, value: Any) -> bool:
    """Atomically replace `path` (mode 0600). False, with a log line, if the disk refuses."""
    try:
        replace_json(path, value)
        return True
    except OSError as err:
        LOG.warning("cannot write state file %s: %s", path, err)
        return False


def replace_json(path: str, value: Any) -> None:
    """Atomically replace `path` (mode 0600); OSError when the disk refuses (full, read-only)."""
    directory = os.path.dirname(path) or "."
    tmp_path = None
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        tmp_path = os.path.join(directory, ".tmp-%d-%s" % (os.getpid(), os.urandom(6).hex()))
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        # No fsync: every file here is a cache (a lost one costs a round trip), and claims die
        # with the boot anyway; the rename alone keeps readers from ever seeing half a file.
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(value, separators=(",", ":")))
        _owned_like_directory(tmp_path)
        os.replace(tmp_path, path)
    except OSError:
        if tmp_path:
            with contextlib.suppress(OSError):
                os.unlink(tmp_path)
        raise


@contextlib.contextmanager
def locked(path: str, timeout: float = 2.0) -> Iterator[None]:
    """Exclusive flock on `path`.lock for a read-modify-write; bounded wait, never a hang.
    StoreError when the lock is not had within `timeout`, or its file cannot be created (a
    read-only or full disk): the caller decides whether it can do without."""
    lock_path = path + ".lock"
    try:
        os.makedirs(os.path.dirname(lock_path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        _owned_like_directory(lock_path)
    except OSError as err:
        raise StoreError("cannot create the lock file %s: %s" % (lock_path, err.strerror or err)) from None
    try:
        give_up = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > give_up:
                    raise StoreError("cannot lock %s within %.1f s" % (lock_path, timeout)) from None
                time.sleep(0.005)
        yield
    finally:
        os.close(fd)


def _file_tag(*parts: str) -> str:
    """A short, stable file-name key (not a secret: tempfile/hashlib cost milliseconds at import)."""
    return "%08x" % zlib.crc32("\0".join(parts).encode())


class TokenCache:
    """The engine SSO token, shared so that each plugin process does not open a new session.

    It is kept with a digest of the password it was got with: after a password change (a wrong one
    included) the token is not used, so the next run logs in and says whether the password works,
    instead of working on until the token expires. (Whoever may read this file may read the
    password itself: the digest hides nothing it has to.)"""

    def __init__(self, cache_dir: str, url: str, username: str, password: str):
        self.path = os.path.join(cache_dir, "engine-token-%s.json" % _file_tag(url, username))
        self._credential = hashlib.sha256("\0".join((url, username, password)).encode()).hexdigest()

    def load(self) -> Optional[str]:
        value = read_json(self.path)
        if not isinstance(value, dict) or value.get("credential") != self._credential:
            return None
        token = value.get("token")
        return token if isinstance(token, str) and token else None

    def save(self, token: str) -> None:
        if token and token != self.load():
            write_json(self.path, {"token": token, "credential": self._credential, "saved_at": time.time()})


def _signature(path: str) -> Optional[tuple]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class RecordCache:
    """Records by key from a slow-changing source, each with its read time: engine hosts and UCS-M
    capacity by host id, UCS domains' port profiles and failures by domain URL.

    An entry {"absent": true} remembers an id the source does not know, so that a stray id does
    not cost a whole read every time; ids come from the caller (anyone who can reach serve), so
    those are kept ABSENT_TTL at most and ABSENT_MAX of them (the newest): random ids cannot grow
    the file that every later decision reads.

    `memo` (a dict owned by a long-lived caller, e.g. serve) keeps the parsed file in memory and
    re-reads it only when it changed on disk (another process may have written it).
    """

    MAX_AGE = 86400.0
    ABSENT_TTL = 60.0
    ABSENT_MAX = 256

    def __init__(self, cache_dir: str, name: str, memo: Optional[dict] = None):
        self.path = os.path.join(cache_dir, "%s.json" % name)
        self._memo = memo

    def _entries(self) -> Dict[str, Dict[str, Any]]:
        signature = _signature(self.path) if self._memo is not None else None
        if signature is not None and self._memo.get(self.path, (None,))[0] == signature:
            return self._memo[self.path][1]
        value = read_json(self.path)
        entries = {k: v for k, v in value.items()
                   if isinstance(v, dict) and isinstance(v.get("read_at"), (int, float))} \
            if isinstance(value, dict) else {}
        if signature is not None:
            self._memo[self.path] = (signature, entries)
        return entries

    def _max_age(self, entry: Dict[str, Any], ttl: float) -> float:
        return min(ttl, self.ABSENT_TTL) if entry.get("absent") else ttl

    def fresh(self, ttl: float, now: Optional[float] = None) -> Dict[str, Dict[str, Any]]:
        """Entries younger than `ttl` (an absent one: ABSENT_TTL); entries from the future (clock
        jumped back) are stale."""
        now = time.time() if now is None else now
        return {host_id: entry for host_id, entry in self._entries().items()
                if -_FUTURE_SLACK <= now - entry["read_at"] <= self._max_age(entry, ttl)}

    @staticmethod
    def stamp(entries: Dict[str, Dict[str, Any]], now: Optional[float] = None) -> Dict[str, Dict[str, Any]]:
        """`entries` as read now: each with its read time."""
        now = time.time() if now is None else now
        return {host_id: dict(entry, read_at=now) for host_id, entry in entries.items()}

    def update(self, entries: Dict[str, Dict[str, Any]]) -> None:
        """Merge `entries`, read now, into the file."""
        self.merge(self.stamp(entries))

    def merge(self, stamped: Dict[str, Dict[str, Any]]) -> None:
        """Merge `stamped` entries (RecordCache.stamp) into the file under its lock.

        Entries older than MAX_AGE are dropped on the way, so hosts removed from the engine
        do not grow the file forever; absent ones past ABSENT_TTL or ABSENT_MAX too. A failed
        write is logged; the caller still has the data.
        """
        now = max((entry["read_at"] for entry in stamped.values()), default=time.time())
        try:
            with locked(self.path):
                merged = {k: v for k, v in self._entries().items()
                          if now - v["read_at"] <= self._max_age(v, self.MAX_AGE)}
                merged.update(stamped)
                absent = sorted((k for k, v in merged.items() if v.get("absent")),
                                key=lambda k: merged[k]["read_at"], reverse=True)
                for host_id in absent[self.ABSENT_MAX:]:
                    del merged[host_id]
                write_json(self.path, merged)
        except StoreError as err:
            LOG.warning("%s not updated: %s", self.path, err)
