"""Presentation only: aligned tables, colour on terminals, stable JSON, progress on stderr.

Colour and progress are for people at a terminal; a pipe or a script gets plain text (and
`--json` gets the same facts with stable keys), so nothing here changes what a command says.
"""
import json
import os
import sys
import threading
import time
from typing import IO, Any, List, Optional, Sequence, Tuple, Union

_STYLES = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2"}
Cell = Union[str, Tuple[str, Optional[str]]]     # text, or (text, style name)


def colour_enabled(stream: IO = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def count(number: int, noun: str) -> str:
    """'1 decision', '2 decisions' (nouns with a plain plural s)."""
    return "%d %s%s" % (number, noun, "" if number == 1 else "s")


def paint(text: str, style: Optional[str], enabled: bool) -> str:
    if not enabled or not style or not text:
        return text
    return "\x1b[%sm%s\x1b[0m" % (_STYLES[style], text)


def _split(cell: Cell) -> Tuple[str, Optional[str]]:
    return cell if isinstance(cell, tuple) else (cell, None)


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], right: Sequence[int] = (),
          colour: bool = False) -> str:
    """Columns padded to the widest cell (by visible text, so colour never breaks alignment);
    column indexes in `right` are right-aligned (numbers)."""
    plain = [[_split(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in plain:
        for index, (text, _) in enumerate(row):
            widths[index] = max(widths[index], len(text))

    def line(cells: List[Tuple[str, Optional[str]]]) -> str:
        out = []
        for index, (text, style) in enumerate(cells):
            padding = " " * (widths[index] - len(text))
            painted = paint(text, style, colour)
            out.append(padding + painted if index in right else painted + padding)
        return "  ".join(out).rstrip()

    return "\n".join([line([(h, "bold") for h in headers])] + [line(row) for row in plain])


def listed(names: Sequence[str], most: int = 8) -> str:
    """'a, b, c and 4 more' (or 'none'): long name lists stay one line."""
    shown = list(names[:most])
    more = len(names) - len(shown)
    return ", ".join(shown) + (" and %d more" % more if more > 0 else "") if shown else "none"


def print_json(value: Any, stream: IO = None) -> None:
    """Sorted keys and a trailing newline: diffable, and stable for scripts."""
    stream = stream or sys.stdout
    stream.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


class Progress:
    """'reading the engine... 3 s' on stderr, shown only when stderr is a terminal and only
    once the step has taken longer than `delay` (quick steps do not flicker)."""

    def __init__(self, message: str, stream: IO = None, delay: float = 1.0):
        self.message = message
        self._stream = stream or sys.stderr
        self._delay = delay
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._shown = False

    def update(self, message: str) -> None:
        self.message = message

    def __enter__(self) -> "Progress":
        if getattr(self._stream, "isatty", lambda: False)():
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        if self._stop.wait(self._delay):
            return
        while not self._stop.is_set():
            self._shown = True
            self._stream.write("\r\x1b[K%s... %.0f s" % (self.message, time.monotonic() - started))
            self._stream.flush()
            self._stop.wait(0.25)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
