"""read_domains: a fixed, small number of UCS-M requests per domain, whatever the host count.

Per domain, in one session: aaaLogin, one configResolveClasses (profiles, policies, servers),
one filtered configResolveClass of the dynamic vnicEther (skipped with count_in_use=False),
one hierarchical configResolveClass of the port profiles (vnicProfile), aaaLogout: at most 5.
With no hosts to map, only the port profiles are read. Everything is joined in Python
(mapping.py, profiles.py). Domains are read one after the other, each logged out before the
next is touched, so a failure never leaves a session behind; a domain that fails does not
stop the others from being read.
"""
import logging
import time
from typing import Dict, List, Mapping, Sequence, Tuple

from . import mapping
from .client import UcsmClient, UcsmError, eq, or_
from .model import HostIdentity, ManagedObject, PortProfile, UcsmCapacity, UcsmReading, UcsmSettings
from .profiles import PORT_PROFILE_CLASS, port_profiles

LOG = logging.getLogger("ovirt_vf_scheduler.ucsm")

INVENTORY_CLASSES = ("lsServer",) + mapping.POLICY_CLASSES + mapping.SERVER_CLASSES


def read_domains(settings: UcsmSettings, hosts: Sequence[HostIdentity], deadline: float,
                 count_in_use: bool = True) -> UcsmReading:
    """Capacity per host id and port profiles per domain, from every configured domain."""
    answers: List[Mapping[str, UcsmCapacity]] = []
    profiles: Dict[str, Mapping[str, PortProfile]] = {}
    failures: Dict[str, Exception] = {}
    privileges: Dict[str, str] = {}
    for url in settings.urls:
        try:
            objects, profile_objects, privileges[url] = _fetch_domain(url, settings, deadline, count_in_use,
                                                                      bool(hosts))
        except UcsmError as err:
            failures[url] = err
            continue
        profiles[url] = port_profiles(profile_objects)
        if hosts:
            inventory = mapping.index_domain(url, objects, count_in_use)
            answers.append(mapping.map_domain(inventory, hosts, settings.host_map))
    capacities = mapping.merge_domains(hosts, answers, settings.host_map) if hosts else {}
    return UcsmReading(capacities, profiles, failures, privileges)


def _fetch_domain(url: str, settings: UcsmSettings, deadline: float, count_in_use: bool,
                  map_hosts: bool) -> Tuple[List[ManagedObject], List[ManagedObject], str]:
    """(inventory objects, port profile objects with their children, the account's privileges), in one session."""
    started = time.monotonic()
    objects: List[ManagedObject] = []
    with UcsmClient(url, settings, deadline) as client:
        if map_hosts:
            objects = client.resolve_classes(INVENTORY_CLASSES)
            if count_in_use:
                objects += client.resolve_class("vnicEther", in_filter=or_(
                    *(eq("vnicEther", "instType", inst) for inst in mapping.DYNAMIC_INST_TYPES)))
        profile_objects = client.resolve_class(PORT_PROFILE_CLASS, hierarchical=True)
    LOG.debug("%s: %d objects, %d in port profiles in %.3fs", url, len(objects), len(profile_objects),
              time.monotonic() - started)
    return objects, profile_objects, client.privileges
