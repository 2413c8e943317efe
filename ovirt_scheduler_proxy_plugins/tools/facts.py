"""A host's VF numbers as plain, stable-keyed values: one shape for explain and capacity, JSON and tables."""
from typing import Dict, Optional

from ..model import HostVfs
from ..render import free_shown, shortfall

FACT_KEYS = ("capacity", "capacity_source", "capacity_age_s", "capacity_detail", "used", "used_by_vms",
             "pending", "reserve", "free", "shortfall", "shortfall_why")


def host_facts(host: Optional[HostVfs]) -> Dict[str, object]:
    """Capacity with its source, age and detail, then used, pending, reserve and free (None = unknown).
    free is never negative: `shortfall` VFs are missing (`shortfall_why`: of the reserve, or over capacity)."""
    if host is None:
        return dict.fromkeys(FACT_KEYS)
    cap = host.capacity
    return {"capacity": cap.vfs, "capacity_source": cap.source, "capacity_age_s": round(cap.age, 1),
            "capacity_detail": cap.detail, "used": host.used, "used_by_vms": host.users,
            "pending": host.pending, "reserve": host.reserve, "free": free_shown(host),
            "shortfall": None if host.free is None else max(-host.free, 0), "shortfall_why": shortfall(host)}


SOURCE_AGE = "SOURCE, AGE"     # the header of source_label's column: the seconds are the read's age


def number(value) -> str:
    return "?" if value is None else str(value)


def source_label(row: Dict[str, object]) -> str:
    """'engine 12s': where the capacity came from and how old that read is (the column SOURCE_AGE)."""
    if row.get("capacity_source") is None:
        return "-"
    return "%s %ds" % (row["capacity_source"], row["capacity_age_s"])


def numbers(row: Dict[str, object]) -> list:
    """The table cells VFS, SOURCE, USED, PENDING, RESERVE, FREE of a row."""
    return [number(row["capacity"]), source_label(row), number(row["used"]), number(row["pending"]),
            number(row["reserve"]), number(row["free"])]
