"""read_capacity: a fixed, small number of UCS-M requests per domain, whatever the host count.

Per domain: aaaLogin, one configResolveClasses (profiles, policies, servers), one filtered
configResolveClass of the dynamic vnicEther (skipped with count_in_use=False), aaaLogout.
Everything is joined in Python (mapping.py). Domains are read one after the other, each
logged out before the next is touched, so a failure never leaves a session behind.
"""
import logging
import time
from typing import Dict, List, Sequence

from . import mapping
from .client import UcsmClient, eq, or_
from .model import HostIdentity, ManagedObject, UcsmCapacity, UcsmSettings

LOG = logging.getLogger("ovirt_vf_scheduler.ucsm")

INVENTORY_CLASSES = ("lsServer",) + mapping.POLICY_CLASSES + mapping.SERVER_CLASSES


def read_capacity(settings: UcsmSettings, hosts: Sequence[HostIdentity], deadline: float,
                  count_in_use: bool = True) -> Dict[str, UcsmCapacity]:
    """Capacity per host id from every configured domain. Raises UcsmError if any domain fails."""
    if not hosts:
        return {}
    answers = []
    for url in settings.urls:
        objects = _fetch_domain(url, settings, deadline, count_in_use)
        inventory = mapping.index_domain(url, objects, count_in_use)
        answers.append(mapping.map_domain(inventory, hosts, settings.host_map))
    return mapping.merge_domains(hosts, answers, settings.host_map)


def _fetch_domain(url: str, settings: UcsmSettings, deadline: float,
                  count_in_use: bool) -> List[ManagedObject]:
    started = time.monotonic()
    with UcsmClient(url, settings, deadline) as client:
        objects = client.resolve_classes(INVENTORY_CLASSES)
        if count_in_use:
            objects += client.resolve_class("vnicEther", in_filter=or_(
                *(eq("vnicEther", "instType", inst) for inst in mapping.DYNAMIC_INST_TYPES)))
    LOG.debug("%s: %d objects in %.3fs", url, len(objects), time.monotonic() - started)
    return objects
