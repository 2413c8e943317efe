"""The decision log, one implementation for both run modes: its line format, how it is opened
for appending (O_APPEND keeps the lines of concurrent processes whole) and its size-based
rotation (past LOG_MAX_BYTES, LOG_BACKUPS files kept). A plugin process opens it once
(`open_log`); serve keeps it open and follows it (`FollowedLog`)."""
import logging
import os
import time
from typing import Optional

from .store import StoreError, locked

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5


def rotate_if_big(path: str) -> None:
    """Size-based rotation done under a lock at process start, so concurrent plugin
    processes never rotate under each other's feet (a RotatingFileHandler per process would)."""
    try:
        if os.path.getsize(path) < LOG_MAX_BYTES:
            return
        with locked(path, timeout=0.5):
            if os.path.getsize(path) < LOG_MAX_BYTES:
                return
            for index in range(LOG_BACKUPS - 1, 0, -1):
                if os.path.exists("%s.%d" % (path, index)):
                    os.replace("%s.%d" % (path, index), "%s.%d" % (path, index + 1))
            os.replace(path, path + ".1")
    except (OSError, StoreError):
        pass   # rotation is housekeeping; appending still works


def open_append(path: str) -> int:
    """The log's fd for appending (O_APPEND keeps concurrent lines whole), rotated first if it is
    past LOG_MAX_BYTES; its directory created. Raises OSError."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    rotate_if_big(path)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)


def open_log(path: str) -> int:
    """A plugin process: open the log for appending and route logging there."""
    fd = open_append(path)
    stream = os.fdopen(os.dup(fd), "a", encoding="utf-8", buffering=1)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return fd


class FollowedLog(logging.Handler):
    """serve: the config's log_file, followed across config edits, reopened when
    another process (a plugin run) rotated it, and rotated here past LOG_MAX_BYTES (as by the plugins)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self._path: Optional[str] = None
        self._stream = None
        self._inode = None
        self._checked = 0.0

    def use(self, path: Optional[str]) -> Optional[str]:
        """Switch to `path`; the error text when it cannot be opened."""
        with self.lock:
            if path == self._path and self._stream is not None:
                return None
            self._close()
            self._path = path
            return self._open()

    def _open(self) -> Optional[str]:
        if not self._path:
            return None
        try:
            fd = open_append(self._path)
            self._stream = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
            self._inode = os.fstat(fd).st_ino
            return None
        except OSError as err:
            self._stream = None
            return "%s: %s" % (self._path, err.strerror or err)

    def _close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def reopen(self) -> None:
        with self.lock:
            self._close()
            self._open()

    def emit(self, record: logging.LogRecord) -> None:
        if self._stream is None:
            return
        try:
            now = time.monotonic()
            if now - self._checked > 1.0:         # at most one stat per second
                self._checked = now
                try:
                    moved = os.stat(self._path).st_ino != self._inode or \
                        os.fstat(self._stream.fileno()).st_size >= LOG_MAX_BYTES
                except OSError:
                    moved = True
                if moved:
                    self._close()
                    self._open()
                    if self._stream is None:
                        return
            self._stream.write(self.format(record) + "\n")
        except Exception:   # noqa: BLE001 - logging must never break a call
            self.handleError(record)

    def close(self) -> None:
        with self.lock:
            self._close()
        super().close()
