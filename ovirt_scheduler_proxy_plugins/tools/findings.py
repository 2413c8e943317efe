"""One line of `check`: what was checked, OK/WARN/FAIL, what was found and how to fix it."""
from dataclasses import asdict, dataclass
from typing import Dict, Iterable

from .common import EXIT_FAILED, EXIT_NO, EXIT_OK

OK, WARN, FAIL = "OK", "WARN", "FAIL"
_RANK = {OK: 0, WARN: 1, FAIL: 2}
EXIT_CODES = {OK: EXIT_OK, WARN: EXIT_NO, FAIL: EXIT_FAILED}


@dataclass(frozen=True)
class Finding:
    check: str          # short name: "config", "engine login", ...
    status: str         # OK | WARN | FAIL
    message: str
    hint: str = ""      # the fix, for WARN and FAIL

    def as_dict(self) -> Dict[str, str]:
        return asdict(self)


def worst(findings: Iterable[Finding]) -> str:
    return max((f.status for f in findings), key=_RANK.__getitem__, default=OK)


def exit_code(findings: Iterable[Finding]) -> int:
    return EXIT_CODES[worst(findings)]
